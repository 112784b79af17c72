"""Config choices that validate but cannot deploy as written: one warning line each, naming the field.

Errors (what can never deploy) live in the models; these are choices that need something outside the config
(a tenant object id, an account admin, a workspace preview) and leave part of an env missing or failing until
it is there. `platform validate` prints them; the stacks say the same at synth.
"""

from __future__ import annotations

from infra.config.audit import audit_warnings
from infra.config.aws import aws_deploy_warnings
from infra.config.base import team_paths
from infra.config.egress import firewall_address_warnings, remote_endpoint_warnings
from infra.config.hardening import hardening_warnings
from infra.config.model import PlatformConfig
from infra.config.node_types import node_type_warning
from infra.config.offline_packages import bundle_egress_warnings
from infra.config.serverless import serverless_warnings
from infra.config.team import MODEL_NAME_DEPRECATED, TeamConfig


def deploy_warnings(config: PlatformConfig) -> list[str]:
    platform = config.platform
    warnings = []
    if platform.azure_databricks_sp_object_id is None:
        warnings.append(
            "platform.azure_databricks_sp_object_id: unset, so no env gets a Key Vault-backed secret scope "
            "(the AzureDatabricks application needs Key Vault Secrets User on the RBAC vault to read it)"
        )
    if platform.account_id is None:
        warnings.append(
            "platform.account_id: unset, so the deployer is not given the Service Principal User role on the job "
            "principals; creating the jobs (run_as) fails until an account admin grants it"
        )
    warnings += firewall_address_warnings(platform) + remote_endpoint_warnings(config.teams)
    for path, team in zip(team_paths([team.name for team in config.teams]), config.teams, strict=True):
        warnings += _node_type_warnings(path, team)
        if team.model_name_deprecated:
            warnings.append(f"{path}.model_name: {MODEL_NAME_DEPRECATED}")
        warnings += [
            f"{path}.{setting}: only the churn preset's jobs, endpoint and monitor read it, and the team has no "
            "churn workload; it deploys nothing (remove it, or put it in the team's own jobs and bundle)"
            for setting in team.unused_churn_settings
        ]
        for env, settings in team.environments.items():
            if settings.interactive_cluster:
                # databricks 1.99 docs/resources/cluster.md: kind CLASSIC_PREVIEW "if corresponding public
                # preview is enabled"; a group-assigned dedicated cluster needs that kind.
                warnings.append(
                    f"{path}.environments.{env}.interactive_cluster: the group-assigned team cluster "
                    "needs kind CLASSIC_PREVIEW, which the workspace accepts only with the corresponding "
                    "public preview enabled"
                )
    warnings += serverless_warnings(config.teams) + bundle_egress_warnings(config.teams)
    return (
        warnings
        + aws_deploy_warnings(config.teams)
        + audit_warnings(platform, config.teams)
        + hardening_warnings(platform, config.teams)
    )


def _node_type_warnings(path: str, team: TeamConfig) -> list[str]:
    """Well-formed node types the catalogue lacks: new families deploy, so they are not refused (node_types.py)."""
    computes = [(f"{path}.environments.{env}.compute", s.compute) for env, s in team.environments.items()]
    if team.ephemeral:
        computes.append((f"{path}.ephemeral.compute", team.ephemeral.compute))
    return [
        f"{where}.node_type: {warning}"
        for where, compute in computes
        if (warning := node_type_warning(team.cloud, compute.node_type))
    ]
