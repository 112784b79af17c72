"""The env's virtual network: the two subnets a VNet-injected Databricks workspace needs, their NSG, egress."""

from __future__ import annotations

import ipaddress

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_azurerm.nat_gateway import NatGateway
from cdktf_cdktf_provider_azurerm.nat_gateway_public_ip_association import NatGatewayPublicIpAssociation
from cdktf_cdktf_provider_azurerm.network_security_group import NetworkSecurityGroup
from cdktf_cdktf_provider_azurerm.public_ip import PublicIp
from cdktf_cdktf_provider_azurerm.subnet import Subnet, SubnetDelegation, SubnetDelegationServiceDelegation
from cdktf_cdktf_provider_azurerm.subnet_nat_gateway_association import SubnetNatGatewayAssociation
from cdktf_cdktf_provider_azurerm.subnet_network_security_group_association import (
    SubnetNetworkSecurityGroupAssociation,
)
from cdktf_cdktf_provider_azurerm.virtual_network import VirtualNetwork
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.resource_group import ResourceGroupRef

DATABRICKS_DELEGATION = "Microsoft.Databricks/workspaces"
# The actions Azure itself sets for this delegation; listing them keeps plans free of drift.
DATABRICKS_DELEGATION_ACTIONS = [
    "Microsoft.Network/virtualNetworks/subnets/join/action",
    "Microsoft.Network/virtualNetworks/subnets/prepareNetworkPolicies/action",
    "Microsoft.Network/virtualNetworks/subnets/unprepareNetworkPolicies/action",
]


def private_endpoint_cidr(team_env: TeamEnv) -> str:
    """Third quarter of the env's range (the first two are the Databricks subnets)."""
    return str(list(ipaddress.IPv4Network(team_env.settings.network).subnets(prefixlen_diff=2))[2])


class Network(Construct):
    """VNet with host (public) and container (private) subnets delegated to Databricks, one NSG on both,
    and a NAT gateway as their egress (unless ``nat_gateway`` is off: firewall egress, see FirewallEgress).

    The NSG is created without inline rules on purpose: Databricks writes its own required rules into it, and
    an inline ``security_rule`` list would make Terraform delete them on the next apply.
    Clusters have no public IP (secure cluster connectivity), so they need an explicit egress path to reach
    the control plane relay, Entra ID and package mirrors: Azure retires implicit default outbound access, and
    Microsoft's own VNet-injection template adds a NAT gateway for this.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        resource_group: ResourceGroupRef,
        private_endpoints: bool,
        nat_gateway: bool = True,
    ) -> None:
        super().__init__(scope, id)
        names = team_env.names
        location = resource_group.location
        rg_name = self.resource_group_name = resource_group.name

        self.virtual_network = VirtualNetwork(
            self,
            "vnet",
            name=names.virtual_network,
            location=location,
            resource_group_name=rg_name,
            address_space=[team_env.settings.network],
        )
        # Each reference read is a round trip to the jsii runtime: the ones used more than once are read once.
        self.virtual_network_id, self.virtual_network_name = (
            self.virtual_network.id,
            self.virtual_network.name,
        )
        self.security_group = NetworkSecurityGroup(
            self, "nsg", name=names.network_security_group, location=location, resource_group_name=rg_name
        )
        self._security_group_id = self.security_group.id

        # Databricks' "public" subnet is the host subnet, its "private" subnet the container subnet.
        self.host_subnet = self._databricks_subnet("host", names.host_subnet, team_env.host_subnet_cidr)
        self.container_subnet = self._databricks_subnet(
            "container", names.container_subnet, team_env.container_subnet_cidr
        )
        self.host_subnet_id, self.container_subnet_id = self.host_subnet.id, self.container_subnet.id
        self.host_nsg_association = self._associate_nsg("host", self.host_subnet_id)
        self.container_nsg_association = self._associate_nsg("container", self.container_subnet_id)

        # Firewall egress (FirewallEgress) routes both subnets to the hub's firewall instead: no NAT gateway.
        self.egress_associations: list[ITerraformDependable] = []
        # The NAT gateway's public address: the clusters reach the control plane from it (an IP access list
        # must allow it, WorkspaceHardening).
        self.egress_ip_address: str | None = None
        if nat_gateway:
            egress_ip = PublicIp(
                self,
                "egress-ip",
                name=f"pip-{names.stem}-egress",
                location=location,
                resource_group_name=rg_name,
                allocation_method="Static",
                sku="Standard",
            )
            gateway = NatGateway(
                self,
                "nat-gateway",
                name=f"ng-{names.stem}",
                location=location,
                resource_group_name=rg_name,
                sku_name="Standard",
            )
            nat_gateway_id = gateway.id
            self.egress_ip_address = egress_ip.ip_address
            nat_ip = NatGatewayPublicIpAssociation(
                self, "nat-gateway-ip", nat_gateway_id=nat_gateway_id, public_ip_address_id=egress_ip.id
            )
            self.egress_associations += [
                SubnetNatGatewayAssociation(
                    self,
                    f"{role}-egress",
                    subnet_id=subnet_id,
                    nat_gateway_id=nat_gateway_id,
                    depends_on=[nat_ip],
                )
                for role, subnet_id in (
                    ("host", self.host_subnet_id),
                    ("container", self.container_subnet_id),
                )
            ]

        self.private_endpoint_subnet: Subnet | None = None
        if private_endpoints:
            self.private_endpoint_subnet = Subnet(
                self,
                "private-endpoint-subnet",
                name=f"snet-{names.stem}-pe",
                resource_group_name=rg_name,
                virtual_network_name=self.virtual_network_name,
                address_prefixes=[private_endpoint_cidr(team_env)],
            )
            # Every subnet gets the NSG (scanner rule); endpoint network policies stay at the default,
            # Disabled, so the NSG does not filter traffic to the private endpoints themselves.
            self._associate_nsg("private-endpoint", self.private_endpoint_subnet.id)

    def _databricks_subnet(self, role: str, name: str, cidr: str) -> Subnet:
        return Subnet(
            self,
            f"{role}-subnet",
            name=name,
            resource_group_name=self.resource_group_name,
            virtual_network_name=self.virtual_network_name,
            address_prefixes=[cidr],
            # Lets the lake storage firewall admit cluster traffic from this subnet.
            service_endpoints=["Microsoft.Storage"],
            delegation=[
                SubnetDelegation(
                    name="databricks",
                    service_delegation=SubnetDelegationServiceDelegation(
                        name=DATABRICKS_DELEGATION, actions=DATABRICKS_DELEGATION_ACTIONS
                    ),
                )
            ],
        )

    def _associate_nsg(self, role: str, subnet_id: str) -> SubnetNetworkSecurityGroupAssociation:
        return SubnetNetworkSecurityGroupAssociation(
            self, f"{role}-nsg", subnet_id=subnet_id, network_security_group_id=self._security_group_id
        )
