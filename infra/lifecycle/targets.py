"""`TEAM/ENV` arguments: which team-env of platform.yaml a command is about."""

from __future__ import annotations

import re

from infra.config import PlatformConfig, TeamConfig, TeamEnv
from infra.config.base import EPHEMERAL_NAME
from infra.lifecycle.errors import InputProblem

_KEY = re.compile(r"([^/\s]+)/([^/\s]+)")


# The clouds whose team-envs the lifecycle commands (deploy, destroy, smoke, ephemeral envs) can run.
LIFECYCLE_CLOUDS = ("azure", "aws")


def has_lifecycle(team: TeamConfig) -> bool:
    return team.cloud in LIFECYCLE_CLOUDS


def split_key(text: str, *, field: str) -> tuple[str, str]:
    match = _KEY.fullmatch(text.strip())
    if not match:
        raise InputProblem(field, f"{text!r} is not of the form TEAM/ENV, e.g. churn/dev")
    return match.group(1), match.group(2)


def find_team(config: PlatformConfig, name: str, *, field: str) -> TeamConfig:
    try:
        team = config.team(name)
    except KeyError:
        known = ", ".join(team.name for team in config.teams)
        raise InputProblem(field, f"unknown team {name!r} (teams: {known})") from None
    if not has_lifecycle(team):  # refused rather than half-run
        raise InputProblem(
            field,
            f"team {name!r} runs on {team.cloud}: `platform synth` builds its stacks, but deploy, destroy, smoke "
            "and ephemeral envs are not wired for it yet (docs/aws.md)",
        )
    return team


def permanent_team_env(
    config: PlatformConfig, text: str, *, field: str = "TEAM/ENV", hint_ephemeral: bool = True
) -> TeamEnv:
    """The dev/staging/prod team-env named by ``text``; ephemeral envs have their own commands."""
    team_name, env = split_key(text, field=field)
    team = find_team(config, team_name, field=field)
    if env not in team.environments:
        envs = ", ".join(team.environments)
        hint = (
            "; ephemeral envs are managed with `platform env up/down`"
            if hint_ephemeral and team.ephemeral and re.fullmatch(EPHEMERAL_NAME, env)
            else ""
        )
        raise InputProblem(
            field, f"team {team_name!r} has no environment {env!r} (environments: {envs}){hint}"
        )
    return next(te for te in config.team_envs if te.team.name == team_name and te.env == env)
