"""`platform deploy|destroy|smoke`: the lifecycle of team-envs (the `env` group is in infra/cli/env.py).

Bad input is one line on stderr and exit code 2, before anything is built or touched; a failing cdktf
command, Azure call or Databricks run is one line and exit code 1. Every external call goes through
`services_factory()`, which tests replace with fakes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from infra.cli.errors import fail
from infra.cli.options import ConfigOption, load_or_fail
from infra.config import PlatformConfig
from infra.lifecycle.databricks import RunProgress
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.rollout import Rollout, execute
from infra.lifecycle.services import Services, real_services
from infra.lifecycle.smoke import (
    NothingToSmoke,
    describe_smoke,
    run_smoke,
    smoke_target,
    with_workspace_url,
)
from infra.lifecycle.targets import permanent_team_env
from infra.lifecycle.ttl import (
    format_duration,
    parse_duration,
)


class Cloud(StrEnum):
    azure = "azure"
    aws = "aws"


# Tests replace this with a factory of fakes.
services_factory: Callable[[], Services] = real_services

console = Console()

TargetArgument = Annotated[str, typer.Argument(metavar="TEAM/ENV", help="e.g. churn/dev", show_default=False)]
AutoApproveOption = Annotated[
    bool,
    typer.Option("--auto-approve", help="Let cdktf apply without its prompt (required without a terminal)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the stacks and exact commands that would run; run nothing.")
]
DryRunJsonOption = Annotated[
    bool, typer.Option("--json", help="With --dry-run: print the stacks, steps and commands as JSON.")
]
OnlyOption = Annotated[
    str | None,
    typer.Option(
        "--only",
        envvar="PLATFORM_ONLY",
        metavar="STACK",
        help="Deploy only this stack of the env (e.g. workspace: what a change under a managed workload's package "
        "needs); the others are still synthesized. Also $PLATFORM_ONLY.",
    ),
]
CloudOption = Annotated[
    Cloud | None,
    typer.Option(
        "--cloud", help="Read only this cloud's ephemeral envs (e.g. where only one cloud is logged in to)."
    ),
]


def register(app: typer.Typer) -> None:
    """Add the lifecycle commands and the `env` group to the platform CLI."""
    app.command()(deploy)
    app.command()(destroy)
    app.command()(smoke)


def deploy(
    target: TargetArgument,
    auto_approve: AutoApproveOption = False,
    dry_run: DryRunOption = False,
    as_json: DryRunJsonOption = False,
    config: ConfigOption = None,
    only: OnlyOption = None,
) -> None:
    """Build the wheels, synthesize the env's stacks, deploy them in order: platform, account (AWS, and Azure envs
    with restricted serverless egress), workspace (with --only, just that one)."""
    with reported():
        loaded, services = load_or_fail(config), services_factory()
        rollout = Rollout(
            "deploy", permanent_team_env(loaded, target), services.outdir, auto_approve, only=only
        )
        _run_or_describe(rollout, loaded, services, dry_run=dry_run, as_json=as_json)


def destroy(
    target: TargetArgument,
    force_prod: Annotated[
        bool, typer.Option("--force-prod", help="Allow destroying a prod env; you must type its key back.")
    ] = False,
    auto_approve: AutoApproveOption = False,
    dry_run: DryRunOption = False,
    as_json: DryRunJsonOption = False,
    config: ConfigOption = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            metavar="COMPONENT",
            help="Destroy only this stack of the env (platform, account or workspace), e.g. an Azure env's "
            "account stack before turning serverless.restricted_egress off (docs/security.md, Serverless). "
            "No $PLATFORM_ONLY: a deploy's scope never narrows a destroy by accident.",
        ),
    ] = None,
) -> None:
    """Destroy the env's stacks in reverse deploy order (workspace, account where it has one, platform); with
    --only, just that one. Prod needs --force-prod and a typed confirmation."""
    with reported():
        loaded, services = load_or_fail(config), services_factory()
        team_env = permanent_team_env(loaded, target)
        is_prod = team_env.kind == "prod"
        if is_prod and not force_prod:
            raise InputProblem(
                "--force-prod", f"{team_env.key} is a production env; destroying it needs --force-prod"
            )
        # A bad --only is refused before anyone is asked to type the env's name.
        rollout = Rollout("destroy", team_env, services.outdir, auto_approve, only=only)
        if is_prod and not dry_run:
            _confirm_by_typing(team_env.key, services)
        _run_or_describe(rollout, loaded, services, dry_run=dry_run, as_json=as_json)


def smoke(
    target: TargetArgument,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Give up (and cancel the run) after 30m, 2h, ...")
    ] = "1h",
    config: ConfigOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what the smoke test would do; call no cloud or workspace."),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="On success print run id, URLs and model version as JSON; progress to stderr."
        ),
    ] = False,
    workload: Annotated[
        str | None,
        typer.Option(
            "--workload", help="The managed workload whose job runs (default: churn, else the team's first)."
        ),
    ] = None,
    job: Annotated[
        str | None,
        typer.Option(
            "--job", help="The workload's job to run (default: churn's training, else its first job)."
        ),
    ] = None,
) -> None:
    """Run a managed workload's job in the env now and follow it to the end (default: the churn training job,
    which must register a new `challenger`; any other job passes when its run succeeds)."""
    from databricks.sdk.errors import DatabricksError

    stdout = sys.stdout
    # With --json, stdout carries only the JSON; the progress lines go to stderr.
    progress_to = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with reported(), progress_to:
        loaded, services = load_or_fail(config), services_factory()
        try:
            smoke_on = smoke_target(loaded, target, workload=workload, job=job)
        except NothingToSmoke as exc:  # CI smokes every team after its staging apply: a pass with nothing run
            say(f"smoke {target}: {exc}")
            if as_json:
                stdout.write(
                    json.dumps({"target": target, "job": None, "skipped": str(exc)}, indent=2) + "\n"
                )
            return
        limit = parse_duration(timeout, field="--timeout")
        if dry_run:
            for line in describe_smoke(loaded, smoke_on, timeout=limit, outdir=services.outdir):
                say(line)
            say("dry run: nothing was built or run")
            return
        if smoke_on.cloud == "aws":
            say(f"smoke {smoke_on.key}: reading the workspace URL from its account stack")
            smoke_on = with_workspace_url(loaded, smoke_on, services)
        try:
            workspace = services.training_workspace(loaded, smoke_on)
        except ValueError as exc:  # the SDK reports unusable auth or config as ValueError
            raise OperationFailed(f"Databricks: {_first_line(exc)}") from None
        say(f"smoke {smoke_on.key}: running {smoke_on.job_name}, timeout {format_duration(limit)}")
        try:
            with _RunFollower(services.clock) as follow:
                result = run_smoke(
                    workspace,
                    smoke_on,
                    timeout=limit,
                    clock=services.clock,
                    sleep=services.sleep,
                    on_progress=follow,
                )
        except DatabricksError as exc:
            raise OperationFailed(f"Databricks: {_first_line(exc)}") from None
        registered = (
            f"; {smoke_on.model_name} version {result.version} is the challenger"
            if smoke_on.model_name
            else ""
        )
        say(f"passed: run {result.run_id} succeeded in {format_duration(result.took)}{registered}")
        if as_json:
            passed = {
                "target": smoke_on.key,
                "job": smoke_on.job_name,
                "run_id": result.run_id,
                "run_url": result.url,
                "workspace_url": smoke_on.workspace_url,
                "model_name": smoke_on.model_name,
                "version": result.version,
                "took_seconds": int(result.took.total_seconds()),
            }
            stdout.write(json.dumps(passed, indent=2) + "\n")


class _RunFollower:
    """Prints each new state of a run (so CI logs stay short); at a terminal also a spinner with the time waited."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._started = clock()
        self._last: str | None = None
        self._linked = False  # the run's page URL is printed once, as soon as it is known
        self._spinner = console.status("starting the run") if console.is_terminal else None

    def __enter__(self) -> _RunFollower:
        if self._spinner:
            self._spinner.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._spinner:
            self._spinner.stop()

    def __call__(self, progress: RunProgress) -> None:
        summary = progress.summary()
        if summary != self._last:
            self._last = summary
            link = f"  {progress.url}" if progress.url and not self._linked else ""
            self._linked = self._linked or bool(link)
            say(summary + link)
        if self._spinner:
            self._spinner.update(f"{summary}, {format_duration(self._clock() - self._started)} so far")


# --- helpers -------------------------------------------------------------------------------------------


@contextmanager
def reported() -> Iterator[None]:
    try:
        yield
    except InputProblem as exc:
        fail(str(exc))
    except OperationFailed as exc:
        fail(str(exc), code=1)


def say(line: str) -> None:
    # Plain print: rich would wrap long command lines and read `[...]` as markup.
    print(line, flush=True)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what is printed, by Python and by the tools it starts (cdktf streams into the inherited stdout), to
    stderr: with --json, stdout carries only the JSON, written after this block."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def print_dry_run(lines: list[str]) -> None:
    for line in lines:
        say(line)
    say("dry run: nothing was built, synthesized, deployed or destroyed")


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _run_or_describe(
    rollout: Rollout, config: PlatformConfig, services: Services, *, dry_run: bool, as_json: bool = False
) -> None:
    if as_json and not dry_run:
        raise InputProblem("--json", "only with --dry-run: a real run streams cdktf's own output")
    if as_json:
        sys.stdout.write(json.dumps(rollout.as_json(), indent=2) + "\n")
        return
    if dry_run:
        print_dry_run(rollout.describe())
        return
    _require_approver(rollout.auto_approve, services)
    execute(rollout, config, services, report=say)
    say(f"{rollout.action}ed {rollout.team_env.key}")


def _require_approver(auto_approve: bool, services: Services) -> None:
    if not auto_approve and not services.is_interactive():
        raise InputProblem(
            "--auto-approve",
            "required when stdin is not a terminal: cdktf would wait for an approval nobody can give",
        )


def _confirm_by_typing(key: str, services: Services) -> None:
    if not services.is_interactive():
        raise InputProblem(
            "--force-prod",
            f"destroying {key} must be confirmed by typing it, and stdin is not a terminal; refusing",
        )
    typed = services.ask(f"This destroys {key}. Type {key} to confirm: ").strip()
    if typed != key:
        raise InputProblem("confirmation", f"typed {typed!r}, not {key!r}; nothing was destroyed")


def clouds_of(cloud: Cloud | None) -> list[str] | None:
    return None if cloud is None else [cloud.value]


def warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
