"""The whole app: two stacks per team-env, wired by cross-stack references, deployable in order."""

import json
import re

import pytest


def test_every_team_env_has_a_platform_and_a_workspace_stack(synthesized, platform_config):
    expected = sorted(
        name
        for te in platform_config.team_envs
        for name in (te.names.platform_stack, te.names.workspace_stack)
    )
    assert synthesized.stack_names == expected
    assert len(expected) == 12


def test_manifest_orders_workspace_after_its_platform_stack(synthesized, platform_config):
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    for te in platform_config.team_envs:
        workspace = manifest["stacks"][te.names.workspace_stack]
        assert workspace["dependencies"] == [te.names.platform_stack]
        assert manifest["stacks"][te.names.platform_stack]["dependencies"] == []


def test_workspace_stack_reads_its_own_platform_stack_state(synthesized, platform_config):
    for te in platform_config.team_envs:
        workspace = synthesized.json(te.names.workspace_stack)
        remote = workspace["data"]["terraform_remote_state"]
        assert len(remote) == 1, "a workspace stack depends on exactly one platform stack"
        state = next(iter(remote.values()))
        assert state["backend"] == "local"
        # the same relative path the platform stack writes its state to (both run in cdktf.out/stacks/<stack>/)
        platform_backend = synthesized.json(te.names.platform_stack)["terraform"]["backend"]["local"]
        assert state["config"]["path"] == platform_backend["path"]
        assert state["config"]["path"] == f"../../../terraform.{te.team.name}-{te.env}-platform.tfstate"
        platform = synthesized.json(te.names.platform_stack)
        outputs = set(platform["output"])
        referenced = set(re.findall(r"outputs\.(cross-stack-output-[\w.-]+?)[}\s]", json.dumps(workspace)))
        assert referenced and referenced <= outputs


def test_databricks_provider_points_at_the_workspace_from_the_platform_stack(synthesized):
    provider = synthesized.json("churn-dev-workspace")["provider"]["databricks"][0]
    assert provider["host"].startswith("https://${data.terraform_remote_state.")
    assert provider["azure_workspace_resource_id"].startswith("${data.terraform_remote_state.")
    assert "token" not in provider and "azure_client_secret" not in provider


@pytest.mark.parametrize("stack", ["churn-dev-platform", "churn-dev-workspace", "pricing-prod-platform"])
def test_state_backend_is_relative_and_per_stack(synthesized, stack):
    backend = synthesized.json(stack)["terraform"]["backend"]
    # cdktf runs terraform in cdktf.out/stacks/<stack>/: state lands next to cdktf.out and survives a re-synth
    assert backend == {"local": {"path": f"../../../terraform.{stack}.tfstate"}}


def test_no_machine_paths_or_secrets_in_synthesized_json(synthesized):
    # a secret-named argument with a literal value, or a credential's own shape
    secret = re.compile(
        r'(?i)"[a-z_]*(secret|password|token|access_key)"\s*:\s*"(?!\$\{)'
        r"|dapi[0-9a-f]{32}|AccountKey=|SharedAccessSignature=|sig=[A-Za-z0-9%]{20,}|-----BEGIN"
    )
    for stack in synthesized.stack_names:
        text = synthesized.text(stack)
        assert str(synthesized.outdir) not in text and "/tmp/" not in text and "/work/" not in text, stack
        assert not secret.search(text), f"{stack}: {secret.search(text).group(0)}"


def test_azurerm_backend_gets_one_key_per_stack(platform_config, fake_wheel, tmp_path):
    from infra.app import build_app

    backend = {"kind": "azurerm", "resource_group_name": "rg-tfstate", "storage_account_name": "sttfstate"}
    settings = platform_config.platform.model_copy(
        update={"state_backend": platform_config.platform.state_backend.model_validate(backend)}
    )
    team_env = platform_config.team_envs[0].model_copy(update={"platform": settings})
    build_app(platform_config, outdir=tmp_path, wheel=fake_wheel, team_envs=[team_env]).synth()
    for component in ("platform", "workspace"):
        stack = json.loads((tmp_path / "stacks" / f"churn-dev-{component}" / "cdk.tf.json").read_text())
        assert stack["terraform"]["backend"]["azurerm"] == {
            "container_name": "tfstate",
            "key": f"churn/dev/{component}.tfstate",
            "resource_group_name": "rg-tfstate",
            "storage_account_name": "sttfstate",
            "use_azuread_auth": True,
        }
    remote = json.loads((tmp_path / "stacks" / "churn-dev-workspace" / "cdk.tf.json").read_text())["data"]
    state = next(iter(remote["terraform_remote_state"].values()))
    assert state["backend"] == "azurerm" and state["config"]["key"] == "churn/dev/platform.tfstate"
