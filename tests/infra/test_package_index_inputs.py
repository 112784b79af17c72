"""What a hurried engineer types into `platform.package_index` (infra/config/package_index.py): a refusal is one
line naming the field and never repeats a secret the URL carries (validate's output lands in CI logs); a mirror URL
pip can use is accepted as typed, with or without its trailing slash."""

from __future__ import annotations

import copy

import pytest
import yaml

from infra.config import parse_config
from infra.wheelhouse import Source
from tests.infra.conftest import ROOT
from tests.infra.test_aws_config import validate

COMMITTED = yaml.safe_load((ROOT / "platform.yaml").read_text())
SECRET = "s3cr3tT0ken"


def with_index(index: str) -> dict:
    config = copy.deepcopy(COMMITTED)
    config["platform"]["package_index"] = index
    return config


@pytest.mark.parametrize(
    ("index", "words"),
    [
        (f"http://deploy:{SECRET}@pypi.example.com/simple", "credentials"),
        (f"https://deploy:{SECRET}@pypi.example.com/simple", "credentials"),
        (f"https://{SECRET}@pypi.example.com/simple", "credentials"),
        (f"https://pypi.example.com/simple?token={SECRET}", "query or fragment"),
        (f"https://pypi.example.com/simple#{SECRET}", "query or fragment"),
        ("http://pypi.example.com/simple", "not an https:// URL"),
        ("https:///simple", "not an https:// URL"),
        ("https://pypi.org", "https://pypi.org/simple"),
        ("https://pypi.org/pypi", "https://pypi.org/simple"),
    ],
    ids=["http-password", "https-password", "token-user", "query-token", "fragment", "http", "no-host",
         "pypi-root", "pypi-json-api"],
)  # fmt: skip
def test_a_package_index_refusal_is_one_line_without_the_secret(tmp_path, capsys, index, words):
    code, out, err = validate(with_index(index), tmp_path, capsys)
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "platform.package_index" in line and words in line
    assert SECRET not in line


@pytest.mark.parametrize(
    "index",
    [
        "https://pypi.org/simple",
        "https://pypi.org/simple/",
        "https://nexus.example.com/repository/pypi-proxy/simple",
        "https://devpi.example.com/root/pypi/+simple/",
        "https://artifactory.example.com:8443/artifactory/api/pypi/pypi-remote/simple",
    ],
)
def test_a_mirror_url_pip_can_use_is_passed_to_pip_as_typed(index):
    config = parse_config(yaml.safe_dump(with_index(index)))
    assert config.platform.package_index == index
    assert Source(index_url=config.platform.package_index).pip_options() == ["--index-url", index]
