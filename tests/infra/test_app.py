"""The whole app: the stacks of every team-env, wired by cross-stack references, deployable in order."""

import json
import re

import pytest


def test_every_team_env_has_the_stacks_of_its_cloud(synthesized, platform_config):
    expected = sorted(name for te in platform_config.team_envs for name in te.stacks.values())
    assert synthesized.stack_names == expected
    aws = {"risk-dev-platform", "risk-dev-account", "risk-dev-workspace"}
    assert aws | {"churn-dev-platform", "churn-dev-workspace"} <= set(expected)


def azure_team_envs(config):
    return [te for te in config.team_envs if te.team.cloud == "azure"]


def test_manifest_orders_workspace_after_its_platform_stack(synthesized, platform_config):
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    for te in azure_team_envs(platform_config):
        workspace = manifest["stacks"][te.names.workspace_stack]
        # platform, then the account stack where the env has one (restricted serverless egress), then workspace
        before = [name for component, name in te.stacks.items() if component != "workspace"]
        assert workspace["dependencies"] == before
        assert manifest["stacks"][te.names.platform_stack]["dependencies"] == []
        if "account" in te.stacks:
            assert manifest["stacks"][te.names.account_stack]["dependencies"] == [te.names.platform_stack]
    assert (
        [te.key for te in azure_team_envs(platform_config) if "account" in te.stacks]
        == [te.key for te in azure_team_envs(platform_config) if te.settings.serverless.restricted_egress]
        != []
    )


def test_azure_account_stack_reads_its_own_platform_stack_state(synthesized, platform_config):
    for te in azure_team_envs(platform_config):
        if "account" not in te.stacks:
            continue
        account = synthesized.json(te.names.account_stack)
        assert account["terraform"]["backend"] == {
            "local": {"path": f"../../../terraform.dbp-{te.team.name}-{te.env}-account.tfstate"}
        }
        (state,) = account["data"]["terraform_remote_state"].values()
        assert state["config"]["path"] == f"../../../terraform.dbp-{te.team.name}-{te.env}-platform.tfstate"


def test_workspace_stack_reads_its_own_platform_stack_state(synthesized, platform_config):
    for te in azure_team_envs(platform_config):
        workspace = synthesized.json(te.names.workspace_stack)
        remote = workspace["data"]["terraform_remote_state"]
        assert len(remote) == 1, "a workspace stack depends on exactly one platform stack"
        state = next(iter(remote.values()))
        assert state["backend"] == "local"
        # the same relative path the platform stack writes its state to (both run in cdktf.out/stacks/<stack>/)
        platform_backend = synthesized.json(te.names.platform_stack)["terraform"]["backend"]["local"]
        assert state["config"]["path"] == platform_backend["path"]
        assert state["config"]["path"] == f"../../../terraform.dbp-{te.team.name}-{te.env}-platform.tfstate"
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
    assert backend == {"local": {"path": f"../../../terraform.dbp-{stack}.tfstate"}}


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
    team_env = next(te for te in platform_config.team_envs if te.key == "churn/prod")
    team_env = team_env.model_copy(update={"platform": settings})
    build_app(platform_config, outdir=tmp_path, wheel=fake_wheel, team_envs=[team_env]).synth()
    for component in ("platform", "account", "workspace"):
        stack = json.loads((tmp_path / "stacks" / f"churn-prod-{component}" / "cdk.tf.json").read_text())
        assert stack["terraform"]["backend"]["azurerm"] == {
            "container_name": "tfstate",
            "key": f"dbp/churn/prod/{component}.tfstate",
            "resource_group_name": "rg-tfstate",
            "storage_account_name": "sttfstate",
            "use_azuread_auth": True,
        }
    for reader in ("account", "workspace"):
        remote = json.loads((tmp_path / "stacks" / f"churn-prod-{reader}" / "cdk.tf.json").read_text())[
            "data"
        ]
        state = next(iter(remote["terraform_remote_state"].values()))
        assert state["backend"] == "azurerm" and state["config"]["key"] == "dbp/churn/prod/platform.tfstate"


def test_azure_only_configs_never_import_the_aws_bindings(tmp_path):
    """The AWS bindings take seconds to import; only a config with an AWS team may pay for them."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((root / "platform.yaml").read_text())
    config["teams"] = [team for team in config["teams"] if team.get("cloud", "azure") == "azure"]
    config["platform"]["audit"]["system_tables"]["managed_in"].remove("risk/prod")  # the AWS team is gone
    azure_only = tmp_path / "azure.yaml"
    azure_only.write_text(yaml.safe_dump(config))
    wheel = tmp_path / "churn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"stand-in")
    script = (
        "import sys; from pathlib import Path; from infra.config import load_config; from infra.app import build_app; "
        f"build_app(load_config(Path({str(azure_only)!r})), outdir=Path({str(tmp_path / 'out')!r}), "
        f"wheel=Path({str(wheel)!r})); "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('cdktf_cdktf_provider')}))"
    )
    result = subprocess.run(
        [sys.executable, "-O", "-c", script], capture_output=True, text=True, check=True, cwd=root
    )
    assert result.stdout.strip().splitlines()[-1] == str(
        ["cdktf_cdktf_provider_azurerm", "cdktf_cdktf_provider_databricks"]
    )


@pytest.mark.parametrize(
    ("backend", "where"),
    [
        ({"kind": "local"}, lambda b: b["local"]["path"]),
        (
            {"kind": "azurerm", "resource_group_name": "rg-tfstate", "storage_account_name": "sttfstate"},
            lambda b: b["azurerm"]["key"],
        ),
        ({"kind": "s3", "bucket": "shared-tfstate", "region": "eu-west-1"}, lambda b: b["s3"]["key"]),
    ],
    ids=["local", "azurerm", "s3"],
)
def test_two_platforms_sharing_a_state_store_never_share_a_state_key(
    platform_config, fake_wheel, tmp_path, backend, where
):
    """Prefixes dbp and sbx, same team and env, one container (or checkout): each stack keeps its own state,
    and each workspace stack reads its own platform's state, never the other's."""
    from infra.app import build_app

    keys = {}
    for prefix in ("dbp", "sbx"):
        settings = platform_config.platform.model_copy(
            update={
                "prefix": prefix,
                "state_backend": platform_config.platform.state_backend.model_validate(backend),
            }
        )
        team_env = platform_config.team_envs[0].model_copy(update={"platform": settings})
        out = tmp_path / prefix
        build_app(platform_config, outdir=out, wheel=fake_wheel, team_envs=[team_env]).synth()
        stacks = {
            c: json.loads((out / "stacks" / f"churn-dev-{c}" / "cdk.tf.json").read_text())
            for c in ("platform", "workspace")
        }
        keys[prefix] = {c: where(stack["terraform"]["backend"]) for c, stack in stacks.items()}
        remote = next(iter(stacks["workspace"]["data"]["terraform_remote_state"].values()))["config"]
        assert remote.get("key", remote.get("path")) == keys[prefix]["platform"]
        assert all(
            f"{prefix}/churn/dev/" in key or f"terraform.{prefix}-churn-dev-" in key
            for key in keys[prefix].values()
        )
    assert not set(keys["dbp"].values()) & set(keys["sbx"].values())
