"""`platform apply TEAM/ENV --plan-dir DIR`: apply exactly the plans `platform plan` showed, or nothing.

DIR is what the plan step kept: `plan.json` (`platform plan --json`) and `stacks/<stack>/tfplan` for every
planned stack. The stacks are synthesized again from this checkout; each must hash to the `stack_sha256` its
plan was made from, or nothing is applied (the code changed between plan and apply: plan again). Then each saved
plan is copied into its stack's directory and applied in deploy order, with the deploy's Unity Catalog preflight before the workspace stack.
Terraform refuses to apply a plan whose state changed since it was made ("Saved plan is stale"), but only when
it reaches that stack, after the stacks before it were applied; so every stack's state is checked against the
one its plan was made from (the `tfstate` inside the plan file) before any is applied.
Stacks the plan left waiting are not applied: they are planned (and shown) in the next run.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import PlatformConfig, TeamEnv
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.network_release import release_workspace, releases_workspace
from infra.lifecycle.plan import stack_sha256
from infra.lifecycle.preflight import check_preconditions
from infra.lifecycle.rollout import Rollout, prepare, workspace_url
from infra.lifecycle.runner import PLAN_FILE, StateVersion
from infra.lifecycle.runner_address import check_runner_listed

if TYPE_CHECKING:
    from infra.lifecycle.services import Services

PLAN_SUMMARY = "plan.json"
# Terraform records the providers init selected; applying a saved plan needs the same ones.
KEPT_WITH_PLAN = (PLAN_FILE, ".terraform.lock.hcl")


@dataclass(frozen=True)
class SavedPlan:
    """The planned stacks of one team-env (in deploy order) and the ones left waiting."""

    planned: list[tuple[str, str]]
    """(stack, sha256 of the cdk.tf.json it was planned from)"""
    waiting: list[tuple[str, str]]
    """(stack, the stack it waits for)"""
    made_from: dict[str, StateVersion]
    """Planned stack -> the state its plan was made from."""


def planned_state(plan_file: Path) -> StateVersion:
    """The state a saved plan was made from: Terraform keeps a snapshot of it as `tfstate` in the plan (a zip)."""
    try:
        with zipfile.ZipFile(plan_file) as archive:
            return StateVersion.of(archive.read("tfstate").decode())
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise InputProblem("--plan-dir", f"{plan_file} is not a Terraform plan file ({exc})") from None


def is_stale(made_from: StateVersion, current: StateVersion) -> bool:
    """Terraform's own test: another lineage (unless the plan was made without state), or another serial."""
    first_plan = made_from == StateVersion("", 0)
    return (not first_plan and made_from.lineage != current.lineage) or made_from.serial != current.serial


def _is_plan_summary(document: object) -> bool:
    """The fields `platform apply` reads, with their types (a hand-edited or truncated file is refused)."""
    if not isinstance(document, dict) or not isinstance(document.get("stacks"), list):
        return False
    for stack in document["stacks"]:
        if not isinstance(stack, dict) or not isinstance(stack.get("stack"), str):
            return False
        if stack.get("status") == "planned" and isinstance(stack.get("stack_sha256"), str):
            continue
        if stack.get("status") == "waiting" and isinstance(stack.get("waits_for"), str):
            continue
        return False
    return True


def read_saved_plan(plan_dir: Path, team_env: TeamEnv, *, of_stacks: list[str] | None = None) -> SavedPlan:
    """The saved plan of ``team_env`` in ``plan_dir`` (of exactly ``of_stacks``, default all the env's); InputProblem
    (field --plan-dir) when it is not one."""
    summary = plan_dir / PLAN_SUMMARY
    try:
        document = json.loads(summary.read_text())
    except (OSError, ValueError) as exc:
        raise InputProblem("--plan-dir", f"cannot read {summary}: {exc}") from None
    stacks = document.get("stacks") if isinstance(document, dict) else None
    skipped = [s.get("stack") for s in stacks or [] if isinstance(s, dict) and s.get("status") == "skipped"]
    if skipped:
        raise InputProblem(
            "--plan-dir",
            f"{summary} left {', '.join(map(str, skipped))} unplanned (--skip): a plan to read, not to apply; "
            "plan again without --skip",
        )
    if not _is_plan_summary(document):
        raise InputProblem("--plan-dir", f"{summary} is not the output of `platform plan --json`")
    if document.get("target") != team_env.key:
        raise InputProblem(
            "--plan-dir", f"{summary} is the plan of {document.get('target')}, not {team_env.key}"
        )
    stacks = document["stacks"]
    expected = of_stacks if of_stacks is not None else list(team_env.stacks.values())
    if [s.get("stack") for s in stacks] != expected:
        raise InputProblem("--plan-dir", f"{summary} does not plan {', '.join(expected)} in that order")
    planned = [(s["stack"], s["stack_sha256"]) for s in stacks if s["status"] == "planned"]
    for stack, _ in planned:
        if not (plan_dir / "stacks" / stack / PLAN_FILE).is_file():
            raise InputProblem(
                "--plan-dir", f"no saved plan for {stack} ({plan_dir}/stacks/{stack}/{PLAN_FILE})"
            )
    waiting = [(s["stack"], s["waits_for"]) for s in stacks if s["status"] == "waiting"]
    made_from = {stack: planned_state(plan_dir / "stacks" / stack / PLAN_FILE) for stack, _ in planned}
    return SavedPlan(planned=planned, waiting=waiting, made_from=made_from)


def apply_saved_plan(
    team_env: TeamEnv,
    config: PlatformConfig,
    services: Services,
    *,
    plan_dir: Path,
    report: Callable[[str], None],
    only: str | None = None,
) -> SavedPlan:
    """Synthesize, check every planned stack is unchanged, then apply the saved plans in order. Nothing is applied
    when one stack differs (OperationFailed)."""
    rollout = Rollout("deploy", team_env, services.outdir, auto_approve=True, only=only)
    saved = read_saved_plan(plan_dir, team_env, of_stacks=rollout.stacks)
    services.runner.require("terraform")
    if rollout.checks:
        check_runner_listed(team_env, services.public_address)
    with exclusive_outdir(rollout.outdir, purpose=f"apply {team_env.key}"):
        report(f"apply {team_env.key}: building the wheel and synthesizing {', '.join(rollout.stacks)}")
        prepare(rollout, config, services)
        changed = [stack for stack, sha in saved.planned if stack_sha256(rollout.outdir, stack) != sha]
        if changed:
            raise OperationFailed(
                f"{', '.join(changed)} changed since the plan was shown; nothing was applied: plan again"
            )
        for stack, _ in saved.planned:
            for name in KEPT_WITH_PLAN:
                if (plan_dir / "stacks" / stack / name).is_file():
                    shutil.copy2(plan_dir / "stacks" / stack / name, rollout.outdir / "stacks" / stack / name)
        stale = []
        for stack, _ in saved.planned:
            current = services.runner.state_version(stack, outdir=rollout.outdir)
            if is_stale(saved.made_from[stack], current):
                stale.append(f"{stack} (planned at {saved.made_from[stack]}, now {current})")
        if stale:
            raise OperationFailed(
                f"the state of {', '.join(stale)} changed since the plan was made; nothing was applied: plan again"
            )
        for stack, _ in saved.planned:
            if stack == team_env.names.workspace_stack:
                url = workspace_url(team_env, services, outdir=rollout.outdir)
                check_preconditions(team_env, services.metastore_view(config, team_env, url))
            if releases_workspace(
                team_env, stack, "deploy"
            ):  # restricted_egress turned off (network_release.py)
                release_workspace(team_env, services, outdir=rollout.outdir, report=report, action="deploy")
            report(f"applying the saved plan of {stack}")
            services.runner.apply_plan(stack, outdir=rollout.outdir)
    return saved
