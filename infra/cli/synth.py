"""`platform synth`: build the wheel and synthesize every stack, holding the output directory throughout."""

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra import wheel as wheels
from infra.cli.errors import fail
from infra.cli.options import ConfigOption, OutOption, WheelOption, default_outdir, load_or_fail
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.synthesis import check_outdir, synth_to
from infra.wheelhouse import WheelhouseUnavailable

console = Console()
# With --json, stdout carries only the JSON: the spinner goes to stderr.
progress_console = Console(stderr=True)


def synth(
    config: ConfigOption = None,
    out: OutOption = None,
    wheel: WheelOption = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the stacks written, the wheel and the output directory as JSON."),
    ] = False,
) -> None:
    """Synthesize every stack of every team-env into OUT/stacks/<stack>/cdk.tf.json."""
    loaded = load_or_fail(config)
    out = out or default_outdir()
    try:
        check_outdir(out)
        explicit = wheels.find_wheel(wheel) if wheel else None
    except (InputProblem, wheels.WheelNotFound) as exc:
        fail(str(exc))
    with (progress_console if as_json else console).status(
        f"synthesizing {sum(len(te.stacks) for te in loaded.team_envs)} stacks"
    ):
        try:
            # The lock covers everything synth writes, the wheel build included: another command's build
            # would otherwise replace the wheel under this synth.
            with exclusive_outdir(out.resolve(), purpose="synth"):
                wheel_path = explicit or wheels.build_wheel()
                summaries = synth_to(loaded, out=out, wheel=wheel_path)
        except OperationFailed as exc:  # another command holds --out
            fail(str(exc), code=1)
        except wheels.WheelBuildFailed as exc:
            fail(str(exc), code=1)
        except WheelhouseUnavailable as exc:  # no network and no cached wheel: the runner needs a fix
            fail(f"wheelhouse: {exc}")
        except RuntimeError as exc:  # jsii surfaces validation (policy) failures as RuntimeError
            fail(*_synth_problems(exc), code=1)
        except OSError as exc:
            if exc.filename is None:  # not a file of --out: e.g. the jsii kernel's pipe after Ctrl-C
                raise
            fail(f"--out: cannot write {out}: {exc.strerror}")
    if as_json:
        written = {
            "outdir": str(out.resolve()),
            "wheel": str(wheel_path.resolve()),
            "stacks": [summary.as_json() for summary in summaries],
        }
        sys.stdout.write(json.dumps(written, indent=2) + "\n")
        return
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


def register(app: typer.Typer) -> None:
    """Add `platform synth` to the platform CLI."""
    app.command()(synth)
