"""The env's Key Vault, readable from notebooks and jobs as a secret scope."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_databricks.secret_acl import SecretAcl
from cdktf_cdktf_provider_databricks.secret_scope import SecretScope, SecretScopeKeyvaultMetadata
from constructs import Construct

from infra.constructs.databricks.identity import Principal


class KeyVaultSecretScope(Construct):
    """An Azure Key Vault-backed secret scope with ACLs: readers READ, managers MANAGE.

    The scope is a read-only view of the vault: secrets are written in Azure, never through Databricks.
    Creating it needs a Microsoft Entra ID token of a caller allowed to manage the vault, which is why the
    workspace provider never uses a personal access token, and reading needs the `AzureDatabricks`
    application to hold `Key Vault Secrets User` on the vault (granted by the platform stack).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        key_vault_id: str,
        key_vault_uri: str,
        readers: Sequence[Principal],
        managers: Sequence[Principal],
    ) -> None:
        super().__init__(scope, id)
        self.scope = SecretScope(
            self,
            "scope",
            name=name,
            backend_type="AZURE_KEYVAULT",
            keyvault_metadata=SecretScopeKeyvaultMetadata(resource_id=key_vault_id, dns_name=key_vault_uri),
        )
        acls = [(p, "READ") for p in readers] + [(p, "MANAGE") for p in managers]
        scope_name = self.scope.name  # one round trip to the jsii runtime, not one per ACL
        for index, (principal, permission) in enumerate(acls):
            SecretAcl(
                self,
                f"acl-{index}",
                scope=scope_name,
                principal=principal.name,
                permission=permission,
            )
