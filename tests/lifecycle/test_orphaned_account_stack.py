"""An Azure env that turned serverless.restricted_egress off while its account stack was deployed.

The env's stacks no longer include `<team>-<env>-account` (TeamEnv.stacks), so nothing synthesizes, plans or
destroys it: its state keeps the restricted policy and the workspace's attachment to it, the workspace stays
restricted whatever the config says, and `platform destroy --only account` refuses a stack the env does not have.
Every run on the env reads that stack's state first (through a stand-in directory with only its backend) and
refuses in one line with the way out.
"""

import json
from pathlib import Path

import pytest

from infra.config import TeamEnv
from infra.lifecycle.account_move import refuse_orphaned_account_stack
from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.runner import CdktfRunner
from tests.lifecycle.test_account_move import OPTION, POLICY
from tests.lifecycle.test_network_release import _account_state

LOCAL_BACKEND = {
    "terraform": {"backend": {"local": {"path": "../../../terraform.dbp-churn-dev-platform.tfstate"}}}
}


def test_deploy_refuses_an_env_whose_account_stack_was_left_behind(cli, fakes):
    fakes.stack_documents["churn-dev-platform"] = json.dumps(LOCAL_BACKEND)
    fakes.runner.states["churn-dev-account"] = _account_state("dbp-churn-dev-np")
    result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 1 and len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(
        f"error: churn/dev: churn-dev-account's state still holds {POLICY}, {OPTION}, but "
        "serverless.restricted_egress is off"
    )
    assert "`platform destroy churn/dev --only account`" in result.err
    assert not fakes.runner.commands
    assert not (fakes.outdir / "stacks" / "churn-dev-account").exists()  # the stand-in is gone


def test_an_env_whose_account_stack_state_is_empty_deploys(cli, fakes):
    fakes.stack_documents["churn-dev-platform"] = json.dumps(LOCAL_BACKEND)
    assert cli("deploy", "churn/dev", "--auto-approve").code == 0
    assert "churn-dev-account" in fakes.runner.state_reads
    assert [c.stack for c in fakes.runner.commands] == ["churn-dev-platform", "churn-dev-workspace"]


@pytest.mark.slow
def test_the_stand_in_reads_the_real_local_state_with_terraform(config, tmp_path, monkeypatch):
    """Real Terraform 1.11.4: `init` of a directory holding only the local backend at the account stack's state
    file, then `state pull`, as CdktfRunner reads every state. `init` installs the providers the state names, so
    offline the resources name the aws provider of the machine's mirror (tests/terraform_moto.py); on a runner it
    is the databricks provider, downloaded as for any account stack."""
    from tests.terraform_moto import locate_tools

    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text(locate_tools().cli_config())
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(cli_config))
    team_env = TeamEnv.permanent(config, config.team("churn"), "dev")
    outdir = tmp_path / "cdktf.out"
    platform = outdir / "stacks" / "churn-dev-platform"
    platform.mkdir(parents=True)
    (platform / "cdk.tf.json").write_text(json.dumps(LOCAL_BACKEND))
    state = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 3,
        "lineage": "0c3a1f7e-2b8d-4e6f-9a1b-3c5d7e9f1a2b",
        "outputs": {},
        "resources": [
            {**resource, "provider": 'provider["registry.terraform.io/hashicorp/aws"]'}
            for resource in _account_state("dbp-churn-dev-np")["resources"]
        ],
    }
    Path(tmp_path / "terraform.dbp-churn-dev-account.tfstate").write_text(json.dumps(state))
    runner = CdktfRunner(cwd=tmp_path)
    try:
        refuse_orphaned_account_stack(team_env, runner, outdir=outdir)
    except OperationFailed as exc:
        assert POLICY in str(exc) and OPTION in str(exc)
    else:
        raise AssertionError("the left-behind policy was not found")
    (tmp_path / "terraform.dbp-churn-dev-account.tfstate").unlink()
    refuse_orphaned_account_stack(team_env, runner, outdir=outdir)  # no state: nothing to refuse


def test_envs_with_an_account_stack_and_ephemeral_envs_are_not_probed(config, fakes):
    prod = TeamEnv.permanent(config, config.team("churn"), "prod")
    refuse_orphaned_account_stack(prod, fakes.runner, outdir=fakes.outdir)
    assert fakes.runner.state_reads == []


def test_the_teardown_of_an_env_whose_base_turned_restricted_egress_off_names_its_left_policy(
    config_path, fakes
):
    """pr1 was cut from prod while prod restricted serverless egress, so it has an account stack with a policy;
    prod has turned it off since. pr1's stacks are derived from today's prod (no account stack), so the teardown
    cannot destroy that stack: it names what its state still holds instead of leaving it unsaid."""
    import yaml

    from infra.config import load_config
    from tests.lifecycle.fakes import ephemeral_group
    from tests.lifecycle.test_reaper import PAST, run_reap

    raw = yaml.safe_load(config_path.read_text())
    churn = next(team for team in raw["teams"] if team["name"] == "churn")
    churn["environments"]["prod"].setdefault("serverless", {})["restricted_egress"] = False
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(config_path)
    fakes.stack_documents["churn-pr1-platform"] = json.dumps(
        {"terraform": {"backend": {"local": {"path": "../../../terraform.dbp-churn-pr1-platform.tfstate"}}}}
    )
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    fakes.runner.stacks_with_state = {"churn-pr1-platform", "churn-pr1-workspace"}
    fakes.runner.states["churn-pr1-account"] = _account_state("dbp-churn-pr1-np", 42)
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    (warning,) = [line for line in lines if "churn-pr1-account's state still holds" in line]
    assert POLICY in warning and "delete network policy dbp-churn-pr1-np in the account console" in warning
