"""`platform`: the app and its small commands (validate, schema, envs); synth, scan and the lifecycle
commands live in their own modules and are registered here, so every arrow points from here down."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.cli import bundle, env, lifecycle, plan, sat, scan, synth
from infra.cli.errors import fail, run_cli
from infra.cli.options import ConfigOption, full_width, load_or_fail
from infra.config import ConfigError, PlatformConfig, load_config
from infra.config.deployability import deploy_warnings
from infra.config.loader import resolve_config_path
from infra.config.model import config_json_schema
from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.workspace_urls import workspace_urls

app = typer.Typer(
    rich_markup_mode="rich",  # explicit: the default differs across typer versions, and `\[` is an escape only in this mode
    name="platform",
    help="Provision Databricks on Azure and AWS for every team and environment in platform.yaml.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


@app.command()
def validate(
    config: ConfigOption = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the verdict as JSON on stdout, each problem with its field path."),
    ] = False,
) -> None:
    """Check the config; print one line per problem (field path and what is wrong) and exit 2 if any."""
    if as_json:
        _validate_json(config)
        return
    loaded = load_or_fail(config)
    envs = len(loaded.team_envs)
    stacks = sum(len(te.stacks) for te in loaded.team_envs)
    console.print(f"[green]valid[/]: {len(loaded.teams)} teams, {envs} team-envs, {stacks} stacks")
    for warning in deploy_warnings(loaded):
        console.print(f"[yellow]warning[/]: {warning}", soft_wrap=True, markup=True, highlight=False)


# A problem line starts with the field path it is about (`teams[0].environments.dev.network: ...`).
_FIELD_PATH = re.compile(r"^(?P<field>[A-Za-z_][\w.\[\]-]*): (?P<message>.*)$", re.DOTALL)


def split_problem(problem: str) -> dict[str, str | None]:
    """`{"field": path or None, "message": ...}` of one problem line of the config."""
    matched = _FIELD_PATH.match(problem)
    if matched is None:
        return {"field": None, "message": problem}
    return {"field": matched["field"], "message": matched["message"]}


def _validate_json(config: Path | None) -> None:
    """`validate --json`: the verdict on stdout; exit 2 when the config has problems, as without --json."""
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        problems = [split_problem(problem) for problem in exc.problems]
        verdict = {"valid": False, "config": exc.source, "problems": problems}
        sys.stdout.write(json.dumps(verdict, indent=2) + "\n")
        raise SystemExit(2) from None
    verdict = {
        "valid": True,
        "config": str(resolve_config_path(config)),
        "teams": len(loaded.teams),
        "team_envs": len(loaded.team_envs),
        "stacks": sorted(stack for te in loaded.team_envs for stack in te.stacks.values()),
        "warnings": [split_problem(warning) for warning in deploy_warnings(loaded)],
    }
    sys.stdout.write(json.dumps(verdict, indent=2) + "\n")


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the JSON Schema of platform.yaml (editors use it to complete and check the file)."""
    text = json.dumps(config_json_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.write_text(text)
        except OSError as exc:
            fail(f"--out: cannot write {out}: {exc.strerror}")
        console.print(f"wrote {out}")


@app.command()
def envs(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    urls: Annotated[
        bool,
        typer.Option(
            "--urls",
            help="Also show each deployed env's workspace URL, read from its state with `terraform output` "
            "(synthesizes the stacks first; needs access to the state).",
        ),
    ] = False,
) -> None:
    """List team-envs, their stacks in deploy order and where their resources live."""
    loaded = load_or_fail(config)
    found = _workspace_urls(loaded) if urls else {}
    rows = [
        {
            "team": te.team.name,
            "env": te.env,
            "cloud": te.team.cloud,
            "region": te.team.region,
            "stacks": list(te.stacks.values()),
            "platform_stack": te.names.platform_stack,
            "account_stack": te.stacks.get("account"),
            "workspace_stack": te.stacks.get("workspace", ""),
            # An AWS env has no resource group: its resources are found by their tags in its region.
            "resource_group": te.names.resource_group if te.team.cloud == "azure" else None,
            "catalog": te.names.catalog,
            **({"workspace_url": _url_or_none(found[te.key])} if urls else {}),
        }
        for te in loaded.team_envs
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    columns = ["team", "env", "cloud", "region", "stacks (deploy order)", "resource group", "catalog"]
    table = Table(*columns, *(["workspace URL"] if urls else []))
    for row in rows:
        table.add_row(
            row["team"],
            row["env"],
            row["cloud"],
            row["region"],
            ", ".join(row["stacks"]),
            row["resource_group"] or "-",
            row["catalog"],
            *([row["workspace_url"] or "-"] if urls else []),
        )
    full_width(console).print(table)


def _workspace_urls(config: PlatformConfig) -> dict[str, str | OperationFailed]:
    """TEAM/ENV -> URL or why not; one line on stderr per env whose URL cannot be read (not deployed, no access)."""
    with lifecycle.reported():
        services = lifecycle.services_factory()
        found = workspace_urls(config, config.team_envs, services, outdir=services.outdir)
    for key, url in found.items():
        if isinstance(url, OperationFailed):
            print(f"warning: {key}: no workspace URL: {url}", file=sys.stderr)
    return found


def _url_or_none(url: str | OperationFailed) -> str | None:
    return None if isinstance(url, OperationFailed) else url


for register in (
    synth.register,
    scan.register,
    lifecycle.register,
    env.register,
    plan.register,
    bundle.register,
    sat.register,
):
    register(app)


# cdktf and terraform ask checkpoint.hashicorp.com for updates on every run unless this is set.
CHECKPOINT_ENV_VAR = "CHECKPOINT_DISABLE"


def main(argv: list[str] | None = None) -> None:
    installed = argv is None  # the installed `platform` command; tests pass argv and stay in-process
    os.environ.setdefault(CHECKPOINT_ENV_VAR, "1")  # every tool the command starts inherits it
    if installed:
        _run_optimized()
    run_cli(app, argv, prog_name="platform", handle_interrupts=installed)


# Set to 1 to keep the provider bindings' Python-side type checks on (e.g. while writing a new construct).
TYPE_CHECKS_ENV_VAR = "PLATFORM_TYPE_CHECKS"


def _run_optimized() -> None:
    """Re-run this command under `python -O`, which skips the `if __debug__:` type checks of the jsii provider
    bindings: about half of the Python time of a synth. The jsii kernel still validates every value it receives, and
    the tests run without -O, so the checks still guard every construct there (docs/architecture.md)."""
    if sys.flags.optimize or os.environ.get(TYPE_CHECKS_ENV_VAR) == "1" or not optimized_bytecode_installed():
        return
    os.execv(sys.executable, [sys.executable, "-O", "-m", "infra.cli.main", *sys.argv[1:]])


def optimized_bytecode_installed() -> bool:
    """Whether `make setup` compiled the bindings for -O; without it every -O run would recompile them (~20 s)."""
    spec = importlib.util.find_spec("cdktf_cdktf_provider_azurerm")
    if spec is None or spec.origin is None:
        return False
    return Path(importlib.util.cache_from_source(spec.origin, optimization=1)).is_file()


if __name__ == "__main__":
    main()
