"""The premium Databricks workspace, VNet-injected, and its private link when the front end is private."""

from __future__ import annotations

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_azurerm.databricks_workspace import (
    DatabricksWorkspace,
    DatabricksWorkspaceCustomParameters,
    DatabricksWorkspaceEnhancedSecurityCompliance,
)
from cdktf_cdktf_provider_azurerm.databricks_workspace_root_dbfs_customer_managed_key import (
    DatabricksWorkspaceRootDbfsCustomerManagedKey,
)
from cdktf_cdktf_provider_azurerm.private_endpoint import PrivateEndpoint
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.encryption import EncryptionKey
from infra.constructs.azure.network import Network
from infra.constructs.azure.private_link import PrivateLinks
from infra.constructs.azure.resource_group import ResourceGroupRef

# Databricks' private DNS zone; the UI/API sub-resource serves both front-end and back-end private link.
PRIVATE_LINK_ZONE = "privatelink.azuredatabricks.net"
UI_API_SUBRESOURCE = "databricks_ui_api"
# SSO callbacks of a private front end (<region>.pl-auth.azuredatabricks.net): one per region and DNS zone.
BROWSER_AUTH_SUBRESOURCE = "browser_authentication"


def enhanced_security_compliance(team_env: TeamEnv) -> DatabricksWorkspaceEnhancedSecurityCompliance:
    """The env's compliance profile, monitoring and cluster update, always written out: azurerm v4.55.0
    (databricks_workspace_resource.go, flattenWorkspaceEnhancedSecurity) reads the block back from Azure, so
    leaving it out would not mean "off". Turning the profile or a standard off again replaces the workspace
    (ForceNewIfChange there); config docs say so."""
    hardening = team_env.settings.hardening
    return DatabricksWorkspaceEnhancedSecurityCompliance(
        compliance_security_profile_enabled=hardening.compliance_security_profile,
        compliance_security_profile_standards=list(hardening.compliance_standards) or None,
        enhanced_security_monitoring_enabled=hardening.enhanced_security_monitoring,
        automatic_cluster_update_enabled=hardening.automatic_cluster_update,
    )


class Workspace(Construct):
    """Premium workspace (Unity Catalog, ACLs, diagnostic logs), injected into the env's VNet, with no public IPs.

    With ``public_network_access`` off the workspace is reachable only through private link, and Azure then
    requires ``network_security_group_rules_required = NoAzureDatabricksRules``: clusters reach the control
    plane through a ``databricks_ui_api`` private endpoint in the same VNet (Databricks' simplified private
    link deployment), resolved through the ``privatelink.azuredatabricks.net`` zone linked to the VNet.
    Entra ID sign-in to a private front end redirects the browser to the region's ``pl-auth`` host, which only
    a ``browser_authentication`` endpoint serves: Databricks wants one per region and DNS zone (the "web auth"
    workspace). Each env has its own zone, linked to its own VNet, so each private env gets its own, on its
    own workspace; deleting one env never breaks sign-in to another. Envs that share the hub's zones create
    none: the hub keeps the region's one endpoint (config HubNetwork).

    With an ``encryption_key`` the workspace encrypts its managed services (notebooks, secrets, queries: wrapped
    by the AzureDatabricks application, which needs the key role before the workspace is created) and its
    managed disks (a disk encryption set whose identity exists only after creation, then gets the key role;
    it follows new key versions), and ``customer_managed_key_enabled`` prepares the DBFS root, whose storage
    identity gets the key role before ``azurerm_databricks_workspace_root_dbfs_customer_managed_key`` switches
    it to the key (the provider refuses that resource unless the workspace prepared encryption).
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
        encryption_key: EncryptionKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        public = team_env.settings.public_network_access
        waits_for: list[ITerraformDependable] = [*network.egress_associations]
        if encryption_key is not None:
            databricks_app = team_env.platform.azure_databricks_sp_object_id
            if databricks_app is None:  # the config refuses this; not an assert: synth runs under python -O
                raise ValueError("customer-managed keys need platform.azure_databricks_sp_object_id")
            waits_for.append(
                encryption_key.grant_then_wait("databricks-app-key-user", principal_id=str(databricks_app))
            )
        key_id = encryption_key.key_id if encryption_key else None
        # azurerm v4.55.0 databricks_workspace_resource.go looks each key's vault up by its URL in the
        # subscription of *_cmk_key_vault_id, or the workspace's when unset: always name it, so an existing key
        # in another subscription is found.
        key_vault_id = encryption_key.vault_id if encryption_key else None
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
            customer_managed_key_enabled=True if key_id else None,
            managed_services_cmk_key_vault_key_id=key_id,
            managed_services_cmk_key_vault_id=key_vault_id,
            managed_disk_cmk_key_vault_key_id=key_id,
            managed_disk_cmk_key_vault_id=key_vault_id,
            managed_disk_cmk_rotation_to_latest_version_enabled=True if key_id else None,
            enhanced_security_compliance=enhanced_security_compliance(team_env),
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
            # Clusters need their egress in place from the first start, and keep it until the workspace is gone;
            # the AzureDatabricks app must be able to wrap the managed services key when the workspace is created.
            depends_on=waits_for,
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
            self.private_endpoints = [ui_api]
            # Envs in the hub's shared zone sign in through the hub's web-auth endpoint of the region.
            if not private_links.shares_hub_zones:
                # Both endpoints change the workspace's private endpoint connections: one after the other.
                browser_auth = private_links.endpoint(
                    "browser-auth",
                    target_id=workspace_id,
                    target_name=name,
                    subresource=BROWSER_AUTH_SUBRESOURCE,
                    zone=PRIVATE_LINK_ZONE,
                    depends_on=[ui_api],
                )
                self.private_endpoints.append(browser_auth)
        if encryption_key is not None and key_id is not None:
            self._encrypt_after_creation(encryption_key, key_id)

    def _encrypt_after_creation(self, encryption_key: EncryptionKey, key_id: str) -> None:
        # Clusters' disks are encrypted through this grant from their first start (the smoke test right after the
        # deploy): the platform apply does not end before Key Vault honours it (the DBFS key waits for it).
        disk_access = encryption_key.grant_then_wait(
            "managed-disk-key-user", principal_id=self.workspace.managed_disk_identity.get(0).principal_id
        )
        dbfs_access = encryption_key.grant_then_wait(
            "dbfs-key-user", principal_id=self.workspace.storage_account_identity.get(0).principal_id
        )
        DatabricksWorkspaceRootDbfsCustomerManagedKey(
            self,
            "dbfs-customer-managed-key",
            workspace_id=self.workspace.id,
            key_vault_key_id=key_id,
            # The same lookup as the workspace's (databricks_workspace_root_dbfs_customer_managed_key_resource.go,
            # azurerm v4.55.0): in this vault's subscription, not the workspace's.
            key_vault_id=encryption_key.vault_id,
            # It updates the workspace (PUT): not while the workspace's private endpoints are being created, which
            # change the same workspace's private endpoint connections.
            depends_on=[dbfs_access, disk_access, *self.private_endpoints],
        )
