"""The churn preset's scheduled work: the wheel upload and the training, scoring and monitoring jobs; and the
pieces every managed workload's jobs share (wheel upload, job compute, job permissions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cdktf import AssetType, ITerraformDependable, TerraformAsset, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_databricks.file import File
from cdktf_cdktf_provider_databricks.job import (
    Job,
    JobEmailNotifications,
    JobNotificationSettings,
    JobQueue,
    JobRunAs,
    JobSchedule,
    JobTask,
    JobTaskConditionTask,
    JobTaskDependsOn,
    JobTaskPythonWheelTask,
    JobTaskRunJobTask,
)
from cdktf_cdktf_provider_databricks.permissions import Permissions
from constructs import Construct

from infra.config import TeamEnv
from infra.config.environment import EnvironmentConfig, Schedules
from infra.config.workload import ManagedWorkload
from infra.constructs.contracts import ML_SCHEMA, WheelArtifact
from infra.constructs.databricks.compute_policy import ComputePolicy
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.unity_catalog import UnityCatalogScope
from infra.constructs.databricks.wheelhouse import compute_with_wheelhouse

WHEEL_PACKAGE = "churn"
WHEEL_ENTRY_POINT = "churn"
# A failed task is retried twice, five minutes apart (transient spot loss, cloud hiccups); a timeout is
# not retried: a run that hangs once will hang again.
TASK_RETRIES = 2
RETRY_INTERVAL_MS = 5 * 60 * 1000
# Tasks whose exit code 1 is a verdict (gate refused the challenger, drift found): a retry would give the same
# answer, and the monitor would append its results again.
VERDICT_TASKS = frozenset({"validate", "monitor"})
# The monitoring job's retraining: `churn monitor --retrain-cooldown-days` sets the task value `retrain`
# (churn.retrain), a condition task reads it, and on "true" the training job runs.
RETRAIN_JOB = "monitoring"
DRIFT_CONFIRMED_TASK = "drift_confirmed"
RETRAIN_TASK = "retrain"


@dataclass(frozen=True)
class ModelJob:
    """One scheduled job: its tasks (churn CLI subcommands, run in order) and its limits."""

    key: str
    description: str
    subcommands: tuple[str, ...]
    cron: Callable[[Schedules], str]
    task_timeout_seconds: int


MODEL_JOBS: tuple[ModelJob, ...] = (
    ModelJob(
        "training",
        "Ingest the latest raw batch, train and register a challenger, then let the gate pick the champion",
        ("ingest", "train", "validate"),
        lambda s: s.training,
        3 * 3600,
    ),
    # Scoring scores only the customers landed since its last run, as one recorded batch; the monitor then
    # compares exactly that batch with the champion's training data, so drift in new customers is not averaged
    # away among everyone scored before.
    ModelJob(
        "scoring",
        "Score the customers new since the last run with the champion model, then check that batch for drift",
        ("score", "monitor"),
        lambda s: s.scoring,
        2 * 3600,
    ),
    ModelJob(
        "monitoring", "Check drift and decay of the champion", ("monitor",), lambda s: s.monitoring, 3600
    ),
)


def job_timeout_seconds(spec: ModelJob) -> int:
    """Bounds the whole run, retries included."""
    return spec.task_timeout_seconds * len(spec.subcommands) * (TASK_RETRIES + 1)


def retrain_tasks(*, training_job_id: str) -> list[JobTask]:
    """The condition on the monitor's task value and the run of the training job it gates."""
    return [
        JobTask(
            task_key=DRIFT_CONFIRMED_TASK,
            depends_on=[JobTaskDependsOn(task_key="monitor")],
            condition_task=JobTaskConditionTask(
                left="{{tasks.monitor.values.retrain}}", op="EQUAL_TO", right="true"
            ),
        ),
        JobTask(
            task_key=RETRAIN_TASK,
            depends_on=[JobTaskDependsOn(task_key=DRIFT_CONFIRMED_TASK, outcome="true")],
            run_job_task=JobTaskRunJobTask(job_id=Token.as_number(training_job_id)),
        ),
    ]


def _subcommand_options(
    subcommand: str, *, raw_input: str, settings: EnvironmentConfig, retrain_cooldown_days: int | None = None
) -> list[str]:
    gate, drift = settings.model_gate, settings.drift
    if subcommand == "ingest":
        return [
            "--input", raw_input,
            "--max-quarantined-share", str(settings.data_quality.max_quarantined_share),
        ]  # fmt: skip
    if subcommand == "validate":
        return [
            "--mode", gate.mode,
            "--min-roc-auc", str(gate.min_roc_auc),
            "--max-roc-auc-drop", str(gate.max_roc_auc_drop),
            "--max-fairness-gap", str(gate.max_fairness_gap),
        ]  # fmt: skip
    if subcommand == "monitor":
        return [
            "--psi-threshold", str(drift.psi_threshold),
            "--alpha", str(drift.alpha),
            "--max-roc-auc-decay", str(drift.max_roc_auc_decay),
            # Where drift retrains, the monitor decides instead of failing (the scoring job's monitor still
            # fails on drift, so the team is mailed).
            *(["--retrain-cooldown-days", str(retrain_cooldown_days)] if retrain_cooldown_days
              else ["--fail-on-drift"] if drift.fail_on_drift else []),
        ]  # fmt: skip
    return []


def wheel_task_parameters(
    subcommand: str,
    *,
    catalog: str,
    model_name: str,
    experiment_path: str,
    raw_input: str,
    settings: EnvironmentConfig,
    extra_options: Sequence[str] = (),
    retrain_cooldown_days: int | None = None,
    schema: str = ML_SCHEMA,
) -> list[str]:
    """The command line every task passes to the churn entry point (a typer CLI with subcommands).

    Ingest also reads the raw drops from the landing container, through its Unity Catalog external location,
    and refuses a batch above the env's quarantine ceiling; validate gets the env's gate thresholds and mode,
    monitor its drift thresholds (with their defaults, the monitor compares the champion's training features
    with the latest scored batch).
    """
    options = _subcommand_options(
        subcommand, raw_input=raw_input, settings=settings, retrain_cooldown_days=retrain_cooldown_days
    )
    extra = [*options, *extra_options]
    return [
        subcommand,
        *extra,
        "--catalog",
        catalog,
        "--schema",
        schema,
        "--model-name",
        f"{catalog}.{schema}.{model_name}",
        "--experiment-path",
        experiment_path,
    ]


def wheel_volume_path(volume_path: str, wheel: WheelArtifact, *, owner: str | None = None) -> str:
    """Content-addressed: a new build lands in a new folder, an unchanged one maps to the same path. ``owner``
    (a workload other than the churn preset) gets a folder of its own: each `databricks_file` must own its path,
    or two workloads built from one package would upload the same file twice, each read back as changed by the
    other, and deleting one (a workload removed) would delete the wheel the other's jobs install."""
    folder = f"wheels/{owner}" if owner else "wheels"
    return f"{volume_path}/{folder}/{wheel.sha256[:12]}/{wheel.filename}"


def upload_wheel(
    scope: Construct, *, wheel: WheelArtifact, artifacts: UnityCatalogScope, owner: str | None = None
) -> tuple[File, str]:
    """The wheel as a file in the artifact volume (construct IDs `wheel-asset`, `wheel` under ``scope``), in
    ``owner``'s own folder when given (wheel_volume_path)."""
    asset = TerraformAsset(scope, "wheel-asset", path=str(wheel.path), type=AssetType.FILE)
    path = wheel_volume_path(artifacts.volume_path, wheel, owner=owner)
    file = File(
        scope,
        "wheel",
        path=path,
        source=asset.path,
        # Upload the new build before the old one is deleted, so a running job never loses its library.
        lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        depends_on=[artifacts.volume],
    )
    return file, path


def run_settings(team_env: TeamEnv, *, run_as: Principal) -> dict[str, Any]:
    """How every managed workload's job runs: as ``run_as``, one run at a time (later triggers queue), mailing
    the team on failure but not on skipped or canceled runs."""
    return {
        "max_concurrent_runs": 1,
        "queue": JobQueue(enabled=True),
        "email_notifications": JobEmailNotifications(on_failure=list(team_env.team.notification_emails)),
        "notification_settings": JobNotificationSettings(
            no_alert_for_skipped_runs=True, no_alert_for_canceled_runs=True
        ),
        "run_as": JobRunAs(service_principal_name=run_as.name),
    }


def job_permissions(
    scope: Construct,
    id: str,
    *,
    job: Job,
    owners: Sequence[Principal],
    readers: Sequence[Principal],
    deployer: Principal,
    runners: Sequence[Principal] = (),
) -> Permissions:
    """Owners (and ``runners``) run, readers view, the deployer owns.

    Exactly one IS_OWNER, each principal once: without an owner the provider adds the caller as IS_OWNER
    (permissions/permission_definitions.go, v1.99.0), and the backend keeps one level per principal. The
    deployer owns the job: IS_OWNER is a management level, so it keeps updating it.
    """
    return Permissions(
        scope,
        id,
        job_id=job.id,
        access_control=[p.can("CAN_MANAGE_RUN") for p in (*owners, *runners)]
        + [p.can("CAN_VIEW") for p in readers]
        + [deployer.can("IS_OWNER")],
    )


class ModelJobs(Construct):
    """The churn preset: uploads the wheel into the artifact volume and defines the three jobs that run it.

    Jobs run as the job service principal on policy-governed job clusters, one run at a time (later
    triggers queue), on the env's schedules (paused where the config says so), and mail the team on failure.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        workload: ManagedWorkload,
        wheel: WheelArtifact,
        artifacts: UnityCatalogScope,
        experiment_path: str,
        raw_input: str,
        compute: ComputePolicy,
        run_as: Principal,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        deployer: Principal,
        validate_options: Sequence[str] = (),
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        """``validate_options``: extra options of the validate task (where the gate serves the champion)."""
        super().__init__(scope, id)
        self.wheel_file, self.wheel_path = upload_wheel(self, wheel=wheel, artifacts=artifacts)
        catalog = team_env.names.catalog
        schedules = team_env.settings.schedules
        retrain_cooldown = team_env.settings.drift.retrain_cooldown_days
        self.jobs: dict[str, Job] = {}
        self.dependency_files, runs_on = compute_with_wheelhouse(
            self, team_env, wheel=wheel, wheel_path=self.wheel_path, artifacts=artifacts, compute=compute,
            run_as=run_as,
        )  # fmt: skip
        for spec in MODEL_JOBS:
            # Declared in task_key order, run order comes from depends_on: the provider sorts the tasks it reads
            # back by key (jobs/resource_job.go adjustTasks, databricks v1.99.0), so any other order plans an
            # update on every run (policy rule PLAT-DBX-8).
            tasks = [
                JobTask(
                    task_key=subcommand,
                    depends_on=[JobTaskDependsOn(task_key=previous)] if previous else None,
                    **runs_on.task,
                    python_wheel_task=JobTaskPythonWheelTask(
                        package_name=WHEEL_PACKAGE,
                        entry_point=WHEEL_ENTRY_POINT,
                        parameters=wheel_task_parameters(
                            subcommand,
                            catalog=catalog,
                            model_name=workload.models[0],
                            schema=workload.schema,
                            experiment_path=experiment_path,
                            raw_input=raw_input,
                            settings=team_env.settings,
                            extra_options=validate_options if subcommand == "validate" else (),
                            retrain_cooldown_days=retrain_cooldown if spec.key == RETRAIN_JOB else None,
                        ),
                    ),
                    max_retries=0 if subcommand in VERDICT_TASKS else TASK_RETRIES,
                    min_retry_interval_millis=RETRY_INTERVAL_MS,
                    retry_on_timeout=False,
                    timeout_seconds=spec.task_timeout_seconds,
                )
                for previous, subcommand in sorted(
                    zip((None, *spec.subcommands), spec.subcommands, strict=False), key=lambda pair: pair[1]
                )
            ]
            if spec.key == RETRAIN_JOB and retrain_cooldown is not None:
                # In `task_key` order, the order the provider reads tasks back in (jobs/resource_job.go,
                # v1.99.0, sorts them by key): any other order shows a diff on every plan.
                tasks = sorted(
                    [*tasks, *retrain_tasks(training_job_id=self.jobs["training"].id)],
                    key=lambda t: t.task_key,
                )
            job = Job(
                self,
                spec.key,
                name=f"{team_env.names.stem}-{spec.key}",
                description=spec.description,
                **runs_on.job,
                task=tasks,
                schedule=JobSchedule(
                    quartz_cron_expression=spec.cron(schedules),
                    timezone_id=schedules.timezone,
                    pause_status="PAUSED" if schedules.paused else "UNPAUSED",
                ),
                timeout_seconds=job_timeout_seconds(spec)
                # A retrain waits for the whole training run.
                + (job_timeout_seconds(MODEL_JOBS[0]) if spec.key == RETRAIN_JOB and retrain_cooldown else 0),
                **run_settings(team_env, run_as=run_as),
                # The library path is a literal (readable, testable): order the upload, and whatever the runs
                # need, before the job exists and its schedule can fire.
                depends_on=[self.wheel_file, *self.dependency_files, artifacts.volume_grants, *depends_on],
            )
            # The monitoring job, run as the job principal, starts the training job: CAN_MANAGE_RUN on it.
            runners = [run_as] if spec.key == "training" and retrain_cooldown is not None else []
            job_permissions(
                self,
                f"{spec.key}-permissions",
                job=job,
                owners=owners,
                readers=readers,
                deployer=deployer,
                runners=runners,
            )
            self.jobs[spec.key] = job
