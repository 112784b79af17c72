"""What a bundle workload needs from the rest of the config to deploy as configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.config.base import team_paths
from infra.config.workload import BundleWorkload

if TYPE_CHECKING:
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig


def bundle_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """One line per bundle workload whose CI identity cannot be created, with its field path.

    The CI identity is a federation policy on the workload's run_as service principal
    (databricks_service_principal_federation_policy): an account-level resource (its provider code calls
    GetAccountClient, internal/providers/pluginfw/products/service_principal_federation_policy, databricks
    v1.99.0), so the workspace stack creates it through an account-level provider, which needs the account ID.
    """
    problems = []
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for index, workload in enumerate(team.workloads):
            if isinstance(workload, BundleWorkload) and workload.ci and platform.account_id is None:
                problems.append(
                    f"{path}.workloads[{index}].ci: needs platform.account_id (the CI's federation policy is a "
                    "Databricks account-level resource); set it, or remove ci and deploy the bundle by hand"
                )
    return problems
