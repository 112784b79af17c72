"""The env's customer-managed key and the role each encrypting identity needs on it."""

from __future__ import annotations

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_azurerm.key_vault_key import (
    KeyVaultKey,
    KeyVaultKeyRotationPolicy,
    KeyVaultKeyRotationPolicyAutomatic,
)
from cdktf_cdktf_provider_azurerm.role_assignment import RoleAssignment
from constructs import Construct

from infra.config import TeamEnv
from infra.config.environment import CustomerManagedKey
from infra.constructs.azure.data_protection import data_protection
from infra.constructs.azure.role_propagation import RolesPropagated

# Get, wrapKey and unwrapKey on keys: what storage, disk encryption sets and Databricks need to use a CMK.
KEY_USER_ROLE = "Key Vault Crypto Service Encryption User"
# Creates keys and sets their rotation policy (data plane): held by the deploying principal on the env's vault.
KEY_CREATOR_ROLE = "Key Vault Crypto Officer"
# HSM-backed keys need the premium vault SKU (checkov CKV_AZURE_112).
KEY_TYPE, KEY_SIZE = "RSA-HSM", 3072
KEY_OPERATIONS = ["decrypt", "encrypt", "unwrapKey", "wrapKey"]
# Key Vault makes a new key version every year. No expiry (expire_after / expiration_date): azurerm 4.55.0
# (internal/services/keyvault/key_vault_key_resource.go) reads a version's expiry back into expiration_date and
# forces a NEW key when it is set in Azure but absent from config, so a rotation policy's expire_after would make
# every later plan replace the key that encrypts the lake; a fixed expiration_date in config would instead
# disable the key on that date. Storage and managed disks follow new versions by themselves.
ROTATE_AFTER = "P1Y"


class EncryptionKey(Construct):
    """A key created in the env's vault, or the existing key named in config.

    Exposes the versioned ID (the workspace's managed services, managed disks and DBFS root: azurerm 4.55.0
    parses those with ``ParseNestedItemID``, which requires a version), the vault ID and key name (storage CMK,
    which then follows new versions by itself), and ``grant`` for the identities that wrap with it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        settings: CustomerManagedKey,
        vault_id: str,
        deployer_object_id: str | None,
        vault_reachable: list[ITerraformDependable],
    ) -> None:
        super().__init__(scope, id)
        if settings.existing_key_id and settings.existing_key_vault_id and settings.existing_key_name:
            self.key_id = settings.existing_key_id
            self.vault_id = settings.existing_key_vault_id
            self.key_name = settings.existing_key_name
            self._scope = f"{self.vault_id}/keys/{self.key_name}"
            return
        if deployer_object_id is None:  # not an assert: synth runs under python -O
            raise ValueError("a key created by the stack needs the deploying principal's object ID")
        # The deployer creates the key through the vault's data plane: it needs the role (in effect there, not
        # only in ARM), and (private vault) a network path: ``vault_reachable`` (the endpoint with its DNS
        # record, the zone's link, the hub peerings).
        creator = RoleAssignment(
            self,
            "deployer-key-creator",
            scope=vault_id,
            role_definition_name=KEY_CREATOR_ROLE,
            principal_id=deployer_object_id,
        )
        key = KeyVaultKey(
            self,
            "key",
            name=f"cmk-{team_env.names.stem}",
            # Deleting the key makes everything encrypted with it unreadable: protected like the data.
            lifecycle=data_protection(team_env),
            key_vault_id=vault_id,
            key_type=KEY_TYPE,
            key_size=KEY_SIZE,
            key_opts=KEY_OPERATIONS,
            rotation_policy=KeyVaultKeyRotationPolicy(
                automatic=KeyVaultKeyRotationPolicyAutomatic(time_after_creation=ROTATE_AFTER)
            ),
            depends_on=[RolesPropagated(self, "creator-propagated", grants=[creator]).wait, *vault_reachable],
        )
        self.key_id, self.vault_id, self.key_name = key.id, vault_id, key.name
        self._scope = key.resource_versionless_id

    def grant_then_wait(self, id: str, *, principal_id: str) -> ITerraformDependable:
        """``grant``, and the wait until Key Vault honours it: what a resource that uses the key depends on."""
        return RolesPropagated(
            self, f"{id}-propagated", grants=[self.grant(id, principal_id=principal_id)]
        ).wait

    def grant(self, id: str, *, principal_id: str) -> RoleAssignment:
        """Let ``principal_id`` wrap and unwrap with the key (every version; scoped to the key alone)."""
        return RoleAssignment(
            self,
            id,
            scope=self._scope,
            role_definition_name=KEY_USER_ROLE,
            principal_id=principal_id,
            # Fresh managed identities may not have replicated in Entra ID yet; the type skips that lookup.
            principal_type="ServicePrincipal",
        )
