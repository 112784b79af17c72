"""Workspace hardening (config `hardening`): each control the env asks for is in its stacks, at least as strict.

A setting stricter than configured passes (dev may be hardened by hand); a control the env asks for that is missing
or relaxed fails. The workspace-stack rules anchor on `databricks_workspace_conf`, of which every workspace stack
has exactly one, so a stack that leaves a settings resource out fails too.
"""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, first_block
from infra.config.hardening import Hardening


def _conf_problems(hardening: Hardening, conf: dict[str, Any], *, ip_lists: bool) -> list[str]:
    # (key, value the config demands) for the keys where the config is the strict side.
    demanded = [
        ("enableVerboseAuditLogs", "true", hardening.verbose_audit_logs),
        ("enableResultsDownloading", "false", not hardening.results_download),
        ("enableExportNotebook", "false", not hardening.notebook_export),
        ("enableNotebookTableClipboard", "false", not hardening.notebook_table_clipboard),
        ("enableIpAccessLists", "true", ip_lists),
    ]
    return [
        f"{key} is {conf.get(key)!r}, hardening asks for {wanted!r}"
        for key, wanted, asked in demanded
        if asked and str(conf.get(key)).lower() != wanted
    ]


def _ip_lists(ctx: RuleContext) -> bool:
    settings = ctx.team_env.settings
    return bool(settings.hardening.ip_access_list) and settings.public_network_access


def _workspace_conf_hardened(config: dict[str, Any], ctx: RuleContext) -> str | None:
    problems = _conf_problems(
        ctx.team_env.settings.hardening, config.get("custom_config") or {}, ip_lists=_ip_lists(ctx)
    )
    return "workspace_conf: " + "; ".join(problems) if problems else None


def _setting(ctx: RuleContext, resource_type: str, block: str, key: str, wanted: Any) -> bool:
    return any(
        first_block(r.config.get(block)).get(key) == wanted for r in ctx.stack.resources(resource_type)
    )


def _settings_present(_: dict[str, Any], ctx: RuleContext) -> str | None:
    """databricks v1.99.0 settings/resource_*_setting.go: each control is its own workspace setting resource."""
    hardening = ctx.team_env.settings.hardening
    wanted = [
        (
            hardening.disable_legacy_access,
            "databricks_disable_legacy_access_setting",
            "disable_legacy_access",
            "value",
            True,
        ),
        (
            hardening.disable_legacy_dbfs,
            "databricks_disable_legacy_dbfs_setting",
            "disable_legacy_dbfs",
            "value",
            True,
        ),
        (
            hardening.restrict_workspace_admins,
            "databricks_restrict_workspace_admins_setting",
            "restrict_workspace_admins",
            "status",
            "RESTRICT_TOKENS_AND_JOB_RUN_AS",
        ),
    ]
    if ctx.team_env.team.cloud == "aws":  # on Azure these are the workspace's enhanced_security_compliance
        # The profile turns monitoring and cluster update on itself: their own settings only without it.
        separate = not hardening.compliance_security_profile
        wanted += [
            (
                hardening.compliance_security_profile,
                "databricks_compliance_security_profile_workspace_setting",
                "compliance_security_profile_workspace",
                "is_enabled",
                True,
            ),
            (
                hardening.enhanced_security_monitoring and separate,
                "databricks_enhanced_security_monitoring_workspace_setting",
                "enhanced_security_monitoring_workspace",
                "is_enabled",
                True,
            ),
            (
                hardening.automatic_cluster_update and separate,
                "databricks_automatic_cluster_update_workspace_setting",
                "automatic_cluster_update_workspace",
                "enabled",
                True,
            ),
        ]
    missing = [
        f"{resource_type} ({block}.{key} = {value!r})"
        for asked, resource_type, block, key, value in wanted
        if asked and not _setting(ctx, resource_type, block, key, value)
    ]
    return f"hardening asks for {', '.join(missing)}, which the stack lacks" if missing else None


def _ip_access_list_present(_: dict[str, Any], ctx: RuleContext) -> str | None:
    """databricks v1.99.0 docs/resources/ip_access_list.md: a list takes effect only with enableIpAccessLists, so
    it depends on the workspace_conf (created after it, destroyed before it)."""
    if not _ip_lists(ctx):
        return None
    configured = set(ctx.team_env.settings.hardening.ip_access_list)
    for block in ctx.stack.resources("databricks_ip_access_list"):
        config = block.config
        if (
            config.get("list_type") == "ALLOW"
            and config.get("enabled") is not False
            # The configured ranges, and possibly the clusters' NAT address the stack adds (a token).
            and configured <= set(config.get("ip_addresses") or [])
            and any(d.startswith("databricks_workspace_conf.") for d in config.get("depends_on") or [])
        ):
            return None
    return (
        "public front end without the configured IP access list (an enabled ALLOW databricks_ip_access_list "
        "holding hardening.ip_access_list, depending on the workspace_conf)"
    )


def _enhanced_security_compliance(config: dict[str, Any], ctx: RuleContext) -> str | None:
    """azurerm v4.55.0 databricks_workspace_resource.go: the profile, monitoring and cluster update are the
    workspace's enhanced_security_compliance block (premium SKU)."""
    hardening = ctx.team_env.settings.hardening
    block = first_block(config.get("enhanced_security_compliance"))
    wanted = [
        ("compliance_security_profile_enabled", hardening.compliance_security_profile),
        ("enhanced_security_monitoring_enabled", hardening.enhanced_security_monitoring),
        ("automatic_cluster_update_enabled", hardening.automatic_cluster_update),
    ]
    off = [key for key, asked in wanted if asked and block.get(key) is not True]
    standards = set(hardening.compliance_standards) - set(
        block.get("compliance_security_profile_standards") or []
    )
    if standards:
        off.append(f"compliance_security_profile_standards {sorted(standards)}")
    return f"enhanced_security_compliance lacks {', '.join(off)} that hardening asks for" if off else None


DATABRICKS_HARDENING = RulePack(
    "databricks-hardening",
    (
        Rule(
            "PLAT-DBX-HARDEN-1",
            ("databricks_workspace_conf",),
            "workspace_conf is at least as strict as the env's hardening (audit logs, downloads, export, IP lists)",
            _workspace_conf_hardened,
        ),
        Rule(
            "PLAT-DBX-HARDEN-2",
            ("databricks_workspace_conf",),
            "the workspace settings the env's hardening asks for exist (legacy access and DBFS off, admins "
            "restricted; on AWS the compliance profile, monitoring and cluster update)",
            _settings_present,
        ),
        Rule(
            "PLAT-DBX-HARDEN-3",
            ("databricks_workspace_conf",),
            "a public front end with a configured IP access list gets it, enabled, after enableIpAccessLists",
            _ip_access_list_present,
        ),
    ),
)
"""Rules of the workspace stack."""

AZURE_WORKSPACE_HARDENING = RulePack(
    "azure-workspace-hardening",
    (
        Rule(
            "PLAT-DBX-HARDEN-4",
            ("azurerm_databricks_workspace",),
            "an Azure workspace carries the compliance profile, monitoring and cluster update the env asks for",
            _enhanced_security_compliance,
        ),
    ),
)
"""Rules of an Azure team-env's platform stack."""
