"""Checks that look across teams or across clouds; the platform model runs them after each team is valid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.config.aws import aws_team_problems
from infra.config.base import team_paths
from infra.config.hardening import hardening_problems
from infra.config.node_types import node_type_problem
from infra.config.serverless import serverless_problems

if TYPE_CHECKING:
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig


def cloud_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """Cross-cloud mistakes, one line each with its field path (see base.CROSS_CHECK_MARK)."""
    problems: list[str] = []
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        problems += aws_team_problems(path, team)
        if team.cloud == "aws":
            if team.aws is None:
                problems.append(f"{path}.aws: a team with cloud: aws needs aws.account_id")
            if platform.account_id is None:
                problems.append(
                    f"platform.account_id: team {team.name!r} runs on AWS, where the Databricks account ID is "
                    "the external ID of the cross-account role; set it"
                )
        elif team.aws is not None:
            problems.append(
                f"{path}.aws: AWS settings on a team with cloud: azure; remove them or set cloud: aws"
            )
        computes = [(f"{path}.environments.{env}.compute", s.compute) for env, s in team.environments.items()]
        if team.ephemeral:
            computes.append((f"{path}.ephemeral.compute", team.ephemeral.compute))
        problems += [
            f"{where}.node_type: {problem}"
            for where, compute in computes
            if (problem := node_type_problem(team.cloud, compute.node_type))
        ]
    return problems + hardening_problems(teams) + serverless_problems(teams, account_id=platform.account_id)
