"""The lifecycle commands end to end through `platform ...`, with every external call faked."""

import json
import os
import re
import subprocess
import sys
from dataclasses import replace

import pytest
import yaml
from azure.core.exceptions import ClientAuthenticationError
from databricks.sdk.errors import TemporarilyUnavailable

from infra.lifecycle.azure import LOGIN_HINT
from infra.lifecycle.databricks import RunProgress
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.runner import CdktfRunner
from tests.lifecycle.fakes import ephemeral_group, permanent_group


def cdktf(action, stack, out, *, auto_approve=True):
    line = (
        f"npx --no-install cdktf {action} {stack} --app true --output {out} --skip-synth "
        "--ignore-missing-stack-dependencies"
    )
    return line + (" --auto-approve" if auto_approve else "")


def deploy_plan(key, out):
    """What `--dry-run` prints for deploying the team-env ``key`` (both stacks, auto-approved) into ``out``."""
    team, env = key.split("/")
    platform, workspace = f"{team}-{env}-platform", f"{team}-{env}-workspace"
    return [
        f"deploy {key}: {platform} then {workspace}",
        "  1. build the churn wheel: ml/ -> dist/",
        f"  2. synthesize {platform} and {workspace} into {out}/stacks",
        f"  3. {cdktf('deploy', platform, out)}",
        f"  4. {cdktf('deploy', workspace, out)}",
        "dry run: nothing was built, synthesized, deployed or destroyed",
    ]


def assert_refused(result, fakes, message):
    """Bad input: exactly one line naming the problem, exit code 2, no traceback, nothing happened."""
    assert result.code == 2, result
    assert result.err_lines == [f"error: {message}"]
    assert "Traceback" not in result.err
    assert fakes.nothing_happened(), fakes.events


# --- deploy / destroy ------------------------------------------------------------------------------------


def test_deploy_dry_run_prints_the_exact_stacks_and_commands(cli, fakes):
    result = cli("deploy", "churn/dev", "--auto-approve", "--dry-run")
    out = fakes.outdir
    assert result.code == 0 and result.err == ""
    assert result.out.splitlines() == [
        *deploy_plan("churn/dev", out),
    ]
    assert fakes.nothing_happened()


def test_deploy_builds_synthesizes_then_deploys_platform_before_workspace(cli, fakes):
    result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 0, result.err
    assert fakes.events == [
        "build wheel",
        "synth churn-dev-platform churn-dev-workspace",
        "deploy churn-dev-platform",
        "deploy churn-dev-workspace",
    ]
    assert [" ".join(c.argv()) for c in fakes.runner.commands] == [
        cdktf("deploy", "churn-dev-platform", fakes.outdir),
        cdktf("deploy", "churn-dev-workspace", fakes.outdir),
    ]
    assert fakes.synthesized == [(["churn/dev"], fakes.outdir, fakes.wheel)]
    assert result.out.splitlines()[-1] == "deployed churn/dev"


def test_the_dry_run_shows_what_a_real_run_executes(cli, fakes):
    planned = cli("deploy", "churn/staging", "--auto-approve", "--dry-run").out.splitlines()
    cli("deploy", "churn/staging", "--auto-approve")
    assert [line.split(". ", 1)[1] for line in planned[3:5]] == [str(c) for c in fakes.runner.commands]


def test_a_failed_platform_deploy_stops_before_the_workspace(cli, fakes):
    fakes.runner.failing = {"churn-dev-platform"}
    result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 1
    assert result.err_lines == ["error: cdktf deploy churn-dev-platform failed (exit 1)"]
    assert "deploy churn-dev-workspace" not in fakes.events


def test_deploy_without_a_terminal_needs_auto_approve(cli, fakes):
    result = cli("deploy", "churn/dev")
    assert_refused(
        result,
        fakes,
        "--auto-approve: required when stdin is not a terminal: cdktf would wait for an approval nobody can give",
    )


def test_at_a_terminal_cdktf_asks_for_approval_itself(cli, fakes):
    fakes.interactive = True
    assert cli("deploy", "pricing/dev").code == 0
    assert [c.auto_approve for c in fakes.runner.commands] == [False, False]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("deploy", "churn"), "TEAM/ENV: 'churn' is not of the form TEAM/ENV, e.g. churn/dev"),
        (("deploy", "payroll/dev"), "TEAM/ENV: unknown team 'payroll' (teams: churn, pricing, risk)"),
        (
            ("deploy", "churn/qa"),
            "TEAM/ENV: team 'churn' has no environment 'qa' (environments: dev, staging, prod); ephemeral envs are managed with `platform env up/down`",
        ),
        (
            ("destroy", "pricing/pr1"),
            "TEAM/ENV: team 'pricing' has no environment 'pr1' (environments: dev, staging, prod)",
        ),
        (
            ("destroy", "churn/Prod"),
            "TEAM/ENV: team 'churn' has no environment 'Prod' (environments: dev, staging, prod)",
        ),
    ],
)
def test_unknown_targets_are_refused(cli, fakes, args, message):
    assert_refused(cli(*args, "--auto-approve"), fakes, message)


def test_an_invalid_config_is_reported_per_problem(cli, fakes, config_path):
    config_path.write_text(config_path.read_text().replace("prefix: dbp", "prefix: Bad Prefix"))
    result = cli("deploy", "churn/dev", "--dry-run")
    assert result.code == 2 and len(result.err_lines) == 1
    assert result.err_lines[0].startswith(f"error: {config_path}: platform.prefix: 'Bad Prefix' is invalid")
    assert fakes.nothing_happened()


def test_destroy_runs_workspace_before_platform(cli, fakes):
    result = cli("destroy", "churn/staging", "--auto-approve")
    assert result.code == 0, result.err
    assert fakes.events[2:] == ["destroy churn-staging-workspace", "destroy churn-staging-platform"]
    assert result.out.splitlines()[-1] == "destroyed churn/staging"


def test_destroying_prod_needs_force_prod(cli, fakes):
    fakes.interactive = True
    assert_refused(
        cli("destroy", "churn/prod", "--auto-approve"),
        fakes,
        "--force-prod: churn/prod is a production env; destroying it needs --force-prod",
    )


def test_destroying_prod_without_a_terminal_is_refused_even_with_force_prod(cli, fakes):
    assert_refused(
        cli("destroy", "churn/prod", "--force-prod", "--auto-approve"),
        fakes,
        "--force-prod: destroying churn/prod must be confirmed by typing it, and stdin is not a terminal; refusing",
    )


def test_destroying_prod_refuses_a_wrong_confirmation(cli, fakes):
    fakes.interactive, fakes.answers = True, ["churn/dev"]
    result = cli("destroy", "churn/prod", "--force-prod")
    assert result.code == 2
    assert result.err_lines == [
        "error: confirmation: typed 'churn/dev', not 'churn/prod'; nothing was destroyed"
    ]
    assert fakes.events == ["ask This destroys churn/prod. Type churn/prod to confirm: "]


def test_destroying_prod_proceeds_once_the_key_is_typed_back(cli, fakes):
    fakes.interactive, fakes.answers = True, ["churn/prod\n"]
    result = cli("destroy", "churn/prod", "--force-prod")
    assert result.code == 0, result.err
    assert fakes.events == [
        "ask This destroys churn/prod. Type churn/prod to confirm: ",
        "build wheel",
        "synth churn-prod-platform churn-prod-account churn-prod-workspace",
        "destroy churn-prod-workspace",
        "destroy churn-prod-account",
        "destroy churn-prod-platform",
    ]


def test_destroy_dry_run_of_prod_asks_nothing(cli, fakes):
    result = cli("destroy", "churn/prod", "--force-prod", "--dry-run")
    assert result.code == 0
    assert (
        result.out.splitlines()[0]
        == "destroy churn/prod: churn-prod-workspace then churn-prod-account then churn-prod-platform"
    )
    assert (
        result.out.splitlines()[3]
        == f"  3. {cdktf('destroy', 'churn-prod-workspace', fakes.outdir, auto_approve=False)}"
    )
    assert fakes.nothing_happened()


# --- env up ----------------------------------------------------------------------------------------------


def test_env_up_dry_run_allocates_a_slot_and_prints_the_plan(cli, fakes):
    fakes.groups.groups = [
        permanent_group(),
        ephemeral_group(env="pr1", slot="0", expires="2026-11-23T00:00:00Z"),
    ]
    result = cli(
        "env", "up", "pr42", "--from", "churn/dev", "--ttl", "8h", "--owner", "ana@example.com", "--dry-run"
    )
    out = fakes.outdir
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "create churn/pr42 from churn/dev: network 10.10.65.0/24 (slot 1), owner ana@example.com, "
        "expires 2026-11-22T20:00:00Z (in 8h)",
        "tags: base-env=dev, cost-center=CC-4711, env=pr42, ephemeral=true, expires-at=2026-11-22T20:00:00Z, "
        "managed-by=cdktf-platform, network=10.10.65.0/24, network-slot=1, owner=ana@example.com, "
        "platform-prefix=dbp, team=churn",
        *deploy_plan("churn/pr42", out),
    ]
    assert fakes.nothing_happened()


NO_LOGIN = ClientAuthenticationError(
    "DefaultAzureCredential failed to retrieve a token from the included credentials."
)
AT_RUN_TIME = "<decided at run time>"


def test_env_up_dry_run_works_offline_and_marks_what_only_azure_knows(cli, fakes):
    fakes.groups.list_error = NO_LOGIN
    result = cli("env", "up", "pr42", "--from", "churn/dev", "--owner", "ana@example.com", "--dry-run")
    out = fakes.outdir
    assert result.code == 0, result.err
    assert result.err_lines == [
        f"warning: cannot read Azure, so what only Azure knows is {AT_RUN_TIME}: Azure, listing resource "
        "groups: DefaultAzureCredential failed to retrieve a token from the included credentials."
        + LOGIN_HINT
    ]
    assert result.out.splitlines() == [
        f"create or update churn/pr42 from churn/dev: network {AT_RUN_TIME} (the lowest free /24 of "
        "10.10.64.0/22), owner ana@example.com, expires 2026-11-22T20:00:00Z (in 8h)",
        "tags: base-env=dev, cost-center=CC-4711, env=pr42, ephemeral=true, expires-at=2026-11-22T20:00:00Z, "
        f"managed-by=cdktf-platform, network={AT_RUN_TIME}, network-slot={AT_RUN_TIME}, owner=ana@example.com, "
        "platform-prefix=dbp, team=churn",
        *deploy_plan("churn/pr42", out),
    ]
    assert fakes.nothing_happened()


def test_env_up_without_azure_still_fails_when_it_is_not_a_dry_run(cli, fakes):
    fakes.groups.list_error = NO_LOGIN
    result = cli("env", "up", "pr42", "--from", "churn/dev")
    assert result.code == 1 and len(result.err_lines) == 1
    assert result.err_lines[0].startswith("error: Azure, listing resource groups: DefaultAzureCredential")
    assert fakes.nothing_happened()


def test_env_down_dry_run_works_offline(cli, fakes):
    fakes.groups.list_error = NO_LOGIN
    result = cli("env", "down", "pr42", "--dry-run")
    out = fakes.outdir
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        f"destroy pr42: its team and resource group are {AT_RUN_TIME} (the group tagged env=pr42)",
        "  if it is churn/pr42 (resource group rg-dbp-churn-pr42):",
        f"    {cdktf('destroy', 'churn-pr42-workspace', out)}",
        # churn's prod restricts serverless egress: an env cut from it has an account stack
        f"    {cdktf('destroy', 'churn-pr42-account', out)} (if its base env restricts serverless egress; first its "
        "workspace goes back to Databricks' default-policy)",
        f"    {cdktf('destroy', 'churn-pr42-platform', out)}",
        "dry run: nothing was built, synthesized, deployed or destroyed",
    ]
    assert result.out.splitlines()[0].startswith(
        f"warning: cannot read Azure, so what only Azure knows is {AT_RUN_TIME}"
    )
    assert fakes.nothing_happened()


def test_env_reap_dry_run_works_offline(cli, fakes, monkeypatch):
    # no subscription configured either: the real services refuse before any Azure call
    def no_subscription(config):
        raise InputProblem(
            "platform.subscription_id",
            "unset, and neither ARM_SUBSCRIPTION_ID nor AZURE_SUBSCRIPTION_ID is set",
        )

    monkeypatch.setattr(
        "infra.cli.lifecycle.services_factory",
        lambda: replace(fakes.services(), resource_groups=no_subscription),
    )
    result = cli("env", "reap", "--dry-run")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        f"warning: cannot read Azure, so what only Azure knows is {AT_RUN_TIME}: platform.subscription_id: unset, "
        "and neither ARM_SUBSCRIPTION_ID nor AZURE_SUBSCRIPTION_ID is set"
    )
    assert (
        lines[1]
        == f"which ephemeral envs exist and which have expired: {AT_RUN_TIME} (resource groups tagged ephemeral=true)"
    )
    assert f"  {cdktf('destroy', '<team>-<name>-workspace', fakes.outdir)}" in lines
    assert fakes.nothing_happened()


def test_env_up_deploys_the_ephemeral_env_with_template_defaults(cli, fakes):
    result = cli("env", "up", "pr42", "--from", "churn/staging")
    assert result.code == 0, result.err
    assert fakes.events == [
        "build wheel",
        "synth churn-pr42-platform churn-pr42-workspace",
        "deploy churn-pr42-platform",
        "deploy churn-pr42-workspace",
    ]
    assert all(c.auto_approve for c in fakes.runner.commands)
    (env,) = fakes.synthesized_envs
    assert (env.kind, env.base_env, env.owner, env.expires_at) == (
        "ephemeral",
        "staging",
        "dev@example.com",
        "2026-11-22T20:00:00Z",
    )
    assert env.settings.prevent_destroy is False and env.settings.compute.max_workers == 1
    assert env.tags["ephemeral"] == "true" and env.tags["network-slot"] == "0"
    assert "update" not in result.out
    assert result.out.splitlines()[-1] == (
        "up: churn/pr42; test it with `platform smoke churn/pr42`, remove it with `platform env down pr42`"
    )


def test_env_up_from_a_private_env_joins_the_hub_and_deploys(cli, fakes):
    """The committed config has a hub: an ephemeral env cut from private prod peers with it, so its runner (the
    hub's) reaches it, and every stack deploys in the one run: prod's restricted serverless egress comes with the
    env (security settings are kept from the base), so it has an account stack too."""
    result = cli("env", "up", "pr42", "--from", "churn/prod")
    assert result.code == 0, result.err
    assert fakes.events[-3:] == [
        "deploy churn-pr42-platform",
        "deploy churn-pr42-account",
        "deploy churn-pr42-workspace",
    ]
    (env,) = fakes.synthesized_envs
    assert env.settings.public_network_access is False and env.platform.hub_network is not None


def test_env_up_from_a_private_env_without_a_hub_is_refused_before_anything_is_created(
    cli, fakes, config_path
):
    """Without a hub the ephemeral env gets zones of its own, which the base's runner (linked to the base's zones
    of the same names) cannot resolve: the workspace stack would fail after the platform stack was applied."""
    raw = yaml.safe_load(config_path.read_text())
    del raw["platform"]["hub_network"]
    for team in raw["teams"][
        :2
    ]:  # validate's own hub refusals: no created key, a runner each, public front end
        team["environments"]["prod"]["customer_managed_key"] = None
        team["environments"]["prod"]["deploy_runner"] = ["self-hosted", f"{team['name']}-prod"]
        team["environments"]["prod"]["public_network_access"] = True
        # a public prod front end needs its IP access list
        team["environments"]["prod"].setdefault("hardening", {"ip_access_list": ["198.51.100.0/24"]})
        team["environments"]["prod"]["egress"] = {"mode": "open", "open_reason": "no hub, so no hub firewall"}
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert_refused(
        cli("env", "up", "pr42", "--from", "churn/prod", "--dry-run"),
        fakes,
        "--from: churn/prod: the env is reachable only from its runner's network, and without a hub an ephemeral "
        "env cut from it gets privatelink zones of its own that this runner's VNet cannot resolve; set "
        "platform.hub_network (docs/operations.md), or cut it from an env with public_network_access: true and "
        "network_isolation: service_endpoints",
    )
    assert cli("env", "up", "pr42", "--from", "churn/dev").code == 0  # a public base still works


def test_env_up_again_updates_the_env_in_its_slot_and_restarts_its_ttl(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr42", slot="2", expires="2026-11-22T13:00:00Z")]
    result = cli("env", "up", "pr42", "--from", "churn/dev", "--ttl", "2d")
    assert result.code == 0, result.err
    assert result.out.startswith("update churn/pr42 from churn/dev: network 10.10.66.0/24 (slot 2)")
    assert fakes.synthesized_envs[0].expires_at == "2026-11-24T12:00:00Z"


def test_a_failing_env_up_says_how_to_clean_up(cli, fakes):
    fakes.runner.failing = {"churn-pr42-workspace"}
    result = cli("env", "up", "pr42", "--from", "churn/dev")
    assert result.code == 1
    assert result.err_lines == [
        "error: cdktf deploy churn-pr42-workspace failed (exit 1); whatever was created is tagged ephemeral "
        "and expires 2026-11-22T20:00:00Z: `platform env down pr42` removes it now"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pr42", "--from", "payroll/dev"), "--from: unknown team 'payroll' (teams: churn, pricing, risk)"),
        (
            ("pr42", "--from", "churn/qa"),
            "--from: team 'churn' has no environment 'qa' (environments: dev, staging, prod)",
        ),
        (
            ("pr42", "--from", "pricing/dev"),
            "--from: team 'pricing' has no ephemeral template (set teams[].ephemeral)",
        ),
        (
            ("PR-42", "--from", "churn/dev"),
            "NAME: 'PR-42' is invalid: 2-10 lowercase letters or digits, starting with a letter (it becomes part of every Azure name of the env)",
        ),
        (
            ("experiment42", "--from", "churn/dev"),
            "NAME: 'experiment42' is invalid: 2-10 lowercase letters or digits, starting with a letter (it becomes part of every Azure name of the env)",
        ),
        (
            ("staging", "--from", "churn/dev"),
            "NAME: 'staging' is the name of a permanent environment; ephemeral commands never create or destroy it",
        ),
        (
            ("pr42", "--from", "churn/dev", "--ttl", "8 hours"),
            "--ttl: '8 hours' is neither a duration like 30m, 8h or 2d nor a UTC time like 2026-11-23T18:00:00Z",
        ),
        (
            ("pr42", "--from", "churn/dev", "--ttl", "2026-11-22T11:00:00Z"),
            "--ttl: 2026-11-22T11:00:00Z is already past (now 2026-11-22T12:00:00Z)",
        ),
        (("pr42", "--from", "churn/dev", "--ttl", "9d"), "--ttl: '9d' is more than the maximum of 7d"),
        (("pr42", "--from", "churn/dev", "--owner", "ana"), "--owner: 'ana' is not an e-mail address"),
    ],
)
def test_env_up_bad_input(cli, fakes, args, message):
    assert_refused(cli("env", "up", *args), fakes, message)


def test_env_up_refuses_a_name_another_team_uses(cli, fakes):
    fakes.groups.groups = [
        ephemeral_group(team="pricing", env="pr42", base="dev", expires="2026-11-23T00:00:00Z")
    ]
    assert_refused(
        cli("env", "up", "pr42", "--from", "churn/dev"),
        fakes,
        "NAME: 'pr42' is already the ephemeral env pricing/pr42, cut from pricing/dev (owner dev@example.com); "
        "pick another name",
    )


def test_env_up_needs_an_owner(cli, fakes):
    fakes.owner = None
    assert_refused(
        cli("env", "up", "pr42", "--from", "churn/dev"),
        fakes,
        "--owner: required: neither $PLATFORM_OWNER nor git user.email is set",
    )


def test_env_up_refuses_when_the_pool_is_full(cli, fakes):
    fakes.groups.groups = [
        ephemeral_group(env=f"a{i}", slot=str(i), expires="2026-11-23T00:00:00Z") for i in range(4)
    ]
    result = cli("env", "up", "pr42", "--from", "churn/dev")
    assert_refused(
        result,
        fakes,
        "--from: team 'churn' has no free slot in its ephemeral network pool 10.10.64.0/22 (4 envs exist); "
        "take one down or reap expired ones",
    )


# --- env down / list / reap ------------------------------------------------------------------------------


def test_env_down_finds_the_env_by_name_and_destroys_it(cli, fakes):
    fakes.groups.groups = [permanent_group(), ephemeral_group(env="pr42", expires="2026-11-23T00:00:00Z")]
    fakes.runner.stacks_with_state = {"churn-pr42-workspace", "churn-pr42-platform"}
    result = cli("env", "down", "pr42")
    assert result.code == 0, result.err
    assert fakes.events == [
        "build wheel",
        "synth churn-pr42-platform churn-pr42-workspace",
        "state? churn-pr42-workspace",
        "destroy churn-pr42-workspace",
        "state? churn-pr42-platform",
        "destroy churn-pr42-platform",
    ]
    assert result.out.splitlines()[-1] == "down: churn/pr42"


def test_env_down_of_an_unknown_name_is_refused(cli, fakes):
    fakes.groups.groups = [permanent_group(), ephemeral_group(env="pr1")]
    assert_refused(
        cli("env", "down", "pr9"), fakes, "NAME: no ephemeral env named 'pr9' (ephemeral envs: pr1)"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "PR-1",
            "NAME: 'PR-1' is invalid: 2-10 lowercase letters or digits, starting with a letter (it becomes part "
            "of every Azure name of the env)",
        ),
        (
            "prod",
            "NAME: 'prod' is the name of a permanent environment; ephemeral commands never create or destroy it",
        ),
    ],
)
def test_env_down_checks_the_name_before_asking_azure(cli, fakes, name, message):
    # Even with a permanent env's group carrying ephemeral tags, `env down prod` never gets as far as Azure.
    fakes.groups.groups = [ephemeral_group(env="prod", expires="2026-11-23T00:00:00Z")]
    assert_refused(cli("env", "down", name), fakes, message)
    assert fakes.groups.lists == 0


def test_env_list_shows_only_ephemeral_envs_with_time_left(cli, fakes):
    fakes.groups.groups = [
        permanent_group(),
        ephemeral_group(env="pr2", owner="bo@example.com", expires="2026-11-22T15:30:00Z", slot="1"),
        ephemeral_group(env="pr1", expires="2026-11-22T10:00:00Z"),
    ]
    result = cli("env", "list", "--json")
    assert result.code == 0
    assert json.loads(result.out) == [
        {
            "name": "pr1",
            "team": "churn",
            "base_env": "dev",
            "owner": "dev@example.com",
            "expires_at": "2026-11-22T10:00:00Z",
            "seconds_left": -7200,
            "prefix": "dbp",
            "resource_group": "rg-dbp-churn-pr1",
        },
        {
            "name": "pr2",
            "team": "churn",
            "base_env": "dev",
            "owner": "bo@example.com",
            "expires_at": "2026-11-22T15:30:00Z",
            "seconds_left": 12600,
            "prefix": "dbp",
            "resource_group": "rg-dbp-churn-pr2",
        },
    ]
    table = cli("env", "list").out
    assert "expired 2h ago" in table and "3h 30m left" in table and "rg-dbp-churn-dev" not in table


def test_env_reap_goes_on_after_any_failure_and_exits_1(cli, fakes):
    fakes.groups.groups = [
        permanent_group(),
        ephemeral_group(env="pr1", expires="2026-11-22T10:00:00Z", slot="0"),
        ephemeral_group(env="pr2", expires="2026-11-22T11:00:00Z", slot="1"),
        ephemeral_group(env="pr3", expires="2026-11-22T11:30:00Z", slot="2"),
    ]
    fakes.runner.stacks_with_state = {"churn-pr2-workspace", "churn-pr3-workspace", "churn-pr3-platform"}
    # pr1: terraform breaks in a way nobody planned for; pr2: cdktf exits non-zero
    fakes.runner.state_errors = {
        "churn-pr1-workspace": PermissionError(13, "Permission denied", ".terraform")
    }
    fakes.runner.failing = {"churn-pr2-workspace"}
    result = cli("env", "reap")
    assert result.code == 1
    assert result.err_lines == ["error: could not reap churn/pr1, churn/pr2 (see above)"]
    assert "failed churn/pr1: PermissionError: [Errno 13] Permission denied: '.terraform'" in result.out
    assert "failed churn/pr2: cdktf destroy churn-pr2-workspace failed (exit 1)" in result.out
    assert "reaped 1, failed 2, not expired 0" in result.out
    assert fakes.events[-4:] == [
        "state? churn-pr3-workspace",
        "destroy churn-pr3-workspace",
        "state? churn-pr3-platform",
        "destroy churn-pr3-platform",
    ]


def test_env_reap_with_nothing_due_touches_nothing(cli, fakes):
    fakes.groups.groups = [permanent_group(), ephemeral_group(env="pr1", expires="2026-11-22T13:00:00Z")]
    result = cli("env", "reap")
    assert result.code == 0
    assert result.out.splitlines() == [
        "0 of 1 ephemeral envs expired as of 2026-11-22T12:00:00Z",
        "reaped 0, failed 0, not expired 1",
    ]
    assert fakes.nothing_happened()


def test_env_reap_can_judge_at_a_past_time(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires="2026-11-22T11:00:00Z")]
    result = cli("env", "reap", "--now", "2026-11-22T10:00:00Z")
    assert result.code == 0 and "0 of 1 ephemeral envs expired as of 2026-11-22T10:00:00Z" in result.out


def test_env_reap_refuses_a_future_now_unless_dry_run(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires="2026-11-22T13:00:00Z")]
    assert_refused(
        cli("env", "reap", "--now", "2026-11-23T00:00:00Z"),
        fakes,
        "--now: 2026-11-23T00:00:00Z is in the future; reaping envs before they expire needs --dry-run "
        "(or `platform env down NAME`)",
    )
    result = cli("env", "reap", "--now", "2026-11-23T00:00:00Z", "--dry-run")
    assert result.code == 0 and "1 of 1 ephemeral envs expired as of 2026-11-23T00:00:00Z" in result.out
    assert fakes.nothing_happened()


def test_env_reap_rejects_a_now_without_zone(cli, fakes):
    assert_refused(
        cli("env", "reap", "--now", "2026-11-22T10:00:00"),
        fakes,
        "--now: '2026-11-22T10:00:00' has no time zone; add one, e.g. 2026-11-22T10:00:00Z for UTC",
    )


def test_the_now_hint_suggests_a_value_the_option_accepts(cli, fakes):
    refused = cli("env", "reap", "--now", "2026-11-22")
    assert refused.code == 2
    assert refused.err_lines == [
        "error: --now: '2026-11-22' has no time zone; add one, e.g. 2026-11-22T00:00:00Z for UTC"
    ]
    suggested = refused.err_lines[0].split("e.g. ")[1].split()[0]
    accepted = cli("env", "reap", "--now", suggested)
    assert accepted.code == 0, accepted.err


# --- smoke -----------------------------------------------------------------------------------------------


def test_smoke_passes_and_prints_state_changes_only(cli, fakes):
    fakes.workspace.jobs = {"dbp-churn-dev-training": [7]}
    running = RunProgress(run_id=907, state="RUNNING", url="https://adb/run/907")
    fakes.workspace.progress = [
        RunProgress(run_id=907, state="PENDING"),
        running,
        running,
        RunProgress(run_id=907, state="TERMINATED", result="SUCCESS", url="https://adb/run/907"),
    ]
    fakes.workspace.aliases = [1, 2]
    result = cli("smoke", "churn/dev")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "smoke churn/dev: running dbp-churn-dev-training, timeout 1h",
        "run 907: PENDING",
        "run 907: RUNNING  https://adb/run/907",
        "run 907: TERMINATED/SUCCESS",
        "passed: run 907 succeeded in <1m; dbp_churn_dev.ml.churn version 2 is the challenger",
    ]


def test_smoke_json_gives_a_script_the_run_its_url_and_the_model_version(cli, fakes):
    fakes.workspace.jobs = {"dbp-churn-dev-training": [7]}
    fakes.workspace.progress = [
        RunProgress(run_id=907, state="TERMINATED", result="SUCCESS", url="https://adb/run/907"),
    ]
    fakes.workspace.aliases = [1, 2]
    result = cli("smoke", "churn/dev", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "target": "churn/dev",
        "job": "dbp-churn-dev-training",
        "run_id": 907,
        "run_url": "https://adb/run/907",
        "workspace_url": None,  # an Azure workspace is found by its resource ID
        "model_name": "dbp_churn_dev.ml.churn",
        "version": 2,
        "took_seconds": 0,
    }
    assert result.err.splitlines()[-1].startswith("passed: run 907 succeeded")  # progress went to stderr


def test_smoke_dry_run_shows_the_workspace_job_and_limits_and_calls_nothing(cli, fakes, monkeypatch):
    monkeypatch.delenv("ARM_SUBSCRIPTION_ID", raising=False)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    offline = cli("smoke", "churn/dev", "--dry-run", "--timeout", "2h")
    assert offline.code == 0, offline.err
    assert offline.out.splitlines() == [
        "smoke churn/dev: workspace dbw-dbp-churn-dev in rg-dbp-churn-dev (subscription <decided at run time>)",
        "  1. find job dbp-churn-dev-training; note the version 'challenger' of dbp_churn_dev.ml.churn points at",
        "  2. run the job now and poll it every 15 s for up to 2h; cancel the run on a timeout, an error or Ctrl-C",
        "  3. pass when the run succeeded and 'challenger' points at a newer version",
        "dry run: nothing was built or run",
    ]
    subscription = "00000000-0000-0000-0000-0000000000aa"
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", subscription)
    logged_in = cli("smoke", "churn/dev", "--dry-run")
    assert logged_in.out.splitlines()[0] == (
        f"smoke churn/dev: workspace /subscriptions/{subscription}/resourceGroups/rg-dbp-churn-dev/providers/"
        "Microsoft.Databricks/workspaces/dbw-dbp-churn-dev"
    )
    aws = cli("smoke", "risk/dev", "--dry-run")
    assert aws.code == 0, aws.err
    assert f"  2. terraform -chdir={fakes.outdir}/stacks/risk-dev-account init -input=false -no-color, then " \
        "output -raw -no-color workspace_url" in aws.out.splitlines()  # fmt: skip
    assert "find job dbp-risk-dev-training" in aws.out
    # no wheel, no synth, no terraform, no workspace, no run
    assert (fakes.events, fakes.smoke_targets, fakes.workspace.started) == ([], [], [])


def test_smoke_timeout_exits_1_at_once(cli, fakes):
    fakes.workspace.jobs = {"dbp-churn-dev-training": [7]}
    fakes.workspace.progress = [RunProgress(run_id=907, state="PENDING")]
    result = cli("smoke", "churn/dev", "--timeout", "45m")
    assert result.code == 1
    assert result.err_lines == [
        "error: dbp-churn-dev-training run 907 did not finish within 45m (PENDING); cancelled it"
    ]
    assert fakes.workspace.cancelled == [907]


def test_smoke_bad_timeout_is_refused(cli, fakes):
    assert_refused(
        cli("smoke", "churn/dev", "--timeout", "soon"),
        fakes,
        "--timeout: 'soon' is not a duration like 30m, 8h or 2d",
    )
    assert fakes.workspace.started == []


def test_smoke_cancels_the_run_when_databricks_fails_while_polling(cli, fakes):
    fakes.workspace.jobs = {"dbp-churn-dev-training": [7]}
    fakes.workspace.progress = [RunProgress(run_id=907, state="RUNNING")]
    fakes.workspace.poll_errors = {
        2: TemporarilyUnavailable("Workspace is temporarily unavailable\nretry later")
    }
    result = cli("smoke", "churn/dev")
    assert result.code == 1
    assert result.err_lines == ["error: Databricks: Workspace is temporarily unavailable"]
    assert fakes.workspace.cancelled == [907]


# --- an incomplete machine -------------------------------------------------------------------------------


@pytest.fixture
def empty_path(tmp_path, monkeypatch):
    """PATH with neither npx nor terraform on it; the real CdktfRunner looks them up."""
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))


def test_deploy_without_npx_is_one_line_naming_it_and_builds_nothing(cli, fakes, empty_path):
    fakes.runner = CdktfRunner()
    assert_refused(
        cli("deploy", "churn/dev", "--auto-approve"),
        fakes,
        "npx: not found on PATH; install Node >= 20, then `make setup` installs the pinned cdktf CLI",
    )


def test_env_down_without_terraform_is_one_line_naming_it(cli, fakes, empty_path, tmp_path):
    (tmp_path / "bin" / "npx").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "npx").chmod(0o755)
    fakes.groups.groups = [ephemeral_group(env="pr42", expires="2026-11-23T00:00:00Z")]
    fakes.runner = CdktfRunner()
    assert_refused(
        cli("env", "down", "pr42"), fakes, "terraform: not found on PATH; install Terraform >= 1.7"
    )


def put_on_path(bin_dir, name, script="#!/bin/sh\n"):
    (bin_dir / name).write_text(script)
    (bin_dir / name).chmod(0o755)


@pytest.mark.parametrize(
    "args",
    [
        ("deploy", "churn/dev", "--auto-approve"),
        ("destroy", "churn/dev", "--auto-approve"),
        ("env", "up", "pr42", "--from", "churn/dev"),
    ],
)
def test_commands_that_run_cdktf_check_terraform_before_building_anything(
    cli, fakes, empty_path, tmp_path, args
):
    put_on_path(tmp_path / "bin", "npx")
    fakes.runner = CdktfRunner()
    assert_refused(cli(*args), fakes, "terraform: not found on PATH; install Terraform >= 1.7")
    # cdktf runs terraform: one too old for the stacks is refused the same way, naming its version
    put_on_path(tmp_path / "bin", "terraform", '#!/bin/sh\necho \'{"terraform_version": "1.4.7"}\'\n')
    assert_refused(cli(*args), fakes, "terraform: Terraform 1.4.7 is too old; install Terraform >= 1.7")


@pytest.mark.slow  # the real CLI and databricks-sdk's own auth lookup, ~3 s
def test_smoke_without_credentials_is_one_line(tmp_path, config_path):
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(tmp_path),  # no ~/.databrickscfg, no Azure CLI login
        "ARM_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000001",
    }
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli.main", "smoke", "churn/dev", "--config", str(config_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: Databricks: ")


# --- what a person and a CI log read -----------------------------------------------------------------------


def test_help_keeps_the_defaults_and_shows_no_value_for_flags(capsys, monkeypatch):
    from infra.cli.main import main

    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["deploy", "--help"])
    out = capsys.readouterr().out
    assert "Config file [default: $PLATFORM_CONFIG or ./platform.yaml]." in out  # not eaten as markup
    assert "<bool>" not in out
    assert re.search(r"--dry-run\s+Print the stacks", out)


def test_the_cli_turns_off_the_hashicorp_update_check_for_what_it_starts(cli, monkeypatch):
    monkeypatch.delenv("CHECKPOINT_DISABLE", raising=False)
    assert cli("envs", "--json").code == 0
    assert os.environ["CHECKPOINT_DISABLE"] == "1"


def test_tables_use_the_full_width_off_a_terminal(cli, config):
    result = cli("envs")  # captured: not a terminal, as in a CI log
    assert result.code == 0
    for te in config.team_envs:
        row = next(line for line in result.out.splitlines() if f" {te.names.catalog} " in line)
        assert ", ".join(te.stacks.values()) in row  # every stack whole, on the env's one line


def test_deploy_and_destroy_dry_runs_print_json_for_scripts(cli, fakes):
    result = cli("deploy", "risk/dev", "--auto-approve", "--dry-run", "--json")
    assert result.code == 0 and result.err == ""
    planned = json.loads(result.out)
    assert planned["action"] == "deploy" and planned["target"] == "risk/dev"
    assert planned["stacks"] == ["risk-dev-platform", "risk-dev-account", "risk-dev-workspace"]
    assert planned["outdir"] == str(fakes.outdir)
    # the argv of each command is exactly what the runner would start
    assert [" ".join(argv) for argv in planned["commands"]] == planned["steps"][2:]
    assert planned["commands"][0][:5] == ["npx", "--no-install", "cdktf", "deploy", "risk-dev-platform"]
    destroyed = json.loads(cli("destroy", "risk/dev", "--dry-run", "--json").out)
    assert destroyed["stacks"] == planned["stacks"][::-1] and "--auto-approve" not in destroyed["commands"][0]
    assert fakes.nothing_happened()


def test_json_without_dry_run_is_refused_before_anything_runs(cli, fakes):
    assert_refused(
        cli("deploy", "churn/dev", "--auto-approve", "--json"),
        fakes,
        "--json: only with --dry-run: a real run streams cdktf's own output",
    )
