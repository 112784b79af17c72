"""The premium Databricks workspace, VNet-injected, and its private link when the front end is private."""

from __future__ import annotations

from cdktf_cdktf_provider_azurerm.databricks_workspace import (
    DatabricksWorkspace,
    DatabricksWorkspaceCustomParameters,
)
from cdktf_cdktf_provider_azurerm.private_endpoint import PrivateEndpoint
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.network import Network
from infra.constructs.azure.private_link import PrivateLinks
from infra.constructs.azure.resource_group import ResourceGroupRef

# Databricks' private DNS zone; the UI/API sub-resource serves both front-end and back-end private link.
PRIVATE_LINK_ZONE = "privatelink.azuredatabricks.net"
UI_API_SUBRESOURCE = "databricks_ui_api"
# SSO callbacks of a private front end (<region>.pl-auth.azuredatabricks.net): one per region and DNS zone.
BROWSER_AUTH_SUBRESOURCE = "browser_authentication"


class Workspace(Construct):
    """Premium workspace (Unity Catalog, ACLs, diagnostic logs), injected into the env's VNet, with no public IPs.

    With ``public_network_access`` off the workspace is reachable only through private link, and Azure then
    requires ``network_security_group_rules_required = NoAzureDatabricksRules``: clusters reach the control
    plane through a ``databricks_ui_api`` private endpoint in the same VNet (Databricks' simplified private
    link deployment), resolved through the ``privatelink.azuredatabricks.net`` zone linked to the VNet.
    Entra ID sign-in to a private front end redirects the browser to the region's ``pl-auth`` host, which only
    a ``browser_authentication`` endpoint serves: Databricks wants one per region and DNS zone (the "web auth"
    workspace). Each env has its own zone, linked to its own VNet, so each private env gets its own, on its
    own workspace; deleting one env never breaks sign-in to another.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        resource_group: ResourceGroupRef,
        network: Network,
        private_links: PrivateLinks | None,
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
        self.private_endpoints: list[PrivateEndpoint] = []
        if not public:
            if private_links is None:  # not an assert: synth runs under python -O
                raise ValueError("a private workspace needs the env's private links")
            name, workspace_id = team_env.names.databricks_workspace, self.workspace.id
            ui_api = private_links.endpoint(
                "ui-api",
                target_id=workspace_id,
                target_name=name,
                subresource=UI_API_SUBRESOURCE,
                zone=PRIVATE_LINK_ZONE,
            )
            # Both endpoints change the workspace's private endpoint connections: one after the other.
            browser_auth = private_links.endpoint(
                "browser-auth",
                target_id=workspace_id,
                target_name=name,
                subresource=BROWSER_AUTH_SUBRESOURCE,
                zone=PRIVATE_LINK_ZONE,
                depends_on=[ui_api],
            )
            self.private_endpoints = [ui_api, browser_auth]
