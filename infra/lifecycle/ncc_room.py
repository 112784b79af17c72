"""`env up`: room for one more network connectivity configuration (NCC) in the region, ephemeral envs counted.

Databricks allows 10 NCCs per region and account (infra/config/serverless.py, NCCS_PER_REGION). Validate counts the
permanent envs; an AWS ephemeral env cut from an env with restricted serverless egress or serverless jobs gets an
NCC of its own, so `env up` counts the live ones too (from their tags, as everywhere in the lifecycle) before it
creates another. A live env whose base env the config no longer knows is counted: it may hold one.
"""

from __future__ import annotations

from collections.abc import Iterable

from infra.config import TeamEnv
from infra.config.model import PlatformConfig
from infra.config.serverless import NCCS_PER_REGION, has_ncc
from infra.lifecycle.ephemeral import EphemeralRecord
from infra.lifecycle.errors import InputProblem


def _live_holds_ncc(config: PlatformConfig, record: EphemeralRecord) -> bool:
    team = next((t for t in config.teams if t.name == record.team), None)
    base = team.environments.get(record.base_env) if team is not None else None
    return base is None or has_ncc("aws", base)


def check_ncc_room(config: PlatformConfig, team_env: TeamEnv, live: Iterable[EphemeralRecord]) -> None:
    """Refuses a new ephemeral env that would be the region's eleventh NCC (live envs updated in place pass)."""
    if not has_ncc(team_env.team.cloud, team_env.settings):
        return
    region = team_env.team.region
    live = [r for r in live if r.region == region]  # AWS records carry their region (Azure ones none)
    if any(r.team == team_env.team.name and r.name == team_env.env for r in live):  # its own NCC, updated
        return
    permanent = sum(
        has_ncc(team.cloud, settings)
        for team in config.teams
        if team.cloud == "aws" and team.region == region
        for settings in team.environments.values()
    )
    ephemeral = sum(_live_holds_ncc(config, r) for r in live)
    if permanent + ephemeral + 1 > NCCS_PER_REGION:
        raise InputProblem(
            "--from",
            f"{team_env.base_env!r} gives each ephemeral env a network connectivity configuration, and {region} "
            f"already holds {permanent} permanent and {ephemeral} live ephemeral ones of the {NCCS_PER_REGION} "
            "Databricks allows per region; take an env down first (`platform env list`)",
        )
