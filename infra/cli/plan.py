"""`platform plan TEAM/ENV`: synthesize the env's stacks and show what a deploy would change, stack by stack.

Human output is one summary per stack (infra/lifecycle/plan.py); `--json` prints the documented shape on stdout
(progress goes to stderr), for a CI step to post or to judge. `--fail-on-changes` makes changes a verdict (exit 1),
for the nightly drift check.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from infra.cli import lifecycle
from infra.cli.options import ConfigOption, load_or_fail
from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.plan import plan_team_env
from infra.lifecycle.targets import permanent_team_env


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)


def plan(
    target: lifecycle.TargetArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan summary as JSON (docs/operations.md) on stdout.")
    ] = False,
    fail_on_changes: Annotated[
        bool, typer.Option("--fail-on-changes", help="Exit 1 when any stack would change (drift checks).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Synthesize TEAM/ENV's stacks and run `terraform plan` on each in deploy order; summarize each plan."""

    def progress(line: str) -> None:
        print(line, file=sys.stderr if as_json else sys.stdout, flush=True)

    with lifecycle.reported():
        loaded, services = load_or_fail(config), lifecycle.services_factory()
        team_env = permanent_team_env(loaded, target)
        result = plan_team_env(team_env, loaded, services, report=progress)
        if as_json:
            sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
        else:
            for stack in result.stacks:
                for line in stack.describe():
                    print(line, flush=True)
        if fail_on_changes and result.has_changes:
            changed = [s.stack for s in result.stacks if s.has_changes]
            raise OperationFailed(f"{team_env.key}: {', '.join(changed)} would change")
