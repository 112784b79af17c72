"""`platform validate` on AWS teams: what the AWS stacks cannot deliver is refused in one line (exit 2), and what
fits but may hit the account's default quotas is a warning."""

import copy
from pathlib import Path

import pytest
import yaml

from infra.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = yaml.safe_load((ROOT / "platform.yaml").read_text())
AWS_TEAM = next(i for i, t in enumerate(COMMITTED["teams"]) if t.get("cloud") == "aws")


def validate(config: dict, tmp_path, capsys) -> tuple[int, str, str]:
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(path)])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def aws_team(config: dict) -> dict:
    return config["teams"][AWS_TEAM]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("public_network_access", False, "needs front-end PrivateLink"),
        ("network_isolation", "private", "needs back-end PrivateLink"),
        ("customer_managed_key", {}, "databricks_mws_customer_managed_keys"),
    ],
)
def test_settings_the_aws_stacks_would_ignore_are_refused_in_one_line(tmp_path, capsys, field, value, words):
    # Before: each validated and the AWS stacks deployed a public workspace without a customer key.
    config = copy.deepcopy(COMMITTED)
    prod = aws_team(config)["environments"]["prod"]
    prod[field] = value
    prod["deploy_runner"] = [
        "self-hosted",
        "risk-prod",
    ]  # a private env's runner is there: only the AWS refusal stays
    code, out, err = validate(config, tmp_path, capsys)
    path = f"teams[{AWS_TEAM}].environments.prod.{field}: "
    (line,) = err.strip().splitlines()
    assert code == 2 and out == "" and path in line and words in line


def test_no_nat_gateway_without_private_link_is_refused(tmp_path, capsys):
    config = copy.deepcopy(COMMITTED)
    aws_team(config)["aws"]["nat_gateway"] = False
    code, _, err = validate(config, tmp_path, capsys)
    (line,) = err.strip().splitlines()
    assert code == 2
    assert f"teams[{AWS_TEAM}].aws.nat_gateway: false leaves the clusters no path" in line
    assert line.endswith("set it to true")


def test_the_committed_aws_team_still_validates(tmp_path, capsys):
    code, out, err = validate(copy.deepcopy(COMMITTED), tmp_path, capsys)
    assert code == 0 and "valid" in out and "error" not in err
