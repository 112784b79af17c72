"""`platform sat`: the one step of the Security Analysis Tool that never goes through Terraform.

The workspace stack declares SAT's scope with every key but `client-secret` and creates its scheduled jobs paused
(infra/constructs/databricks/security_analysis_tool.py). `set-secret` writes the service principal's secret into the
scope through the Databricks API (so it is in no config, code or state) and then unpauses the driver's and the
secrets scanner's schedules; `status` says in one line when the secret is missing. Both talk to Databricks behind
`SatWorkspace` (real: databricks-sdk), which tests replace with a fake client that raises the SDK's own errors.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from infra.config import PlatformConfig
from infra.config.naming import env_names
from infra.config.security_analysis_tool import (
    CLIENT_SECRET_KEY,
    SAT_CONFIG_KEYS,
    SAT_SCOPE,
    SCHEDULED_JOBS,
    sat_job_name,
)
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.smoke_target import SmokeTarget
from infra.lifecycle.targets import find_team, split_key

SECRET_ENV_VAR = "PLATFORM_SAT_CLIENT_SECRET"


class SatWorkspace(Protocol):
    def secret_keys(self, scope: str) -> list[str]:
        """The keys in ``scope`` (never their values); the SDK's NotFound when the scope does not exist."""

    def put_secret(self, scope: str, key: str, value: str) -> None: ...

    def job_ids(self, name: str) -> list[int]: ...

    def schedule_paused(self, job_id: int) -> bool | None:
        """Whether the job's schedule is paused; None for a job without a schedule."""

    def unpause(self, job_id: int) -> None: ...

    def run_now(self, job_id: int) -> int:
        """Start a run of the job now; its run ID."""


class SdkSatWorkspace:
    """The real SatWorkspace on a databricks-sdk WorkspaceClient (authenticated like SdkTrainingWorkspace)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def for_target(cls, target: SmokeTarget, subscription_id: str | None) -> SdkSatWorkspace:
        from databricks.sdk import WorkspaceClient

        logging.getLogger("databricks.sdk").setLevel(logging.ERROR)
        if target.workspace_url is not None:
            return cls(WorkspaceClient(host=target.workspace_url))
        resource_id = target.workspace_resource_id(str(subscription_id))
        return cls(WorkspaceClient(azure_workspace_resource_id=resource_id))

    def secret_keys(self, scope: str) -> list[str]:
        return sorted(str(secret.key) for secret in self._client.secrets.list_secrets(scope))

    def put_secret(self, scope: str, key: str, value: str) -> None:
        self._client.secrets.put_secret(scope, key, string_value=value)

    def job_ids(self, name: str) -> list[int]:
        return [int(job.job_id) for job in self._client.jobs.list(name=name)]

    def schedule_paused(self, job_id: int) -> bool | None:
        schedule = self._client.jobs.get(job_id).settings.schedule
        if schedule is None:
            return None
        return getattr(schedule.pause_status, "value", schedule.pause_status) == "PAUSED"

    def unpause(self, job_id: int) -> None:
        from databricks.sdk.service.jobs import CronSchedule, JobSettings, PauseStatus

        schedule = self._client.jobs.get(job_id).settings.schedule
        # new_settings replaces the top-level fields it names: the whole schedule, so cron and zone are kept.
        self._client.jobs.update(
            job_id,
            new_settings=JobSettings(
                schedule=CronSchedule(
                    quartz_cron_expression=schedule.quartz_cron_expression,
                    timezone_id=schedule.timezone_id,
                    pause_status=PauseStatus.UNPAUSED,
                )
            ),
        )

    def run_now(self, job_id: int) -> int:
        return int(self._client.jobs.run_now(job_id).response.run_id)


def sat_target(config: PlatformConfig, text: str) -> SmokeTarget:
    """TEAM/ENV must be the env `platform.audit.security_analysis_tool.workspace` names (SAT runs nowhere else)."""
    sat = config.platform.audit.security_analysis_tool
    if not sat.enabled:
        raise InputProblem(
            "TEAM/ENV", "platform.audit.security_analysis_tool is not enabled: no workspace runs SAT"
        )
    team_name, env = split_key(text, field="TEAM/ENV")
    if f"{team_name}/{env}" != sat.workspace:
        raise InputProblem(
            "TEAM/ENV", f"SAT runs in {sat.workspace} (platform.audit.security_analysis_tool), not {text}"
        )
    team = find_team(config, team_name, field="TEAM/ENV")
    names = env_names(prefix=config.platform.prefix, team=team.name, env=env)
    return SmokeTarget.of(team, env, names, job_name=sat_job_name(names.stem, "initializer"))


def describe_set_secret(target: SmokeTarget, where: str, *, run_initializer: bool = False) -> list[str]:
    jobs = ", ".join(_scheduled_job_names(target))
    last = (
        f"3. start {target.job_name} now (SAT's one-time initializer), without waiting for it"
        if run_initializer
        else f"3. start {target.job_name} (SAT's one-time initializer, not waited for) if the schedules were still "
        "paused, as before the first set-secret; a rotation leaves it alone (--run-initializer starts it anyway)"
    )
    return [
        f"sat set-secret {target.key}: {where}",
        f"1. write key {CLIENT_SECRET_KEY!r} into secret scope {SAT_SCOPE!r} (the value from ${SECRET_ENV_VAR} or "
        "stdin; never printed)",
        f"2. unpause the schedules of {jobs}",
        last,
    ]


def set_secret(
    workspace: SatWorkspace, target: SmokeTarget, value: str, *, run_initializer: bool = False
) -> list[str]:
    """Write the secret, unpause the scheduled jobs and start the initializer when this is the first secret (a
    schedule was still paused, as the stack creates them) or when asked; OperationFailed in one line when the scope
    or a job is not there (the workspace stack is not deployed). Other Databricks errors propagate (the CLI prints
    their first line).

    The first time matters: unpaused schedules without the initializer's run would start the driver every day with
    nothing set up to analyse, green and useless. A rotation (schedules already active) needs no re-initializing."""
    from databricks.sdk.errors import NotFound

    try:
        workspace.put_secret(SAT_SCOPE, CLIENT_SECRET_KEY, value)
    except NotFound:
        raise OperationFailed(_no_scope(target)) from None
    lines = [f"wrote {CLIENT_SECRET_KEY!r} into secret scope {SAT_SCOPE!r}"]
    first_time = False
    for name in _scheduled_job_names(target):
        job_id = _one_job(workspace, name, target)
        first_time |= workspace.schedule_paused(job_id) is True
        workspace.unpause(job_id)
        lines.append(f"unpaused the schedule of {name} (job {job_id})")
    if run_initializer or first_time:
        job_id = _one_job(workspace, target.job_name, target)
        lines.append(f"started {target.job_name} (job {job_id}, run {workspace.run_now(job_id)})")
    return lines


def sat_status(workspace: SatWorkspace, target: SmokeTarget) -> list[str]:
    """What is set: OperationFailed in one line when the scope or the secret is missing."""
    from databricks.sdk.errors import NotFound

    try:
        keys = set(workspace.secret_keys(SAT_SCOPE))
    except NotFound:
        raise OperationFailed(_no_scope(target)) from None
    if CLIENT_SECRET_KEY not in keys:
        raise OperationFailed(
            f"sat {target.key}: secret scope {SAT_SCOPE!r} has no {CLIENT_SECRET_KEY!r} key, so SAT cannot sign in "
            f"(its schedules stay paused); set it with `platform sat set-secret {target.key}`"
        )
    lines = [f"sat {target.key}: {CLIENT_SECRET_KEY!r} is set in {SAT_SCOPE!r}"]
    configuration = sorted(
        k for k in SAT_CONFIG_KEYS - keys if k not in ("subscription-id", "tenant-id", "use-sp-auth")
    )
    if configuration:
        lines.append(f"missing configuration keys {', '.join(configuration)}: deploy the workspace stack")
    for name in _scheduled_job_names(target):
        paused = workspace.schedule_paused(_one_job(workspace, name, target))
        lines.append(f"{name}: schedule {'paused' if paused else 'active'}")
    return lines


def _scheduled_job_names(target: SmokeTarget) -> list[str]:
    stem = target.job_name.removesuffix("-sat-initializer")
    return [sat_job_name(stem, job) for job in SCHEDULED_JOBS]


def _one_job(workspace: SatWorkspace, name: str, target: SmokeTarget) -> int:
    ids = workspace.job_ids(name)
    if len(ids) != 1:
        found = f"{len(ids)} jobs are" if ids else "no job is"
        raise OperationFailed(
            f"{found} named {name} in the workspace of {target.key}; deploy its workspace stack "
            f"(platform deploy {target.key})"
        )
    return ids[0]


def _no_scope(target: SmokeTarget) -> str:
    return (
        f"the workspace of {target.key} has no secret scope {SAT_SCOPE!r}; deploy its workspace stack first "
        f"(platform deploy {target.key})"
    )
