"""Deploying or destroying one team-env: build the wheel, synthesize its stacks, run cdktf per stack.

Each stack needs what the one before it created: on Azure the platform stack creates the workspace the
workspace stack's Databricks provider needs (and, where the env has one, the account stack attaches its serverless
network policy to); on AWS the platform stack creates the VPC, buckets and roles, the
account stack the workspace, the workspace stack what lives inside it. Deploys run the stacks in that order
(`TeamEnv.stacks`) and destroys the reverse, each stack in its own cdktf command. A deploy checks the Unity
Catalog preconditions of the workspace stack right before it (`preflight.py`). `--dry-run` prints
`Rollout.describe()`; a real run executes the same steps, and the cdktf commands are the ones printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from infra.config import PlatformConfig, TeamEnv
from infra.constructs.contracts import WORKSPACE_URL_OUTPUT
from infra.lifecycle.account_move import (
    refuse_account_resources_in_platform_state,
    refuse_orphaned_account_stack,
)
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.moved_state import refuse_unmoved_local_state
from infra.lifecycle.network_release import describe_release, release_workspace, releases_workspace
from infra.lifecycle.preflight import check_preconditions
from infra.lifecycle.runner import CDKTF, StackCommand
from infra.lifecycle.runner_address import check_runner_listed, describe_check
from infra.wheelhouse import describe_fetch

if TYPE_CHECKING:
    from infra.lifecycle.services import Services


@dataclass(frozen=True)
class Rollout:
    action: Literal["deploy", "destroy"]
    team_env: TeamEnv
    outdir: Path
    auto_approve: bool
    only: str | None = None
    """One stack of the env by its component (`workspace`): the smallest apply that ships a change to a managed
    workload's package (docs/ml-lifecycle.md). All of the env's stacks are still synthesized (the workspace stack
    reads the others' outputs from their state); only this one is deployed."""

    def __post_init__(self) -> None:
        if self.only is not None and self.only not in self.team_env.stacks:
            raise InputProblem(
                "--only",
                f"{self.only!r} is not a stack of {self.team_env.key} (stacks: {', '.join(self.team_env.stacks)})",
            )

    @property
    def stacks(self) -> list[str]:
        order = [name for component, name in self.team_env.stacks.items() if self.only in (None, component)]
        return order if self.action == "deploy" else order[::-1]

    @property
    def commands(self) -> list[StackCommand]:
        return [StackCommand(self.action, stack, self.outdir, self.auto_approve) for stack in self.stacks]

    @property
    def checks(self) -> list[str]:
        """What is checked before anything is built: the IP access list the runner must be on, when the rollout
        runs the workspace stack (the only one that calls the workspace's API)."""
        if self.team_env.names.workspace_stack not in self.stacks:
            return []
        check = describe_check(self.team_env)
        return [check] if check else []

    def steps(self) -> list[str]:
        return [
            *self.checks,
            "build the churn wheel: ml/ -> dist/",
            *describe_fetch(self.team_env),
            f"synthesize {stack_list(list(self.team_env.stacks.values()))} into {self.outdir}/stacks",
            *(step for command in self.commands for step in self.command_steps(command)),
        ]

    def releases_before(self, command: StackCommand) -> bool:
        """Whether the env's workspace goes back to Databricks' default-policy before the command: it destroys an
        Azure account stack, or deploys an account stack whose env turned restricted_egress off
        (network_release.py)."""
        return releases_workspace(self.team_env, command.stack, self.action)

    def command_steps(self, command: StackCommand) -> list[str]:
        """The command, after the release of a destroy (a deploy's release depends on the stack's state and is
        said only when it happens)."""
        listed = self.action == "destroy" and self.releases_before(command)
        release = [describe_release(command.stack, self.action)] if listed else []
        return [*release, str(command)]

    def describe(self) -> list[str]:
        return numbered(f"{self.action} {self.team_env.key}: {' then '.join(self.stacks)}", self.steps())

    def as_json(self) -> dict:
        """`--dry-run --json`: the same steps, and each cdktf command as the argv that would run."""
        return {
            "action": self.action,
            "target": self.team_env.key,
            "stacks": self.stacks,
            "outdir": str(self.outdir),
            "steps": self.steps(),
            "commands": [command.argv() for command in self.commands],
        }


def numbered(header: str, steps: list[str]) -> list[str]:
    """A dry run's plan: the header, then each step numbered from 1, indented under it."""
    return [header, *(f"  {number}. {step}" for number, step in enumerate(steps, start=1))]


def stack_list(stacks: list[str]) -> str:
    """`a and b`, `a, b and c`."""
    return " and ".join([", ".join(stacks[:-1]), stacks[-1]] if len(stacks) > 1 else stacks)


def prepare(
    rollout: Rollout, config: PlatformConfig, services: Services, *, wheel: Path | None = None
) -> None:
    """Build the wheel (unless one is given) and synthesize exactly the rollout's stacks; refuse an Azure env whose
    platform state still holds the account-level resources that now live in its account stack (account_move.py)."""
    refuse_unmoved_local_state(rollout.team_env, outdir=rollout.outdir)
    wheel = wheel or services.build_wheel()
    services.synthesize(config, [rollout.team_env], rollout.outdir, wheel)
    refuse_account_resources_in_platform_state(rollout.team_env, services.runner, outdir=rollout.outdir)
    refuse_orphaned_account_stack(rollout.team_env, services.runner, outdir=rollout.outdir)


def refuse_undeployed_upstream(rollout: Rollout, services: Services) -> None:
    """With --only, every stack deployed before that one must hold state: the stack reads their outputs, and
    planning it against an empty state fails deep inside Terraform. InputProblem naming the first that does not.
    Call after the stacks are synthesized (reading a state initializes the stack's directory)."""
    if rollout.only is None or rollout.action != "deploy":
        return
    components = list(rollout.team_env.stacks)
    for component in components[: components.index(rollout.only)]:
        stack = rollout.team_env.stacks[component]
        if not services.runner.has_state(stack, outdir=rollout.outdir):
            raise InputProblem(
                "--only",
                f"{stack} has never been applied, so {rollout.stacks[0]} has nothing to read; deploy "
                f"{rollout.team_env.key} without --only first",
            )


def readers(team_env: TeamEnv, component: str) -> list[str]:
    """The env's stacks that read ``component``'s outputs: every later one, except that nothing reads an Azure
    account stack (it only attaches a policy; the workspace stack reads the platform stack)."""
    if team_env.team.cloud == "azure" and component == "account":
        return []
    components = list(team_env.stacks)
    return [team_env.stacks[c] for c in components[components.index(component) + 1 :]]


def refuse_live_downstream(rollout: Rollout, services: Services) -> None:
    """With destroy --only, no stack that reads that one may still hold state: its own destroy plans against the
    outputs, and once they are gone Terraform cannot destroy it ("Unsupported attribute"), so it would stay
    deployed for good. InputProblem naming the first. Call after the stacks are synthesized."""
    if rollout.only is None or rollout.action != "destroy":
        return
    for stack in readers(rollout.team_env, rollout.only):
        if services.runner.has_state(stack, outdir=rollout.outdir):
            raise InputProblem(
                "--only",
                f"{stack} still holds state and reads {rollout.stacks[0]}'s outputs, which it needs to be destroyed "
                f"itself; destroy it first (--only with its component) or destroy {rollout.team_env.key} whole",
            )


def execute(
    rollout: Rollout, config: PlatformConfig, services: Services, *, report: Callable[[str], None]
) -> None:
    """Run every step, holding the output directory; the first failing cdktf command stops the rollout
    (OperationFailed). A missing npx, or a missing or too old Terraform (which cdktf runs), is refused
    (MissingTool) before anything is built."""
    steps = rollout.steps()
    services.runner.require(CDKTF[0], "terraform")
    refuse_unmoved_local_state(rollout.team_env, outdir=rollout.outdir)
    first = len(rollout.checks)
    if first:  # the runner's address, before the lock: nothing is built for a runner that cannot apply
        report(f"[1/{len(steps)}] {steps[0]}")
        check_runner_listed(rollout.team_env, services.public_address)
    with exclusive_outdir(rollout.outdir, purpose=f"{rollout.action} {rollout.team_env.key}"):
        report(f"[{first + 1}/{len(steps)}] {steps[first]}")
        wheel = services.build_wheel()
        report(f"[{first + 2}/{len(steps)}] {steps[first + 1]}")
        prepare(rollout, config, services, wheel=wheel)
        refuse_undeployed_upstream(rollout, services)
        refuse_live_downstream(rollout, services)
        number = first + 2
        for command in rollout.commands:
            if rollout.action == "deploy" and command.stack == rollout.team_env.names.workspace_stack:
                # The workspace exists now; nothing inside it has been applied yet (infra/lifecycle/preflight.py).
                url = workspace_url(rollout.team_env, services, outdir=rollout.outdir)
                check_preconditions(rollout.team_env, services.metastore_view(config, rollout.team_env, url))
            if rollout.releases_before(command):
                if rollout.action == "destroy":
                    number += 1
                    report(f"[{number}/{len(steps)}] {describe_release(command.stack, rollout.action)}")
                release_workspace(
                    rollout.team_env, services, outdir=rollout.outdir, report=report, action=rollout.action
                )
            number += 1
            report(f"[{number}/{len(steps)}] {command}")
            services.runner.run(command)


def workspace_url(team_env: TeamEnv, services: Services, *, outdir: Path) -> str | None:
    """The URL of an AWS team-env's workspace: Databricks picks its deployment name, so only the deployed account
    stack knows it (its `workspace_url` output). None on Azure, where the workspace's ARM ID is derived from the
    names."""
    if team_env.team.cloud != "aws":
        return None
    return services.runner.output(team_env.names.account_stack, WORKSPACE_URL_OUTPUT, outdir=outdir)
