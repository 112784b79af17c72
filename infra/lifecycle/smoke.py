"""`platform smoke`: run a managed workload's job in an env now and follow it to the end; for the churn preset's
training job (the default) also check it registered a new challenger."""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import PlatformConfig, TeamEnv
from infra.config.base import EPHEMERAL_NAME
from infra.config.naming import env_names
from infra.config.team import TeamConfig
from infra.config.workload import CHURN_PRESET, ManagedWorkload
from infra.constructs.contracts import WORKSPACE_URL_OUTPUT
from infra.lifecycle.azure import subscription_id
from infra.lifecycle.databricks import RunProgress, TrainingWorkspace
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.inventory import AT_RUN_TIME, read_inventory
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.rollout import Rollout, numbered, prepare, workspace_url
from infra.lifecycle.runner import terraform_init_argv, terraform_output_argv
from infra.lifecycle.smoke_target import SmokeTarget
from infra.lifecycle.targets import find_team, split_key
from infra.lifecycle.ttl import format_duration

if TYPE_CHECKING:
    from infra.lifecycle.services import Services

CHALLENGER_ALIAS = "challenger"
POLL_SECONDS = 15.0
# The workspace stack names the churn preset's jobs `<stem>-<job key>`, any other workload's
# `<stem>-<workload>-<job key>` (ManagedWorkload.job_name);
# tests/lifecycle check this against a synthesized workspace stack.
TRAINING_JOB_KEY = "training"


def smoke_target(
    config: PlatformConfig,
    text: str,
    *,
    field: str = "TEAM/ENV",
    workload: str | None = None,
    job: str | None = None,
) -> SmokeTarget:
    """TEAM/ENV of a permanent env, or TEAM/NAME of an ephemeral one (its names need no tags); ``workload`` and
    ``job`` pick the job (default: the churn preset's training job, else the first job of the team's first
    managed workload, in config order)."""
    team_name, env = split_key(text, field=field)
    team = find_team(config, team_name, field=field)
    is_ephemeral_name = team.ephemeral is not None and re.fullmatch(EPHEMERAL_NAME, env)
    if env not in team.environments and not is_ephemeral_name:
        envs = ", ".join(team.environments)
        raise InputProblem(
            field,
            f"team {team_name!r} has no environment {env!r} (environments: {envs}, or an ephemeral NAME)",
        )
    names = env_names(prefix=config.platform.prefix, team=team.name, env=env)
    chosen = _workload(team, workload)
    job_key = _job(chosen, job)
    registers = chosen.preset == CHURN_PRESET and job_key == TRAINING_JOB_KEY
    return SmokeTarget.of(
        team,
        env,
        names,
        job_name=chosen.job_name(names.stem, job_key),
        model_name=f"{names.catalog}.{chosen.schema}.{chosen.models[0]}" if registers else None,
    )


class NothingToSmoke(Exception):
    """The team runs no managed workload (only bundles, which the team runs itself): there is no job to run."""


def _workload(team: TeamConfig, name: str | None) -> ManagedWorkload:
    managed = team.managed_workloads
    if name is None and not managed:
        raise NothingToSmoke(
            f"team {team.name!r} runs no managed workload (its bundle workloads run from the team's own CI): "
            "nothing to smoke"
        )
    listed = ", ".join(w.name for w in managed) or "none"
    if name is None:
        # CI smokes every team after its staging apply with no --workload: a refusal here would fail the deploy
        # of a config validate accepted. The first in config order, as a workload's first model is the jobs'.
        churn = [w for w in managed if w.preset == CHURN_PRESET]
        return (churn or managed)[0]
    found = team.workload(name)
    if isinstance(found, ManagedWorkload):
        return found
    if found is not None:
        raise InputProblem(
            "--workload",
            f"{name!r} is a bundle workload: the team deploys and runs its jobs itself (databricks bundle run)",
        )
    raise InputProblem("--workload", f"team {team.name!r} has no workload {name!r} (managed: {listed})")


def _job(workload: ManagedWorkload, name: str | None) -> str:
    jobs = workload.job_names
    if name is None:
        return TRAINING_JOB_KEY if workload.preset == CHURN_PRESET else jobs[0]
    if name not in jobs:
        raise InputProblem(
            "--job", f"workload {workload.name!r} has no job {name!r} (jobs: {', '.join(jobs)})"
        )
    return name


def with_workspace_url(config: PlatformConfig, target: SmokeTarget, services: Services) -> SmokeTarget:
    """An AWS target with its workspace's URL. Databricks picks an AWS workspace's deployment name, so only the
    account stack's state knows the URL: synthesize the env's stacks (their backends say where the state is) and
    read the account stack's `workspace_url` output. An ephemeral env is derived again from its tags first."""
    if target.cloud != "aws":
        return target
    team_env = _deployed_team_env(config, target, services)
    services.runner.require("terraform")
    rollout = Rollout("deploy", team_env, services.outdir, auto_approve=True)
    with exclusive_outdir(services.outdir, purpose=f"smoke {team_env.key}"):
        prepare(rollout, config, services)
        try:
            url = workspace_url(team_env, services, outdir=services.outdir)
        except OperationFailed as exc:
            raise OperationFailed(f"{exc}; is the account stack of {team_env.key} deployed?") from None
    return replace(target, workspace_url=url)


def describe_smoke(
    config: PlatformConfig, target: SmokeTarget, *, timeout: timedelta, outdir: Path
) -> list[str]:
    """What `platform smoke` would do, for --dry-run: nothing here reads a cloud or calls Databricks."""
    steps = []
    if target.cloud == "aws":
        account_stack = env_names(
            prefix=config.platform.prefix, team=target.team, env=target.env
        ).account_stack
        ephemeral = (
            ""
            if target.env in config.team(target.team).environments
            else " (an ephemeral env: from its AWS tags)"
        )
        where = f"the workspace URL in {account_stack}'s state"
        steps += [
            f"build the churn wheel and synthesize the env's stacks{ephemeral}, for their state backends",
            # the runner's own command lines; the second runs in the same directory, so without its -chdir
            f"{shlex.join(terraform_init_argv(account_stack, outdir=outdir))}, then "
            f"{shlex.join(terraform_output_argv(account_stack, WORKSPACE_URL_OUTPUT, outdir=outdir)[2:])}",
        ]
    else:
        try:
            where = f"workspace {target.workspace_resource_id(subscription_id(config))}"
        except InputProblem:
            where = (
                f"workspace {target.workspace_name} in {target.resource_group} (subscription {AT_RUN_TIME})"
            )
    watch = (
        f"; note the version {CHALLENGER_ALIAS!r} of {target.model_name} points at"
        if target.model_name
        else ""
    )
    steps += [
        f"find job {target.job_name}{watch}",
        f"run the job now and poll it every {POLL_SECONDS:.0f} s for up to {format_duration(timeout)}; "
        "cancel the run on a timeout, an error or Ctrl-C",
        f"pass when the run succeeded and {CHALLENGER_ALIAS!r} points at a newer version"
        if target.model_name
        else "pass when the run succeeded",
    ]
    return numbered(f"smoke {target.key}: {where}", steps)


def _deployed_team_env(config: PlatformConfig, target: SmokeTarget, services: Services) -> TeamEnv:
    team = config.team(target.team)
    if target.env in team.environments:
        return TeamEnv.permanent(config, team, target.env)
    inventory = read_inventory(config, services, clouds=["aws"])
    record = inventory.find(target.env, field="TEAM/ENV")
    if record.team != target.team:
        raise InputProblem("TEAM/ENV", f"the ephemeral env {target.env!r} is {record.key}, not {target.key}")
    return record.team_env(config)


@dataclass(frozen=True)
class SmokeResult:
    run_id: int
    version: int | None
    """The new challenger's version; None for a job that registers no challenger."""
    url: str | None
    took: timedelta


def run_smoke(
    workspace: TrainingWorkspace,
    target: SmokeTarget,
    *,
    timeout: timedelta,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    poll_seconds: float = POLL_SECONDS,
    on_progress: Callable[[RunProgress], None] = lambda progress: None,
) -> SmokeResult:
    """Run the training job and wait for it; OperationFailed if it fails, times out or registers no challenger.

    The run is cancelled on every way out before it finishes (the timeout, an SDK error while polling, Ctrl-C),
    so a smoke test never leaves a cluster running.
    """
    job_id = _training_job(workspace, target)
    model = target.model_name
    before = workspace.alias_version(model, CHALLENGER_ALIAS) if model else None
    started = clock()
    run_id = workspace.run_now(job_id)
    try:
        progress = _follow(
            workspace,
            run_id,
            job_name=target.job_name,
            started=started,
            timeout=timeout,
            clock=clock,
            sleep=sleep,
            poll_seconds=poll_seconds,
            on_progress=on_progress,
        )
    except (
        BaseException
    ):  # an SDK error while polling, Ctrl-C, ...: never leave the run (and its cluster) going
        _cancel_quietly(workspace, run_id)
        raise
    if not progress.succeeded:
        error = workspace.run_error(run_id) or progress.message or "no error message"
        where = f" ({progress.url})" if progress.url else ""
        raise OperationFailed(
            f"{target.job_name} run {run_id} {progress.result or progress.state}: {error}{where}"
        )
    if model is None:  # a job that registers no challenger: its success is the verdict
        return SmokeResult(run_id=run_id, version=None, url=progress.url, took=clock() - started)
    after = workspace.alias_version(model, CHALLENGER_ALIAS)
    if after is None:
        raise OperationFailed(
            f"{target.model_name} has no version with alias {CHALLENGER_ALIAS!r} after run {run_id}"
        )
    if before is not None and after <= before:
        raise OperationFailed(
            f"{target.model_name}: alias {CHALLENGER_ALIAS!r} still points at version {after}; "
            f"run {run_id} registered no new version"
        )
    return SmokeResult(run_id=run_id, version=after, url=progress.url, took=clock() - started)


def _follow(
    workspace: TrainingWorkspace,
    run_id: int,
    *,
    job_name: str,
    started: datetime,
    timeout: timedelta,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    poll_seconds: float,
    on_progress: Callable[[RunProgress], None],
) -> RunProgress:
    """Poll the run until it finishes; OperationFailed at the timeout (the caller cancels the run)."""
    while True:
        progress = workspace.run(run_id)
        on_progress(progress)
        if progress.finished:
            return progress
        if clock() - started >= timeout:
            where = f": {progress.url}" if progress.url else ""
            raise OperationFailed(
                f"{job_name} run {run_id} did not finish within {format_duration(timeout)} "
                f"({progress.state}); cancelled it{where}"
            )
        sleep(poll_seconds)


def _cancel_quietly(workspace: TrainingWorkspace, run_id: int) -> None:
    """Cancel the run; a failure to cancel (the run already ended, the network is gone) must not hide the
    error that made us cancel."""
    with contextlib.suppress(Exception):
        workspace.cancel(run_id)


def _training_job(workspace: TrainingWorkspace, target: SmokeTarget) -> int:
    ids = workspace.job_ids(target.job_name)
    if not ids:
        raise OperationFailed(
            f"no job named {target.job_name} in the workspace of {target.key}; is its workspace stack deployed?"
        )
    if len(ids) > 1:
        raise OperationFailed(f"{len(ids)} jobs are named {target.job_name} ({', '.join(map(str, ids))})")
    return ids[0]
