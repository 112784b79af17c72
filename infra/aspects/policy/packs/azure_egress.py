"""Egress control: a workspace subnet that must egress through the hub's firewall routes 0.0.0.0/0 to it."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, first_block, reference

DATABRICKS_DELEGATION = "Microsoft.Databricks/workspaces"


def _delegated_to_databricks(config: dict[str, Any]) -> bool:
    delegations = config.get("delegation") or []
    delegations = delegations if isinstance(delegations, list) else [delegations]
    return any(
        first_block(d.get("service_delegation")).get("name") == DATABRICKS_DELEGATION
        for d in delegations
        if isinstance(d, dict)
    )


def _routes_to(ctx: RuleContext, subnet: str, next_hop: str) -> bool:
    """Whether a route table associated with ``subnet`` sends 0.0.0.0/0 to ``next_hop`` as a virtual appliance."""
    tables = {reference(table.address): table.config for table in ctx.stack.resources("azurerm_route_table")}
    for association in ctx.stack.resources("azurerm_subnet_route_table_association"):
        if association.config.get("subnet_id") != subnet:
            continue
        routes = tables.get(association.config.get("route_table_id"), {}).get("route") or []
        if any(
            route.get("address_prefix") == "0.0.0.0/0"
            and route.get("next_hop_type") == "VirtualAppliance"
            and route.get("next_hop_in_ip_address") == next_hop
            for route in (routes if isinstance(routes, list) else [routes])
        ):
            return True
    return False


def _egress_through_the_firewall(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if not _delegated_to_databricks(config):
        return None
    team_env = ctx.team_env
    egress = team_env.settings.egress
    if egress.mode == "open" and (team_env.kind != "prod" or egress.open_reason):
        return None  # open by choice: dev and staging, or prod with the reason validate asks for
    hub = team_env.platform.hub_network
    firewall = hub.firewall if hub is not None else None
    if firewall is None:
        return "a prod workspace subnet needs firewall egress, and platform.hub_network.firewall is unset"
    if not _routes_to(ctx, reference(ctx.address), str(firewall.private_ip_address)):
        return (
            "workspace subnet has no route table sending 0.0.0.0/0 to the hub firewall "
            f"({firewall.private_ip_address}) as a VirtualAppliance"
        )
    return None


AZURE_EGRESS = RulePack(
    "azure-egress",
    (
        Rule(
            "PLAT-AZ-EGRESS-1",
            ("azurerm_subnet",),
            "A Databricks workspace subnet of a firewall-egress env (prod by default, unless open egress has a "
            "reason) routes 0.0.0.0/0 to the hub's Azure Firewall",
            _egress_through_the_firewall,
        ),
    ),
)
