"""AWS team-envs through `platform ...`: ephemeral envs read from their resources' tags, grouped per env, deployed
and destroyed stack by stack (platform, account, workspace), next to Azure envs in one config; every external
call faked (the real AWS adapter runs against moto in tests/infra/test_aws_reaper_terraform.py)."""

import json

import pytest
from botocore.exceptions import NoCredentialsError

from infra.lifecycle.aws import LOGIN_HINT, TaggedResource
from infra.lifecycle.ephemeral import EphemeralRecord
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.inventory import Inventory
from tests.lifecycle.fakes import aws_env_resources, ephemeral_group, ephemeral_tags, permanent_group

REGION = "eu-west-1"
AT_RUN_TIME = "<decided at run time>"
NO_AWS_LOGIN = NoCredentialsError()
AWS_UNREAD = f"AWS, listing tagged resources: Unable to locate credentials{LOGIN_HINT}"


def cdktf(action, stack, out):
    return (
        f"npx --no-install cdktf {action} {stack} --app true --output {out} --skip-synth "
        "--ignore-missing-stack-dependencies --auto-approve"
    )


def stacks(key):
    team, env = key.split("/")
    return [f"{team}-{env}-platform", f"{team}-{env}-account", f"{team}-{env}-workspace"]


# --- the inventory -----------------------------------------------------------------------------------------


def test_tagged_resources_are_grouped_into_one_record_per_env():
    resources = [
        *aws_env_resources(env="pr1", slot="0"),
        *aws_env_resources(env="pr2", slot="1", expires="2026-11-23T00:00:00Z"),
        TaggedResource("arn:aws:s3:::someone-elses-bucket", {"owner": "ops@example.com"}),  # not ephemeral
    ]
    inventory = Inventory.from_resources(REGION, resources, prefix="dbp")
    assert [(r.key, r.region, r.network_slot, len(r.arns)) for r in inventory.envs] == [
        ("risk/pr1", REGION, 0, 4),
        ("risk/pr2", REGION, 1, 4),
    ]
    pr1 = inventory.envs[0]
    assert pr1.cloud == "aws" and pr1.resource_group is None
    assert "arn:aws:iam::123456789012:role/dbp-risk-pr1-databricks-cross-account" in pr1.arns
    assert pr1.where == "region eu-west-1 (4 tagged resources)"
    assert inventory.unreadable == ()


@pytest.mark.parametrize(
    ("changed", "why"),
    [
        (
            {"expires-at": "2026-11-22T20:00:00Z"},  # one resource missed an `env up` that restarted the TTL
            "its 4 resources disagree on expires-at ('2026-11-22T10:00:00Z', '2026-11-22T20:00:00Z')",
        ),
        ({"network-slot": "3"}, "its 4 resources disagree on network-slot ('0', '3')"),
        (
            {"owner": "bo@example.com"},
            "its 4 resources disagree on owner ('bo@example.com', 'dev@example.com')",
        ),
    ],
)
def test_resources_of_one_env_that_disagree_are_skipped_with_the_reason(changed, why):
    inventory = Inventory.from_resources(REGION, aws_env_resources(**changed), prefix="dbp")
    assert inventory.envs == ()
    assert inventory.unreadable == (("risk/pr1 in eu-west-1 (4 resources)", why),)


def test_tags_that_do_not_describe_an_env_are_skipped_with_the_reason():
    incomplete = {k: v for k, v in ephemeral_tags(team="risk").items() if k not in ("owner", "team")}
    inventory = Inventory.from_resources(
        REGION,
        [
            TaggedResource("arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1", incomplete),
            TaggedResource(
                "arn:aws:s3:::b", {**ephemeral_tags(team="risk", env="pr7"), "expires-at": "tomorrow"}
            ),
        ],
        prefix="dbp",
    )
    assert inventory.envs == ()
    assert inventory.unreadable == (
        ("<no team>/pr1 in eu-west-1 (1 resources)", "tags team, owner are missing"),
        ("risk/pr7 in eu-west-1 (1 resources)", "expires-at 'tomorrow' is not an ISO-8601 time"),
    )


@pytest.mark.parametrize(
    ("team", "region", "message"),
    [
        (
            "churn",
            REGION,
            "churn/pr1 in eu-west-1 (tags): team 'churn' runs on azure, but the tags are on aws",
        ),
        ("risk", "us-east-1", "risk/pr1 in us-east-1 (tags): team 'risk' runs in eu-west-1, not us-east-1"),
    ],
)
def test_an_aws_record_must_match_its_teams_cloud_and_region(config, team, region, message):
    record = EphemeralRecord.from_resources(region, aws_env_resources(team=team), default_prefix="dbp")
    with pytest.raises(InputProblem) as problem:
        record.team_env(config)
    assert str(problem.value) == message


# --- env list / reap with both clouds -----------------------------------------------------------------------


def test_env_list_shows_azure_and_aws_envs_with_the_aws_region(cli, fakes):
    fakes.groups.groups = [permanent_group(), ephemeral_group(env="pr1", expires="2026-11-22T10:00:00Z")]
    fakes.aws.resources = {REGION: aws_env_resources(env="pr2", expires="2026-11-22T15:00:00Z")}
    result = cli("env", "list", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [(row["team"], row["name"], row["resource_group"], row.get("region")) for row in rows] == [
        ("churn", "pr1", "rg-dbp-churn-pr1", None),
        ("risk", "pr2", None, REGION),
    ]
    assert fakes.aws.listed == [(REGION, {"ephemeral": "true"})]
    table = cli("env", "list").out
    assert "rg-dbp-churn-pr1" in table and "eu-west-1 (aws)" in table and "3h left" in table


def test_env_list_says_in_one_line_which_cloud_it_cannot_read_lists_the_other_and_exits_1(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires="2026-11-22T10:00:00Z")]
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "list", "--json")
    assert result.code == 1
    assert [row["name"] for row in json.loads(result.out)] == ["pr1"]
    assert result.err_lines == [
        f"warning: cannot read AWS eu-west-1, so its ephemeral envs are missing: {AWS_UNREAD}",
        "error: could not read AWS eu-west-1 (see above)",
    ]
    only_azure = cli("env", "list", "--json", "--cloud", "azure")
    assert only_azure.code == 0 and only_azure.err == ""


def test_reap_destroys_an_expired_aws_env_account_and_workspace_before_platform(cli, fakes):
    fakes.aws.resources = {
        REGION: [
            *aws_env_resources(env="pr1", expires="2026-11-22T10:00:00Z", slot="0"),
            *aws_env_resources(env="pr2", expires="2026-11-22T13:00:00Z", slot="1"),  # not expired
        ]
    }
    fakes.runner.stacks_with_state = {*stacks("risk/pr1"), *stacks("risk/pr2")}
    result = cli("env", "reap")
    assert result.code == 0, result.err
    assert fakes.events == [
        "build wheel",
        "synth risk-pr1-platform risk-pr1-account risk-pr1-workspace",
        "state? risk-pr1-workspace",
        "destroy risk-pr1-workspace",
        "state? risk-pr1-account",
        "destroy risk-pr1-account",
        "state? risk-pr1-platform",
        "destroy risk-pr1-platform",
    ]
    assert (
        "risk/pr1: expired 2h ago, owner dev@example.com, region eu-west-1 (4 tagged resources)" in result.out
    )
    assert result.out.splitlines()[-1] == "reaped 1, failed 0, not expired 1"
    (env,) = fakes.synthesized_envs
    assert (env.key, env.settings.network, env.team.cloud) == ("risk/pr1", "10.30.64.0/24", "aws")


def test_reap_goes_on_with_azure_when_aws_cannot_be_read_and_exits_1(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires="2026-11-22T10:00:00Z")]
    fakes.runner.stacks_with_state = {"churn-pr1-workspace", "churn-pr1-platform"}
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "reap")
    assert result.code == 1
    assert f"cannot read AWS eu-west-1, so its ephemeral envs are not reaped: {AWS_UNREAD}" in result.out
    assert "destroy churn-pr1-platform" in fakes.events
    assert result.out.splitlines()[-1] == "reaped 1, failed 1, not expired 0"
    assert result.err_lines == ["error: could not reap AWS eu-west-1 (see above)"]


def test_an_aws_env_whose_state_is_gone_fails_with_the_arns_still_tagged(cli, fakes):
    fakes.aws.resources = {REGION: aws_env_resources(env="pr1", expires="2026-11-22T10:00:00Z")}
    result = cli("env", "reap")
    assert result.code == 1
    assert fakes.events == [
        "build wheel",
        "synth risk-pr1-platform risk-pr1-account risk-pr1-workspace",
        "state? risk-pr1-workspace",
        "state? risk-pr1-account",
        "state? risk-pr1-platform",
    ]  # nothing destroyed, nothing deleted by guess
    assert (
        "failed risk/pr1: no state of risk/pr1 holds its AWS resources, but 4 are still tagged with it in "
        "eu-west-1; delete them by hand (nothing is deleted by guess): arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-pr1"
    ) in result.out
    assert fakes.aws.listed[-1] == (REGION, {"ephemeral": "true", "team": "risk", "env": "pr1"})


def test_an_aws_env_from_prod_whose_account_state_is_gone_names_its_ncc_and_network_policy(cli, fakes):
    """Cut from prod (serverless.restricted_egress by default), pr1's account stack created an NCC and a network
    policy in the Databricks account: untagged, so the tag-driven reaper cannot see them once that state is gone
    (the NCC still counts against the region's 10, the policy ID blocks the next `env up pr1`)."""
    fakes.aws.resources = {REGION: aws_env_resources(env="pr1", base="prod", expires="2026-11-22T10:00:00Z")}
    fakes.runner.stacks_with_state = {"risk-pr1-platform", "risk-pr1-workspace"}
    result = cli("env", "reap")
    assert "destroy risk-pr1-platform" in fakes.events
    assert (
        "warning: risk/pr1 leaves its serverless network policy dbp-risk-pr1-np and network connectivity "
        "configuration dbp-risk-pr1-ncc (eu-west-1) in the Databricks account "
    ) in result.out


def test_a_permanent_aws_env_tagged_ephemeral_is_never_torn_down(cli, fakes):
    fakes.aws.resources = {REGION: aws_env_resources(env="dev", expires="2026-11-22T10:00:00Z")}
    fakes.runner.stacks_with_state = set(stacks("risk/dev"))
    result = cli("env", "reap")
    assert result.code == 1
    assert fakes.events == ["build wheel"]
    assert (
        "failed risk/dev: risk/dev in eu-west-1 (tags): 'dev' is the name of a permanent environment; "
        "ephemeral commands never create or destroy it"
    ) in result.out


# --- env up / down -----------------------------------------------------------------------------------------


def test_env_up_takes_the_next_free_slot_and_deploys_platform_account_workspace(cli, fakes):
    fakes.aws.resources = {REGION: aws_env_resources(env="pr1", expires="2026-11-23T00:00:00Z", slot="0")}
    fakes.runner.outputs = {
        "risk-pr42-account": {"workspace_url": "https://dbc-1a2b3c4d-5e6f.cloud.databricks.com"}
    }
    result = cli("env", "up", "pr42", "--from", "risk/dev")
    assert result.code == 0, result.err
    assert fakes.events == [
        "build wheel",
        "synth risk-pr42-platform risk-pr42-account risk-pr42-workspace",
        "deploy risk-pr42-platform",
        "deploy risk-pr42-account",
        "output? risk-pr42-account workspace_url",
        "deploy risk-pr42-workspace",
    ]
    # The preflight reads Unity Catalog in the workspace the account stack just created.
    assert fakes.workspace_urls == ["https://dbc-1a2b3c4d-5e6f.cloud.databricks.com"]
    (env,) = fakes.synthesized_envs
    assert (env.network_slot, env.settings.network, env.settings.compute.node_type) == (
        1,
        "10.30.65.0/24",
        "m6id.large",
    )
    assert result.out.splitlines()[0].startswith(
        "create risk/pr42 from risk/dev: network 10.30.65.0/24 (slot 1)"
    )
    assert result.out.splitlines()[-1] == (
        "up: risk/pr42; test it with `platform smoke risk/pr42`, remove it with `platform env down pr42`"
    )


def test_env_up_stops_before_the_workspace_stack_when_the_account_stack_has_no_url(cli, fakes):
    result = cli("env", "up", "pr42", "--from", "risk/dev")
    assert result.code == 1
    assert "deploy risk-pr42-workspace" not in fakes.events
    assert result.err_lines == [
        'error: cannot read output workspace_url of risk-pr42-account: Error: Output "workspace_url" not found; '
        "whatever was "
        "created is tagged ephemeral and expires 2026-11-22T20:00:00Z: `platform env down pr42` removes it now"
    ]


def test_env_up_of_an_azure_env_goes_on_when_only_aws_cannot_be_read(cli, fakes):
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "up", "pr42", "--from", "churn/dev")
    assert result.code == 0, result.err
    assert result.err_lines == [f"warning: cannot check that 'pr42' is unused in AWS eu-west-1: {AWS_UNREAD}"]
    assert "deploy churn-pr42-workspace" in fakes.events


def test_env_up_of_an_aws_env_fails_when_aws_cannot_be_read(cli, fakes):
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "up", "pr42", "--from", "risk/dev")
    assert result.code == 1
    assert result.err_lines == [f"error: {AWS_UNREAD}"]
    assert fakes.nothing_happened()


def test_env_up_dry_run_of_an_aws_env_offline_marks_what_only_aws_knows(cli, fakes):
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "up", "pr42", "--from", "risk/dev", "--owner", "ana@example.com", "--dry-run")
    out = fakes.outdir
    assert result.code == 0, result.err
    assert result.err_lines == [
        f"warning: cannot read AWS eu-west-1, so what only AWS knows is {AT_RUN_TIME}: {AWS_UNREAD}"
    ]
    platform, account, workspace = stacks("risk/pr42")
    assert result.out.splitlines() == [
        f"create or update risk/pr42 from risk/dev: network {AT_RUN_TIME} (the lowest free /24 of "
        "10.30.64.0/18), owner ana@example.com, expires 2026-11-22T20:00:00Z (in 8h)",
        "tags: base-env=dev, cost-center=CC-2024, env=pr42, ephemeral=true, expires-at=2026-11-22T20:00:00Z, "
        f"managed-by=cdktf-platform, network={AT_RUN_TIME}, network-slot={AT_RUN_TIME}, owner=ana@example.com, "
        "platform-prefix=dbp, team=risk",
        f"deploy risk/pr42: {platform} then {account} then {workspace}",
        "  1. build the churn wheel: ml/ -> dist/",
        f"  2. synthesize {platform}, {account} and {workspace} into {out}/stacks",
        f"  3. {cdktf('deploy', platform, out)}",
        f"  4. {cdktf('deploy', account, out)}",
        f"  5. {cdktf('deploy', workspace, out)}",
        "dry run: nothing was built, synthesized, deployed or destroyed",
    ]
    assert fakes.nothing_happened()


def test_env_down_dry_run_of_an_aws_env_shows_its_three_destroys_and_the_leftover_check(cli, fakes):
    fakes.aws.resources = {REGION: aws_env_resources(env="pr1", expires="2026-11-23T00:00:00Z")}
    result = cli("env", "down", "pr1", "--dry-run")
    out = fakes.outdir
    platform, account, workspace = stacks("risk/pr1")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"destroy risk/pr1: {workspace} then {account} then {platform}",
        "  1. build the churn wheel: ml/ -> dist/",
        f"  2. synthesize {platform}, {account} and {workspace} into {out}/stacks",
        f"  3. {cdktf('destroy', workspace, out)}",
        f"  4. {cdktf('destroy', account, out)}",
        f"  5. {cdktf('destroy', platform, out)}",
        f"  6. only if {platform} holds no state: fail with the ARNs of whatever is still tagged env=pr1 in "
        "eu-west-1 (nothing is deleted by guess)",
        "dry run: nothing was built, synthesized, deployed or destroyed",
    ]
    assert fakes.nothing_happened()


def test_env_down_dry_run_offline_lists_the_aws_teams_it_could_be(cli, fakes):
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "down", "pr42", "--dry-run")
    out = fakes.outdir
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"warning: cannot read AWS eu-west-1, so what only AWS knows is {AT_RUN_TIME}: {AWS_UNREAD}",
        f"destroy pr42: its team and where it lives are {AT_RUN_TIME} (what is tagged env=pr42)",
        "  if it is risk/pr42 (AWS eu-west-1):",
        f"    {cdktf('destroy', 'risk-pr42-workspace', out)}",
        f"    {cdktf('destroy', 'risk-pr42-account', out)}",
        f"    {cdktf('destroy', 'risk-pr42-platform', out)}",
        "dry run: nothing was built, synthesized, deployed or destroyed",
    ]


def test_env_down_of_a_name_not_found_while_a_cloud_is_unreadable_fails(cli, fakes):
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "down", "pr42")
    assert result.code == 1
    assert result.err_lines == [
        f"error: no ephemeral env named 'pr42' in what could be read; could not read AWS eu-west-1 ({AWS_UNREAD})"
    ]
    assert fakes.nothing_happened()


def test_reap_dry_run_with_aws_unreadable_shows_the_azure_plan_and_what_aws_decides(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires="2026-11-22T10:00:00Z")]
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "reap", "--dry-run")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[:3] == [
        f"warning: cannot read AWS eu-west-1, so what only AWS knows is {AT_RUN_TIME}: {AWS_UNREAD}",
        f"which ephemeral envs exist and which have expired: {AT_RUN_TIME} (resources in eu-west-1 tagged "
        "ephemeral=true)",
        "for each expired env, oldest first: build the churn wheel, synthesize its three stacks, then",
    ]
    assert "churn/pr1: expired 2h ago, owner dev@example.com, group rg-dbp-churn-pr1" in lines
    assert fakes.nothing_happened()


# --- permanent AWS envs ------------------------------------------------------------------------------------


def test_deploy_and_destroy_of_a_permanent_aws_env_run_its_three_stacks_in_order(cli, fakes):
    fakes.runner.outputs = {"risk-dev-account": {"workspace_url": "https://dbc-0.cloud.databricks.com"}}
    assert cli("deploy", "risk/dev", "--auto-approve").code == 0
    assert fakes.events[1:] == [
        "synth risk-dev-platform risk-dev-account risk-dev-workspace",
        "deploy risk-dev-platform",
        "deploy risk-dev-account",
        "output? risk-dev-account workspace_url",
        "deploy risk-dev-workspace",
    ]
    fakes.events.clear()
    assert cli("destroy", "risk/staging", "--auto-approve").code == 0
    assert fakes.events[2:] == [
        "destroy risk-staging-workspace",
        "destroy risk-staging-account",
        "destroy risk-staging-platform",
    ]


URL = "https://dbc-1a2b3c4d-5e6f.cloud.databricks.com"


def passing_run(fakes, job):
    from infra.lifecycle.databricks import RunProgress

    fakes.workspace.jobs = {job: [7]}
    fakes.workspace.progress = [RunProgress(run_id=907, state="TERMINATED", result="SUCCESS")]
    fakes.workspace.aliases = [None, 1]


def test_smoke_of_an_aws_env_runs_in_the_workspace_its_account_stack_names(cli, fakes):
    fakes.runner.outputs = {"risk-dev-account": {"workspace_url": URL}}
    passing_run(fakes, "dbp-risk-dev-training")
    result = cli("smoke", "risk/dev")
    assert result.code == 0, result.err
    # The URL is only in the account stack's state: synthesize the stacks (their backends), read the output.
    assert fakes.events == [
        "build wheel",
        "synth risk-dev-platform risk-dev-account risk-dev-workspace",
        "output? risk-dev-account workspace_url",
    ]
    (target,) = fakes.smoke_targets
    assert (target.workspace_url, target.job_name, target.model_name) == (
        URL,
        "dbp-risk-dev-training",
        "dbp_risk_dev.ml.churn",
    )
    assert fakes.workspace.started == [7]
    assert result.out.splitlines()[-1].startswith("passed: run 907 succeeded")


def test_smoke_of_an_ephemeral_aws_env_derives_its_stacks_from_its_tags(cli, fakes):
    fakes.aws.resources = {REGION: aws_env_resources(env="pr1", slot="3", expires="2026-11-23T00:00:00Z")}
    fakes.runner.outputs = {"risk-pr1-account": {"workspace_url": URL}}
    passing_run(fakes, "dbp-risk-pr1-training")
    result = cli("smoke", "risk/pr1")
    assert result.code == 0, result.err
    (env,) = fakes.synthesized_envs
    assert (env.key, env.network_slot, env.is_ephemeral) == ("risk/pr1", 3, True)
    assert fakes.smoke_targets[0].workspace_url == URL


def test_smoke_of_an_aws_env_whose_account_stack_has_no_url_fails_before_any_run(cli, fakes):
    result = cli("smoke", "risk/dev")
    assert result.code == 1
    assert result.err_lines == [
        'error: cannot read output workspace_url of risk-dev-account: Error: Output "workspace_url" not found; '
        "is the account stack of risk/dev deployed?"
    ]
    assert fakes.smoke_targets == [] and fakes.workspace.started == []


def test_smoke_of_an_unknown_ephemeral_aws_env_is_refused(cli, fakes):
    result = cli("smoke", "risk/pr9")
    assert result.code == 2
    assert result.err_lines == ["error: TEAM/ENV: no ephemeral env named 'pr9' (ephemeral envs: none)"]
    assert fakes.events == []


def test_env_down_of_an_azure_env_goes_on_when_only_aws_cannot_be_read(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr42", expires="2026-11-23T00:00:00Z")]
    fakes.runner.stacks_with_state = {"churn-pr42-workspace", "churn-pr42-platform"}
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "down", "pr42")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        f"warning: cannot read AWS eu-west-1 (NAME is found elsewhere): {AWS_UNREAD}"
    )
    assert fakes.events[-2:] == ["state? churn-pr42-platform", "destroy churn-pr42-platform"]


def test_reap_dry_run_with_neither_cloud_readable_describes_both_and_counts_nothing(cli, fakes):
    from azure.core.exceptions import ClientAuthenticationError

    fakes.groups.list_error = ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token.")
    fakes.aws.list_errors = {REGION: NO_AWS_LOGIN}
    result = cli("env", "reap", "--dry-run")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [line.split(",")[0] for line in lines if line.startswith("warning")] == [
        "warning: cannot read Azure",
        "warning: cannot read AWS eu-west-1",
    ]
    assert [line for line in lines if line.startswith("which ephemeral envs")] == [
        f"which ephemeral envs exist and which have expired: {AT_RUN_TIME} (resource groups tagged ephemeral=true)",
        f"which ephemeral envs exist and which have expired: {AT_RUN_TIME} (resources in eu-west-1 tagged "
        "ephemeral=true)",
    ]
    assert not [line for line in lines if "ephemeral envs expired as of" in line]
    assert lines[-1] == "dry run: nothing was built, synthesized, deployed or destroyed"
    assert fakes.nothing_happened()
