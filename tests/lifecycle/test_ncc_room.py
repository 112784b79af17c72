"""`env up` refuses an AWS ephemeral env that would be its region's eleventh network connectivity configuration
(Databricks docs, "Manage network connectivity configurations": 10 per region and account), live envs counted."""

from datetime import UTC, datetime

import pytest
import yaml

from infra.config import parse_config
from infra.lifecycle.ephemeral import EphemeralRecord, cut
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.ncc_room import check_ncc_room
from tests.infra.test_config_deploy_runner import committed

EXPIRES = datetime(2026, 12, 7, tzinfo=UTC)


def _live(
    name: str, *, base_env: str = "prod", region: str = "eu-west-1", team: str = "risk"
) -> EphemeralRecord:
    return EphemeralRecord(
        tags={}, team=team, name=name, base_env=base_env, owner="a@example.com", expires_at=EXPIRES,
        network_slot=0, prefix="dbp", region=region,
    )  # fmt: skip


@pytest.fixture(scope="module")
def config():
    """The committed config, risk's dev and staging with restricted serverless egress too: 3 NCCs in eu-west-1."""
    raw = committed()
    risk = next(t for t in raw["teams"] if t["name"] == "risk")
    for env in ("dev", "staging"):
        risk["environments"][env]["serverless"] = {"restricted_egress": True}
    return parse_config(yaml.safe_dump(raw))


def _from(config, base_env: str, name: str = "pr42"):
    base = next(te for te in config.team_envs if te.key == f"risk/{base_env}")
    return cut(base, name=name, slot=0, owner="a@example.com", expires_at=EXPIRES)


def test_the_eleventh_ncc_of_a_region_is_refused(config):
    live = [_live(f"pr{n}") for n in range(7)]  # 3 permanent + 7 live = 10
    with pytest.raises(InputProblem, match="eu-west-1 already holds 3 permanent and 7 live ephemeral"):
        check_ncc_room(config, _from(config, "prod"), live)


def test_room_left_updates_in_place_and_other_regions_pass(config):
    check_ncc_room(config, _from(config, "prod"), [_live(f"pr{n}") for n in range(6)])
    full = [_live(f"pr{n}") for n in range(7)]
    check_ncc_room(config, _from(config, "prod", name="pr3"), full)  # pr3 is live: an update, no new NCC
    check_ncc_room(config, _from(config, "prod"), [_live(f"pr{n}", region="us-east-1") for n in range(7)])


def test_another_teams_live_env_of_the_same_name_is_no_update_in_place(config):
    """fraud/pr3 is live in eu-west-1 (its NCC counted: its team is not in this config). risk/pr3 is a new env with
    an NCC of its own, not an update of fraud's: with 3 permanent and 7 live, it is the region's eleventh."""
    full = [_live(f"pr{n}", team="fraud") for n in range(7)]
    with pytest.raises(InputProblem, match="already holds 3 permanent and 7 live ephemeral"):
        check_ncc_room(config, _from(config, "prod", name="pr3"), full)


def test_live_envs_of_a_base_without_an_ncc_do_not_count_unknown_bases_do():
    raw = committed()
    config = parse_config(yaml.safe_dump(raw))  # risk/dev has none, prod has one
    check_ncc_room(config, _from(config, "prod"), [_live(f"pr{n}", base_env="dev") for n in range(20)])
    with pytest.raises(InputProblem):
        check_ncc_room(config, _from(config, "prod"), [_live(f"pr{n}", base_env="gone") for n in range(9)])


def test_an_env_without_an_ncc_is_never_refused():
    raw = committed()
    plain = parse_config(yaml.safe_dump(raw))
    check_ncc_room(plain, _from(plain, "dev"), [_live(f"pr{n}") for n in range(20)])
