"""Destroying an Azure env's account stack first puts its workspace back on Databricks' `default-policy`.

The account stack is destroyed before the platform stack (it reads the workspace ID from the platform stack's
outputs), so its restricted policy is deleted while the workspace still stands, and Terraform cannot detach it:
databricks v1.99.0 internal/providers/pluginfw/products/workspace_network_option/resource_workspace_network_option.go
`Delete` is empty. Whether the account API refuses to delete a policy a workspace is attached to is undocumented; if
it does, every destroy, `env down` and reaper run of such an env would stop there. So the lifecycle re-attaches
the workspace to `default-policy` through the account API (databricks-sdk 0.67
`AccountClient.workspace_network_configuration.update_workspace_network_option_rpc`, the call the provider's Update
makes) right before the account stack's destroy, and stops in one line, with the account stack untouched, when
that fails. The fake account client (tests/lifecycle/fake_account.py) raises databricks-sdk's own exceptions.
"""

import json

from databricks.sdk.errors import NotFound, PermissionDenied

from infra.lifecycle.network_release import attached_workspaces
from tests.lifecycle.fakes import ephemeral_group
from tests.lifecycle.test_account_move import OPTION, POLICY, _resource
from tests.lifecycle.test_reaper import PAST, run_reap

WORKSPACE_ID = 1234567890123456
PROVIDER = 'provider["registry.terraform.io/databricks/databricks"]'


def _account_state(policy: str = "dbp-churn-prod-np", workspace_id: int = WORKSPACE_ID) -> dict:
    """An Azure account stack's state: its policy and the policy's attachment to the platform's workspace."""
    return {
        "version": 4,
        "resources": [
            _resource(POLICY, PROVIDER, {"network_policy_id": policy}),
            _resource(OPTION, PROVIDER, {"workspace_id": workspace_id, "network_policy_id": policy}),
        ],
    }


def _destroy_steps(fakes) -> list[str]:
    return [e for e in fakes.events if e.startswith(("destroy ", "attach "))]


def _destroy_prod(cli, fakes, *args: str):
    fakes.interactive, fakes.answers = True, ["churn/prod\n"]
    return cli("destroy", "churn/prod", "--force-prod", *args)


def test_destroy_attaches_the_workspace_to_default_policy_right_before_the_account_stack(cli, fakes):
    fakes.runner.states["churn-prod-account"] = _account_state()
    result = _destroy_prod(cli, fakes)
    assert result.code == 0, result.err
    assert _destroy_steps(fakes) == [
        "destroy churn-prod-workspace",
        f"attach workspace {WORKSPACE_ID} to default-policy",
        "destroy churn-prod-account",
        "destroy churn-prod-platform",
    ]
    assert f"workspace {WORKSPACE_ID} attached to default-policy" in result.out


def test_the_account_id_is_the_platforms(cli, fakes, config):
    fakes.runner.states["churn-prod-account"] = _account_state()
    assert _destroy_prod(cli, fakes).code == 0
    assert fakes.account.opened == [str(config.platform.account_id)]


def test_destroy_only_account_releases_the_workspace_too(cli, fakes):
    fakes.runner.states["churn-prod-account"] = _account_state()
    result = _destroy_prod(cli, fakes, "--only", "account")
    assert result.code == 0, result.err
    assert _destroy_steps(fakes) == [
        f"attach workspace {WORKSPACE_ID} to default-policy",
        "destroy churn-prod-account",
    ]


def test_the_dry_run_shows_the_release_between_the_workspace_and_account_stacks(cli, fakes):
    result = cli("destroy", "churn/prod", "--force-prod", "--dry-run")
    assert result.code == 0, result.err
    steps = [line.split(". ", 1)[1] for line in result.out.splitlines() if line.startswith("  ")]
    release = next(i for i, step in enumerate(steps) if "default-policy" in step)
    assert "destroy churn-prod-workspace" in steps[release - 1] and "churn-prod-account" in steps[release]
    assert "destroy churn-prod-account" in steps[release + 1]
    assert fakes.nothing_happened() and fakes.account.opened == []


def test_the_json_dry_run_lists_the_release_step(cli, fakes):
    result = cli("destroy", "churn/prod", "--force-prod", "--dry-run", "--json")
    assert result.code == 0, result.err
    assert any("default-policy" in step for step in json.loads(result.out)["steps"])


def test_a_refused_release_is_one_line_exit_1_and_the_account_stack_is_not_destroyed(cli, fakes, config):
    fakes.runner.states["churn-prod-account"] = _account_state()
    fakes.account.error = PermissionDenied(
        "User is not an account admin.\nrequest id 42", error_code="PERMISSION_DENIED"
    )
    result = _destroy_prod(cli, fakes)
    assert result.code == 1
    assert result.err_lines == [
        f"error: churn-prod-account not destroyed: cannot attach workspace {WORKSPACE_ID} to default-policy in "
        f"Databricks account {config.platform.account_id}: User is not an account admin."
    ]
    assert _destroy_steps(fakes) == [
        "destroy churn-prod-workspace",
        f"attach workspace {WORKSPACE_ID} to default-policy",
    ]


def test_no_usable_credentials_is_one_line_exit_1(cli, fakes):
    fakes.runner.states["churn-prod-account"] = _account_state()
    fakes.account.auth_error = ValueError(
        "default auth: cannot configure default credentials, please check https://docs.databricks.com/en/dev-tools/"
        "auth.html#databricks-client-unified-authentication to configure credentials for your preferred "
        "authentication method."
    )
    result = _destroy_prod(cli, fakes)
    assert result.code == 1 and len(result.err_lines) == 1, result.err
    assert "cannot configure default credentials" in result.err and "Traceback" not in result.err
    assert _destroy_steps(fakes) == ["destroy churn-prod-workspace"]


def test_a_workspace_the_account_no_longer_knows_has_nothing_to_release(cli, fakes):
    fakes.runner.states["churn-prod-account"] = _account_state()
    fakes.account.error = NotFound(
        "Workspace 1234567890123456 does not exist.", error_code="RESOURCE_DOES_NOT_EXIST"
    )
    result = _destroy_prod(cli, fakes)
    assert result.code == 0, result.err
    assert "destroy churn-prod-account" in fakes.events


def test_an_account_stack_without_an_attachment_in_state_calls_nothing(cli, fakes):
    state = _account_state()
    state["resources"] = state["resources"][:1]
    fakes.runner.states["churn-prod-account"] = state
    assert _destroy_prod(cli, fakes).code == 0
    assert fakes.account.opened == [] and "destroy churn-prod-account" in fakes.events


def test_deploys_and_aws_destroys_never_release(cli, fakes):
    fakes.runner.states["churn-prod-account"] = _account_state()
    assert cli("deploy", "churn/prod", "--auto-approve").code == 0
    fakes.runner.states["risk-dev-account"] = _account_state()
    result = cli("destroy", "risk/dev", "--auto-approve")
    assert result.code == 0, result.err
    assert "destroy risk-dev-account" in fakes.events
    assert fakes.account.opened == []


def test_the_reaper_releases_an_env_cut_from_prod_before_its_account_stack(config, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    fakes.runner.stacks_with_state = {"churn-pr1-platform", "churn-pr1-account", "churn-pr1-workspace"}
    fakes.runner.states["churn-pr1-account"] = _account_state("dbp-churn-pr1-np", 42)
    outcome, _ = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    assert _destroy_steps(fakes) == [
        "destroy churn-pr1-workspace",
        "attach workspace 42 to default-policy",
        "destroy churn-pr1-account",
        "destroy churn-pr1-platform",
    ]


def test_a_failed_release_fails_the_env_in_the_reaper_and_keeps_its_account_and_platform_stacks(
    config, fakes
):
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    fakes.runner.stacks_with_state = {"churn-pr1-platform", "churn-pr1-account", "churn-pr1-workspace"}
    fakes.runner.states["churn-pr1-account"] = _account_state("dbp-churn-pr1-np", 42)
    fakes.account.error = PermissionDenied("User is not an account admin.")
    outcome, _ = run_reap(config, fakes)
    assert outcome.failed == ["churn/pr1"]
    assert _destroy_steps(fakes) == ["destroy churn-pr1-workspace", "attach workspace 42 to default-policy"]
    assert fakes.groups.deleted == []


def test_env_down_of_an_env_cut_from_prod_releases_it(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod")]
    fakes.runner.stacks_with_state = {"churn-pr1-platform", "churn-pr1-account", "churn-pr1-workspace"}
    fakes.runner.states["churn-pr1-account"] = _account_state("dbp-churn-pr1-np", 42)
    result = cli("env", "down", "pr1")
    assert result.code == 0, result.err
    assert "attach workspace 42 to default-policy" in fakes.events
    assert fakes.events.index("attach workspace 42 to default-policy") < fakes.events.index(
        "destroy churn-pr1-account"
    )


def test_attached_workspaces_skips_an_option_already_on_default_policy():
    assert attached_workspaces("") == []
    state = _account_state()
    assert attached_workspaces(json.dumps(state)) == [WORKSPACE_ID]
    state["resources"][1]["instances"][0]["attributes"]["network_policy_id"] = "default-policy"
    assert attached_workspaces(json.dumps(state)) == []


def test_destroying_only_the_account_stack_of_prod_still_needs_force_prod(cli, fakes):
    result = cli("destroy", "churn/prod", "--only", "account")
    assert result.code == 2 and result.err_lines == [
        "error: --force-prod: churn/prod is a production env; destroying it needs --force-prod"
    ]
    assert fakes.nothing_happened()


def test_a_mistyped_only_is_refused_before_the_typed_confirmation(cli, fakes):
    """`--only churn-prod-account` (the stack's name, not its component): refused in one line, nobody asked to type
    churn/prod first."""
    fakes.interactive = True
    result = cli("destroy", "churn/prod", "--force-prod", "--only", "churn-prod-account")
    assert result.code == 2 and len(result.err_lines) == 1, result.err
    assert result.err.startswith("error: --only: 'churn-prod-account' is not a stack of churn/prod")
    assert fakes.events == []  # no prompt, nothing built


def test_destroying_only_the_platform_stack_while_the_account_stack_holds_state_is_refused(cli, fakes):
    """The account stack plans its own destroy against the platform stack's outputs (docs/security.md: destroyed
    after the platform stack, "Unsupported attribute"): with them gone it could never be destroyed by the CLI."""
    fakes.runner.stacks_with_state = {"churn-prod-platform", "churn-prod-account"}
    result = _destroy_prod(cli, fakes, "--only", "platform")
    assert result.code == 2 and len(result.err_lines) == 1, result.err
    assert result.err.startswith(
        "error: --only: churn-prod-account still holds state and reads churn-prod-platform's outputs"
    )
    assert not fakes.runner.commands


def test_an_azure_account_stack_goes_alone_while_the_workspace_stack_stays(cli, fakes):
    fakes.runner.stacks_with_state = {"churn-prod-platform", "churn-prod-account", "churn-prod-workspace"}
    result = _destroy_prod(cli, fakes, "--only", "account")
    assert result.code == 0, result.err
    assert [c.stack for c in fakes.runner.commands] == ["churn-prod-account"]


def test_an_aws_account_stack_is_not_destroyed_under_its_workspace_stack(cli, fakes):
    fakes.runner.stacks_with_state = {"risk-dev-platform", "risk-dev-account", "risk-dev-workspace"}
    result = cli("destroy", "risk/dev", "--auto-approve", "--only", "account")
    assert result.code == 2 and "risk-dev-workspace still holds state" in result.err
    fakes.runner.stacks_with_state.discard("risk-dev-workspace")
    assert cli("destroy", "risk/dev", "--auto-approve", "--only", "account").code == 0


def test_env_down_whose_release_is_refused_fails_in_one_line(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod")]
    fakes.runner.stacks_with_state = {"churn-pr1-platform", "churn-pr1-account", "churn-pr1-workspace"}
    fakes.runner.states["churn-pr1-account"] = _account_state("dbp-churn-pr1-np", 42)
    fakes.account.error = PermissionDenied("User is not an account admin.")
    result = cli("env", "down", "pr1")
    assert result.code == 1 and len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(
        "error: churn-pr1-account not destroyed: cannot attach workspace 42"
    )
    assert "destroy churn-pr1-account" not in fakes.events and fakes.groups.deleted == []


def test_an_account_stack_whose_platform_state_is_gone_is_left_and_named_not_retried_forever(config, fakes):
    """The Azure account stack's destroy evaluates the platform stack's outputs (its workspace ID): with that state
    gone Terraform refuses ("Unsupported attribute", checked with Terraform 1.11.4, a terraform_data reading a local
    terraform_remote_state with no outputs). Run, it would fail the env on every reap; the teardown leaves it,
    names its policy and goes on: with no other state, the resource group goes by its tags."""
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    fakes.runner.stacks_with_state = {"churn-pr1-account"}
    fakes.runner.states["churn-pr1-account"] = _account_state("dbp-churn-pr1-np", 42)
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    assert "destroy churn-pr1-account" not in fakes.events and fakes.account.opened == []
    assert "churn-pr1-account: not destroyed, its destroy reads churn-pr1-platform's outputs" in "\n".join(
        lines
    )
    assert fakes.groups.deleted  # the group went by its tags
    assert any(line.startswith("warning: churn/pr1 leaves its serverless network policy") for line in lines)


def _turn_off_restricted_egress(config_path, team: str, env: str) -> None:
    import yaml

    raw = yaml.safe_load(config_path.read_text())
    settings = next(t for t in raw["teams"] if t["name"] == team)["environments"][env]
    settings.setdefault("serverless", {})["restricted_egress"] = False
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_an_aws_deploy_that_turns_restricted_egress_off_releases_the_workspace_before_the_account_stack(
    cli, fakes, config_path
):
    """docs/security.md, "Turning it off": on AWS the account stack stays and the apply deletes the policy while
    the workspace is still attached to it (the attachment's Delete is empty). The deploy attaches the workspace to
    default-policy first, through the AWS account console, where the account stack's state still attaches it."""
    _turn_off_restricted_egress(config_path, "risk", "dev")
    fakes.runner.states["risk-dev-account"] = _account_state("dbp-risk-dev-np", 77)
    fakes.runner.stacks_with_state = {"risk-dev-platform", "risk-dev-account"}
    fakes.runner.outputs = {"risk-dev-account": {"workspace_url": "https://dbc-1.cloud.databricks.com"}}
    result = cli("deploy", "risk/dev", "--auto-approve")
    assert result.code == 0, result.err
    assert [e for e in fakes.events if e.startswith(("deploy ", "attach "))] == [
        "deploy risk-dev-platform",
        "attach workspace 77 to default-policy",
        "deploy risk-dev-account",
        "deploy risk-dev-workspace",
    ]
    assert fakes.account.clouds == ["aws"]


def test_a_deploy_with_nothing_attached_calls_nothing_and_says_nothing(cli, fakes):
    fakes.runner.outputs = {"risk-dev-account": {"workspace_url": "https://dbc-1.cloud.databricks.com"}}
    result = cli("deploy", "risk/dev", "--auto-approve")
    assert result.code == 0, result.err
    assert fakes.account.opened == [] and "default-policy" not in result.out


def test_applying_a_saved_plan_releases_the_workspace_before_the_account_stacks_plan(cli, fakes, tmp_path):
    """`platform apply --plan-dir` (deploy.yml) applies the account stack's saved plan, which deletes the policy;
    the workspace goes to default-policy first, as in `platform deploy`. The release changes no state, so the saved
    plan is not stale."""
    from tests.lifecycle.test_plan import saved_plan

    fakes.runner.stacks_with_state = {"risk-dev-platform", "risk-dev-account", "risk-dev-workspace"}
    fakes.runner.states["risk-dev-account"] = _account_state("dbp-risk-dev-np", 77)
    fakes.runner.outputs = {"risk-dev-account": {"workspace_url": "https://dbc-1.cloud.databricks.com"}}
    kept = saved_plan(cli, fakes, tmp_path, target="risk/dev")
    result = cli("apply", "risk/dev", "--plan-dir", str(kept))
    assert result.code == 0, result.err
    steps = [e for e in fakes.events if e.startswith(("apply ", "attach "))]
    assert steps == [
        "apply risk-dev-platform saved plan of risk-dev-platform",
        "attach workspace 77 to default-policy",
        "apply risk-dev-account saved plan of risk-dev-account",
        "apply risk-dev-workspace saved plan of risk-dev-workspace",
    ]
