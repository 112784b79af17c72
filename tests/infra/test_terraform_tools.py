"""Where the real-Terraform tests get the aws provider from (tests/terraform_moto.py), decided without a network:
a named mirror must hold it, a found mirror is used, and with none the registry is used through a project-local
plugin cache, as on a platform engineer's machine."""

from __future__ import annotations

import pytest

from tests.terraform_moto import PLUGIN_CACHE, PROVIDER_PATH, TerraformDir, TerraformTools, provider_mirror


def mirror_holding_the_provider(root):
    (root / PROVIDER_PATH).mkdir(parents=True)
    return root


def test_the_first_candidate_holding_the_provider_is_the_mirror(tmp_path):
    empty, holding = tmp_path / "empty", mirror_holding_the_provider(tmp_path / "mirror")
    empty.mkdir()
    assert provider_mirror(None, (str(empty), str(holding))) == holding
    config = TerraformTools(terraform=tmp_path / "terraform", mirror=holding).cli_config()
    assert f'path = "{holding}"' in config and 'exclude = ["registry.terraform.io/hashicorp/aws"]' in config


def test_without_a_mirror_terraform_installs_the_provider_into_the_project_cache(tmp_path):
    assert provider_mirror(None, (str(tmp_path / "nowhere"),)) is None
    tools = TerraformTools(terraform=tmp_path / "terraform", mirror=None)
    assert tools.cli_config() == f'plugin_cache_dir = "{PLUGIN_CACHE}"\n'
    assert PLUGIN_CACHE.parent.name == ".work"  # git-ignored, inside the project, kept between runs
    stack = tmp_path / "stack"
    stack.mkdir()
    directory = TerraformDir(tools, stack, tmp_path, moto=None, in_place=True)
    assert directory.environ()["TF_PLUGIN_CACHE_DIR"] == str(PLUGIN_CACHE) and PLUGIN_CACHE.is_dir()
    assert "filesystem_mirror" not in directory.cli_config.read_text()


def test_a_named_mirror_without_the_provider_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("PLATFORM_SKIP_TERRAFORM", raising=False)
    with pytest.raises(pytest.fail.Exception) as failed:
        provider_mirror(str(tmp_path), ())
    assert "\n" not in str(failed.value) and f"PLATFORM_TF_PROVIDER_MIRROR={tmp_path}" in str(failed.value)
