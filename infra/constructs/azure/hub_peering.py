"""The env's VNet peered with the hub VNet, in both directions (a peering is one-sided in Azure)."""

from __future__ import annotations

from cdktf import TerraformProvider
from cdktf_cdktf_provider_azurerm.virtual_network_peering import VirtualNetworkPeering
from constructs import Construct

from infra.config import TeamEnv
from infra.config.platform_settings import HubNetwork
from infra.constructs.azure.network import Network

# Only the two VNets talk: the hub's runner reaches the env's private endpoints and nothing routes through.
ONLY_THE_TWO_NETWORKS = {
    "allow_virtual_network_access": True,
    "allow_forwarded_traffic": False,
    "allow_gateway_transit": False,
    "use_remote_gateways": False,
}


class HubPeering(Construct):
    """env -> hub in the env's subscription, hub -> env through ``hub_provider`` in the hub's.

    No gateway transit. Forwarded traffic only with ``through_firewall`` (firewall egress), and only into the env:
    the replies the hub's firewall forwards come from internet addresses, outside the hub's address space, and the
    env's side of the peering drops such traffic unless it allows forwarded traffic. The hub's side stays closed:
    what the env sends to the firewall originates in the env.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        network: Network,
        hub: HubNetwork,
        hub_provider: TerraformProvider,
        through_firewall: bool = False,
    ) -> None:
        super().__init__(scope, id)
        vnet = team_env.names.virtual_network
        self.to_hub = VirtualNetworkPeering(
            self,
            "to-hub",
            name=f"peer-{vnet}-to-hub",
            resource_group_name=network.resource_group_name,
            virtual_network_name=network.virtual_network_name,
            remote_virtual_network_id=hub.virtual_network_id,
            **(ONLY_THE_TWO_NETWORKS | {"allow_forwarded_traffic": through_firewall}),
        )
        self.from_hub = VirtualNetworkPeering(
            self,
            "from-hub",
            provider=hub_provider,
            name=hub.peering_name(vnet),  # the reaper deletes it by this name when the env's state is gone
            resource_group_name=hub.resource_group_name,
            virtual_network_name=hub.virtual_network_name,
            remote_virtual_network_id=network.virtual_network_id,
            **ONLY_THE_TWO_NETWORKS,
        )

    @property
    def both_directions(self) -> list[VirtualNetworkPeering]:
        """A peering carries traffic once both sides exist: what a call through it waits for."""
        return [self.to_hub, self.from_hub]
