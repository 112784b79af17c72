"""The wheelhouse of a managed workload in an isolated env: the wheels of the requirements the runtime does not
ship (infra/config/offline_packages.py pins them, infra/wheelhouse.py fetches them at synth), uploaded next to the
workload's wheel, for its jobs to install first.

A cluster without internet access installs a task's libraries from the volume in the order the task lists them
(databricks/terraform-provider-databricks v1.99.0 jobs/resource_job.go keeps a task's `library` a list, so the
order reaches the Jobs API): each dependency after everything it requires, the workload's wheel last, so pip finds
every requirement already installed and never goes to PyPI.
"""

from __future__ import annotations

from cdktf import AssetType, TerraformAsset, TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.file import File
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.contracts import WheelArtifact
from infra.constructs.databricks.compute_policy import ComputePolicy
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.job_compute import JobCompute, job_compute
from infra.constructs.databricks.unity_catalog import UnityCatalogScope

DEPENDENCIES_FOLDER = "dependencies"


def dependency_volume_path(volume_path: str, dependency: WheelArtifact, *, owner: str | None = None) -> str:
    """Content-addressed like the workload's wheel (model_jobs.wheel_volume_path), in the owner's own folder: two
    workloads needing the same wheel upload it twice rather than fight over one path."""
    folder = f"wheels/{owner}/{DEPENDENCIES_FOLDER}" if owner else f"wheels/{DEPENDENCIES_FOLDER}"
    return f"{volume_path}/{folder}/{dependency.sha256[:12]}/{dependency.filename}"


def upload_dependencies(
    scope: Construct, *, wheel: WheelArtifact, artifacts: UnityCatalogScope, owner: str | None = None
) -> tuple[list[File], list[str]]:
    """The wheel's dependencies as files in the artifact volume (construct IDs `dependency-<distribution>`), in
    install order, and their paths."""
    files, paths = [], []
    for dependency in wheel.dependencies:
        name = dependency.distribution.lower()
        asset = TerraformAsset(
            scope, f"dependency-{name}-asset", path=str(dependency.path), type=AssetType.FILE
        )
        path = dependency_volume_path(artifacts.volume_path, dependency, owner=owner)
        files.append(
            File(
                scope,
                f"dependency-{name}",
                path=path,
                source=asset.path,
                # As the workload's wheel: the new version is uploaded before the old one is deleted.
                lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
                depends_on=[artifacts.volume],
            )
        )
        paths.append(path)
    return files, paths


def compute_with_wheelhouse(
    scope: Construct,
    team_env: TeamEnv,
    *,
    wheel: WheelArtifact,
    wheel_path: str,
    artifacts: UnityCatalogScope,
    compute: ComputePolicy,
    run_as: Principal,
    owner: str | None = None,
) -> tuple[list[File], JobCompute]:
    """Uploads the wheel's dependencies and returns them (a job depends on each: created before it, destroyed
    after it) with the env's job compute, whose libraries (or serverless dependencies) list them before the wheel."""
    files, paths = upload_dependencies(scope, wheel=wheel, artifacts=artifacts, owner=owner)
    runs_on = job_compute(
        team_env, compute=compute, run_as=run_as, wheel_path=wheel_path, dependency_paths=paths
    )
    return files, runs_on
