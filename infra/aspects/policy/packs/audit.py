"""Audit and detection: prod workspaces keep their audit alerts, AWS prod workspaces deliver their audit logs, the
system schemas of a protected env refuse a destroy, and no alert notifies nobody."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, first_block, reference
from infra.config.audit import has_system_tables
from infra.config.security_analysis_tool import SAT_TAG

# What every prod workspace stack watches in system.access.audit (infra/constructs/databricks/audit_alerts.py).
REQUIRED_DETECTIONS = {
    "admin changes": "'admins'",
    "failed logins": "login",
    "token creation": "generateDbToken",
    "IP access list changes": "IpAccessList",
}


def _prod_workspace_alerts(_: dict[str, Any], ctx: RuleContext) -> str | None:
    if ctx.team_env.kind != "prod" or not has_system_tables(ctx.team_env.team):
        return None  # without system tables (infra/config/audit.py) there is no audit table to alert on
    queries = [
        str(block.config.get("query_text", ""))
        for block in ctx.stack.resources("databricks_alert_v2")
        if "system.access.audit" in str(block.config.get("query_text", ""))
        and "workspace_id" in str(block.config.get("query_text", ""))
    ]
    missing = [what for what, marker in REQUIRED_DETECTIONS.items() if not any(marker in q for q in queries)]
    if missing:
        return f"prod workspace has no audit alert on system.access.audit for: {', '.join(missing)}"
    return None


def _prod_audit_log_delivery(_: dict[str, Any], ctx: RuleContext) -> str | None:
    if ctx.team_env.kind != "prod":
        return None
    workspace_id = reference(ctx.address, "workspace_id")
    for block in ctx.stack.resources("databricks_mws_log_delivery"):
        config = block.config
        if (
            config.get("log_type") == "AUDIT_LOGS"
            and config.get("status", "ENABLED") == "ENABLED"
            and workspace_id in (config.get("workspace_ids_filter") or [])
        ):
            return None
    return f"prod workspace delivers no audit logs (no enabled AUDIT_LOGS databricks_mws_log_delivery for {workspace_id})"


def _system_schema_kept(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if not ctx.team_env.settings.prevent_destroy or ctx.team_env.is_ephemeral:
        return None
    if first_block(config.get("lifecycle")).get("prevent_destroy") is True:
        return None
    return (
        "system schema of a protected env lacks prevent_destroy: destroying it disables the schema for every "
        "workspace of the metastore"
    )


def _alert_notifies_someone(config: dict[str, Any], _: RuleContext) -> str | None:
    notification = first_block(first_block(config.get("evaluation")).get("notification"))
    if notification.get("subscriptions"):
        return None
    return "alert notifies nobody (evaluation.notification.subscriptions is empty)"


def _repo_pinned_to_a_tag(config: dict[str, Any], _: RuleContext) -> str | None:
    """A Git folder that jobs run code from (the Security Analysis Tool's) follows a release tag, never a branch:
    with `branch` every `update` of the folder would run whatever the branch holds that day (SAT's own repo.tf
    tracks `main`). databricks v1.99.0 repos/resource_repo.go: `tag` conflicts with `branch`."""
    if config.get("branch") or not config.get("tag"):
        return (
            f"Git folder {config.get('path')!r} follows branch {config.get('branch')!r}, not a release tag; set "
            f"tag (e.g. {SAT_TAG!r})"
        )
    return None


def _workspace_sends_all_logs(_: dict[str, Any], ctx: RuleContext) -> str | None:
    target = reference(ctx.address)
    settings = [
        block.config
        for block in ctx.stack.resources("azurerm_monitor_diagnostic_setting")
        if block.config.get("target_resource_id") == target
    ]
    if not settings:
        return None  # no diagnostics at all: PLAT-MON-1's finding
    for setting in settings:
        if "allLogs" in {entry.get("category_group") for entry in setting.get("enabled_log") or []}:
            return None
    return (
        f"no diagnostic setting sends every log category of {target} (enabled_log category_group allLogs): a "
        "hand-picked list misses the categories Azure Databricks adds"
    )


AUDIT_WORKSPACE = RulePack(
    "audit-workspace",
    (
        Rule(
            "PLAT-AUDIT-1",
            # Anchored on the workspace conf, which every workspace stack has (WorkspaceSettings) and no other stack.
            ("databricks_workspace_conf",),
            "prod workspaces alert on admin changes, failed logins, token creation and IP access list changes",
            _prod_workspace_alerts,
        ),
        Rule(
            "PLAT-AUDIT-3",
            ("databricks_system_schema",),
            "system schemas of a protected env refuse a destroy (it disables them for the whole metastore)",
            _system_schema_kept,
        ),
        Rule(
            "PLAT-AUDIT-4", ("databricks_alert_v2",), "every alert notifies someone", _alert_notifies_someone
        ),
        Rule(
            "PLAT-AUDIT-6",
            ("databricks_repo",),
            "Git folders (the Security Analysis Tool's) check out a release tag, never a branch",
            _repo_pinned_to_a_tag,
        ),
    ),
)
"""Rules for a workspace stack."""

AUDIT_ACCOUNT = RulePack(
    "audit-account",
    (
        Rule(
            "PLAT-AUDIT-2",
            ("databricks_mws_workspaces",),
            "prod workspaces on AWS deliver their audit logs (databricks_mws_log_delivery, AUDIT_LOGS)",
            _prod_audit_log_delivery,
        ),
    ),
)
"""Rules for an AWS account stack."""

AUDIT_AZURE = RulePack(
    "audit-azure",
    (
        Rule(
            "PLAT-AUDIT-5",
            ("azurerm_databricks_workspace",),
            "the workspace sends all its diagnostic log categories (allLogs) to Log Analytics",
            _workspace_sends_all_logs,
        ),
    ),
)
"""Rules for an Azure platform stack."""
