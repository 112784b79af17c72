"""The jobs of a managed workload that is not the churn preset: the tasks its config lists, run from its wheel."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_databricks.job import (
    Job,
    JobSchedule,
    JobTask,
    JobTaskDependsOn,
    JobTaskPythonWheelTask,
)
from constructs import Construct

from infra.config import TeamEnv
from infra.config.workload import ManagedWorkload, WorkloadJob, WorkloadTask
from infra.constructs.contracts import WheelArtifact
from infra.constructs.databricks.compute_policy import ComputePolicy
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.model_jobs import (
    RETRY_INTERVAL_MS,
    job_permissions,
    run_settings,
    upload_wheel,
)
from infra.constructs.databricks.unity_catalog import UnityCatalogScope
from infra.constructs.databricks.wheelhouse import compute_with_wheelhouse


def workload_task_parameters(
    task: WorkloadTask, *, catalog: str, schema: str, model: str, experiment_path: str
) -> list[str]:
    """The task's own arguments, then where it works: the env's catalog, the workload's schema and first model
    (as its full Unity Catalog name) and its experiment, the same options the churn entry point takes."""
    return [
        *task.parameters,
        "--catalog", catalog,
        "--schema", schema,
        "--model-name", f"{catalog}.{schema}.{model}",
        "--experiment-path", experiment_path,
    ]  # fmt: skip


def job_timeout_seconds(job: WorkloadJob) -> int:
    """Bounds the whole run: every task one after the other, each with all its retries."""
    return sum(task.timeout_minutes * 60 * (task.max_retries + 1) for task in job.tasks)


class WorkloadJobs(Construct):
    """Uploads the workload's wheel (content-addressed, in its own folder of the artifact volume) and defines its
    jobs: each task a `python_wheel_task` of the wheel's distribution, on the env's policy-governed job cluster,
    run as the workload's own job principal, one run at a time, mailing the team on failure.
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
        schema: str,
        experiment_path: str,
        compute: ComputePolicy,
        run_as: Principal,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        deployer: Principal,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, id)
        self.wheel_file, self.wheel_path = upload_wheel(
            self, wheel=wheel, artifacts=artifacts, owner=workload.name
        )
        schedules = team_env.settings.schedules
        catalog = team_env.names.catalog
        self.jobs: dict[str, Job] = {}
        # The env's compute choice (config serverless.jobs), the same as churn's jobs: a job cluster, or serverless
        # with the workload's wheel as the job environment's dependency.
        self.dependency_files, runs_on = compute_with_wheelhouse(
            self, team_env, wheel=wheel, wheel_path=self.wheel_path, artifacts=artifacts, compute=compute,
            run_as=run_as, owner=workload.name,
        )  # fmt: skip
        for spec in workload.jobs:
            # In task_key order, each task's depends_on too: the provider sorts both when it reads a job back
            # (jobs/resource_job.go adjustTasks, databricks v1.99.0; policy rule PLAT-DBX-8).
            tasks = [
                JobTask(
                    task_key=task.key,
                    depends_on=[JobTaskDependsOn(task_key=key) for key in sorted(task.depends_on)] or None,
                    **runs_on.task,
                    python_wheel_task=JobTaskPythonWheelTask(
                        package_name=wheel.distribution,
                        entry_point=task.entry_point,
                        parameters=workload_task_parameters(
                            task,
                            catalog=catalog,
                            schema=schema,
                            model=workload.models[0],
                            experiment_path=experiment_path,
                        ),
                    ),
                    max_retries=task.max_retries,
                    min_retry_interval_millis=RETRY_INTERVAL_MS,
                    retry_on_timeout=False,
                    timeout_seconds=task.timeout_minutes * 60,
                )
                for task in sorted(spec.tasks, key=lambda t: t.key)
            ]
            schedule = (
                JobSchedule(
                    quartz_cron_expression=spec.schedule,
                    timezone_id=schedules.timezone,
                    pause_status="PAUSED" if schedules.paused else "UNPAUSED",
                )
                if spec.schedule
                else None
            )
            job = Job(
                self,
                spec.name,
                name=workload.job_name(team_env.names.stem, spec.name),
                description=spec.description or f"Job {spec.name} of workload {workload.name}",
                **runs_on.job,
                task=tasks,
                schedule=schedule,
                timeout_seconds=job_timeout_seconds(spec),
                **run_settings(team_env, run_as=run_as),
                depends_on=[self.wheel_file, *self.dependency_files, artifacts.volume_grants, *depends_on],
            )
            job_permissions(
                self, f"{spec.name}-permissions", job=job, owners=owners, readers=readers, deployer=deployer
            )
            self.jobs[spec.name] = job
