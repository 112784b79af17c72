"""Which data resources Terraform must refuse to destroy."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle

from infra.config import TeamEnv


def data_protection(team_env: TeamEnv) -> TerraformResourceLifecycle | None:
    """prevent_destroy for data resources of envs that ask for it; never for ephemeral envs."""
    if team_env.settings.prevent_destroy and not team_env.is_ephemeral:
        return TerraformResourceLifecycle(prevent_destroy=True)
    return None
