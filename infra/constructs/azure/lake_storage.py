"""The env's ADLS Gen2 account: lake containers, firewall, and Unity Catalog's access through the connector."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from cdktf_cdktf_provider_azurerm.storage_account import (
    StorageAccount,
    StorageAccountBlobProperties,
    StorageAccountBlobPropertiesContainerDeleteRetentionPolicy,
    StorageAccountBlobPropertiesDeleteRetentionPolicy,
    StorageAccountIdentity,
    StorageAccountNetworkRules,
    StorageAccountNetworkRulesPrivateLinkAccess,
)
from cdktf_cdktf_provider_azurerm.storage_account_customer_managed_key import (
    StorageAccountCustomerManagedKeyA,
)
from cdktf_cdktf_provider_azurerm.storage_container import StorageContainer
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.access_connector import AccessConnector
from infra.constructs.azure.data_protection import data_protection
from infra.constructs.azure.encryption import EncryptionKey
from infra.constructs.azure.network import Network
from infra.constructs.azure.private_link import PrivateLinks
from infra.constructs.azure.resource_group import ResourceGroupRef
from infra.constructs.contracts import LAKE_CONTAINERS

# The one data-plane role Unity Catalog needs on the account for storage credentials, external locations and
# managed storage. The optional file-events feature would need more (queue and Event Grid roles); not granted.
UNITY_CATALOG_STORAGE_ROLE = "Storage Blob Data Contributor"
# ADLS Gen2 clients (Spark's abfss://) use the dfs endpoint; blob serves the Blob API and Azure's own tools.
LAKE_PRIVATE_ENDPOINTS = {
    "dfs": "privatelink.dfs.core.windows.net",
    "blob": "privatelink.blob.core.windows.net",
}


def _account_lifecycle(team_env: TeamEnv, *, customer_managed_key: bool) -> TerraformResourceLifecycle | None:
    # The key is set by azurerm_storage_account_customer_managed_key (system-assigned identity; the inline block
    # requires a user-assigned one in azurerm 4.55.0): the account must not fight it (provider docs' pattern).
    protection = data_protection(team_env)
    if not customer_managed_key:
        return protection
    return TerraformResourceLifecycle(
        prevent_destroy=bool(protection and protection.prevent_destroy) or None,
        ignore_changes=["customer_managed_key"],
    )


def replication(team_env: TeamEnv) -> str:
    # Geo-redundant prod data; locally redundant elsewhere. GRS and LRS exist in every Databricks region,
    # unlike the zone-redundant SKUs.
    return "GRS" if team_env.kind == "prod" else "LRS"


def soft_delete_days(team_env: TeamEnv) -> int:
    return 30 if team_env.kind == "prod" else 7


class LakeStorage(Construct):
    """Hierarchical-namespace account, Entra ID only, deny-by-default firewall.

    The firewall admits the two Databricks subnets (service endpoints; classic clusters read and write the
    lake directly), the access connector (resource instance rule; Unity Catalog's own calls), and trusted Azure
    services. Containers are created through the ARM control plane (``storage_account_id``), which neither the
    firewall nor disabled shared keys block for a deploying runner outside the VNet.
    Blob versioning is not set: Azure does not support it on hierarchical-namespace accounts; blob and
    container soft delete are the recovery mechanism instead.

    With ``network_isolation: private`` public network access is off and clusters reach the lake through
    ``dfs`` and ``blob`` private endpoints in the VNet (the Databricks SRA's catalog module); the firewall keeps
    the access connector's resource-instance rule and the trusted-services bypass. With an ``encryption_key``
    the account gets a system-assigned identity, the key role, and then the key.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        resource_group: ResourceGroupRef,
        network: Network,
        access_connector: AccessConnector,
        private_links: PrivateLinks | None = None,
        encryption_key: EncryptionKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        protection = data_protection(team_env)
        retention = soft_delete_days(team_env)
        private = team_env.settings.network_isolation == "private"
        if private and private_links is None:  # not an assert: synth runs under python -O
            raise ValueError("a private lake needs the env's private links")
        self.account = StorageAccount(
            self,
            "account",
            name=team_env.names.storage_account,
            location=resource_group.location,
            resource_group_name=resource_group.name,
            account_kind="StorageV2",
            account_tier="Standard",
            account_replication_type=replication(team_env),
            is_hns_enabled=True,
            min_tls_version="TLS1_2",
            https_traffic_only_enabled=True,
            allow_nested_items_to_be_public=False,
            shared_access_key_enabled=False,
            default_to_oauth_authentication=True,
            infrastructure_encryption_enabled=True,
            cross_tenant_replication_enabled=False,
            local_user_enabled=False,
            # service_endpoints: "Enabled from selected networks", the firewall below decides; Disabled would shut
            # out the subnets' service endpoints. private: Disabled, the VNet uses the private endpoints.
            public_network_access_enabled=not private,
            identity=StorageAccountIdentity(type="SystemAssigned") if encryption_key else None,
            network_rules=StorageAccountNetworkRules(
                default_action="Deny",
                bypass=["AzureServices"],
                virtual_network_subnet_ids=(
                    None if private else [network.host_subnet_id, network.container_subnet_id]
                ),
                private_link_access=[
                    StorageAccountNetworkRulesPrivateLinkAccess(
                        endpoint_resource_id=access_connector.resource_id
                    )
                ],
            ),
            blob_properties=StorageAccountBlobProperties(
                delete_retention_policy=StorageAccountBlobPropertiesDeleteRetentionPolicy(days=retention),
                container_delete_retention_policy=StorageAccountBlobPropertiesContainerDeleteRetentionPolicy(
                    days=retention
                ),
            ),
            lifecycle=_account_lifecycle(team_env, customer_managed_key=encryption_key is not None),
        )
        # Each reference read is a round trip to the jsii runtime: read it once.
        account_id = self.account_id = self.account.id
        name = team_env.names.storage_account
        if private and private_links is not None:
            for subresource, zone in LAKE_PRIVATE_ENDPOINTS.items():
                private_links.endpoint(
                    subresource, target_id=account_id, target_name=name, subresource=subresource, zone=zone
                )
        if encryption_key is not None:
            key_access = encryption_key.grant_then_wait(
                "lake-key-user", principal_id=self.account.identity.principal_id
            )
            StorageAccountCustomerManagedKeyA(
                self,
                "customer-managed-key",
                storage_account_id=account_id,
                key_vault_id=encryption_key.vault_id,
                key_name=encryption_key.key_name,
                # No key_version: the account follows each new version of the rotated key by itself.
                depends_on=[key_access],
            )
        self.containers = {
            name: StorageContainer(
                self,
                f"container-{name}",
                name=name,
                storage_account_id=account_id,
                container_access_type="private",
                lifecycle=protection,
            )
            for name in LAKE_CONTAINERS
        }
        RoleAssignment(
            self,
            "unity-catalog-access",
            scope=account_id,
            role_definition_name=UNITY_CATALOG_STORAGE_ROLE,
            principal_id=access_connector.principal_id,
            # A fresh managed identity may not have replicated in Entra ID yet; the type skips that lookup.
            principal_type="ServicePrincipal",
        )

    @property
    def lake_urls(self) -> dict[str, str]:
        """Container name -> abfss:// root URL, from the account's DFS endpoint host.

        The container names are the fixed LAKE_CONTAINERS, written as text: referencing each container would
        cost the workspace stack a cross-stack output apiece for a value known at synth time, and the
        workspace stack is deployed after the whole platform stack anyway.
        """
        host = self.account.primary_dfs_host
        return {name: f"abfss://{name}@{host}/" for name in self.containers}
