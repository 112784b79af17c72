"""Deploying or destroying one team-env: build the wheel, synthesize its two stacks, run cdktf per stack.

The platform stack creates the workspace the Databricks provider of the workspace stack needs, so deploys run
platform then workspace and destroys the reverse, each stack in its own cdktf command. A deploy checks the
Unity Catalog preconditions of the workspace stack between the two (`preflight.py`). `--dry-run` prints
`Rollout.describe()`; a real run executes the same steps, and the cdktf commands are the ones printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from infra.config import PlatformConfig, TeamEnv
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.preflight import check_preconditions
from infra.lifecycle.runner import CDKTF, StackCommand

if TYPE_CHECKING:
    from infra.lifecycle.services import Services


@dataclass(frozen=True)
class Rollout:
    action: Literal["deploy", "destroy"]
    team_env: TeamEnv
    outdir: Path
    auto_approve: bool

    @property
    def stacks(self) -> list[str]:
        names = self.team_env.names
        order = [names.platform_stack, names.workspace_stack]
        return order if self.action == "deploy" else order[::-1]

    @property
    def commands(self) -> list[StackCommand]:
        return [StackCommand(self.action, stack, self.outdir, self.auto_approve) for stack in self.stacks]

    def steps(self) -> list[str]:
        platform, workspace = self.team_env.names.platform_stack, self.team_env.names.workspace_stack
        return [
            "build the churn wheel: ml/ -> dist/",
            f"synthesize {platform} and {workspace} into {self.outdir}/stacks",
            *(str(command) for command in self.commands),
        ]

    def describe(self) -> list[str]:
        header = f"{self.action} {self.team_env.key}: {' then '.join(self.stacks)}"
        return [header, *(f"  {number}. {step}" for number, step in enumerate(self.steps(), start=1))]


def prepare(
    rollout: Rollout, config: PlatformConfig, services: Services, *, wheel: Path | None = None
) -> None:
    """Build the wheel (unless one is given) and synthesize exactly the rollout's two stacks."""
    wheel = wheel or services.build_wheel()
    services.synthesize(config, [rollout.team_env], rollout.outdir, wheel)


def execute(
    rollout: Rollout, config: PlatformConfig, services: Services, *, report: Callable[[str], None]
) -> None:
    """Run every step, holding the output directory; the first failing cdktf command stops the rollout
    (OperationFailed). A missing npx is refused (MissingTool) before anything is built."""
    steps = rollout.steps()
    services.runner.require(CDKTF[0])
    with exclusive_outdir(rollout.outdir, purpose=f"{rollout.action} {rollout.team_env.key}"):
        report(f"[1/{len(steps)}] {steps[0]}")
        wheel = services.build_wheel()
        report(f"[2/{len(steps)}] {steps[1]}")
        prepare(rollout, config, services, wheel=wheel)
        for number, command in enumerate(rollout.commands, start=3):
            if rollout.action == "deploy" and command.stack == rollout.team_env.names.workspace_stack:
                # The workspace exists now; nothing inside it has been applied yet (infra/lifecycle/preflight.py).
                check_preconditions(rollout.team_env, services.metastore_view(config, rollout.team_env))
            report(f"[{number}/{len(steps)}] {command}")
            services.runner.run(command)
