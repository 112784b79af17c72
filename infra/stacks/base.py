"""What every stack of a team-env shares: its state backend."""

from cdktf import AzurermBackend, LocalBackend, TerraformStack

from infra.config import TeamEnv


def configure_backend(stack: TerraformStack, *, team_env: TeamEnv, component: str) -> None:
    """Local state next to the working directory, or one azurerm blob per stack with Entra ID auth.

    The local path is relative so synthesized JSON never carries a machine path.
    """
    backend = team_env.platform.state_backend
    if backend.kind == "azurerm":
        AzurermBackend(
            stack,
            resource_group_name=backend.resource_group_name,
            storage_account_name=backend.storage_account_name,
            container_name=backend.container_name,
            key=f"{team_env.team.name}/{team_env.env}/{component}.tfstate",
            use_azuread_auth=True,
        )
    else:
        LocalBackend(stack, path=f"terraform.{team_env.team.name}-{team_env.env}-{component}.tfstate")
