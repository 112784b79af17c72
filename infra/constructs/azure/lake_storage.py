"""The env's ADLS Gen2 account: lake containers, firewall, and Unity Catalog's access through the connector."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from cdktf_cdktf_provider_azurerm.storage_account import (
    StorageAccount,
    StorageAccountBlobProperties,
    StorageAccountBlobPropertiesContainerDeleteRetentionPolicy,
    StorageAccountBlobPropertiesDeleteRetentionPolicy,
    StorageAccountNetworkRules,
    StorageAccountNetworkRulesPrivateLinkAccess,
)
from cdktf_cdktf_provider_azurerm.storage_container import StorageContainer
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.access_connector import AccessConnector
from infra.constructs.azure.network import Network
from infra.constructs.azure.resource_group import ResourceGroupRef
from infra.constructs.contracts import LAKE_CONTAINERS

# The one data-plane role Unity Catalog needs on the account for storage credentials, external locations and
# managed storage. The optional file-events feature would need more (queue and Event Grid roles); not granted.
UNITY_CATALOG_STORAGE_ROLE = "Storage Blob Data Contributor"


def data_protection(team_env: TeamEnv) -> TerraformResourceLifecycle | None:
    """prevent_destroy for data resources of envs that ask for it; never for ephemeral envs."""
    if team_env.settings.prevent_destroy and not team_env.is_ephemeral:
        return TerraformResourceLifecycle(prevent_destroy=True)
    return None


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
    ) -> None:
        super().__init__(scope, id)
        protection = data_protection(team_env)
        retention = soft_delete_days(team_env)
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
            # "Enabled from selected networks": the firewall below decides; Disabled would also shut out the
            # subnets' service endpoints and the access connector rule.
            public_network_access_enabled=True,
            network_rules=StorageAccountNetworkRules(
                default_action="Deny",
                bypass=["AzureServices"],
                virtual_network_subnet_ids=[network.host_subnet_id, network.container_subnet_id],
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
            lifecycle=protection,
        )
        # Each reference read is a round trip to the jsii runtime: read it once.
        account_id = self.account_id = self.account.id
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
