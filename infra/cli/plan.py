"""`platform plan TEAM/ENV`: synthesize the env's stacks and show what a deploy would change, stack by stack;
`platform apply TEAM/ENV --plan-dir DIR`: apply exactly those plans (infra/lifecycle/apply.py).

Human output is one summary per stack (infra/lifecycle/plan.py); `--json` prints the documented shape on stdout
(progress goes to stderr), for a CI step to post or to judge. `--fail-on-changes` makes changes a verdict (exit 1),
for the nightly drift check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from infra.cli import lifecycle
from infra.cli.options import ConfigOption, load_or_fail
from infra.lifecycle.apply import PLAN_SUMMARY, apply_saved_plan
from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.plan import plan_team_env
from infra.lifecycle.targets import permanent_team_env


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("apply")(apply)


def plan(
    target: lifecycle.TargetArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan summary as JSON (docs/operations.md) on stdout.")
    ] = False,
    fail_on_changes: Annotated[
        bool, typer.Option("--fail-on-changes", help="Exit 1 when any stack would change (drift checks).")
    ] = False,
    no_lock: Annotated[
        bool,
        typer.Option(
            "--no-lock",
            help="Take no state lock: a preview that is never applied (pull requests); needs only read access.",
        ),
    ] = False,
    config: ConfigOption = None,
    only: lifecycle.OnlyOption = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            "--skip",
            metavar="COMPONENT",
            help="Leave this stack component (e.g. account) out of the plan, reported as skipped; repeatable. "
            "Pull requests skip the account stack, which their read-only identity cannot read.",
        ),
    ] = None,
) -> None:
    """Synthesize TEAM/ENV's stacks and run `terraform plan` on each in deploy order (with --only, on that one;
    with --skip, not on those); summarize each plan."""

    def progress(line: str) -> None:
        print(line, file=sys.stderr if as_json else sys.stdout, flush=True)

    with lifecycle.reported():
        loaded, services = load_or_fail(config), lifecycle.services_factory()
        team_env = permanent_team_env(loaded, target)
        result = plan_team_env(
            team_env, loaded, services, report=progress, lock=not no_lock, only=only, skip=skip or ()
        )
        if as_json:
            sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
        else:
            for stack in result.stacks:
                for line in stack.describe():
                    print(line, flush=True)
        if fail_on_changes and result.has_changes:
            changed = [s.stack for s in result.stacks if s.has_changes]
            raise OperationFailed(f"{team_env.key}: {', '.join(changed)} would change")


def apply(
    target: lifecycle.TargetArgument,
    plan_dir: Annotated[
        Path,
        typer.Option(
            "--plan-dir",
            help=f"Where the plan step kept {PLAN_SUMMARY} (`platform plan --json`) and stacks/<stack>/tfplan.",
        ),
    ],
    config: ConfigOption = None,
    only: lifecycle.OnlyOption = None,
) -> None:
    """Apply exactly the saved plans of TEAM/ENV, in deploy order; refuse if a stack changed since its plan.
    With --only, the plan must be of that one stack (`platform plan --only`)."""
    with lifecycle.reported():
        loaded, services = load_or_fail(config), lifecycle.services_factory()
        team_env = permanent_team_env(loaded, target)
        saved = apply_saved_plan(team_env, loaded, services, plan_dir=plan_dir, report=print, only=only)
        print(f"applied {', '.join(stack for stack, _ in saved.planned) or 'nothing'} of {team_env.key}")
        for stack, waits_for in saved.waiting:
            print(
                f"warning: {stack} was not planned (it needed {waits_for} deployed first): "
                "plan and apply again to deploy it",
                file=sys.stderr,
            )
