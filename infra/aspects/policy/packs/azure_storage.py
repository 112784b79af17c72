"""ADLS Gen2 lake storage: namespace, TLS, firewall, shared keys, soft delete, redundancy."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, expect, first_block, reference
from infra.aspects.policy.packs.azure_private_link import missing_private_endpoints

LAKE_SUBRESOURCES = ("dfs", "blob")


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


def _network_isolation_as_configured(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if ctx.team_env.settings.network_isolation != "private":
        # The subnets' service endpoints and the firewall's subnet rules only work with public access enabled
        # ("from selected networks"); Disabled would cut the clusters off the lake.
        return expect(
            config,
            "public_network_access_enabled",
            True,
            "service-endpoint lakes keep the firewalled endpoint",
        )
    return expect(
        config, "public_network_access_enabled", False, "a private lake must disable public network access"
    ) or missing_private_endpoints(ctx, LAKE_SUBRESOURCES, "a private lake")


def _customer_managed_key(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if ctx.team_env.customer_managed_key is None:
        return None
    if first_block(config.get("identity")).get("type") != "SystemAssigned":
        return "a lake with a customer-managed key needs its system-assigned identity (identity.type)"
    target = reference(ctx.address)
    for key in ctx.stack.resources("azurerm_storage_account_customer_managed_key"):
        if key.config.get("storage_account_id") == target:
            return None
    return f"no azurerm_storage_account_customer_managed_key encrypts {target} with the env's key"


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
        Rule(
            "PLAT-ST-11",
            ("azurerm_storage_account",),
            "lake network path as the env's network_isolation: private = no public access, dfs and blob "
            "private endpoints; service_endpoints = the firewalled public endpoint",
            _network_isolation_as_configured,
        ),
        Rule(
            "PLAT-ST-12",
            ("azurerm_storage_account",),
            "envs with a customer-managed key encrypt the lake with it (system-assigned identity)",
            _customer_managed_key,
        ),
    ),
)
