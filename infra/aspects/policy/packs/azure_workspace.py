"""Azure Databricks workspace: premium, VNet injection, no public IPs, front end, encryption."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, expect, first_block, reference
from infra.aspects.policy.packs.azure_private_link import (
    missing_private_endpoints,
    private_endpoint_subresources,
)

# The front end (UI and REST API) and Entra ID sign-in (SSO callbacks on <region>.pl-auth.azuredatabricks.net).
UI_API_SUBRESOURCE, BROWSER_AUTH_SUBRESOURCE = "databricks_ui_api", "browser_authentication"
PRIVATE_FRONT_END_SUBRESOURCES = (UI_API_SUBRESOURCE, BROWSER_AUTH_SUBRESOURCE)


def _vnet_injected(config: dict[str, Any], _: RuleContext) -> str | None:
    params = first_block(config.get("custom_parameters"))
    needed = [
        "virtual_network_id",
        "public_subnet_name",
        "private_subnet_name",
        "public_subnet_network_security_group_association_id",
        "private_subnet_network_security_group_association_id",
    ]
    missing = [key for key in needed if not params.get(key)]
    return f"workspace is not VNet-injected with an NSG (missing {', '.join(missing)})" if missing else None


def _front_end_as_configured(config: dict[str, Any], ctx: RuleContext) -> str | None:
    public = ctx.team_env.settings.public_network_access
    if config.get("public_network_access_enabled") is not public:
        return (
            f"front-end public access must follow the env's public_network_access ({public}); "
            f"public_network_access_enabled is {config.get('public_network_access_enabled')!r}"
        )
    # Azure rejects AllRules without public access; NoAzureDatabricksRules needs the private endpoint path.
    wanted = "AllRules" if public else "NoAzureDatabricksRules"
    return expect(
        config, "network_security_group_rules_required", wanted, "NSG rule mode must match the front end"
    )


def _private_front_end_reachable(_: dict[str, Any], ctx: RuleContext) -> str | None:
    if ctx.team_env.settings.public_network_access:
        return None
    if ctx.team_env.platform.hub_network is not None:
        # The hub keeps the region's one browser_authentication endpoint in the shared zone; another here would
        # take over its record, and deleting it would break sign-in to every private workspace of the region.
        if BROWSER_AUTH_SUBRESOURCE in private_endpoint_subresources(ctx):
            return "a workspace in the hub's shared DNS zones must not have its own browser_authentication endpoint"
        return missing_private_endpoints(ctx, (UI_API_SUBRESOURCE,), "a workspace with a private front end")
    return missing_private_endpoints(
        ctx,
        PRIVATE_FRONT_END_SUBRESOURCES,
        "a workspace with a private front end (UI/API and browser sign-in)",
    )


CMK_ARGUMENTS = ("managed_services_cmk_key_vault_key_id", "managed_disk_cmk_key_vault_key_id")


def _customer_managed_key(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if ctx.team_env.customer_managed_key is None:
        return None
    # The DBFS root key resource refuses a workspace that did not prepare encryption (azurerm 4.55.0).
    if config.get("customer_managed_key_enabled") is not True:
        return "a workspace with a customer-managed key needs customer_managed_key_enabled = true"
    missing = [argument for argument in CMK_ARGUMENTS if not config.get(argument)]
    if missing:
        return f"the workspace's managed services and disks need the key ({', '.join(missing)} unset)"
    if config.get("managed_disk_cmk_rotation_to_latest_version_enabled") is not True:
        return (
            "managed disks must follow the rotated key (managed_disk_cmk_rotation_to_latest_version_enabled)"
        )
    target = reference(ctx.address)
    for key in ctx.stack.resources("azurerm_databricks_workspace_root_dbfs_customer_managed_key"):
        if key.config.get("workspace_id") == target:
            return None
    return (
        f"no azurerm_databricks_workspace_root_dbfs_customer_managed_key encrypts the DBFS root of {target}"
    )


AZURE_WORKSPACE = RulePack(
    "azure_workspace",
    (
        Rule(
            "PLAT-WS-1",
            ("azurerm_databricks_workspace",),
            "workspace uses the premium SKU",
            lambda c, _: expect(c, "sku", "premium", "workspace must be premium (Unity Catalog, ACLs)"),
        ),
        Rule(
            "PLAT-WS-2",
            ("azurerm_databricks_workspace",),
            "workspace is VNet-injected with an NSG",
            _vnet_injected,
        ),
        Rule(
            "PLAT-WS-3",
            ("azurerm_databricks_workspace",),
            "clusters get no public IP (secure cluster connectivity)",
            lambda c, _: expect(
                first_block(c.get("custom_parameters")),
                "no_public_ip",
                True,
                "clusters must not get public IPs",
            ),
        ),
        Rule(
            "PLAT-WS-4",
            ("azurerm_databricks_workspace",),
            "front-end public access exactly as the env configures it, with the matching NSG rule mode",
            _front_end_as_configured,
        ),
        Rule(
            "PLAT-WS-5",
            ("azurerm_databricks_workspace",),
            "DBFS root has infrastructure (double) encryption",
            lambda c, _: expect(
                c,
                "infrastructure_encryption_enabled",
                True,
                "workspace storage needs infrastructure encryption",
            ),
        ),
        Rule(
            "PLAT-WS-6",
            ("azurerm_databricks_workspace",),
            "a private front end has its UI/API and browser_authentication (SSO) private endpoints; in the hub's "
            "shared zones the UI/API one only (the hub keeps the region's sign-in endpoint)",
            _private_front_end_reachable,
        ),
        Rule(
            "PLAT-WS-7",
            ("azurerm_databricks_workspace",),
            "envs with a customer-managed key encrypt managed services, managed disks (following rotation) and "
            "the DBFS root with it",
            _customer_managed_key,
        ),
    ),
)
