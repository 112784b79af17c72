"""The reaper: its one guard, and what it destroys among mixed ephemeral and permanent resource groups."""

from datetime import UTC, datetime

import pytest
import yaml
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from infra.config import load_config
from infra.lifecycle.azure import ResourceGroupInfo
from infra.lifecycle.ephemeral import EphemeralRecord, permanent_env_names, refuse_permanent
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.reaper import is_reapable, reap, tear_down
from infra.lifecycle.runner import MissingTool
from tests.lifecycle.fakes import NOW, arm_error, ephemeral_group, ephemeral_tags, permanent_group

PAST = "2026-11-22T11:00:00Z"
FUTURE = "2026-11-22T13:00:00Z"


@pytest.mark.parametrize(
    ("tags", "reapable"),
    [
        (ephemeral_tags(expires=PAST), True),
        (ephemeral_tags(expires="2026-11-22T12:00:00Z"), True),  # expiry is inclusive
        (ephemeral_tags(expires="2026-11-22T13:00:00+02:00"), True),  # 11:00 UTC
        (ephemeral_tags(expires=FUTURE), False),
        ({**ephemeral_tags(expires=PAST), "ephemeral": "false"}, False),
        ({**ephemeral_tags(expires=PAST), "ephemeral": "True"}, False),
        ({**ephemeral_tags(expires=PAST), "ephemeral": "yes"}, False),
        ({k: v for k, v in ephemeral_tags(expires=PAST).items() if k != "ephemeral"}, False),
        ({k: v for k, v in ephemeral_tags(expires=PAST).items() if k != "expires-at"}, False),
        (ephemeral_tags(expires=""), False),
        (ephemeral_tags(expires="yesterday"), False),
        (ephemeral_tags(expires="2026-11-22T11:00:00"), False),  # no zone: never guess
        ({"team": "churn", "env": "prod", "expires-at": PAST}, False),  # permanent, even with an expiry
        ({}, False),
    ],
)
def test_the_guard_only_passes_expired_groups_tagged_ephemeral_true(tags, reapable):
    assert is_reapable(tags, NOW) is reapable


def mixed_groups():
    return [
        permanent_group("churn", "dev"),
        permanent_group("churn", "prod"),
        # a permanent group someone gave an expiry: still not ephemeral
        ResourceGroupInfo(
            "rg-dbp-pricing-prod", {**permanent_group("pricing", "prod").tags, "expires-at": PAST}
        ),
        ResourceGroupInfo("rg-shared-network", {"owner": "netops@example.com"}),
        ResourceGroupInfo("rg-no-tags"),
        ephemeral_group(env="pr1", expires=PAST, slot="0"),
        ephemeral_group(env="pr2", expires=FUTURE, slot="1"),
        ephemeral_group(env="pr3", expires="2026-11-21T09:00:00Z", slot="2", base="staging"),
        # the workspace's managed group copies its tags; it goes away with the workspace
        ResourceGroupInfo(
            "rg-dbp-churn-pr1-dbw-managed",
            ephemeral_tags(env="pr1", expires=PAST),
            managed_by="/subscriptions/s/resourceGroups/rg-dbp-churn-pr1/providers/Microsoft.Databricks/workspaces/dbw-dbp-churn-pr1",
        ),
        # tagged ephemeral by hand, but not one of ours: unreadable, never touched
        ResourceGroupInfo("rg-payroll", ephemeral_tags(env="pr9", expires=PAST)),
        # already on its way out
        ResourceGroupInfo(
            "rg-dbp-churn-pr4", ephemeral_tags(env="pr4", expires=PAST), provisioning_state="Deleting"
        ),
    ]


def run_reap(config, fakes, *, dry_run=False, now=NOW):
    lines: list[str] = []
    outcome = reap(config=config, services=fakes.services(), now=now, dry_run=dry_run, report=lines.append)
    return outcome, lines


def test_reap_destroys_only_expired_ephemeral_envs_workspace_first(config, fakes):
    fakes.groups.groups = mixed_groups()
    fakes.runner.stacks_with_state = {
        "churn-pr1-platform",
        "churn-pr1-workspace",
        "churn-pr3-platform",
        "churn-pr3-workspace",
    }
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr3", "churn/pr1"]  # oldest expiry first
    assert outcome.failed == [] and outcome.not_due == 1
    assert fakes.events == [
        "build wheel",
        "synth churn-pr3-platform churn-pr3-workspace",
        "state? churn-pr3-workspace",
        "destroy churn-pr3-workspace",
        "state? churn-pr3-platform",
        "destroy churn-pr3-platform",
        "synth churn-pr1-platform churn-pr1-workspace",
        "state? churn-pr1-workspace",
        "destroy churn-pr1-workspace",
        "state? churn-pr1-platform",
        "destroy churn-pr1-platform",
    ]
    assert all(command.auto_approve and command.outdir == fakes.outdir for command in fakes.runner.commands)
    assert fakes.groups.deleted == []
    assert (
        "skipped rg-payroll: tagged ephemeral=true but its tags describe churn/pr9, whose group is rg-<prefix>-churn-pr9"
        in lines
    )
    assert "skipped rg-dbp-churn-pr4: Azure is already deleting it" in lines
    assert "2 of 3 ephemeral envs expired as of 2026-11-22T12:00:00Z" in lines


def test_the_reaped_envs_are_derived_again_from_their_tags(config, fakes):
    fakes.groups.groups = mixed_groups()
    run_reap(config, fakes)
    pr3, pr1 = fakes.synthesized_envs
    assert (pr3.key, pr3.base_env, pr3.network_slot, pr3.expires_at) == (
        "churn/pr3",
        "staging",
        2,
        "2026-11-21T09:00:00Z",
    )
    assert (pr1.key, pr1.base_env, pr1.settings.network) == ("churn/pr1", "dev", "10.10.64.0/24")
    assert all(env.is_ephemeral and env.settings.prevent_destroy is False for env in fakes.synthesized_envs)


def test_when_the_state_is_gone_the_tagged_group_is_deleted_and_the_report_says_so(config, fakes):
    fakes.groups.groups = [permanent_group(), ephemeral_group(env="pr1", expires=PAST)]
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    assert fakes.events == [
        "build wheel",
        "synth churn-pr1-platform churn-pr1-workspace",
        "state? churn-pr1-workspace",
        "state? churn-pr1-platform",
        "delete group rg-dbp-churn-pr1",
        # The budget is on the subscription, outside the group: left behind, it would make the next
        # `env up pr1` fail on a budget of the same name that already exists.
        "delete /providers/Microsoft.Consumption/budgets/budget-dbp-churn-pr1",
    ]
    assert "the state of churn/pr1 is gone: deleting resource group rg-dbp-churn-pr1 by its tags" in lines
    assert any(
        line.startswith(
            "deleted resource group rg-dbp-churn-pr1, budget budget-dbp-churn-pr1; Unity Catalog objects of "
            "churn/pr1 (catalog dbp_churn_pr1"
        )
        for line in lines
    )


def test_when_the_state_of_an_env_in_the_hub_is_gone_its_side_of_the_hub_is_deleted_too(config, fakes):
    """Cut from private prod, the env peered with the hub, linked the hub's shared zones to its VNet and added its
    rule collection group to the hub firewall's policy (prod egress): those live in the hub, not in the env's
    group. Left behind, the next `env up pr1` fails on a peering, links and a group of the same names (and the hub
    keeps a dead peering)."""
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    hub = config.platform.hub_network
    vnet = "vnet-dbp-churn-pr1"
    zones = f"{hub.private_dns_zones_resource_group_id}/providers/Microsoft.Network/privateDnsZones"
    assert fakes.groups.deleted_by_id[:6] == [
        (f"{hub.firewall.policy_id}/ruleCollectionGroups/rcg-dbp-churn-pr1", "2025-01-01"),
        (f"{hub.virtual_network_id}/virtualNetworkPeerings/peer-hub-to-{vnet}", "2025-01-01"),
        *(
            (f"{zones}/{zone}/virtualNetworkLinks/link-{vnet}", "2024-06-01")
            for zone in (
                "privatelink.azuredatabricks.net",
                "privatelink.dfs.core.windows.net",
                "privatelink.blob.core.windows.net",
                "privatelink.vaultcore.azure.net",
            )
        ),
    ]
    assert fakes.events[-2:] == [
        "delete group rg-dbp-churn-pr1",
        "delete /providers/Microsoft.Consumption/budgets/budget-dbp-churn-pr1",
    ]
    assert any(
        line.startswith(
            "deleted resource group rg-dbp-churn-pr1, budget budget-dbp-churn-pr1 and its side of the hub;"
        )
        for line in lines
    )


def test_the_envs_firewall_rules_go_even_when_its_base_env_has_since_switched_to_open_egress(
    config_path, fakes
):
    """pr1 was cut from prod while prod egressed through the hub firewall, so its group sits in the hub's policy;
    prod has since switched to open egress. The reaper derives the env from today's config, and the group is not in
    the env's resource group: it must still go (a 404 is fine), or it stays in the shared policy as a live allow
    rule for pr1's slot and the next `env up pr1` from prod fails on a group of that name."""
    raw = yaml.safe_load(config_path.read_text())
    raw["teams"][0]["environments"]["prod"]["egress"] = {
        "mode": "open",
        "open_reason": "vendor feeds from changing hosts",
    }
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(config_path)
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    outcome, _ = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    policy = config.platform.hub_network.firewall.policy_id
    assert (f"{policy}/ruleCollectionGroups/rcg-dbp-churn-pr1", "2025-01-01") in fakes.groups.deleted_by_id


def test_when_the_state_of_an_env_cut_from_prod_is_gone_its_serverless_network_policy_is_named(config, fakes):
    """pr1 cut from prod inherits serverless.restricted_egress: its account stack created an account network policy
    (`dbp-churn-pr1-np`). That policy is in no resource group and carries no
    tag, so deleting the group by its tags leaves it in the account, where the next `env up pr1` fails on a policy
    ID that exists (account_network_policy: network_policy_id is the API's unique key, databricks v1.99.0
    docs/resources/account_network_policy.md, import by network_policy_id). The report must name it."""
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    warning = next(line for line in lines if "network policy" in line)
    assert warning.startswith(
        f"warning: churn/pr1 leaves its serverless network policy dbp-churn-pr1-np in the Databricks account "
        f"{config.platform.account_id} "
    )


def test_an_env_cut_from_prod_is_torn_down_workspace_account_platform(config, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    fakes.runner.stacks_with_state = {"churn-pr1-platform", "churn-pr1-account", "churn-pr1-workspace"}
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    assert [e for e in fakes.events if e.startswith("destroy ")] == [
        "destroy churn-pr1-workspace",
        "destroy churn-pr1-account",
        "destroy churn-pr1-platform",
    ]
    assert not any("network policy" in line for line in lines)


def test_when_only_the_account_stacks_state_is_gone_its_policy_is_named(config, fakes):
    """The platform and workspace stacks are destroyed through their state; the policy, whose state is gone, is in
    no resource group: named, as when every state is gone."""
    fakes.groups.groups = [ephemeral_group(env="pr1", base="prod", expires=PAST)]
    fakes.runner.stacks_with_state = {"churn-pr1-platform", "churn-pr1-workspace"}
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    assert "destroy churn-pr1-account" not in fakes.events and fakes.groups.deleted == []
    assert any(line.startswith("warning: churn/pr1 leaves its serverless network policy") for line in lines)


def test_when_the_state_of_an_env_cut_from_dev_is_gone_no_network_policy_is_named(config, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires=PAST)]
    _, lines = run_reap(config, fakes)
    assert not any("network policy" in line for line in lines)


def test_a_workspace_stack_without_state_is_skipped_and_its_catalog_reported(config, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires=PAST)]
    fakes.runner.stacks_with_state = {"churn-pr1-platform"}
    outcome, lines = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"]
    assert fakes.events[-3:] == [
        "state? churn-pr1-workspace",
        "state? churn-pr1-platform",
        "destroy churn-pr1-platform",
    ]
    assert fakes.groups.deleted == []
    assert any(
        line.startswith("warning: Unity Catalog objects of churn/pr1 (catalog dbp_churn_pr1")
        for line in lines
    )


def test_one_failing_env_does_not_stop_the_others(config, fakes):
    fakes.groups.groups = [
        ephemeral_group(env="pr1", expires=PAST, slot="0"),
        ephemeral_group(env="pr2", expires="2026-11-22T11:30:00Z", slot="1"),
    ]
    fakes.runner.stacks_with_state = {
        "churn-pr1-workspace",
        "churn-pr1-platform",
        "churn-pr2-workspace",
        "churn-pr2-platform",
    }
    fakes.runner.failing = {"churn-pr1-workspace"}
    outcome, lines = run_reap(config, fakes)
    assert outcome.failed == ["churn/pr1"] and outcome.reaped == ["churn/pr2"]
    assert "destroy churn-pr1-platform" not in fakes.events  # never under a workspace that is still there
    assert "failed churn/pr1: cdktf destroy churn-pr1-workspace failed (exit 1)" in lines
    assert outcome.summary() == "reaped 1, failed 1, not expired 0"


def test_an_env_the_config_cannot_derive_fails_without_touching_anything(config, fakes):
    fakes.groups.groups = [ephemeral_group(team="payroll", env="pr1", expires=PAST)]
    outcome, lines = run_reap(config, fakes)
    assert outcome.failed == ["payroll/pr1"]
    assert fakes.events == ["build wheel"]
    assert (
        "failed payroll/pr1: rg-dbp-payroll-pr1 (tags): team 'payroll' is not in the config any more" in lines
    )


def test_dry_run_lists_the_exact_commands_and_touches_nothing(config, fakes):
    fakes.groups.groups = mixed_groups()
    outcome, lines = run_reap(config, fakes, dry_run=True)
    assert fakes.events == [] and outcome.reaped == [] and outcome.failed == []
    out = fakes.outdir
    assert lines[-7:] == [
        "churn/pr1: expired 1h ago, owner dev@example.com, group rg-dbp-churn-pr1",
        "destroy churn/pr1: churn-pr1-workspace then churn-pr1-platform",
        "  1. build the churn wheel: ml/ -> dist/",
        f"  2. synthesize churn-pr1-platform and churn-pr1-workspace into {out}/stacks",
        f"  3. npx --no-install cdktf destroy churn-pr1-workspace --app true --output {out} --skip-synth --ignore-missing-stack-dependencies --auto-approve",
        f"  4. npx --no-install cdktf destroy churn-pr1-platform --app true --output {out} --skip-synth --ignore-missing-stack-dependencies --auto-approve",
        "  5. only if neither stack holds state: delete resource group rg-dbp-churn-pr1, budget "
        "budget-dbp-churn-pr1",
    ]


def test_an_injected_clock_decides_what_is_due(config, fakes):
    fakes.groups.groups = mixed_groups()
    later = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
    _, lines = run_reap(config, fakes, dry_run=True, now=later)
    assert "3 of 3 ephemeral envs expired as of 2026-11-22T14:00:00Z" in lines
    earlier = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    _, lines = run_reap(config, fakes, dry_run=True, now=earlier)
    assert "0 of 3 ephemeral envs expired as of 2026-11-21T08:00:00Z" in lines


def test_tear_down_refuses_a_record_not_tagged_ephemeral(config, fakes):
    record = EphemeralRecord.from_tags("rg-dbp-churn-pr1", ephemeral_tags())
    forged = EphemeralRecord(**{**record.__dict__, "tags": {**record.tags, "ephemeral": "false"}})
    with pytest.raises(
        OperationFailed, match="refusing to touch rg-dbp-churn-pr1: it is not tagged ephemeral=true"
    ):
        tear_down(forged, config=config, services=fakes.services(), wheel=fakes.wheel, report=print)
    assert fakes.events == []


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_a_permanent_envs_group_with_ephemeral_tags_is_never_torn_down(config, fakes, env):
    # Someone copied an ephemeral env's tags onto churn's permanent group (the name still matches its tags).
    mis_tagged = ResourceGroupInfo(f"rg-dbp-churn-{env}", ephemeral_tags(env=env, expires=PAST, slot="1"))
    fakes.groups.groups = [mis_tagged, ephemeral_group(env="pr1", expires=PAST, slot="0")]
    fakes.runner.stacks_with_state = {f"churn-{env}-platform", f"churn-{env}-workspace", "churn-pr1-platform"}
    outcome, lines = run_reap(config, fakes)
    assert outcome.failed == [f"churn/{env}"] and outcome.reaped == ["churn/pr1"]
    assert not [event for event in fakes.events if f"churn-{env}-" in event or env in event.split()], (
        fakes.events
    )
    assert fakes.groups.deleted == []
    assert (
        f"failed churn/{env}: rg-dbp-churn-{env} (tags): '{env}' is the name of a permanent environment; "
        "ephemeral commands never create or destroy it"
    ) in lines
    _, preview = run_reap(config, fakes, dry_run=True)
    assert (
        f"  would fail: rg-dbp-churn-{env} (tags): '{env}' is the name of a permanent environment; "
        "ephemeral commands never create or destroy it" in preview
    )


def test_the_guard_refuses_every_name_a_permanent_env_has_or_could_have(config):
    names = permanent_env_names(config)
    assert {"dev", "staging", "prod"} <= names
    assert {team_env.env for team_env in config.team_envs} <= names
    for name in names:
        with pytest.raises(InputProblem, match="is the name of a permanent environment"):
            refuse_permanent(name, config, field="NAME")
    refuse_permanent("pr1", config, field="NAME")


def test_a_failing_group_delete_does_not_stop_the_others(config, fakes):
    fakes.groups.groups = [
        ephemeral_group(env="pr1", expires=PAST, slot="0"),
        ephemeral_group(env="pr2", expires="2026-11-22T11:30:00Z", slot="1"),
    ]
    # neither has state: both groups are deleted by their tags, and Azure refuses the first (a delete lock)
    fakes.groups.delete_errors = {
        "rg-dbp-churn-pr1": arm_error(
            409, "ScopeLocked", "The scope cannot perform delete operation", ResourceExistsError
        )
    }
    outcome, lines = run_reap(config, fakes)
    assert outcome.failed == ["churn/pr1"] and outcome.reaped == ["churn/pr2"]
    assert fakes.groups.deleted == ["rg-dbp-churn-pr2"]
    assert (
        "failed churn/pr1: Azure, deleting resource group rg-dbp-churn-pr1: (ScopeLocked) The scope cannot "
        "perform delete operation"
    ) in lines


def test_a_group_deleted_meanwhile_counts_as_reaped(config, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires=PAST)]
    fakes.groups.delete_errors = {
        "rg-dbp-churn-pr1": arm_error(404, "ResourceGroupNotFound", "not found", ResourceNotFoundError)
    }
    outcome, _ = run_reap(config, fakes)
    assert outcome.reaped == ["churn/pr1"] and outcome.failed == []


def test_reap_without_terraform_refuses_before_touching_anything(config, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr1", expires=PAST)]
    fakes.runner.missing = {"terraform"}
    with pytest.raises(MissingTool, match=r"^terraform: not found on PATH; install Terraform >= 1.7$"):
        run_reap(config, fakes)
    assert fakes.events == []
