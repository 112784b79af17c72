"""Key Vault: RBAC, purge protection, firewall, soft-delete retention."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, expect, first_block
from infra.aspects.policy.packs.azure_private_link import missing_private_endpoints


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


def _network_isolation_as_configured(config: dict[str, Any], ctx: RuleContext) -> str | None:
    # The Key Vault-backed secret scope (AzureDatabricks) and customer-managed keys (storage, disk encryption
    # set, AzureDatabricks) reach the vault only as trusted services: the bypass stays in every mode.
    bypass = first_block(config.get("network_acls")).get("bypass")
    if bypass != "AzureServices":
        return (
            f"key vault firewall must let trusted Azure services through (network_acls.bypass is {bypass!r}): "
            "the secret scope and customer-managed keys use that path"
        )
    if ctx.team_env.settings.network_isolation != "private":
        return None
    return expect(
        config, "public_network_access_enabled", False, "a private vault must disable public network access"
    ) or missing_private_endpoints(ctx, ("vault",), "a private vault")


def _automatic_rotation(config: dict[str, Any], _: RuleContext) -> str | None:
    policy = first_block(config.get("rotation_policy"))
    # azurerm 4.55.0 reads a version's expiry back into expiration_date and forces a new key when config has
    # none (key_vault_key_resource.go): an expire_after would make the plan after each rotation replace the key.
    if policy.get("expire_after") and not config.get("expiration_date"):
        return "rotation_policy.expire_after without expiration_date makes azurerm replace the key after rotation"
    automatic = first_block(policy.get("automatic"))
    if automatic.get("time_after_creation") or automatic.get("time_before_expiry"):
        return None
    return "keys must rotate automatically (rotation_policy.automatic)"


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
        Rule(
            "PLAT-KV-5",
            ("azurerm_key_vault",),
            "trusted-services bypass always (secret scope, CMK); private isolation = no public access and a "
            "vault private endpoint",
            _network_isolation_as_configured,
        ),
        Rule(
            "PLAT-KV-6",
            ("azurerm_key_vault_key",),
            "keys rotate automatically, without a rotation expiry that azurerm would turn into a key replacement",
            _automatic_rotation,
        ),
    ),
)
