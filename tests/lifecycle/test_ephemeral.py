"""Cutting an ephemeral env from a permanent one, and deriving it again from its resource group's tags."""

from datetime import UTC, datetime

import pytest

from infra.config import TeamEnv
from infra.config.naming import EnvNames
from infra.lifecycle.allocation import allocate_slot
from infra.lifecycle.ephemeral import (
    EphemeralRecord,
    UnreadableRecord,
    check_name,
    check_owner,
    cut,
    slot_network,
)
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.inventory import Inventory
from tests.lifecycle.fakes import NOW, ephemeral_group, ephemeral_tags

EXPIRES = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def churn_dev(config) -> TeamEnv:
    return next(te for te in config.team_envs if te.key == "churn/dev")


def test_an_ephemeral_env_takes_the_templates_smallest_sizes_and_stays_deletable(config):
    base = churn_dev(config)
    env = cut(base, name="pr42", slot=2, owner="dev@example.com", expires_at=EXPIRES)
    template = config.team("churn").ephemeral
    assert (env.kind, env.env, env.base_env, env.is_ephemeral) == ("ephemeral", "pr42", "dev", True)
    assert env.settings.compute == template.compute
    assert (env.settings.compute.min_workers, env.settings.compute.max_workers) == (0, 1)
    assert env.settings.budget == template.budget
    assert env.settings.network == "10.10.66.0/24"
    assert env.settings.prevent_destroy is False
    assert env.settings.interactive_cluster is False and env.settings.instance_pool is False
    assert env.settings.schedules.paused is True
    # kept from the base env: schedules' zone and the front-end access mode
    assert env.settings.schedules.timezone == base.settings.schedules.timezone
    assert env.settings.public_network_access == base.settings.public_network_access


def test_cut_from_prod_drops_prods_protection(config):
    prod = next(te for te in config.team_envs if te.key == "churn/prod")
    assert prod.settings.prevent_destroy is True
    env = cut(prod, name="hotfix1", slot=0, owner="dev@example.com", expires_at=EXPIRES)
    assert env.settings.prevent_destroy is False and env.settings.require_approval is False
    assert env.settings.public_network_access is False  # security posture is never relaxed


def test_stack_and_azure_names_never_collide_with_a_permanent_env(config):
    env = cut(churn_dev(config), name="pr42", slot=0, owner="dev@example.com", expires_at=EXPIRES)
    assert env.names.platform_stack == "churn-pr42-platform"
    assert env.names.workspace_stack == "churn-pr42-workspace"
    assert env.names.resource_group == "rg-dbp-churn-pr42"
    permanent = {n for te in config.team_envs for n in (te.names.platform_stack, te.names.workspace_stack)}
    assert not {env.names.platform_stack, env.names.workspace_stack} & permanent


def test_tags_carry_everything_the_reaper_needs(config):
    env = cut(churn_dev(config), name="pr42", slot=3, owner="dev@example.com", expires_at=EXPIRES)
    assert env.tags == {
        "team": "churn",
        "env": "pr42",
        "cost-center": "CC-4711",
        "managed-by": "cdktf-platform",
        "ephemeral": "true",
        "expires-at": "2026-11-22T20:00:00Z",
        "owner": "dev@example.com",
        "base-env": "dev",
        "network-slot": "3",
        "platform-prefix": "dbp",
        "network": "10.10.67.0/24",
    }


def test_an_env_derived_again_from_its_tags_equals_the_one_that_was_cut(config):
    env = cut(churn_dev(config), name="pr42", slot=3, owner="dev@example.com", expires_at=EXPIRES)
    record = EphemeralRecord.from_tags(env.names.resource_group, env.tags)
    again = record.team_env(config)
    assert again == env
    assert again.tags == env.tags and again.names == env.names


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("PR42", "NAME: 'PR42' is invalid: 2-10 lowercase letters or digits, starting with a letter"),
        ("pr-42", "NAME: 'pr-42' is invalid"),
        ("42pr", "NAME: '42pr' is invalid"),
        ("p", "NAME: 'p' is invalid"),
        ("experiment11", "NAME: 'experiment11' is invalid"),
        ("dev", "NAME: 'dev' is the name of a permanent environment; ephemeral commands never create"),
        ("prod", "NAME: 'prod' is the name of a permanent environment; ephemeral commands never create"),
    ],
)
def test_bad_names(config, name, message):
    with pytest.raises(InputProblem) as problem:
        check_name(config, config.team("churn"), name)
    assert str(problem.value).startswith(message)


def test_a_name_whose_derived_azure_names_break_a_rule_is_refused(config, monkeypatch):
    monkeypatch.setattr(
        EnvNames, "problems", lambda self: [f"derived key vault name 'kv-{self.stem}' is invalid: too long"]
    )
    with pytest.raises(InputProblem) as problem:
        check_name(config, config.team("churn"), "pr42")
    assert (
        str(problem.value)
        == "NAME: 'pr42' cannot be used: derived key vault name 'kv-dbp-churn-pr42' is invalid: too long"
    )


def test_owner_must_be_an_email():
    assert check_owner("dev@example.com") == "dev@example.com"
    with pytest.raises(InputProblem, match=r"^--owner: 'dev' is not an e-mail address$"):
        check_owner("dev")


def test_slots_are_consecutive_24s_of_the_pool(config):
    template = config.team("churn").ephemeral
    assert [slot_network(template, slot) for slot in range(4)] == [
        "10.10.64.0/24",
        "10.10.65.0/24",
        "10.10.66.0/24",
        "10.10.67.0/24",
    ]
    with pytest.raises(ValueError, match="outside"):
        slot_network(template, 4)


def inventory(*groups):
    return Inventory.from_groups(list(groups))


def test_a_new_env_takes_the_lowest_free_slot_of_its_own_team(config):
    taken = inventory(
        ephemeral_group(env="a1", slot="0", expires="2026-11-23T00:00:00Z"),
        ephemeral_group(env="a2", slot="2", expires="2026-11-23T00:00:00Z"),
        ephemeral_group(team="pricing", env="b1", slot="1", expires="2026-11-23T00:00:00Z"),
    )
    assert allocate_slot(churn_dev(config), "pr42", taken, now=NOW) == 1


def test_running_up_again_keeps_the_envs_slot(config):
    existing = inventory(ephemeral_group(env="pr42", slot="3", expires="2026-11-23T00:00:00Z"))
    assert allocate_slot(churn_dev(config), "pr42", existing, now=NOW) == 3


def test_an_expired_env_is_not_revived_under_the_reapers_feet(config):
    expired = inventory(ephemeral_group(env="pr42", expires="2026-11-22T11:59:59Z"))
    with pytest.raises(InputProblem, match=r"^NAME: churn/pr42 expired at 2026-11-22T11:59:59Z and is due"):
        allocate_slot(churn_dev(config), "pr42", expired, now=NOW)


@pytest.mark.parametrize(
    ("group", "why"),
    [
        ("rg-dbp-churn-pr1", "it is not tagged ephemeral=true"),
        ("rg-dbp-churn-pr1", "tags owner, network-slot are missing"),
        ("rg-dbp-churn-pr1", "expires-at 'tomorrow' is not an ISO-8601 time"),
        ("rg-dbp-churn-pr1", "expires-at '2026-11-22T10:00:00' has no time zone"),
        ("rg-dbp-churn-pr1", "network-slot 'x' is not a slot number"),
        ("rg-payroll", "its tags describe churn/pr1, whose group is rg-<prefix>-churn-pr1"),
    ],
)
def test_tags_that_do_not_describe_one_of_our_envs_are_unreadable(group, why):
    tags = ephemeral_tags()
    if "not tagged" in why:
        tags["ephemeral"] = "True"
    elif "missing" in why:
        del tags["owner"], tags["network-slot"]
    elif "tomorrow" in why:
        tags["expires-at"] = "tomorrow"
    elif "time zone" in why:
        tags["expires-at"] = "2026-11-22T10:00:00"
    elif "slot" in why:
        tags["network-slot"] = "x"
    with pytest.raises(UnreadableRecord) as problem:
        EphemeralRecord.from_tags(group, tags)
    assert str(problem.value) == why


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            ephemeral_tags(team="payroll"),
            "rg-dbp-payroll-pr1 (tags): team 'payroll' is not in the config any more",
        ),
        (ephemeral_tags(base="qa"), "rg-dbp-churn-pr1 (tags): team 'churn' has no base env 'qa' any more"),
        (ephemeral_tags(slot="9"), "rg-dbp-churn-pr1 (tags): network slot 9 is outside 10.10.64.0/22"),
        (
            ephemeral_tags(team="pricing"),
            "rg-dbp-pricing-pr1 (tags): team 'pricing' has no ephemeral template (set teams[].ephemeral)",
        ),
    ],
)
def test_an_env_the_config_can_no_longer_derive_is_reported(config, tags, message):
    record = EphemeralRecord.from_tags(f"rg-dbp-{tags['team']}-pr1", tags)
    with pytest.raises(InputProblem) as problem:
        record.team_env(config)
    assert str(problem.value) == message
