"""Where the model jobs' wheel tasks run: a policy-governed job cluster, or serverless compute (config
`serverless.jobs`).

databricks v1.99.0 docs/resources/job.md: a task with no `job_cluster_key`, `existing_cluster_id` or `new_cluster`
runs on serverless compute, and a `python_wheel_task` there needs an `environment_key` naming a job `environment`
whose `spec.dependencies` install the wheel (serverless tasks take no `library`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_databricks.job import (
    JobEnvironment,
    JobEnvironmentSpec,
    JobJobCluster,
    JobTaskLibrary,
)

from infra.config import TeamEnv
from infra.constructs.databricks.compute_policy import ComputePolicy
from infra.constructs.databricks.identity import Principal

JOB_CLUSTER_KEY = "main"
SERVERLESS_ENVIRONMENT_KEY = "churn"


@dataclass(frozen=True)
class JobCompute:
    """The arguments a wheel task and its job take for the env's compute."""

    task: dict[str, Any] = field(default_factory=dict)
    job: dict[str, Any] = field(default_factory=dict)


def job_compute(
    team_env: TeamEnv,
    *,
    compute: ComputePolicy,
    run_as: Principal,
    wheel_path: str,
    dependency_paths: Sequence[str] = (),
) -> JobCompute:
    """``dependency_paths``: the wheelhouse (constructs/databricks/wheelhouse.py), installed before the wheel in
    this order, as task libraries or as the serverless environment's dependencies."""
    serverless = team_env.settings.serverless
    if serverless.jobs:
        environment = JobEnvironment(
            environment_key=SERVERLESS_ENVIRONMENT_KEY,
            spec=JobEnvironmentSpec(
                environment_version=serverless.environment_version,
                dependencies=[*dependency_paths, wheel_path],
            ),
        )
        return JobCompute(
            task={"environment_key": SERVERLESS_ENVIRONMENT_KEY}, job={"environment": [environment]}
        )
    return JobCompute(
        task={
            "job_cluster_key": JOB_CLUSTER_KEY,
            "library": [JobTaskLibrary(whl=path) for path in (*dependency_paths, wheel_path)],
        },
        job={"job_cluster": job_clusters(compute, run_as=run_as)},
    )


def job_clusters(compute: ComputePolicy, *, run_as: Principal) -> list[JobJobCluster]:
    """The compute of every managed workload's job: one policy-governed job cluster, dedicated to run_as."""
    return [JobJobCluster(job_cluster_key=JOB_CLUSTER_KEY, new_cluster=compute.job_cluster(run_as=run_as))]
