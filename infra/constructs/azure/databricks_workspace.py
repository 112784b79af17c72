"""The premium Databricks workspace, VNet-injected, and its private link when the front end is private."""

from __future__ import annotations

from cdktf_cdktf_provider_azurerm.databricks_workspace import (
    DatabricksWorkspace,
    DatabricksWorkspaceCustomParameters,
)
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
from infra.constructs.azure.network import Network
from infra.constructs.azure.resource_group import ResourceGroupRef

# Databricks' private DNS zone; the UI/API sub-resource serves both front-end and back-end private link.
PRIVATE_LINK_ZONE = "privatelink.azuredatabricks.net"
UI_API_SUBRESOURCE = "databricks_ui_api"


class Workspace(Construct):
    """Premium workspace (Unity Catalog, ACLs, diagnostic logs), injected into the env's VNet, with no public IPs.

    With ``public_network_access`` off the workspace is reachable only through private link, and Azure then
    requires ``network_security_group_rules_required = NoAzureDatabricksRules``: clusters reach the control
    plane through a ``databricks_ui_api`` private endpoint in the same VNet (Databricks' simplified private
    link deployment), resolved through the ``privatelink.azuredatabricks.net`` zone linked to the VNet.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        resource_group: ResourceGroupRef,
        network: Network,
    ) -> None:
        super().__init__(scope, id)
        public = team_env.settings.public_network_access
        self.workspace = DatabricksWorkspace(
            self,
            "workspace",
            name=team_env.names.databricks_workspace,
            location=resource_group.location,
            resource_group_name=resource_group.name,
            sku="premium",
            managed_resource_group_name=team_env.names.managed_resource_group,
            public_network_access_enabled=public,
            network_security_group_rules_required="AllRules" if public else "NoAzureDatabricksRules",
            # Second encryption layer on the DBFS root (premium only; set at creation).
            infrastructure_encryption_enabled=True,
            custom_parameters=DatabricksWorkspaceCustomParameters(
                no_public_ip=True,
                virtual_network_id=network.virtual_network_id,
                public_subnet_name=network.host_subnet.name,
                private_subnet_name=network.container_subnet.name,
                # Referencing the associations (not just the subnets) orders destroy correctly: the workspace
                # goes first, then the associations; the other way round Azure refuses to detach the NSG.
                public_subnet_network_security_group_association_id=network.host_nsg_association.id,
                private_subnet_network_security_group_association_id=network.container_nsg_association.id,
            ),
            # Clusters need their egress in place from the first start, and keep it until the workspace is gone.
            depends_on=list(network.egress_associations),
        )
        self.private_endpoint: PrivateEndpoint | None = None
        if not public:
            self.private_endpoint = self._private_link(team_env, resource_group, network)

    def _private_link(
        self, team_env: TeamEnv, resource_group: ResourceGroupRef, network: Network
    ) -> PrivateEndpoint:
        if network.private_endpoint_subnet is None:  # not an assert: synth runs under python -O
            raise ValueError("a private workspace needs the network's private endpoint subnet")
        zone = PrivateDnsZone(
            self, "private-dns-zone", name=PRIVATE_LINK_ZONE, resource_group_name=resource_group.name
        )
        PrivateDnsZoneVirtualNetworkLink(
            self,
            "private-dns-link",
            name=f"link-{team_env.names.virtual_network}",
            resource_group_name=resource_group.name,
            private_dns_zone_name=zone.name,
            virtual_network_id=network.virtual_network_id,
        )
        return PrivateEndpoint(
            self,
            "ui-api-endpoint",
            name=f"pe-{team_env.names.databricks_workspace}-ui-api",
            location=resource_group.location,
            resource_group_name=resource_group.name,
            subnet_id=network.private_endpoint_subnet.id,
            private_service_connection=PrivateEndpointPrivateServiceConnection(
                name=f"psc-{team_env.names.databricks_workspace}-ui-api",
                private_connection_resource_id=self.workspace.id,
                is_manual_connection=False,
                subresource_names=[UI_API_SUBRESOURCE],
            ),
            private_dns_zone_group=PrivateEndpointPrivateDnsZoneGroup(
                name="databricks-ui-api", private_dns_zone_ids=[zone.id]
            ),
        )
