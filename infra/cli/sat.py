"""`platform sat set-secret|status`: the Security Analysis Tool's client secret, set through the Databricks API.

Same contract as the lifecycle commands (infra/cli/lifecycle.py, whose reporting and `services_factory` these
reuse): bad input is one line and exit 2, a Databricks or network failure one line and exit 1. The secret comes from
$PLATFORM_SAT_CLIENT_SECRET or stdin (a prompt without echo at a terminal), never both (a left-over variable would
beat the piped one), has no whitespace inside, and is never printed.
"""

from __future__ import annotations

import getpass
import io
import os
import select
import stat
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from infra.cli import lifecycle
from infra.cli.lifecycle import TargetArgument, reported, say
from infra.cli.options import ConfigOption, load_or_fail
from infra.config import PlatformConfig
from infra.lifecycle.azure import subscription_id
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.security_analysis_tool import (
    SECRET_ENV_VAR,
    SatWorkspace,
    describe_set_secret,
    sat_status,
    sat_target,
    set_secret,
)
from infra.lifecycle.services import Services
from infra.lifecycle.smoke import with_workspace_url
from infra.lifecycle.smoke_target import SmokeTarget

sat_app = typer.Typer(
    name="sat",
    help="The Security Analysis Tool's client secret (docs/security.md, 'Security Analysis Tool').",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(sat_app)


@sat_app.command("set-secret")
def set_secret_command(
    target: TargetArgument,
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written (never the value); call nothing.")
    ] = False,
    run_initializer: Annotated[
        bool,
        typer.Option(
            "--run-initializer",
            help="Start SAT's initializer job even when the schedules already run (the first set-secret starts "
            "it anyway; not waited for).",
        ),
    ] = False,
) -> None:
    """Write SAT's client secret (from $PLATFORM_SAT_CLIENT_SECRET or stdin) into its secret scope, then unpause
    SAT's scheduled jobs."""
    with reported():
        loaded = load_or_fail(config)
        on = sat_target(loaded, target)
        if dry_run:
            for line in describe_set_secret(on, _where(loaded, on), run_initializer=run_initializer):
                say(line)
            say("dry run: nothing was read, written or changed")
            return
        value = _read_secret()
        workspace = _open(loaded, on, lifecycle.services_factory())
        for line in _databricks(lambda: set_secret(workspace, on, value, run_initializer=run_initializer)):
            say(f"sat {on.key}: {line}")


@sat_app.command("status")
def status_command(target: TargetArgument, config: ConfigOption = None) -> None:
    """Whether SAT's client secret is set and its schedules run; exit 1 in one line when the secret is missing."""
    with reported():
        loaded = load_or_fail(config)
        on = sat_target(loaded, target)
        workspace = _open(loaded, on, lifecycle.services_factory())
        for line in _databricks(lambda: sat_status(workspace, on)):
            say(line)


def _read_secret() -> str:
    value = os.environ.get(SECRET_ENV_VAR)
    where = f"${SECRET_ENV_VAR}"
    if value is not None and (_piped_input() or "").strip():
        # A variable left exported from the last rotation would silently beat the new secret piped in.
        raise InputProblem(
            where,
            "set, and stdin carries a secret too: which one is it? Unset the variable (a left-over one would "
            "overwrite the new secret) or stop piping; nothing was written",
        )
    if value is None:
        where = "stdin"
        value = getpass.getpass("SAT client secret: ") if sys.stdin.isatty() else sys.stdin.read()
    value = value.strip()  # the newline `echo` or a file adds is no part of a secret
    if not value:
        raise InputProblem(where, "empty: pass SAT's client secret there (it is never printed)")
    if any(character.isspace() for character in value):
        # Entra ID and Databricks OAuth secrets have none; the JSON `az ad app credential reset` prints has.
        raise InputProblem(
            where,
            "has a space or line break inside, which no client secret has: pass the secret alone (not the JSON "
            "of `az ad app credential reset`, not a file of several lines); nothing was written",
        )
    return value


# How long a pipe on stdin may stay silent before it counts as carrying nothing (`echo x |` writes at once).
PIPE_WAIT_SECONDS = 1.0


def _piped_input() -> str | None:
    """What a pipe or a file on stdin carries (`echo ... |`, `< file`); None for a terminal, /dev/null or a pipe
    nothing is written to. GitHub Actions runs a step with stdin a pipe it closes at once (actions/runner
    src/Runner.Sdk/ProcessInvoker.cs: RedirectStandardInput, then StandardInput.Close()): that reads as ""."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    if stat.S_ISREG(mode):
        return sys.stdin.read()
    if stat.S_ISFIFO(mode):
        ready, _, _ = select.select([sys.stdin], [], [], PIPE_WAIT_SECONDS)
        return sys.stdin.read() if ready else None
    return None


def _where(config: PlatformConfig, target: SmokeTarget) -> str:
    if target.cloud == "aws":
        return "the workspace URL from the env's account stack state"
    try:
        return f"workspace {target.workspace_resource_id(subscription_id(config))}"
    except InputProblem:
        return f"workspace {target.workspace_name} in {target.resource_group}"


def _open(config: PlatformConfig, target: SmokeTarget, services: Services) -> SatWorkspace:
    if target.cloud == "aws":
        say(f"sat {target.key}: reading the workspace URL from its account stack")
        target = with_workspace_url(config, target, services)
    try:
        return services.sat_workspace(config, target)
    except ValueError as exc:  # the SDK reports unusable auth or config as ValueError
        raise OperationFailed(f"Databricks: {_first_line(exc)}") from None


def _databricks(call: Callable[[], list[str]]) -> list[str]:
    from databricks.sdk.errors import DatabricksError

    try:
        return call()
    except DatabricksError as exc:  # permission denied, throttling, ...: one line, exit 1
        raise OperationFailed(f"Databricks: {_first_line(exc)}") from None
    except OSError as exc:
        # The SDK retries a failing connection, then raises TimeoutError ("Timed out after 0:05:00") or a
        # requests error (an OSError too): no route to the workspace (VPN, private front end, IP access list).
        # Its message names the host or the wait, never a request body.
        raise OperationFailed(
            f"Databricks: cannot reach the workspace ({_first_line(exc)}); check the network path to it "
            "(VPN, private front end, IP access list)"
        ) from None


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
