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

    No forwarded traffic and no gateway transit: egress stays the env's own.
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
            **ONLY_THE_TWO_NETWORKS,
        )
        self.from_hub = VirtualNetworkPeering(
            self,
            "from-hub",
            provider=hub_provider,
            name=f"peer-hub-to-{vnet}",  # unique in the hub VNet: the env's VNet name is
            resource_group_name=hub.resource_group_name,
            virtual_network_name=hub.virtual_network_name,
            remote_virtual_network_id=network.virtual_network_id,
            **ONLY_THE_TWO_NETWORKS,
        )

    @property
    def both_directions(self) -> list[VirtualNetworkPeering]:
        """A peering carries traffic once both sides exist: what a call through it waits for."""
        return [self.to_hub, self.from_hub]
