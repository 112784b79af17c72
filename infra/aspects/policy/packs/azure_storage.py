"""ADLS Gen2 lake storage: namespace, TLS, firewall, shared keys, soft delete, redundancy."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, expect, first_block


def _storage_network_denied(config: dict[str, Any], _: RuleContext) -> str | None:
    rules = first_block(config.get("network_rules"))
    if rules.get("default_action") != "Deny":
        return "storage firewall must deny by default (network_rules.default_action = Deny)"
    if not rules.get("private_link_access"):
        return (
            "storage firewall must admit the Databricks access connector (network_rules.private_link_access)"
        )
    return None


def _soft_delete(config: dict[str, Any], _: RuleContext) -> str | None:
    blob = first_block(config.get("blob_properties"))
    missing = [
        key for key in ("delete_retention_policy", "container_delete_retention_policy") if not blob.get(key)
    ]
    return (
        f"blob and container soft delete must be on (missing blob_properties.{missing[0]})"
        if missing
        else None
    )


def _trusted_services_bypass(config: dict[str, Any], _: RuleContext) -> str | None:
    bypass = first_block(config.get("network_rules")).get("bypass") or []
    if "AzureServices" in bypass:
        return None
    return f"storage firewall must let trusted Azure services through (network_rules.bypass is {bypass!r})"


GEO_REDUNDANT = ("GRS", "RAGRS", "GZRS", "RAGZRS")


def _prod_geo_redundant(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if ctx.team_env.kind != "prod" or config.get("account_replication_type") in GEO_REDUNDANT:
        return None
    return (
        f"prod lake storage must be geo-redundant ({'/'.join(GEO_REDUNDANT)}); "
        f"account_replication_type is {config.get('account_replication_type')!r}"
    )


AZURE_STORAGE = RulePack(
    "azure_storage",
    (
        Rule(
            "PLAT-ST-1",
            ("azurerm_storage_account",),
            "hierarchical namespace (ADLS Gen2)",
            lambda c, _: expect(c, "is_hns_enabled", True, "lake storage needs a hierarchical namespace"),
        ),
        Rule(
            "PLAT-ST-2",
            ("azurerm_storage_account",),
            "TLS 1.2 minimum",
            lambda c, _: expect(c, "min_tls_version", "TLS1_2", "storage must require TLS 1.2"),
        ),
        Rule(
            "PLAT-ST-3",
            ("azurerm_storage_account",),
            "HTTPS only",
            lambda c, _: expect(c, "https_traffic_only_enabled", True, "storage must refuse plain HTTP"),
        ),
        Rule(
            "PLAT-ST-4",
            ("azurerm_storage_account",),
            "no anonymous blob access",
            lambda c, _: expect(
                c, "allow_nested_items_to_be_public", False, "storage must not allow anonymous access"
            ),
        ),
        Rule(
            "PLAT-ST-5",
            ("azurerm_storage_account",),
            "shared-key access off (Entra ID only)",
            lambda c, _: expect(c, "shared_access_key_enabled", False, "storage must disable shared keys"),
        ),
        Rule(
            "PLAT-ST-6",
            ("azurerm_storage_account",),
            "firewall denies by default, admits the access connector",
            _storage_network_denied,
        ),
        Rule(
            "PLAT-ST-7",
            ("azurerm_storage_account",),
            "infrastructure (double) encryption",
            lambda c, _: expect(
                c, "infrastructure_encryption_enabled", True, "storage needs infrastructure encryption"
            ),
        ),
        Rule("PLAT-ST-8", ("azurerm_storage_account",), "blob and container soft delete", _soft_delete),
        Rule(
            "PLAT-ST-9",
            ("azurerm_storage_account",),
            "firewall lets trusted Azure services through (bypass AzureServices)",
            _trusted_services_bypass,
        ),
        Rule(
            "PLAT-ST-10",
            ("azurerm_storage_account",),
            "prod lake storage is geo-redundant",
            _prod_geo_redundant,
        ),
    ),
)
