"""Databricks workspace objects: no PATs, jobs as service principals, governed compute, permissions."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, first_block


def _job_runs_as_service_principal(config: dict[str, Any], _: RuleContext) -> str | None:
    run_as = first_block(config.get("run_as"))
    return None if run_as.get("service_principal_name") else "job must run as a service principal (run_as)"


def _job_clusters_governed(config: dict[str, Any], _: RuleContext) -> str | None:
    clusters = config.get("job_cluster") or []
    ungoverned = [
        c.get("job_cluster_key") for c in clusters if not first_block(c.get("new_cluster")).get("policy_id")
    ]
    return f"job clusters {ungoverned} have no cluster policy" if ungoverned else None


def _cluster_governed(config: dict[str, Any], _: RuleContext) -> str | None:
    return None if config.get("policy_id") else "cluster has no cluster policy (policy_id)"


def _never(config: dict[str, Any], _: RuleContext) -> str | None:
    return "personal access tokens are not allowed; use service principals and Entra ID"


def _tokens_match_config(config: dict[str, Any], ctx: RuleContext) -> str | None:
    allowed = ctx.team_env.platform.personal_access_tokens
    wanted = "true" if allowed else "false"
    actual = (config.get("custom_config") or {}).get("enableTokensConfig")
    if actual == wanted:
        return None
    return f"workspace setting enableTokensConfig is {actual!r}; platform.personal_access_tokens asks for {wanted!r}"


# Highest level each object type allows; the deployer must keep it, or the next apply locks it out.
_DEPLOYER_LEVELS = {"cluster_policy_id": ("CAN_USE",)}
_MANAGE_LEVELS = ("CAN_MANAGE", "IS_OWNER")


def _deployer_keeps_access(config: dict[str, Any], ctx: RuleContext) -> str | None:
    deployer = ctx.team_env.platform.deployer_principal
    entries = config.get("access_control")
    if not isinstance(entries, list):
        return "access_control must be a literal list so the deployer's entry can be checked"
    levels = sorted(
        str(entry.get("permission_level"))
        for entry in entries
        if isinstance(entry, dict)
        and deployer in (entry.get("service_principal_name"), entry.get("user_name"), entry.get("group_name"))
    )
    wanted = next((lv for key, lv in _DEPLOYER_LEVELS.items() if config.get(key)), _MANAGE_LEVELS)
    if set(levels) & set(wanted):
        return None
    return (
        f"authoritative permissions must keep the deployer {deployer!r} at {' or '.join(wanted)} "
        f"(it has {', '.join(levels) or 'no entry'})"
    )


DATABRICKS = RulePack(
    "databricks",
    (
        Rule("PLAT-DBX-1", ("databricks_token", "databricks_obo_token"), "no personal access tokens", _never),
        Rule(
            "PLAT-DBX-2",
            ("databricks_job",),
            "jobs run as a service principal",
            _job_runs_as_service_principal,
        ),
        Rule(
            "PLAT-DBX-3",
            ("databricks_job",),
            "job clusters are governed by a cluster policy",
            _job_clusters_governed,
        ),
        Rule(
            "PLAT-DBX-4",
            ("databricks_cluster",),
            "all-purpose clusters are governed by a cluster policy",
            _cluster_governed,
        ),
        Rule(
            "PLAT-DBX-5",
            ("databricks_permissions",),
            "authoritative permissions keep the deploying principal at the object's top level",
            _deployer_keeps_access,
        ),
        Rule(
            "PLAT-DBX-6",
            ("databricks_workspace_conf",),
            "personal access tokens are disabled in the workspace unless the config allows them",
            _tokens_match_config,
        ),
    ),
)
