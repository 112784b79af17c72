"""`platform bundle-targets TEAM`: the bundle targets a bundle team includes from its own repository
(infra/lifecycle/bundle_targets.py builds them; this module only reads the options and reports)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from infra.cli import lifecycle
from infra.cli.errors import fail
from infra.cli.lifecycle import reported, say, stdout_to_stderr
from infra.cli.options import ConfigOption, load_or_fail
from infra.lifecycle.bundle_targets import (
    check_out_file,
    ephemeral_env,
    permanent_envs,
    read_deployed,
    render,
    select,
    targets_document,
    team_and_env,
    write_atomically,
)
from infra.lifecycle.errors import InputProblem


def bundle_targets(
    team: Annotated[
        str,
        typer.Argument(metavar="TEAM", help="e.g. pricing, or pricing/dev for --env dev", show_default=False),
    ],
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Only this env's target, also an ephemeral env of the team \\[default: dev, staging, prod].",
        ),
    ] = None,
    workload: Annotated[
        str | None,
        typer.Option("--workload", help="The bundle workload \\[default: the team's only bundle workload]."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the file here (a new .yml/.yaml file, or one this command wrote) instead of printing it.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the targets as JSON instead of YAML.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write the bundle targets of TEAM's bundle workload: one per env, read from its deployed workspace stack."""
    loaded = load_or_fail(config)
    with reported():
        team, env = team_and_env(team, env)
        chosen = select(loaded, team, workload=workload)
        team_envs = permanent_envs(loaded, team, env)
        if out is not None:
            if as_json:
                raise InputProblem(
                    "--json", "prints to stdout; drop --out, or drop --json to write the YAML file"
                )
            check_out_file(out)
        services = lifecycle.services_factory()
        if team_envs is None:  # --env names no permanent env: an ephemeral one of the team, from its tags
            team_envs = [ephemeral_env(loaded, team, str(env), services)]
        with stdout_to_stderr():  # synthesizing may print; stdout carries only the file
            deployed = read_deployed(loaded, team_envs, chosen.name, services, outdir=services.outdir)
        document = targets_document(team_envs, chosen, deployed)
        if as_json:
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
            return
        text = render(document, team=team)
        if out is None:
            sys.stdout.write(text)
            return
        try:
            write_atomically(out, text)
        except OSError as exc:
            fail(f"--out: cannot write {out}: {exc.strerror}")
    say(f"wrote {out}: targets {', '.join(document['targets'])} of workload {chosen.name}")


def register(app: typer.Typer) -> None:
    """Add `platform bundle-targets` to the platform CLI."""
    app.command("bundle-targets")(bundle_targets)
