"""Firewall egress: the env's workspace subnets send their internet traffic to the hub's Azure Firewall, whose policy
allows only what Databricks needs and the env's allow-list (SRA azure/tf/spoke.tf, `create_spoke_firewall_rules`)."""

from __future__ import annotations

from cdktf import ITerraformDependable, TerraformProvider
from cdktf_cdktf_provider_azurerm.firewall_policy_rule_collection_group import (
    FirewallPolicyRuleCollectionGroup,
    FirewallPolicyRuleCollectionGroupApplicationRuleCollection,
    FirewallPolicyRuleCollectionGroupApplicationRuleCollectionRule,
    FirewallPolicyRuleCollectionGroupApplicationRuleCollectionRuleProtocols,
    FirewallPolicyRuleCollectionGroupNetworkRuleCollection,
    FirewallPolicyRuleCollectionGroupNetworkRuleCollectionRule,
)
from cdktf_cdktf_provider_azurerm.route_table import RouteTable, RouteTableRoute
from cdktf_cdktf_provider_azurerm.subnet_route_table_association import SubnetRouteTableAssociation
from constructs import Construct

from infra.config import TeamEnv
from infra.config.egress import ENDPOINTS_IN_OTHER_REGIONS, HubFirewall, firewall_priority
from infra.constructs.azure.network import Network
from infra.constructs.azure.resource_group import ResourceGroupRef

DEFAULT_ROUTE, FIREWALL_ROUTE = "0.0.0.0/0", "to-hub-firewall"


# Where pip gets what the jobs' churn wheel requires and the runtime does not ship (fairlearn and narwhals on both
# supported runtimes: docs/ml-lifecycle.md, tests/ml/test_wheel_on_runtime.py) when a job cluster installs the wheel:
# the index at pypi.org, the files at files.pythonhosted.org.
PACKAGE_INDEX = ("pypi.org", "files.pythonhosted.org")


def service_tags(service: str, region: str) -> list[str]:
    """The regional tags of ``service`` a workspace in ``region`` reaches: its own region's first, then the other
    regions Databricks serves it from, title-cased as SRA writes them (`Storage.Westeurope`)."""
    regions = [region, *ENDPOINTS_IN_OTHER_REGIONS.get(region, {}).get(service, ())]
    return [f"{service}.{name.title()}" for name in regions]


def databricks_network_rules(region: str) -> list[tuple[str, list[str], list[str]]]:
    """(rule name, destination service tags, TCP ports) a VNet-injected workspace's clusters need.

    The control plane (web app, secure cluster connectivity relay, Unity Catalog) on the ports Databricks' own NSG
    rule opens to the `AzureDatabricks` tag; Storage (artifacts, logs, DBFS), Sql (legacy Hive metastore) and
    EventHub (log shipping) of the region as SRA allows them (azure/tf/modules/hub/locals.tf and firewall.tf), plus
    the regions where Databricks keeps some of those endpoints for this region (ENDPOINTS_IN_OTHER_REGIONS).
    """
    return [
        ("adb-control-plane", ["AzureDatabricks"], ["443", "3306", "8443-8451"]),
        ("adb-storage", service_tags("Storage", region), ["443"]),
        ("adb-sql", service_tags("Sql", region), ["3306"]),
        ("adb-eventhub", service_tags("EventHub", region), ["9093"]),
    ]


class FirewallEgress(Construct):
    """A route table sending 0.0.0.0/0 to the hub's firewall on both workspace subnets, and the env's rule
    collection group in the firewall's policy (through ``hub_provider``).

    Order: each subnet's route waits for the rules and for both peerings, so the workspace (which waits for
    ``associations``) is never cut off on create; on destroy the reverse holds: the workspace goes, then the
    routes, then the rules and the peering.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        resource_group: ResourceGroupRef,
        network: Network,
        firewall: HubFirewall,
        hub_provider: TerraformProvider,
        hub_path: list[ITerraformDependable],
    ) -> None:
        super().__init__(scope, id)
        names, egress = team_env.names, team_env.settings.egress
        sources = [team_env.host_subnet_cidr, team_env.container_subnet_cidr]
        network_rules = [
            FirewallPolicyRuleCollectionGroupNetworkRuleCollectionRule(
                name=name,
                protocols=["TCP"],
                source_addresses=sources,
                destination_addresses=tags,
                destination_ports=ports,
            )
            for name, tags, ports in databricks_network_rules(team_env.team.region)
        ]
        https = [
            FirewallPolicyRuleCollectionGroupApplicationRuleCollectionRule(
                name=name,
                source_addresses=sources,
                destination_fqdns=fqdns,
                protocols=[
                    FirewallPolicyRuleCollectionGroupApplicationRuleCollectionRuleProtocols(
                        type="Https", port=443
                    )
                ],
            )
            for name, fqdns in (
                ("churn-wheel-dependencies", list(PACKAGE_INDEX)),
                ("allowed-fqdns", list(egress.allowed_fqdns)),
            )
            if fqdns  # the allow-list only when the env has one
        ]
        self.rules = FirewallPolicyRuleCollectionGroup(
            self,
            "rules",
            provider=hub_provider,
            name=firewall.rule_collection_group_name(names.stem),
            firewall_policy_id=firewall.policy_id,
            priority=firewall_priority(team_env.settings.network),
            network_rule_collection=[
                FirewallPolicyRuleCollectionGroupNetworkRuleCollection(
                    name="databricks", priority=100, action="Allow", rule=network_rules
                )
            ],
            application_rule_collection=[
                FirewallPolicyRuleCollectionGroupApplicationRuleCollection(
                    name="allowed-fqdns", priority=200, action="Allow", rule=https
                )
            ],
        )
        self.route_table = RouteTable(
            self,
            "route-table",
            name=f"rt-{names.stem}",
            location=resource_group.location,
            resource_group_name=resource_group.name,
            route=[
                RouteTableRoute(
                    name=FIREWALL_ROUTE,
                    address_prefix=DEFAULT_ROUTE,
                    next_hop_type="VirtualAppliance",
                    next_hop_in_ip_address=str(firewall.private_ip_address),
                )
            ],
        )
        route_table_id = self.route_table.id
        self.associations = [
            SubnetRouteTableAssociation(
                self,
                f"{role}-route",
                subnet_id=subnet_id,
                route_table_id=route_table_id,
                depends_on=[self.rules, *hub_path],
            )
            for role, subnet_id in (
                ("host", network.host_subnet_id),
                ("container", network.container_subnet_id),
            )
        ]
