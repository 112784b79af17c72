"""Private endpoints of one env in its private-endpoint subnet, each registered in its privatelink DNS zone."""

from __future__ import annotations

from cdktf import ITerraformDependable, TerraformProvider
from cdktf_cdktf_provider_azurerm.private_dns_zone import PrivateDnsZone
from cdktf_cdktf_provider_azurerm.private_dns_zone_virtual_network_link import (
    PrivateDnsZoneVirtualNetworkLink,
)
from cdktf_cdktf_provider_azurerm.private_endpoint import (
    PrivateEndpoint,
    PrivateEndpointPrivateDnsZoneGroup,
    PrivateEndpointPrivateServiceConnection,
)
from constructs import Construct

from infra.config import TeamEnv
from infra.config.platform_settings import HubNetwork
from infra.constructs.azure.network import Network
from infra.constructs.azure.resource_group import ResourceGroupRef


class PrivateLinks(Construct):
    """One private DNS zone per service, linked to the env's VNet, and the endpoints registered in them.

    Without a hub the zones are per env (in its resource group, linked to its VNet only), so each env resolves
    its own endpoints and deleting one env never breaks name resolution in another. With a hub the zones are
    the hub's, shared by every private env: the env links them to its VNet (through ``hub_provider``, the
    hub's subscription) and its endpoints add their records there; each endpoint's records go with it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        resource_group: ResourceGroupRef,
        network: Network,
        hub: HubNetwork | None = None,
        hub_provider: TerraformProvider | None = None,
    ) -> None:
        super().__init__(scope, id)
        if network.private_endpoint_subnet is None:  # not an assert: synth runs under python -O
            raise ValueError("private endpoints need the network's private endpoint subnet")
        if (hub is None) != (hub_provider is None):
            raise ValueError("the hub's zones are reached through a provider for the hub's subscription")
        self._team_env, self._resource_group, self._network = team_env, resource_group, network
        self._hub, self._hub_provider = hub, hub_provider
        self._subnet_id = network.private_endpoint_subnet.id
        self._zone_ids: dict[str, str] = {}
        self._zone_links: dict[str, PrivateDnsZoneVirtualNetworkLink] = {}

    @property
    def shares_hub_zones(self) -> bool:
        return self._hub is not None

    def zone_id(self, zone: str) -> str:
        """The private DNS zone ``zone`` (the env's, created on first use, or the hub's), linked to the env's VNet."""
        if zone not in self._zone_ids:
            key = zone.replace(".", "-")
            if self._hub is not None:
                provider = self._hub_provider
                zone_group, zone_name = self._hub.private_dns_zones_resource_group_name, zone
                self._zone_ids[zone] = self._hub.private_dns_zone_id(zone)
            else:
                created = PrivateDnsZone(
                    self, f"zone-{key}", name=zone, resource_group_name=self._resource_group.name
                )
                provider = None
                zone_group, zone_name = self._resource_group.name, created.name
                self._zone_ids[zone] = created.id
            # One address for the link to the env's own zone and to the hub's: moving an env onto the hub (or
            # off it) changes the link's zone, which forces a replacement, and a replacement deletes the old link
            # before it creates the new one. Two addresses would create the new link first, and Azure refuses a
            # second link of one VNet to a zone of the same name.
            self._zone_links[zone] = PrivateDnsZoneVirtualNetworkLink(
                self,
                f"zone-link-{key}",
                provider=provider,
                name=f"link-{self._team_env.names.virtual_network}",  # unique per env: a hub zone is shared
                resource_group_name=zone_group,
                private_dns_zone_name=zone_name,
                virtual_network_id=self._network.virtual_network_id,
            )
        return self._zone_ids[zone]

    def zone_link(self, zone: str) -> PrivateDnsZoneVirtualNetworkLink:
        """The link of ``zone`` to the env's VNet: the env resolves its endpoints in ``zone`` once it exists."""
        self.zone_id(zone)
        return self._zone_links[zone]

    def endpoint(
        self,
        key: str,
        *,
        target_id: str,
        target_name: str,
        subresource: str,
        zone: str,
        depends_on: list[ITerraformDependable] | None = None,
    ) -> PrivateEndpoint:
        """A private endpoint ``pe-<target>-<key>`` to ``subresource`` of ``target_id``, its A record in ``zone``."""
        return PrivateEndpoint(
            self,
            f"{key}-endpoint",
            name=f"pe-{target_name}-{key}",
            location=self._resource_group.location,
            resource_group_name=self._resource_group.name,
            subnet_id=self._subnet_id,
            private_service_connection=PrivateEndpointPrivateServiceConnection(
                name=f"psc-{target_name}-{key}",
                private_connection_resource_id=target_id,
                is_manual_connection=False,
                subresource_names=[subresource],
            ),
            private_dns_zone_group=PrivateEndpointPrivateDnsZoneGroup(
                name=subresource.replace("_", "-"), private_dns_zone_ids=[self.zone_id(zone)]
            ),
            depends_on=depends_on,
        )
