"""Where the churn runs are tracked and where the model versions live, and who may use them."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable, TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.grants import Grants, GrantsGrant
from cdktf_cdktf_provider_databricks.mlflow_experiment import MlflowExperiment
from cdktf_cdktf_provider_databricks.permissions import Permissions
from cdktf_cdktf_provider_databricks.registered_model import RegisteredModel
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.contracts import ML_SCHEMA
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.team_folder import TeamFolder
from infra.constructs.databricks.unity_catalog import UnityCatalogScope

OWNER_MODEL_PRIVILEGES = ["EXECUTE", "APPLY_TAG"]
READER_MODEL_PRIVILEGES = ["EXECUTE"]


class MlflowAccess(Construct):
    """The env's MLflow experiment in the team folder and its Unity Catalog registered model.

    The job principal owns the registered model: in Unity Catalog only the owner may create versions and set
    the `challenger`/`champion` aliases, which is exactly what the training job does. The aliases therefore
    belong to the jobs, not to Terraform.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        folder: TeamFolder,
        catalog: UnityCatalogScope,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        job_principal: Principal,
        deployer: Principal,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, id)
        model_name = team_env.team.model_name
        # A workspace path (experiment names on Databricks are absolute paths); the folder must exist first.
        self.experiment_path = f"{folder.path}/{model_name}"
        self.experiment = MlflowExperiment(
            self,
            "experiment",
            name=self.experiment_path,
            description=f"Training runs of the {model_name} model in {team_env.key}",
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

        self.model = RegisteredModel(
            self,
            "registered-model",
            catalog_name=catalog.catalog_ref,
            schema_name=catalog.schema_ref,
            name=model_name,
            owner=job_principal.name,
            comment=f"Churn model of {team_env.key}; aliases challenger and champion are set by the jobs",
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=team_env.settings.prevent_destroy and not team_env.is_ephemeral,
                ignore_changes=["aliases"],
            ),
            # Handing ownership to the job principal may need the deployer's role on it (see identity.py).
            depends_on=list(depends_on),
        )
        self.model_full_name = f"{catalog.catalog_name}.{ML_SCHEMA}.{model_name}"
        self.model_grants = Grants(
            self,
            "registered-model-grants",
            model=self.model.id,
            grant=[GrantsGrant(principal=p.name, privileges=OWNER_MODEL_PRIVILEGES) for p in owners]
            + [GrantsGrant(principal=p.name, privileges=READER_MODEL_PRIVILEGES) for p in readers],
        )
