"""The Azure side of a workspace stack: provider auth, access connector, abfss:// lake, Key Vault."""

from cdktf_cdktf_provider_databricks.storage_credential import StorageCredentialAzureManagedIdentity

from infra.config import TeamEnv
from infra.constructs.contracts import PlatformOutputs, WorkspaceAccess


def azure_workspace_access(team_env: TeamEnv, platform: PlatformOutputs) -> WorkspaceAccess:
    """Host plus Azure resource ID, no token: the provider authenticates with Entra ID (Azure CLI, ARM_*
    environment or OIDC). The resource ID lets a deployer with Azure rights on the workspace in before it was
    ever added to it as a user."""
    return WorkspaceAccess(
        provider={
            "host": platform.workspace_url,
            "azure_workspace_resource_id": platform.workspace_resource_id,
        },
        workspace_id=platform.workspace_id,
        lake_urls=platform.lake_urls,
        credential={
            "azure_managed_identity": StorageCredentialAzureManagedIdentity(
                access_connector_id=platform.access_connector_id
            )
        },
        credential_comment=f"Access connector of {team_env.key}: the lake storage account of this env only",
        key_vault=(platform.key_vault_id, platform.key_vault_uri),
        compute_egress_addresses=platform.compute_egress_addresses,
    )
