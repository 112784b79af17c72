"""Diagnostics to Log Analytics, Entra-only Log Analytics."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, expect, reference

# Storage logs exist per service: the lake is read and written through the blob (and DFS) endpoint, whose
# requests are logged by the blob service. Other types log at the resource itself.
DIAGNOSTIC_TARGET_SUFFIX = {"azurerm_storage_account": "/blobServices/default"}


def _diagnostics_to_log_analytics(config: dict[str, Any], ctx: RuleContext) -> str | None:
    resource_type = ctx.address.split(".", 1)[0]
    target = reference(ctx.address) + DIAGNOSTIC_TARGET_SUFFIX.get(resource_type, "")
    for setting in (block.config for block in ctx.stack.resources("azurerm_monitor_diagnostic_setting")):
        if (
            setting.get("target_resource_id") == target
            and setting.get("log_analytics_workspace_id")
            and setting.get("enabled_log")
        ):
            return None
    return f"no diagnostic setting sends the logs of {target} to a Log Analytics workspace"


def _log_analytics_entra_only(config: dict[str, Any], _: RuleContext) -> str | None:
    return expect(
        config,
        "local_authentication_enabled",
        False,
        "Log Analytics must accept Entra ID only (diagnostic settings do not use the workspace keys)",
    )


AZURE_MONITORING = RulePack(
    "azure_monitoring",
    (
        Rule(
            "PLAT-MON-1",
            ("azurerm_databricks_workspace", "azurerm_storage_account", "azurerm_key_vault"),
            "diagnostics go to Log Analytics (storage: its blob service)",
            _diagnostics_to_log_analytics,
        ),
        Rule(
            "PLAT-MON-2",
            ("azurerm_log_analytics_workspace",),
            "Log Analytics accepts Entra ID only (no workspace shared keys)",
            _log_analytics_entra_only,
        ),
    ),
)
