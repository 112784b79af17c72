"""What a bundle workload needs from the rest of the config to deploy as configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.config.base import team_paths
from infra.config.workload import BundleWorkload

if TYPE_CHECKING:
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

# Envs whose bundle targets are production ones: deployed as, and run as, the workload's service principal.
PRODUCTION_ENVS = ("staging", "prod")


def bundle_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """One line per bundle workload that cannot deploy as configured, with its field path.

    The CI identity is a federation policy on the workload's run_as service principal
    (databricks_service_principal_federation_policy): an account-level resource (its provider code calls
    GetAccountClient, internal/providers/pluginfw/products/service_principal_federation_policy, databricks
    v1.99.0), so the workspace stack creates it through an account-level provider, which needs the account ID.

    A staging or prod target runs as the principal and lives in its home folder (`platform bundle-targets`);
    setting a job's run_as needs the Service Principal User role on it, which only the platform's deployer holds
    (identity.py). Nobody of the team can deploy such a target by hand: the CI, signed in as the principal, can.
    """
    problems = []
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        production = [env for env in PRODUCTION_ENVS if env in team.environments]
        for index, workload in enumerate(team.workloads):
            if not isinstance(workload, BundleWorkload):
                continue
            where = f"{path}.workloads[{index}].ci"
            if workload.ci and workload.ci.github_repository.lower().endswith(".git"):
                problems.append(
                    f"{where}.github_repository: {workload.ci.github_repository!r} ends in .git; GitHub's OIDC "
                    "token names the repository as owner/repo, so write it without .git"
                )
            if workload.ci is None and production:
                problems.append(
                    f"{where}: required, the team has {' and '.join(production)}: staging and prod targets deploy "
                    "as the workload's run_as service principal, which only its CI (federated GitHub Actions) "
                    "signs in as; set ci.github_repository"
                    + (
                        ""
                        if platform.account_id
                        else " (and platform.account_id, where its federation policy lives)"
                    )
                )
            elif workload.ci and platform.account_id is None:
                problems.append(
                    f"{where}: needs platform.account_id (the CI's federation policy is a Databricks "
                    "account-level resource); set it"
                )
    return problems
