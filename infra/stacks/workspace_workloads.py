"""The managed workloads of one team-env's workspace stack: per workload its schema, job principal, experiment,
registered models and jobs. Bundle workloads are skipped here (the team deploys them; see docs/bundles.md).

The churn preset keeps the construct IDs it always had (`mlflow`, `serving`, `predictions-monitor`,
`model-jobs`, the team's `job-identity` and the catalog scope's `ml` schema), so its Terraform addresses do not
move and an existing deployment plans no replacement. Every other managed workload lives under
`workload-<name>-*` with its own schema and its own job service principal: its jobs can neither read nor
overwrite another workload's models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdktf import ITerraformDependable, TerraformStack
from constructs import Construct

from infra.config import TeamEnv
from infra.config.workload import CHURN_PRESET, ManagedWorkload
from infra.constructs.contracts import ML_SCHEMA, WheelArtifact
from infra.constructs.databricks.compute_policy import ComputePolicy
from infra.constructs.databricks.identity import JobServicePrincipal, Principal
from infra.constructs.databricks.mlflow_access import MlflowAccess
from infra.constructs.databricks.team_folder import TeamFolder
from infra.constructs.databricks.unity_catalog import UnityCatalogScope
from infra.constructs.databricks.workload_jobs import WorkloadJobs
from infra.constructs.databricks.workload_schema import SchemaHandle, WorkloadSchema

# The churn preset's protected data at the Terraform addresses it always had (construct paths `mlflow/
# registered-model` and `predictions-monitor/predictions`; tests/infra/test_retired_churn.py checks them against
# the churn-prod-workspace snapshot): the registered model with its versions and aliases, the predictions table.
CHURN_PROTECTED_ADDRESSES = (
    "databricks_registered_model.mlflow_registered-model_6B859F86",
    "databricks_sql_table.predictions-monitor_predictions_E5578CAD",
)


def keep_retired_churn_data(stack: TerraformStack, *, team_env: TeamEnv) -> None:
    """In an env that protects its data, a team without the churn preset gets `removed` blocks that forget the
    preset's model and predictions table instead of destroying them.

    `prevent_destroy` guards a resource only while its block is in the configuration: a team whose churn
    workload leaves (the committed pricing team became a bundle team) would otherwise plan the destroy of its
    prod model, every version and alias, and the predictions table, with no error. A `removed` block with
    `destroy = false` (Terraform 1.7+) takes them out of the state and leaves them in Unity Catalog; for an
    address the state never held it plans nothing.
    """
    if not team_env.settings.prevent_destroy or team_env.is_ephemeral:
        return
    if any(w.preset == CHURN_PRESET for w in team_env.team.managed_workloads):
        return
    stack.add_override(
        "removed",
        [{"from": address, "lifecycle": {"destroy": False}} for address in CHURN_PROTECTED_ADDRESSES],
    )


def own_principal(workload: ManagedWorkload) -> bool:
    """A workload outside the `ml` schema runs as its own principal; the `ml` schema's runs as the team's."""
    return workload.schema != ML_SCHEMA


def workload_identities(
    scope: Construct, *, team_env: TeamEnv, deployer: Principal
) -> dict[str, JobServicePrincipal]:
    """The job service principal of every managed workload with its own schema, by workload name."""
    account_id = str(team_env.platform.account_id) if team_env.platform.account_id else None
    return {
        workload.name: JobServicePrincipal(
            scope,
            f"workload-{workload.name}-identity",
            display_name=f"{team_env.names.stem}-{workload.name}-jobs",
            deployer=deployer,
            account_id=account_id,
        )
        for workload in team_env.team.managed_workloads
        if own_principal(workload)
    }


def wheel_of(
    workload: ManagedWorkload, *, wheel: WheelArtifact, wheels: Mapping[str, WheelArtifact]
) -> WheelArtifact:
    """The workload's built wheel: churn's `ml` is the stack's wheel, any other package's comes from ``wheels``."""
    if workload.package in wheels:
        return wheels[workload.package]
    if workload.package == "ml":
        return wheel
    raise KeyError(f"no wheel built for package {workload.package!r} of workload {workload.name!r}")


@dataclass(frozen=True, kw_only=True)
class WorkloadPlace:
    """What every managed workload of the env is built into."""

    team_env: TeamEnv
    catalog: UnityCatalogScope
    compute: ComputePolicy
    folder: TeamFolder
    owners: Sequence[Principal]
    readers: Sequence[Principal]
    deployer: Principal


def add_managed_workload(
    scope: Construct,
    *,
    place: WorkloadPlace,
    workload: ManagedWorkload,
    wheel: WheelArtifact,
    identity: JobServicePrincipal | None,
    team_principal: Principal,
    team_role_grants: Sequence[ITerraformDependable],
) -> tuple[MlflowAccess, WorkloadJobs]:
    """A managed workload other than the churn preset: its schema (unless it is `ml`), experiment, models, jobs."""
    assert workload.preset != CHURN_PRESET, "the churn preset keeps its own constructs (workspace_stack.py)"
    prefix = f"workload-{workload.name}"
    team_env = place.team_env
    if identity is not None:
        principal = identity.principal
        role_grants = [identity.role_grants] if identity.role_grants else []
        schema = WorkloadSchema(
            scope,
            f"{prefix}-schema",
            team_env=team_env,
            name=workload.schema,
            comment=f"Tables and models of workload {workload.name}",
            catalog=place.catalog,
            owners=place.owners,
            readers=place.readers,
            job_principal=principal,
        ).handle
    else:
        principal, role_grants = team_principal, list(team_role_grants)
        schema = SchemaHandle.of_catalog_scope(place.catalog)
    mlflow = MlflowAccess(
        scope,
        f"{prefix}-mlflow",
        team_env=team_env,
        workload=workload,
        folder=place.folder,
        catalog=place.catalog,
        schema=schema,
        owners=place.owners,
        readers=place.readers,
        job_principal=principal,
        deployer=place.deployer,
        depends_on=[*role_grants, schema.grants],
    )
    jobs = WorkloadJobs(
        scope,
        f"{prefix}-jobs",
        team_env=team_env,
        workload=workload,
        wheel=wheel,
        artifacts=place.catalog,
        schema=schema.name,
        experiment_path=mlflow.experiment_path,
        compute=place.compute,
        run_as=principal,
        owners=place.owners,
        readers=place.readers,
        deployer=place.deployer,
        depends_on=[mlflow.experiment, *mlflow.models, *role_grants, schema.grants],
    )
    return mlflow, jobs
