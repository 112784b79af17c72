"""`<team>-<env>-workspace`: everything inside one team-env's Databricks workspace."""

from __future__ import annotations

from pathlib import Path

from cdktf import Annotations, Token
from cdktf_cdktf_provider_databricks.metastore_assignment import MetastoreAssignment
from cdktf_cdktf_provider_databricks.provider import DatabricksProvider

from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.config import TeamEnv
from infra.constructs.contracts import RAW_DROP_FOLDER, PlatformOutputs, WheelArtifact
from infra.constructs.databricks.compute_policy import ComputePolicy
from infra.constructs.databricks.identity import JobServicePrincipal, Principal, WorkspaceGroups
from infra.constructs.databricks.mlflow_access import MlflowAccess
from infra.constructs.databricks.model_jobs import ModelJobs
from infra.constructs.databricks.notebooks import TeamNotebook
from infra.constructs.databricks.secrets import KeyVaultSecretScope
from infra.constructs.databricks.team_folder import TeamFolder
from infra.constructs.databricks.unity_catalog import UnityCatalogScope
from infra.constructs.databricks.workspace_settings import WorkspaceSettings
from infra.stacks.base import configure_backend

NO_SECRET_SCOPE = (
    "platform.azure_databricks_sp_object_id is unset: no Key Vault-backed secret scope (the AzureDatabricks "
    "application could not read the RBAC vault)"
)
EXPLORE_NOTEBOOK = Path(__file__).resolve().parents[2] / "ml" / "notebooks" / "churn_explore.py"


class WorkspaceStack(AspectStack):
    """Unity Catalog scope, compute policy, job identity, jobs, MLflow, secrets and the team notebook.

    The provider is configured from the platform stack's outputs (cross-stack references), so this stack can
    only be planned after the platform stack has been applied: the workspace must exist before the
    Databricks provider can authenticate against it.
    """

    def __init__(
        self,
        scope: AspectApp,
        id: str,
        *,
        team_env: TeamEnv,
        platform: PlatformOutputs,
        wheel: WheelArtifact,
        notebook_source: Path = EXPLORE_NOTEBOOK,
    ) -> None:
        super().__init__(scope, id)
        configure_backend(self, team_env=team_env, component="workspace")
        # Host plus Azure resource ID, no token: the provider authenticates with Entra ID (Azure CLI, ARM_*
        # environment or OIDC). The resource ID lets a deployer with Azure rights on the workspace in before it
        # was ever added to it as a user.
        DatabricksProvider(
            self,
            "databricks",
            host=platform.workspace_url,
            azure_workspace_resource_id=platform.workspace_resource_id,
        )
        WorkspaceSettings(self, "workspace-settings", team_env=team_env)
        deployer = Principal.deployer(team_env.platform.deployer_principal)
        owners = [Principal.group(g) for g in team_env.team.owner_groups]
        readers = [Principal.group(g) for g in team_env.team.reader_groups]

        metastore = []
        if team_env.platform.metastore_id:
            metastore.append(
                MetastoreAssignment(
                    self,
                    "metastore-assignment",
                    metastore_id=str(team_env.platform.metastore_id),
                    workspace_id=Token.as_number(platform.workspace_id),
                )
            )

        identity = JobServicePrincipal(
            self,
            "job-identity",
            display_name=f"{team_env.names.stem}-jobs",
            deployer=deployer,
            account_id=str(team_env.platform.account_id) if team_env.platform.account_id else None,
        )
        if identity.role_grants is None:
            Annotations.of(identity).add_warning(
                "platform.account_id is unset: grant the deployer the Service Principal User role on "
                f"{team_env.names.stem}-jobs, or creating the jobs (run_as) fails"
            )
        job_principal = identity.principal
        role_grants = [identity.role_grants] if identity.role_grants else []

        unity_catalog = UnityCatalogScope(
            self,
            "unity-catalog",
            team_env=team_env,
            platform=platform,
            owners=owners,
            readers=readers,
            job_principal=job_principal,
            depends_on=metastore,
        )
        compute = ComputePolicy(
            self, "compute", team_env=team_env, owners=owners, job_principal=job_principal, deployer=deployer
        )
        folder = TeamFolder(
            self, "team-folder", team_env=team_env, owners=owners, readers=readers, deployer=deployer
        )
        mlflow = MlflowAccess(
            self,
            "mlflow",
            team_env=team_env,
            folder=folder,
            catalog=unity_catalog,
            owners=owners,
            readers=readers,
            job_principal=job_principal,
            deployer=deployer,
            depends_on=role_grants,
        )
        ModelJobs(
            self,
            "model-jobs",
            team_env=team_env,
            wheel=wheel,
            artifacts=unity_catalog,
            experiment_path=mlflow.experiment_path,
            raw_input=f"{platform.lake_urls['landing']}{RAW_DROP_FOLDER}",
            compute=compute,
            run_as=job_principal,
            owners=owners,
            readers=readers,
            deployer=deployer,
            depends_on=[mlflow.experiment, mlflow.model, *role_grants],
        )
        # The vault uses Azure RBAC: the scope can read secrets only once the AzureDatabricks application holds
        # Key Vault Secrets User on it, which the platform stack grants to the object id in the config. Without
        # that id a scope would exist and fail every read, so there is none (validate and synth say so).
        if team_env.platform.azure_databricks_sp_object_id is not None:
            KeyVaultSecretScope(
                self,
                "secret-scope",
                name=team_env.names.stem,
                key_vault_id=platform.key_vault_id,
                key_vault_uri=platform.key_vault_uri,
                readers=[*owners, job_principal],
                managers=[deployer],
            )
        else:
            Annotations.of(self).add_warning(NO_SECRET_SCOPE)
        TeamNotebook(
            self,
            "explore-notebook",
            source=notebook_source,
            workspace_path=f"{folder.path}/{notebook_source.stem}",
            depends_on=[folder.directory],
        )
        # Last: every permissions resource, secret ACL and cluster above waits for the team's groups.
        WorkspaceGroups(self, "team-groups", groups=[*owners, *readers]).precede_acls_in(self)
