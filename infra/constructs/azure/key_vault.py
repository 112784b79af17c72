"""The env's Key Vault: the backend of the workspace's Key Vault-backed secret scope."""

from __future__ import annotations

from cdktf_cdktf_provider_azurerm.key_vault import KeyVault, KeyVaultNetworkAcls
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.lake_storage import data_protection
from infra.constructs.azure.private_link import PrivateLinks
from infra.constructs.azure.resource_group import ResourceGroupRef

# Read-only data-plane role (get/list secrets) for the AzureDatabricks first-party application.
SECRET_SCOPE_ROLE = "Key Vault Secrets User"
VAULT_PRIVATE_LINK_ZONE, VAULT_SUBRESOURCE = "privatelink.vaultcore.azure.net", "vault"


class SecretsVault(Construct):
    """RBAC-authorized vault, soft delete always, purge protection outside ephemeral envs.

    The firewall denies by default and lets trusted Azure services through: the AzureDatabricks application
    that reads secrets for a Key Vault-backed secret scope is one of them, and Databricks requires that
    exception when the vault has a firewall. With ``network_isolation: private`` public network access is off
    and a ``vault`` private endpoint serves the VNet; the bypass stays, because Key Vault keeps honouring it with
    public access disabled and it is the only path of the secret scope's reads and of the customer-managed key's
    wrap/unwrap calls (storage, disk encryption set, AzureDatabricks). ``hsm_keys`` selects the premium SKU.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        resource_group: ResourceGroupRef,
        tenant_id: str,
        private_links: PrivateLinks | None = None,
        hsm_keys: bool = False,
    ) -> None:
        super().__init__(scope, id)
        ephemeral = team_env.is_ephemeral
        private = team_env.settings.network_isolation == "private"
        if private and private_links is None:  # not an assert: synth runs under python -O
            raise ValueError("a private vault needs the env's private links")
        self.vault = KeyVault(
            self,
            "vault",
            name=team_env.names.key_vault,
            location=resource_group.location,
            resource_group_name=resource_group.name,
            tenant_id=tenant_id,
            sku_name="premium" if hsm_keys else "standard",
            rbac_authorization_enabled=True,
            # Retention is fixed at creation; ephemeral vaults keep the minimum so a re-created env's name frees
            # up quickly, and they are purged on destroy (provider feature) since purge protection is off.
            soft_delete_retention_days=7 if ephemeral else 90,
            purge_protection_enabled=not ephemeral,
            public_network_access_enabled=not private,
            network_acls=KeyVaultNetworkAcls(default_action="Deny", bypass="AzureServices"),
            lifecycle=data_protection(team_env),
        )
        vault_id = self.vault.id
        self.private_endpoints = (
            [
                private_links.endpoint(
                    "vault",
                    target_id=vault_id,
                    target_name=team_env.names.key_vault,
                    subresource=VAULT_SUBRESOURCE,
                    zone=VAULT_PRIVATE_LINK_ZONE,
                )
            ]
            if private and private_links is not None
            else []
        )
        databricks_app = team_env.platform.azure_databricks_sp_object_id
        if databricks_app is not None:
            RoleAssignment(
                self,
                "secret-scope-reader",
                scope=self.vault.id,
                role_definition_name=SECRET_SCOPE_ROLE,
                principal_id=str(databricks_app),
                principal_type="ServicePrincipal",
            )
