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


def _tasks_in_key_order(config: dict[str, Any], _: RuleContext) -> str | None:
    """databricks v1.99.0 jobs/resource_job.go (JobSettings.adjustTasks, sortTasksByKey; jobs/jobs_api_go_sdk.go
    for the Go SDK path): on every read the provider sorts a job's tasks by task_key, and each task's
    depends_on by task_key. Declared in any other order, every plan shows an update and every apply rewrites
    the job. Run order comes from depends_on, not from the declaration order."""
    tasks = [t for t in config.get("task") or [] if isinstance(t, dict)]
    keys = [str(t.get("task_key")) for t in tasks]
    if keys != sorted(keys):
        return (
            f"tasks {keys} must be declared in task_key order {sorted(keys)} (the provider reads them sorted)"
        )
    for task in tasks:
        upstream = [str(d.get("task_key")) for d in task.get("depends_on") or [] if isinstance(d, dict)]
        if upstream != sorted(upstream):
            return f"task {task.get('task_key')!r}: depends_on {upstream} must be in task_key order"
    return None


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


# Highest level each object type allows; the deployer must keep it, or the next apply locks it out. The
# deployer owns the jobs it deploys (see _job_has_one_owner).
_DEPLOYER_LEVELS = {"cluster_policy_id": ("CAN_USE",), "job_id": ("IS_OWNER",)}
_MANAGE_LEVELS = ("CAN_MANAGE", "IS_OWNER")
_PRINCIPAL_KEYS = ("service_principal_name", "user_name", "group_name")


def _principal(entry: dict[str, Any]) -> str:
    return next((str(entry[key]) for key in _PRINCIPAL_KEYS if entry.get(key)), "?")


def _job_has_one_owner(config: dict[str, Any], _: RuleContext) -> str | None:
    """databricks 1.99 permissions/permission_definitions.go (addOwnerPermissionIfNeeded): when no entry is
    IS_OWNER, the provider appends the caller as IS_OWNER; the permissions API keeps one level per principal,
    so a caller that is also listed at another level gets an apply error or a diff on every plan. Jobs take
    IS_OWNER (permission_definitions.go, job_id): every job's ACL names exactly one owner and each principal
    once."""
    entries = [e for e in config.get("access_control") or [] if isinstance(e, dict)]
    seen: dict[str, int] = {}
    for entry in entries:
        seen[_principal(entry)] = seen.get(_principal(entry), 0) + 1
    twice = sorted(p for p, count in seen.items() if count > 1)
    if twice:
        return f"principals {twice} are listed more than once; the backend keeps one level per principal"
    if not config.get("job_id"):
        return None
    owners = [_principal(e) for e in entries if e.get("permission_level") == "IS_OWNER"]
    if len(owners) != 1:
        return f"job permissions must name exactly one IS_OWNER (found {owners or 'none'})"
    return None


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
            "PLAT-DBX-8",
            ("databricks_job",),
            "a job declares its tasks (and each task's depends_on) in task_key order, as the provider reads them",
            _tasks_in_key_order,
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
            "PLAT-DBX-7",
            ("databricks_permissions",),
            "each principal is listed once, and a job has exactly one IS_OWNER",
            _job_has_one_owner,
        ),
        Rule(
            "PLAT-DBX-6",
            ("databricks_workspace_conf",),
            "personal access tokens are disabled in the workspace unless the config allows them",
            _tokens_match_config,
        ),
    ),
)
