"""Key Vault: RBAC, purge protection, firewall, soft-delete retention."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, expect, first_block


def _purge_protection(config: dict[str, Any], ctx: RuleContext) -> str | None:
    wanted = not ctx.team_env.is_ephemeral
    if bool(config.get("purge_protection_enabled")) == wanted:
        return None
    return (
        "purge protection must be on outside ephemeral envs"
        if wanted
        else ("purge protection must be off in ephemeral envs, or they cannot be torn down")
    )


def _kv_network_denied(config: dict[str, Any], _: RuleContext) -> str | None:
    return expect(
        first_block(config.get("network_acls")),
        "default_action",
        "Deny",
        "key vault firewall must deny by default",
    )


MAX_SOFT_DELETE_DAYS = 90


def _kv_soft_delete(config: dict[str, Any], ctx: RuleContext) -> str | None:
    days = config.get("soft_delete_retention_days")
    if not isinstance(days, int | float) or not 7 <= days <= MAX_SOFT_DELETE_DAYS:
        return f"soft_delete_retention_days must be set explicitly to 7-90 (is {days!r})"
    if not ctx.team_env.is_ephemeral and days != MAX_SOFT_DELETE_DAYS:
        return f"soft delete must keep deleted secrets {MAX_SOFT_DELETE_DAYS} days outside ephemeral envs (is {days})"
    return None


AZURE_KEY_VAULT = RulePack(
    "azure_key_vault",
    (
        Rule(
            "PLAT-KV-1",
            ("azurerm_key_vault",),
            "RBAC authorization instead of access policies",
            lambda c, _: expect(
                c, "rbac_authorization_enabled", True, "key vault must use RBAC authorization"
            ),
        ),
        Rule(
            "PLAT-KV-2", ("azurerm_key_vault",), "purge protection outside ephemeral envs", _purge_protection
        ),
        Rule("PLAT-KV-3", ("azurerm_key_vault",), "firewall denies by default", _kv_network_denied),
        Rule(
            "PLAT-KV-4",
            ("azurerm_key_vault",),
            "soft delete retention explicit: 90 days outside ephemeral envs",
            _kv_soft_delete,
        ),
    ),
)
