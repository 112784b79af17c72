"""Refuse to run a stack whose local state still sits at its name from before state carried the prefix.

Terraform would find no state at the new name: a deploy would plan every resource anew (and fail on names that
exist), a destroy or a reap would find nothing to destroy and leave the env billing. Remote state (azurerm, s3)
cannot be looked at without the cloud; docs/operations.md says how to move it.
"""

from pathlib import Path

from infra.config import TeamEnv
from infra.lifecycle.errors import OperationFailed
from infra.stacks.state_layout import local_state_file, unprefixed_local_state_file


def refuse_unmoved_local_state(team_env: TeamEnv, *, outdir: Path) -> None:
    """OperationFailed naming the `mv` that moves each of the env's unprefixed local state files into place."""
    if team_env.platform.state_backend.kind != "local":
        return
    root = outdir.parent  # where the stacks' relative local backend path points (stacks/state_layout.py)
    moves = [
        f"mv {root / old} {root / new}"
        for component in team_env.stacks
        if (root / (old := unprefixed_local_state_file(team_env, component))).is_file()
        and not (root / (new := local_state_file(team_env, component))).exists()
    ]
    if moves:
        raise OperationFailed(
            f"{team_env.key}: its local state is still under the names from before state files carried the "
            f"platform prefix ({team_env.platform.prefix}); if it is this platform's, move it first: "
            + "; ".join(moves)
        )
