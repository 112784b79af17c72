"""The config changes under live ephemeral envs (prefix, pool, template): each stays listed and removable by its own
tags and state, and `env up` never hands its name or network to a new env."""

import re
from datetime import UTC, datetime

import pytest
import yaml

from infra.lifecycle.azure import ResourceGroupInfo
from infra.lifecycle.ephemeral import EphemeralRecord, UnreadableRecord, cut
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.reaper import env_down
from tests.lifecycle.fakes import ephemeral_tags

PAST = "2026-11-22T11:00:00Z"  # before the fakes' clock
LATER = "2026-11-23T00:00:00Z"


def edit_config(config_path, change):
    raw = yaml.safe_load(config_path.read_text())
    change(raw)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))


def live_env(*, prefix="dbp", env="pr1", slot="0", expires=LATER, tagged_prefix=False, network=None):
    """The resource group of an env `env up` created; ``tagged_prefix``/``network``: the tags it writes now (an
    env from before them has neither)."""
    tags = ephemeral_tags(env=env, slot=slot, expires=expires)
    if tagged_prefix:
        tags["platform-prefix"] = prefix
    if network:
        tags["network"] = network
    return ResourceGroupInfo(name=f"rg-{prefix}-churn-{env}", tags=tags)


def new_prefix(raw):
    raw["platform"]["prefix"] = "nbp"


# --- the prefix changed ------------------------------------------------------------------------------------


def test_after_a_prefix_change_the_old_envs_are_listed_not_hidden(cli, fakes, config_path):
    edit_config(config_path, new_prefix)
    fakes.groups.groups = [
        live_env(env="pr1"),
        live_env(env="pr2", tagged_prefix=True, network="10.10.65.0/24"),
    ]
    result = cli("env", "list", "--json")
    assert result.code == 0, result.err
    assert "warning" not in result.err
    assert [(row["name"], row["prefix"], row["resource_group"]) for row in yaml.safe_load(result.out)] == [
        ("pr1", "dbp", "rg-dbp-churn-pr1"),
        ("pr2", "dbp", "rg-dbp-churn-pr2"),
    ]


def test_reap_after_a_prefix_change_skips_old_envs_and_says_how_to_remove_them(cli, fakes, config_path):
    edit_config(config_path, new_prefix)
    fakes.groups.groups = [live_env(env="pr1", expires=PAST)]
    fakes.runner.stacks_with_state = {"churn-pr1-workspace", "churn-pr1-platform"}
    result = cli("env", "reap")
    assert result.code == 0, result.err
    assert (
        "skipped churn/pr1 (group rg-dbp-churn-pr1): created under prefix 'dbp', not this config's 'nbp'; if it is "
        "this platform's, from before the prefix changed, remove it with `platform env down pr1 --prefix dbp`"
    ) in result.out.splitlines()
    assert fakes.events == [] and fakes.groups.deleted == []


def test_env_down_of_an_old_prefix_env_needs_the_prefix_named(cli, fakes, config_path):
    edit_config(config_path, new_prefix)
    fakes.groups.groups = [live_env(env="pr1")]
    result = cli("env", "down", "pr1")
    assert result.code == 2
    assert result.err_lines == [
        "error: NAME: churn/pr1 (group rg-dbp-churn-pr1) was created under prefix 'dbp', not this config's 'nbp'; "
        "if it is this platform's, from before the prefix changed, remove it with "
        "`platform env down pr1 --prefix dbp`"
    ]
    assert fakes.events == []


def test_env_down_with_the_old_prefix_tears_the_env_down_by_its_own_names_and_state(cli, fakes, config_path):
    edit_config(config_path, new_prefix)
    fakes.groups.groups = [live_env(env="pr1", slot="2")]
    fakes.runner.stacks_with_state = {"churn-pr1-workspace", "churn-pr1-platform"}
    result = cli("env", "down", "pr1", "--prefix", "dbp")
    assert result.code == 0, result.err
    assert fakes.events[-1] == "destroy churn-pr1-platform"
    (team_env,) = fakes.synthesized_envs
    assert team_env.platform.prefix == "dbp"  # its state keys and resource names, not the config's new ones
    assert team_env.names.resource_group == "rg-dbp-churn-pr1"
    assert team_env.settings.network == "10.10.66.0/24"


def test_env_up_under_a_new_prefix_refuses_a_name_an_old_env_holds(cli, fakes, config_path):
    edit_config(config_path, new_prefix)
    fakes.groups.groups = [live_env(env="pr1")]
    result = cli("env", "up", "pr1", "--from", "churn/dev", "--owner", "ana@example.com")
    assert result.code == 2
    assert result.err_lines == [
        "error: NAME: 'pr1' is held by the live ephemeral env churn/pr1 created under prefix 'dbp' (group "
        "rg-dbp-churn-pr1); take it down first (`platform env down pr1 --prefix dbp`) or pick another name"
    ]
    assert fakes.events == []


def test_env_up_under_a_new_prefix_leaves_the_old_envs_networks_alone(cli, fakes, config_path):
    edit_config(config_path, new_prefix)
    fakes.groups.groups = [live_env(env="pr1", slot="0")]  # from before the network tag: slot 0 of the pool
    result = cli("env", "up", "pr2", "--from", "churn/dev", "--owner", "ana@example.com", "--dry-run")
    assert result.code == 0, result.err
    assert "network 10.10.65.0/24 (slot 1)" in result.out.splitlines()[0]


# --- the pool or the template changed ----------------------------------------------------------------------


def moved_pool(raw):
    raw["teams"][0]["ephemeral"]["network_pool"] = "10.10.66.0/23"  # was 10.10.64.0/22 (conftest)


def test_env_up_after_the_pool_moved_skips_slots_whose_network_a_live_env_holds(cli, fakes, config_path):
    edit_config(config_path, moved_pool)
    # Slot 2 of the old pool is 10.10.66.0/24: slot 0 of the new one. Its slot number is free, its network not.
    fakes.groups.groups = [live_env(env="pr1", slot="2", tagged_prefix=True, network="10.10.66.0/24")]
    result = cli("env", "up", "pr2", "--from", "churn/dev", "--owner", "ana@example.com", "--dry-run")
    assert result.code == 0, result.err
    assert "network 10.10.67.0/24 (slot 1)" in result.out.splitlines()[0]


def test_a_live_env_outside_a_shrunk_pool_is_still_removed_with_its_own_network(cli, fakes, config_path):
    edit_config(config_path, lambda raw: raw["teams"][0]["ephemeral"].update(network_pool="10.10.64.0/23"))
    fakes.groups.groups = [live_env(env="pr1", slot="3", tagged_prefix=True, network="10.10.67.0/24")]
    fakes.runner.stacks_with_state = {"churn-pr1-workspace", "churn-pr1-platform"}
    result = cli("env", "down", "pr1")
    assert result.code == 0, result.err
    assert fakes.events[-1] == "destroy churn-pr1-platform"
    assert fakes.synthesized_envs[0].settings.network == "10.10.67.0/24"


def test_a_live_env_is_removed_after_its_team_dropped_the_template(cli, fakes, config_path):
    edit_config(config_path, lambda raw: raw["teams"][0].pop("ephemeral"))
    fakes.groups.groups = [live_env(env="pr1", slot="1", tagged_prefix=True, network="10.10.65.0/24")]
    fakes.runner.stacks_with_state = {"churn-pr1-workspace", "churn-pr1-platform"}
    result = cli("env", "down", "pr1")
    assert result.code == 0, result.err
    assert fakes.events[-1] == "destroy churn-pr1-platform"


def test_an_env_is_tagged_with_its_prefix_and_network(config):
    base = next(te for te in config.team_envs if te.key == "churn/dev")
    env = cut(base, name="pr9", slot=1, owner="a@example.com", expires_at=datetime(2026, 11, 23, tzinfo=UTC))
    assert env.tags["platform-prefix"] == "dbp" and env.tags["network"] == "10.10.65.0/24"


def test_a_wrong_prefix_for_env_down_is_refused(config, fakes):
    fakes.groups.groups = [live_env(env="pr1")]
    with pytest.raises(InputProblem, match="'pr1' was created under prefix 'dbp', not 'xyz'"):
        env_down("pr1", config=config, services=fakes.services(), dry_run=False, report=print, prefix="xyz")


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ({"platform-prefix": "../x"}, "platform-prefix '../x' is not a platform prefix"),
        ({"network": "10.10.64.0/33"}, "network '10.10.64.0/33' is not an IPv4 network"),
    ],
)
def test_prefix_and_network_tags_are_checked_before_they_name_anything(tags, why):
    with pytest.raises(UnreadableRecord, match=re.escape(why)):
        EphemeralRecord.from_tags("rg-dbp-churn-pr1", ephemeral_tags() | tags)
