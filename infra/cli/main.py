"""`platform`: validate the config, write its schema, synthesize stacks, list team-envs."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.cli.errors import fail, run_cli
from infra.config import ConfigError, PlatformConfig, load_config
from infra.config.model import config_json_schema

app = typer.Typer(
    name="platform",
    help="Provision Azure Databricks for every team and environment in platform.yaml.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file [default: $PLATFORM_CONFIG or ./platform.yaml]."),
]


def _load(config: Path | None) -> PlatformConfig:
    try:
        return load_config(config)
    except ConfigError as exc:
        fail(*exc.lines())


@app.command()
def validate(config: ConfigOption = None) -> None:
    """Check the config; print one line per problem (field path and what is wrong) and exit 2 if any."""
    loaded = _load(config)
    envs = len(loaded.team_envs)
    stacks = sum(len(te.stacks) for te in loaded.team_envs)
    console.print(f"[green]valid[/]: {len(loaded.teams)} teams, {envs} team-envs, {stacks} stacks")


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
) -> None:
    """List team-envs and their stack names."""
    loaded = _load(config)
    rows = [
        {
            "team": te.team.name,
            "env": te.env,
            "region": te.team.region,
            "platform_stack": te.names.platform_stack,
            "workspace_stack": te.stacks.get("workspace", ""),
            "resource_group": te.names.resource_group,
            "catalog": te.names.catalog,
        }
        for te in loaded.team_envs
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("team", "env", "region", "platform stack", "workspace stack", "catalog")
    for row in rows:
        table.add_row(
            row["team"],
            row["env"],
            row["region"],
            row["platform_stack"],
            row["workspace_stack"],
            row["catalog"],
        )
    console.print(table)


@app.command()
def synth(
    config: ConfigOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("cdktf.out"),
    wheel: Annotated[
        Path | None, typer.Option("--wheel", help="Churn wheel to deploy [default: build it from ml/].")
    ] = None,
) -> None:
    """Synthesize both stacks of every team-env into OUT/stacks/<stack>/cdk.tf.json."""
    from infra.cli.synth import synth_to
    from infra.lifecycle.errors import OperationFailed
    from infra.lifecycle.lock import exclusive_outdir
    from infra.wheel import WheelBuildFailed, WheelNotFound, build_wheel, find_wheel

    loaded = _load(config)
    try:
        wheel_path = find_wheel(wheel) if wheel else build_wheel()
    except WheelNotFound as exc:
        fail(str(exc))
    except WheelBuildFailed as exc:
        fail(str(exc), code=1)
    with console.status(f"synthesizing {len(loaded.team_envs) * 2} stacks"):
        try:
            with exclusive_outdir(out.resolve(), purpose="synth"):
                summaries = synth_to(loaded, out=out, wheel=wheel_path)
        except OperationFailed as exc:  # another command holds --out
            fail(str(exc), code=1)
        except RuntimeError as exc:  # jsii surfaces validation (policy) failures as RuntimeError
            fail(*_synth_problems(exc), code=1)
        except OSError as exc:
            fail(f"--out: cannot write {out}: {exc.strerror}")
    table = Table(
        "stack", "team-env", "component", "resources", "outputs", title=f"Synthesized into {out}/stacks"
    )
    for s in summaries:
        table.add_row(s.name, s.team_env, s.component, str(s.resources), str(s.outputs))
    console.print(table)


def _synth_problems(exc: RuntimeError) -> list[str]:
    lines = [line.strip() for line in str(exc).splitlines()]
    problems = [line for line in lines if line.startswith("[")]
    return ["synth failed; nothing was written", *(problems or lines[:1])]


from infra.cli.lifecycle import register  # noqa: E402  (registers onto `app`, defined above)

register(app)
from infra.cli.scan import register as register_scan; register_scan(app)  # noqa: E402, E702, I001  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    if argv is None:  # the installed `platform` command; tests pass argv and stay in-process
        _run_optimized()
    run_cli(app, argv, prog_name="platform")


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
