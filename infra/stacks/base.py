"""What every stack of a team-env shares: its state backend."""

from cdktf import AzurermBackend, LocalBackend, S3Backend, TerraformStack

from infra.config import TeamEnv
from infra.stacks.state_layout import LOCAL_STATE_DIR, local_state_file, state_key


def configure_backend(stack: TerraformStack, *, team_env: TeamEnv, component: str) -> None:
    """Local state in the project root, or one azurerm blob (Entra ID auth) or S3 object (locked) per stack.

    Terraform runs each stack in ``cdktf.out/stacks/<stack>/`` and resolves a relative local path from there.
    ``../../../`` reaches the directory that holds ``cdktf.out`` from every stack directory alike, which matters
    twice: the state survives a fresh synth (which replaces ``cdktf.out``), and the workspace stack's remote
    state data source, which cdktf gives the same path, finds the platform stack's state. The path stays
    relative so synthesized JSON never carries a machine path. Keys and files carry the platform's prefix
    (state_layout.py).
    """
    backend = team_env.platform.state_backend
    key = state_key(team_env, component)
    if backend.kind == "s3":
        S3Backend(stack, bucket=backend.bucket, key=key, region=backend.region, encrypt=True)
        # S3-native locking (a `<key>.tflock` object, Terraform >= 1.10); cdktf 0.21's S3Backend predates it.
        stack.add_override("terraform.backend.s3.use_lockfile", True)
    elif backend.kind == "azurerm":
        AzurermBackend(
            stack,
            resource_group_name=backend.resource_group_name,
            storage_account_name=backend.storage_account_name,
            container_name=backend.container_name,
            key=key,
            use_azuread_auth=True,
        )
    else:
        LocalBackend(stack, path=f"{LOCAL_STATE_DIR}/{local_state_file(team_env, component)}")
