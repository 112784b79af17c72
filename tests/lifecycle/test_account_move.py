"""An Azure env deployed while its serverless network policy lived in its platform stack: every command that runs
Terraform on it refuses, before any stack runs, with the commands that move the policy into the account stack.

Terraform facts this relies on (checked with Terraform 1.11.4 and the hashicorp/aws 5.100.0 mirror, a resource in
state under an aliased provider; test_removing_the_alias_makes_the_platform_stack_unplannable below re-checks them):
a resource whose aliased provider configuration left the config makes `terraform plan` fail ("Provider
configuration not present"), and a `removed` block (destroy = false) does not help without that configuration; a
`removed` block for an address not in state is a no-op. Import IDs: databricks v1.99.0 ImportState of
internal/providers/pluginfw/products/account_network_policy/resource_account_network_policy.go (network_policy_id)
and .../workspace_network_option/resource_workspace_network_option.go (workspace_id).
"""

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from infra.config import TeamEnv
from infra.lifecycle.account_move import account_resources, refuse_account_resources_in_platform_state

POLICY = "databricks_account_network_policy.serverless-network_policy_360D9BB2"
OPTION = "databricks_workspace_network_option.serverless-network_network-option_B3BC1FFA"


def _resource(address: str, provider: str, attributes: dict) -> dict:
    rtype, name = address.split(".", 1)
    return {
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider": provider,
        "instances": [{"schema_version": 0, "attributes": attributes}],
    }


def _old_platform_state() -> dict:
    """churn-prod-platform's state as the platform stack with the `account` provider alias left it."""
    account = 'provider["registry.terraform.io/databricks/databricks"].account'
    return {
        "version": 4,
        "resources": [
            _resource(
                "azurerm_databricks_workspace.workspace_B76F7DCA",
                'provider["registry.terraform.io/hashicorp/azurerm"]',
                {"workspace_id": "1234567890123456"},
            ),
            _resource(POLICY, account, {"network_policy_id": "dbp-churn-prod-np"}),
            _resource(
                OPTION, account, {"workspace_id": 1234567890123456, "network_policy_id": "dbp-churn-prod-np"}
            ),
        ],
    }


def test_account_resources_are_found_with_their_import_ids():
    assert account_resources(json.dumps(_old_platform_state())) == {
        POLICY: "dbp-churn-prod-np",
        OPTION: "1234567890123456",
    }
    assert account_resources("") == {}


@pytest.mark.parametrize("command", [("deploy", "--auto-approve"), ("destroy", "--force-prod"), ("plan",)])
def test_a_run_on_an_env_with_the_policy_in_its_platform_state_refuses_with_the_move(cli, fakes, command):
    fakes.runner.states["churn-prod-platform"] = _old_platform_state()
    fakes.interactive, fakes.answers = True, ["churn/prod\n"]  # destroying prod is confirmed by typing it
    result = cli(command[0], "churn/prod", *command[1:])
    assert result.code == 1 and len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    platform_dir = fakes.outdir / "stacks" / "churn-prod-platform"
    account_dir = fakes.outdir / "stacks" / "churn-prod-account"
    assert line.startswith(
        f"error: churn/prod: churn-prod-platform's state still holds {POLICY}, {OPTION}, which now belong to "
        "churn-prod-account"
    )
    moves = line.split("then run again: ", 1)[1].split("; ")
    # Imports first (an account admin's reads): one that fails leaves the platform state, and this refusal, as they
    # were; forgetting the objects in the platform state comes last.
    assert [shlex.split(move) for move in moves] == [
        ["terraform", f"-chdir={account_dir}", "init", "-input=false"],
        ["terraform", f"-chdir={account_dir}", "import", POLICY, "dbp-churn-prod-np"],
        ["terraform", f"-chdir={account_dir}", "import", OPTION, "1234567890123456"],
        ["terraform", f"-chdir={platform_dir}", "state", "rm", POLICY, OPTION],
    ]
    assert not fakes.runner.commands and not any(e.startswith(("plan ", "apply ")) for e in fakes.events)


def test_once_moved_the_deploy_runs_platform_account_workspace(cli, fakes):
    moved = _old_platform_state()
    moved["resources"] = moved["resources"][:1]
    fakes.runner.states["churn-prod-platform"] = moved
    result = cli("deploy", "churn/prod", "--auto-approve")
    assert result.code == 0, result.err
    assert [c.stack for c in fakes.runner.commands] == [
        "churn-prod-platform",
        "churn-prod-account",
        "churn-prod-workspace",
    ]
    assert fakes.runner.state_reads == ["churn-prod-platform"]


def test_destroy_runs_the_account_stack_between_workspace_and_platform(cli, fakes):
    """The account stack reads the workspace ID from the platform stack's outputs: destroyed after the platform
    stack, its plan would fail on the output that is gone (Terraform 1.11.4: "Unsupported attribute")."""
    fakes.interactive, fakes.answers = True, ["churn/prod\n"]
    result = cli("destroy", "churn/prod", "--force-prod")
    assert result.code == 0, result.err
    assert [c.stack for c in fakes.runner.commands] == [
        "churn-prod-workspace",
        "churn-prod-account",
        "churn-prod-platform",
    ]


def test_destroy_only_the_account_stack_before_turning_restricted_egress_off(cli, fakes, monkeypatch):
    """docs/security.md, "Turning it off on a deployed env": the account stack goes first, alone; a deploy's
    $PLATFORM_ONLY never narrows a destroy."""
    fakes.interactive, fakes.answers = True, ["churn/prod\n"]
    result = cli("destroy", "churn/prod", "--force-prod", "--only", "account")
    assert result.code == 0, result.err
    assert [c.stack for c in fakes.runner.commands] == ["churn-prod-account"]
    fakes.runner.commands.clear()
    monkeypatch.setenv("PLATFORM_ONLY", "workspace")
    fakes.answers = ["churn/prod\n"]
    assert cli("destroy", "churn/prod", "--force-prod").code == 0
    assert [c.stack for c in fakes.runner.commands] == [
        "churn-prod-workspace",
        "churn-prod-account",
        "churn-prod-platform",
    ]


def test_an_env_that_turned_restricted_egress_off_is_told_to_drop_the_policy_from_state(cli, fakes):
    fakes.runner.states["churn-dev-platform"] = _old_platform_state()
    result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 1 and len(result.err_lines) == 1
    assert "no stack of this env declares any more (serverless.restricted_egress is off)" in result.err
    assert f"state rm {POLICY} {OPTION}" in result.err and "import" not in result.err
    assert not fakes.runner.commands


def test_aws_envs_and_azure_envs_of_a_platform_without_account_id_are_not_read(config, fakes):
    """No `account` alias was ever emitted for them: nothing to look for, no state read."""
    risk = TeamEnv.permanent(config, config.team("risk"), "prod")
    churn = TeamEnv.permanent(config, config.team("churn"), "prod")
    no_account = churn.model_copy(update={"platform": churn.platform.model_copy(update={"account_id": None})})
    fakes.runner.states = {te.stacks["platform"]: _old_platform_state() for te in (risk, churn)}
    for team_env in (risk, no_account):
        refuse_account_resources_in_platform_state(team_env, fakes.runner, outdir=fakes.outdir)
    assert fakes.runner.state_reads == []


def _terraform(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["terraform", f"-chdir={workdir}", *args, "-input=false", "-no-color"],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_removing_the_alias_makes_the_platform_stack_unplannable(tmp_path, monkeypatch):
    """Why the preflight exists: with the object in state under a provider alias that left the config, Terraform
    refuses to plan, with or without a `removed` block; with the alias, `removed` of an address never in state is a
    no-op. Real Terraform and the aws provider mirror (tests/terraform_moto.py), no API call (-refresh=false)."""
    from tests.terraform_moto import locate_tools

    tools = locate_tools()
    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text(tools.cli_config())
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    provider = {
        "region": "eu-west-1",
        "access_key": "test",
        "secret_key": "test",
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": True,
    }
    attributes = {"id": "np", "name": "np", "type": "String", "value": "v", "tags": {}, "tags_all": {}}
    state = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": "5d0c3e9e-6d8a-4c56-9f43-7f3f2c1b0a11",
        "outputs": {},
        "resources": [
            _resource(
                "aws_ssm_parameter.np", 'provider["registry.terraform.io/hashicorp/aws"].account', attributes
            )
        ],
    }

    def plan(config: dict) -> subprocess.CompletedProcess:
        (tmp_path / "main.tf.json").write_text(json.dumps(config))
        (tmp_path / "s.tfstate").write_text(json.dumps(state))
        init = _terraform(tmp_path, "init")
        assert init.returncode == 0, init.stderr
        return _terraform(tmp_path, "plan", "-refresh=false")

    base = {
        "terraform": {
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}},
            "backend": {"local": {"path": "s.tfstate"}},
        },
        "provider": {"aws": [provider]},
        "resource": {"terraform_data": {"ws": {"input": "1"}}},
    }
    without_alias = plan(base)
    assert without_alias.returncode == 1 and "Provider configuration not present" in without_alias.stderr
    forget = [
        {"from": "aws_ssm_parameter.np", "lifecycle": {"destroy": False}},
        {"from": "aws_ssm_parameter.never_there", "lifecycle": {"destroy": False}},
    ]
    removed_without_alias = plan({**base, "removed": forget})
    assert removed_without_alias.returncode == 1
    assert "Provider configuration not present" in removed_without_alias.stderr
    with_alias = plan(
        {**base, "removed": forget, "provider": {"aws": [provider, {**provider, "alias": "account"}]}}
    )
    assert with_alias.returncode == 0, with_alias.stderr
    assert "aws_ssm_parameter.np" in with_alias.stdout and "never_there" not in with_alias.stdout


@pytest.mark.slow
def test_a_stack_reading_remote_state_cannot_be_destroyed_after_the_stack_it_reads(tmp_path, monkeypatch):
    """Why an Azure env is destroyed workspace, account, platform (TeamEnv.stacks reversed), although the policy then
    goes while the workspace stands: destroyed after the platform stack, the account stack's destroy evaluates the
    workspace ID from the platform stack's outputs, which are gone ("Unsupported attribute"). Real Terraform, built-in
    terraform_data and a local terraform_remote_state, as cdktf's cross-stack references."""
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/dev/null")
    platform, account = tmp_path / "platform", tmp_path / "account"
    platform.mkdir()
    account.mkdir()
    (platform / "main.tf.json").write_text(
        json.dumps(
            {
                "terraform": {"backend": {"local": {"path": "../platform.tfstate"}}},
                "resource": {"terraform_data": {"workspace": {"input": "1234567890123456"}}},
                "output": {"workspace_id": {"value": "${terraform_data.workspace.output}"}},
            }
        )
    )
    (account / "main.tf.json").write_text(
        json.dumps(
            {
                "terraform": {"backend": {"local": {"path": "../account.tfstate"}}},
                "data": {
                    "terraform_remote_state": {
                        "platform": {"backend": "local", "config": {"path": "../platform.tfstate"}}
                    }
                },
                "resource": {
                    "terraform_data": {
                        "policy": {"input": "dbp-churn-prod-np"},
                        "option": {
                            "input": "${data.terraform_remote_state.platform.outputs.workspace_id}",
                            "depends_on": ["terraform_data.policy"],
                        },
                    }
                },
            }
        )
    )
    for stack in (platform, account):
        assert _terraform(stack, "init").returncode == 0
        applied = _terraform(stack, "apply", "-auto-approve")
        assert applied.returncode == 0, applied.stderr
    assert _terraform(platform, "destroy", "-auto-approve").returncode == 0
    late = _terraform(account, "destroy", "-auto-approve")
    assert late.returncode == 1 and "Unsupported attribute" in late.stderr
    assert (
        _terraform(platform, "apply", "-auto-approve").returncode == 0
    )  # the order TeamEnv.stacks reversed gives
    assert _terraform(account, "destroy", "-auto-approve").returncode == 0
    assert _terraform(platform, "destroy", "-auto-approve").returncode == 0
