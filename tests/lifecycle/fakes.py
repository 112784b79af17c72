"""Fakes for everything the lifecycle reaches outside itself, and helpers that build resource groups.

One `events` list records every external step in order (wheel, synth, cdktf, state reads, Azure deletes),
so tests can assert the exact sequence a command produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.lifecycle.azure import ResourceGroupInfo
from infra.lifecycle.databricks import RunProgress
from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.runner import StackCommand
from infra.lifecycle.services import Services

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Clock:
    """An injected clock whose sleep only moves time forward, so waiting is instant."""

    def __init__(self, now: datetime = NOW):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


class FakeRunner:
    def __init__(self, events: list[str]):
        self.events = events
        self.commands: list[StackCommand] = []
        self.stacks_with_state: set[str] = set()
        self.failing: set[str] = set()
        """Stacks whose cdktf command exits non-zero."""

    def run(self, command: StackCommand) -> None:
        self.commands.append(command)
        self.events.append(f"{command.action} {command.stack}")
        if command.stack in self.failing:
            raise OperationFailed(f"cdktf {command.action} {command.stack} failed (exit 1)")

    def has_state(self, stack: str, *, outdir: Path) -> bool:
        self.events.append(f"state? {stack}")
        return stack in self.stacks_with_state


class FakeResourceGroups:
    def __init__(self, events: list[str]):
        self.events = events
        self.groups: list[ResourceGroupInfo] = []
        self.deleted: list[str] = []
        self.lists = 0

    def list(self) -> list[ResourceGroupInfo]:
        self.lists += 1
        return list(self.groups)

    def delete(self, name: str) -> None:
        self.events.append(f"delete group {name}")
        self.deleted.append(name)


class FakeWorkspace:
    """A scripted Databricks workspace: each get of the run returns the next scripted progress."""

    def __init__(self):
        self.jobs: dict[str, list[int]] = {}
        self.progress: list[RunProgress] = []
        self.errors: dict[int, str] = {}
        self.aliases: list[int | None] = [None, None]
        """alias_version answers, in call order (before the run, after it)."""
        self.started: list[int] = []
        self.cancelled: list[int] = []

    def job_ids(self, name: str) -> list[int]:
        return self.jobs.get(name, [])

    def run_now(self, job_id: int) -> int:
        self.started.append(job_id)
        return 900 + job_id

    def run(self, run_id: int) -> RunProgress:
        return self.progress.pop(0) if len(self.progress) > 1 else self.progress[0]

    def run_error(self, run_id: int) -> str | None:
        return self.errors.get(run_id)

    def cancel(self, run_id: int) -> None:
        self.cancelled.append(run_id)

    def alias_version(self, model: str, alias: str) -> int | None:
        assert alias == "challenger"
        return self.aliases.pop(0)


class FakeMetastoreView:
    """A workspace's Unity Catalog as the deployer sees it; healthy by default (deployer owns the metastore)."""

    def __init__(self, caller: str = "3f2b6c1e-8d4a-4b7e-9c0d-2a1b3c4d5e6f"):
        self.caller_name = caller
        self.groups: frozenset[str] = frozenset()
        self.assigned: str | None = "11111111-2222-4333-8444-555555555555"
        self.owner: str | None = caller
        self.privileges: dict[str, set[str]] = {}
        self.reads: list[str] = []
        self.error: Exception | None = None
        """Raised by every read, the way the SDK fails (auth, network, API errors)."""

    def caller(self):
        from infra.lifecycle.preflight import Caller

        self._read("caller")
        return Caller(self.caller_name, self.groups)

    def assigned_metastore(self) -> str | None:
        self._read("assigned")
        return self.assigned

    def metastore_owner(self, metastore_id: str) -> str | None:
        self._read("owner")
        return self.owner

    def effective_privileges(self, metastore_id: str) -> dict[str, set[str]]:
        self._read("privileges")
        return self.privileges

    def _read(self, what: str) -> None:
        self.reads.append(what)
        if self.error is not None:
            raise self.error


@dataclass
class Fakes:
    tmp: Path
    events: list[str] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)
    interactive: bool = False
    answers: list[str] = field(default_factory=list)
    owner: str | None = "dev@example.com"
    synthesized: list[tuple[list[str], Path, Path]] = field(default_factory=list)
    """(team-env keys, outdir, wheel) per synth."""
    synthesized_envs: list = field(default_factory=list)

    def __post_init__(self):
        self.runner = FakeRunner(self.events)
        self.groups = FakeResourceGroups(self.events)
        self.workspace = FakeWorkspace()
        self.metastore = FakeMetastoreView()
        self.wheel = self.tmp / "dist" / "churn-0.1.0-py3-none-any.whl"

    @property
    def outdir(self) -> Path:
        return self.tmp / "cdktf.out"

    def build_wheel(self) -> Path:
        self.events.append("build wheel")
        self.wheel.parent.mkdir(parents=True, exist_ok=True)
        self.wheel.write_bytes(b"wheel")
        return self.wheel

    def synthesize(self, config, team_envs, outdir, wheel) -> None:
        stacks = [s for te in team_envs for s in (te.names.platform_stack, te.names.workspace_stack)]
        self.events.append("synth " + " ".join(stacks))
        self.synthesized.append(([te.key for te in team_envs], outdir, wheel))
        self.synthesized_envs.extend(team_envs)

    def ask(self, prompt: str) -> str:
        self.events.append(f"ask {prompt}")
        return self.answers.pop(0)

    def services(self) -> Services:
        return Services(
            runner=self.runner,
            build_wheel=self.build_wheel,
            synthesize=self.synthesize,
            resource_groups=lambda config: self.groups,
            training_workspace=lambda config, target: self.workspace,
            clock=self.clock,
            sleep=self.clock.sleep,
            is_interactive=lambda: self.interactive,
            ask=self.ask,
            default_owner=lambda: self.owner,
            outdir=self.outdir,
            metastore_view=lambda config, team_env: self.metastore,
        )

    def nothing_happened(self) -> bool:
        """No wheel, no synth, no cdktf, no delete: what every bad-input case must leave behind."""
        return self.events == [] and not self.wheel.exists() and not self.outdir.exists()


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


def ephemeral_tags(
    *, team="churn", env="pr1", base="dev", owner="dev@example.com", expires="2026-11-22T10:00:00Z", slot="0"
) -> dict[str, str]:
    """The tags `env up` writes on an ephemeral env's resource group (TeamEnv.tags + network-slot)."""
    return {
        "team": team,
        "env": env,
        "cost-center": "CC-4711",
        "managed-by": "cdktf-platform",
        "ephemeral": "true",
        "expires-at": expires,
        "owner": owner,
        "base-env": base,
        "network-slot": slot,
    }


def ephemeral_group(**tags) -> ResourceGroupInfo:
    values = ephemeral_tags(**tags)
    return ResourceGroupInfo(name=f"rg-dbp-{values['team']}-{values['env']}", tags=values)


def permanent_group(team="churn", env="dev") -> ResourceGroupInfo:
    return ResourceGroupInfo(
        name=f"rg-dbp-{team}-{env}",
        tags={"team": team, "env": env, "cost-center": "CC-4711", "managed-by": "cdktf-platform"},
    )
