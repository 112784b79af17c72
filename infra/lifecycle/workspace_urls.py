"""Where a deployed team-env's workspace is: its URL, read from the state of the stack that creates the workspace
(the Azure platform stack, or the AWS account stack), through the runner's `terraform output`.

Reading state needs the stack's backend, so the stacks are synthesized first, and credentials for the state, so
the callers (`env up --json`, `envs --urls`) read it only when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import PlatformConfig, TeamEnv
from infra.constructs.contracts import WORKSPACE_URL_OUTPUT
from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.lock import exclusive_outdir

if TYPE_CHECKING:
    from infra.lifecycle.services import Services


def deployed_workspace_url(team_env: TeamEnv, services: Services, *, outdir: Path) -> str:
    """The URL of a team-env whose stacks ``outdir`` holds (just deployed); OperationFailed when unreadable."""
    with exclusive_outdir(outdir, purpose=f"read the workspace URL of {team_env.key}"):
        return _read(team_env, services, outdir=outdir)


def workspace_urls(
    config: PlatformConfig, team_envs: list[TeamEnv], services: Services, *, outdir: Path
) -> dict[str, str | OperationFailed]:
    """TEAM/ENV -> its workspace URL, or why it cannot be read (not deployed, no access to its state). Builds the
    wheel and synthesizes the envs' stacks into ``outdir`` first, holding it throughout."""
    services.runner.require("terraform")
    with exclusive_outdir(outdir, purpose="read workspace URLs"):
        services.synthesize(config, team_envs, outdir, services.build_wheel())
        found: dict[str, str | OperationFailed] = {}
        for team_env in team_envs:
            try:
                found[team_env.key] = _read(team_env, services, outdir=outdir)
            except OperationFailed as exc:
                found[team_env.key] = exc
    return found


def _read(team_env: TeamEnv, services: Services, *, outdir: Path) -> str:
    names = team_env.names
    stack = names.account_stack if team_env.team.cloud == "aws" else names.platform_stack
    return services.runner.output(stack, WORKSPACE_URL_OUTPUT, outdir=outdir)
