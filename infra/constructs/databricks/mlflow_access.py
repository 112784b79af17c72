"""Where a managed workload's runs are tracked and where its model versions live, and who may use them."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable, TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.grants import Grants, GrantsGrant
from cdktf_cdktf_provider_databricks.mlflow_experiment import MlflowExperiment
from cdktf_cdktf_provider_databricks.permissions import Permissions
from cdktf_cdktf_provider_databricks.registered_model import RegisteredModel
from constructs import Construct

from infra.config import TeamEnv
from infra.config.workload import ManagedWorkload
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.team_folder import TeamFolder
from infra.constructs.databricks.unity_catalog import UnityCatalogScope
from infra.constructs.databricks.workload_schema import SchemaHandle

OWNER_MODEL_PRIVILEGES = ["EXECUTE", "APPLY_TAG"]
READER_MODEL_PRIVILEGES = ["EXECUTE"]


class MlflowAccess(Construct):
    """A workload's MLflow experiment in the team folder and its Unity Catalog registered models (in the
    workload's own schema).

    The workload's job principal owns the registered models: in Unity Catalog only the owner may create versions and set
    the `challenger`/`champion` aliases, which is exactly what the training job does. The aliases therefore
    belong to the jobs, not to Terraform.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        workload: ManagedWorkload,
        folder: TeamFolder,
        catalog: UnityCatalogScope,
        schema: SchemaHandle,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        job_principal: Principal,
        deployer: Principal,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, id)
        model_name = workload.models[0]
        # A workspace path (experiment names on Databricks are absolute paths); the folder must exist first.
        self.experiment_path = f"{folder.path}/{workload.experiment_name}"
        self.experiment = MlflowExperiment(
            self,
            "experiment",
            name=self.experiment_path,
            description=f"Training runs of the {model_name} model in {team_env.key}"
            + ("" if workload.preset else f" (workload {workload.name})"),
            depends_on=[folder.directory],
        )
        Permissions(
            self,
            "experiment-permissions",
            experiment_id=self.experiment.id,
            # CAN_EDIT is what logging runs, metrics and artifacts takes.
            access_control=[p.can("CAN_MANAGE") for p in (*owners, deployer)]
            + [job_principal.can("CAN_EDIT")]
            + [p.can("CAN_READ") for p in readers],
        )

        # The first model keeps the construct IDs it always had (churn's Terraform addresses do not move).
        self.models: list[RegisteredModel] = []
        self.model_grants_list: list[Grants] = []
        for index, name in enumerate(workload.models):
            suffix = "" if index == 0 else f"-{name}"
            model = RegisteredModel(
                self,
                f"registered-model{suffix}",
                catalog_name=catalog.catalog_ref,
                schema_name=schema.ref,
                name=name,
                owner=job_principal.name,
                comment=(
                    f"Churn model of {team_env.key}; aliases challenger and champion are set by the jobs"
                    if workload.preset == "churn"
                    else f"{name} model of workload {workload.name} in {team_env.key}; its jobs set the aliases"
                ),
                lifecycle=TerraformResourceLifecycle(
                    prevent_destroy=team_env.settings.prevent_destroy and not team_env.is_ephemeral,
                    ignore_changes=["aliases"],
                ),
                # Handing ownership to the job principal may need the deployer's role on it (see identity.py).
                depends_on=list(depends_on),
            )
            grants = Grants(
                self,
                f"registered-model{suffix}-grants",
                model=model.id,
                grant=[GrantsGrant(principal=p.name, privileges=OWNER_MODEL_PRIVILEGES) for p in owners]
                + [GrantsGrant(principal=p.name, privileges=READER_MODEL_PRIVILEGES) for p in readers],
            )
            self.models.append(model)
            self.model_grants_list.append(grants)
        self.model, self.model_grants = self.models[0], self.model_grants_list[0]
        self.model_full_name = f"{catalog.catalog_name}.{schema.name}.{model_name}"
