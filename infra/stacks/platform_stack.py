"""`<team>-<env>-platform`: every Azure resource of one team-env, and the outputs the workspace stack reads."""

from __future__ import annotations

from datetime import date

from cdktf import ITerraformDependable, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_azurerm.data_azurerm_client_config import DataAzurermClientConfig
from cdktf_cdktf_provider_azurerm.provider import (
    AzurermProvider,
    AzurermProviderFeatures,
    AzurermProviderFeaturesDatabricksWorkspace,
    AzurermProviderFeaturesKeyVault,
    AzurermProviderFeaturesLogAnalyticsWorkspace,
    AzurermProviderFeaturesResourceGroup,
    AzurermProviderFeaturesStorage,
)
from cdktf_cdktf_provider_azurerm.resource_group import ResourceGroup

from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.config import TeamEnv
from infra.config.egress import HubFirewall
from infra.config.platform_settings import HubNetwork
from infra.constructs.azure.access_connector import AccessConnector
from infra.constructs.azure.budget import CostBudget, utc_today
from infra.constructs.azure.databricks_workspace import Workspace
from infra.constructs.azure.encryption import EncryptionKey
from infra.constructs.azure.firewall_egress import FirewallEgress
from infra.constructs.azure.hub_peering import HubPeering
from infra.constructs.azure.key_vault import VAULT_PRIVATE_LINK_ZONE, SecretsVault
from infra.constructs.azure.lake_storage import LakeStorage
from infra.constructs.azure.monitoring import Monitoring
from infra.constructs.azure.network import Network
from infra.constructs.azure.private_link import PrivateLinks
from infra.constructs.azure.resource_group import ResourceGroupRef
from infra.constructs.contracts import PlatformOutputs
from infra.stacks.base import configure_backend


def azurerm_provider(stack: TerraformStack, team_env: TeamEnv) -> AzurermProvider:
    """Entra ID everywhere (storage included); ephemeral envs are set up to be destroyed without leftovers."""
    ephemeral = team_env.is_ephemeral
    platform = team_env.platform
    return AzurermProvider(
        stack,
        "azurerm",
        # Unset: azurerm 4.x reads ARM_SUBSCRIPTION_ID / ARM_TENANT_ID or the Azure CLI login.
        subscription_id=str(platform.subscription_id) if platform.subscription_id else None,
        tenant_id=str(platform.tenant_id) if platform.tenant_id else None,
        storage_use_azuread=True,
        features=[
            AzurermProviderFeatures(
                # Shared keys are off and the storage firewall denies the runner: manage storage through ARM
                # only (containers use storage_account_id), never the blob/queue data plane.
                storage=[AzurermProviderFeaturesStorage(data_plane_available=False)],
                key_vault=[
                    AzurermProviderFeaturesKeyVault(
                        purge_soft_delete_on_destroy=ephemeral, recover_soft_deleted_key_vaults=True
                    )
                ],
                log_analytics_workspace=[
                    AzurermProviderFeaturesLogAnalyticsWorkspace(permanently_delete_on_destroy=ephemeral)
                ],
                databricks_workspace=[AzurermProviderFeaturesDatabricksWorkspace(force_delete=ephemeral)],
                resource_group=[
                    AzurermProviderFeaturesResourceGroup(prevent_deletion_if_contains_resources=not ephemeral)
                ],
            )
        ],
    )


def hub_provider(stack: TerraformStack, team_env: TeamEnv, hub: HubNetwork | None) -> AzurermProvider:
    """azurerm in the hub's subscription, for the hub side of the peering and the links to the hub's zones.

    Emitted in every Azure platform stack, hub or not, private or not: hub-side resources left in state when an
    env turns public or the hub is removed are destroyed through the provider configuration they were created
    with (``azurerm.hub``), and without one Terraform cannot plan at all. Without a hub it is configured for the
    env's own subscription: azurerm deletes by the resource ID kept in state, which names the hub's
    subscription, so the same deployer credentials still remove the orphans.
    """
    platform = team_env.platform
    tenant_id = platform.tenant_id
    if hub is not None:
        subscription_id: str | None = hub.subscription_id
    else:
        subscription_id = str(platform.subscription_id) if platform.subscription_id else None
    return AzurermProvider(
        stack,
        "azurerm-hub",
        alias="hub",
        subscription_id=subscription_id,
        tenant_id=str(tenant_id) if tenant_id else None,
        storage_use_azuread=True,
        # The deployer holds only network roles in the hub's subscription: registering resource providers
        # there (azurerm's default) would be refused, and the hub's network providers are registered already.
        resource_provider_registrations="none",
        features=[AzurermProviderFeatures()],
    )


def compute_egress_addresses(network: Network, firewall: HubFirewall | None) -> list[str]:
    """The public addresses the env's clusters reach the control plane from: the NAT gateway's (open egress) or
    the hub firewall's (firewall egress); an IP access list must hold them."""
    if firewall is not None:
        return list(firewall.public_ip_addresses)
    return [network.egress_ip_address] if network.egress_ip_address else []


def egress_firewall(team_env: TeamEnv) -> HubFirewall | None:
    """The hub firewall the env's clusters egress through, or None for open egress (a NAT gateway)."""
    if team_env.settings.egress.mode != "firewall":
        return None
    hub = team_env.platform.hub_network
    if hub is None or hub.firewall is None or not team_env.settings.reachable_only_from_its_network:
        # validate refuses this (infra/config/egress.py); not an assert: synth runs under python -O
        raise ValueError(
            f"{team_env.key}: firewall egress needs a private env and platform.hub_network.firewall"
        )
    return hub.firewall


class PlatformStack(AspectStack):
    """Resource group, network, workspace, lake storage, access connector, Key Vault, monitoring, budget."""

    def __init__(self, scope: AspectApp, id: str, *, team_env: TeamEnv, today: date | None = None) -> None:
        """``today`` (default: the UTC date of the synth) sets the month new budgets start in."""
        super().__init__(scope, id)
        configure_backend(self, team_env=team_env, component="platform")
        azurerm_provider(self, team_env)
        key_settings = team_env.customer_managed_key
        creates_key = key_settings is not None and key_settings.existing_key_id is None
        platform = team_env.platform
        client = (
            DataAzurermClientConfig(self, "current")
            if creates_key or not platform.tenant_id or not platform.subscription_id
            else None
        )
        tenant_id = str(platform.tenant_id) if platform.tenant_id else client.tenant_id
        subscription_id = (
            str(platform.subscription_id) if platform.subscription_id else client.subscription_id
        )

        resource_group = ResourceGroupRef.of(
            ResourceGroup(
                self, "resource-group", name=team_env.names.resource_group, location=team_env.team.region
            )
        )
        settings = team_env.settings
        hub = platform.hub_network
        firewall = egress_firewall(team_env)
        network = Network(
            self,
            "network",
            team_env=team_env,
            resource_group=resource_group,
            private_endpoints=settings.reachable_only_from_its_network,
            nat_gateway=firewall is None,
        )
        in_hub = hub_provider(self, team_env, hub)
        private_links, hub_path = None, []
        if network.private_endpoint_subnet is not None:
            if hub is not None:
                hub_path = HubPeering(
                    self,
                    "hub-peering",
                    team_env=team_env,
                    network=network,
                    hub=hub,
                    hub_provider=in_hub,
                    through_firewall=firewall is not None,
                ).both_directions
            if firewall is not None:
                routes = FirewallEgress(
                    self,
                    "firewall-egress",
                    team_env=team_env,
                    resource_group=resource_group,
                    network=network,
                    firewall=firewall,
                    hub_provider=in_hub,
                    hub_path=hub_path,
                )
                network.egress_associations += routes.associations
            private_links = PrivateLinks(
                self,
                "private-links",
                team_env=team_env,
                resource_group=resource_group,
                network=network,
                hub=hub,
                hub_provider=in_hub if hub is not None else None,
            )
        secrets = SecretsVault(
            self,
            "secrets",
            team_env=team_env,
            resource_group=resource_group,
            tenant_id=tenant_id,
            private_links=private_links,
            hsm_keys=creates_key,
        )
        encryption_key = None
        if key_settings is not None:
            # A created key is written through the vault's data plane from the runner in the hub: the vault's
            # endpoint and its A record, the zone's link to the env's VNet and both peerings must exist first.
            vault_reachable: list[ITerraformDependable] = list(secrets.private_endpoints)
            if secrets.private_endpoints and private_links is not None:
                vault_reachable += [private_links.zone_link(VAULT_PRIVATE_LINK_ZONE), *hub_path]
            encryption_key = EncryptionKey(
                self,
                "encryption-key",
                team_env=team_env,
                settings=key_settings,
                vault_id=secrets.vault.id,
                deployer_object_id=client.object_id if client is not None else None,
                vault_reachable=vault_reachable,
            )
        # Account-level resources (the serverless network policy) live in the env's account stack
        # (azure_account_stack.py): pull requests plan this stack with a read-only identity.
        workspace = Workspace(
            self,
            "workspace",
            team_env=team_env,
            resource_group=resource_group,
            network=network,
            private_links=private_links,
            encryption_key=encryption_key,
        )
        connector = AccessConnector(
            self, "access-connector", team_env=team_env, resource_group=resource_group
        )
        lake = LakeStorage(
            self,
            "lake",
            team_env=team_env,
            resource_group=resource_group,
            network=network,
            access_connector=connector,
            private_links=private_links,
            encryption_key=encryption_key,
        )

        # Each reference read is a round trip to the jsii runtime: read the ones used twice once.
        workspace_resource_id, vault_id = workspace.workspace.id, secrets.vault.id
        monitoring = Monitoring(self, "monitoring", team_env=team_env, resource_group=resource_group)
        monitoring.send_diagnostics("workspace-diagnostics", target_resource_id=workspace_resource_id)
        # Storage logs live on the service, not the account: the blob service is where the lake is read.
        monitoring.send_diagnostics(
            "lake-diagnostics",
            target_resource_id=f"{lake.account_id}/blobServices/default",
            metric_categories=["Transaction"],
        )
        monitoring.send_diagnostics(
            "key-vault-diagnostics", target_resource_id=vault_id, metric_categories=["AllMetrics"]
        )
        CostBudget(
            self,
            "budget",
            team_env=team_env,
            subscription_id=subscription_id,
            resource_group=resource_group,
            today=today or utc_today(),
        )

        self.outputs = PlatformOutputs(
            workspace_url=f"https://{workspace.workspace.workspace_url}",
            workspace_resource_id=workspace_resource_id,
            workspace_id=workspace.workspace.workspace_id,
            access_connector_id=connector.resource_id,
            lake_urls=lake.lake_urls,
            key_vault_id=vault_id,
            key_vault_uri=secrets.vault.vault_uri,
            compute_egress_addresses=compute_egress_addresses(network, firewall),
        )
        # For operators (`cdktf output`); the workspace stack gets its values through cross-stack references.
        TerraformOutput(self, "workspace_url", value=self.outputs.workspace_url)
        TerraformOutput(self, "resource_group_name", value=resource_group.name)
