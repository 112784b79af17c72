"""`<team>-<env>-workspace`: everything inside one team-env's Databricks workspace."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cdktf import Annotations, Token
from cdktf_cdktf_provider_databricks.access_control_rule_set import AccessControlRuleSet
from cdktf_cdktf_provider_databricks.metastore_assignment import MetastoreAssignment
from cdktf_cdktf_provider_databricks.provider import DatabricksProvider

from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.config import TeamEnv
from infra.config.workload import ManagedWorkload
from infra.constructs.contracts import RAW_DROP_FOLDER, WheelArtifact, WorkspaceAccess
from infra.constructs.databricks.audit_alerts import add_audit_controls
from infra.constructs.databricks.bundle_workload import add_bundle_workloads, bundle_identities
from infra.constructs.databricks.compute_policy import ComputePolicy
from infra.constructs.databricks.hardening import WorkspaceHardening
from infra.constructs.databricks.identity import JobServicePrincipal, Principal, WorkspaceGroups
from infra.constructs.databricks.mlflow_access import MlflowAccess
from infra.constructs.databricks.model_jobs import ModelJobs
from infra.constructs.databricks.notebooks import TeamNotebook
from infra.constructs.databricks.quality_monitor import PredictionsMonitor
from infra.constructs.databricks.secrets import KeyVaultSecretScope
from infra.constructs.databricks.security_analysis_tool import SecurityAnalysisTool, sat_identity
from infra.constructs.databricks.serving import ChampionEndpoint
from infra.constructs.databricks.team_folder import TeamFolder
from infra.constructs.databricks.unity_catalog import UnityCatalogScope
from infra.constructs.databricks.workload_schema import SchemaHandle
from infra.constructs.databricks.workspace_settings import WorkspaceSettings
from infra.stacks.base import configure_backend
from infra.stacks.workspace_workloads import (
    WorkloadPlace,
    add_managed_workload,
    keep_retired_churn_data,
    wheel_of,
    workload_identities,
)

NO_SECRET_SCOPE = (
    "platform.azure_databricks_sp_object_id is unset: no Key Vault-backed secret scope (the AzureDatabricks "
    "application could not read the RBAC vault)"
)
EXPLORE_NOTEBOOK = Path(__file__).resolve().parents[2] / "ml" / "notebooks" / "churn_explore.py"


class WorkspaceStack(AspectStack):
    """Unity Catalog scope, compute policy, job identity, the team's managed workloads (the churn preset's
    MLflow, serving, monitor and jobs; any other's schema, identity, MLflow and jobs), secrets and the notebook.

    The provider is configured from the stack that creates the workspace (cross-stack references: the platform
    stack on Azure, the account stack on AWS), so this stack can only be planned after that one has been
    applied: the workspace must exist before the Databricks provider can authenticate against it. The cloud
    side comes in as ``access``, built by the team's cloud (``infra/constructs/<cloud>/workspace_access.py``).
    """

    def __init__(
        self,
        scope: AspectApp,
        id: str,
        *,
        team_env: TeamEnv,
        access: WorkspaceAccess,
        wheel: WheelArtifact,
        wheels: Mapping[str, WheelArtifact] | None = None,
        notebook_source: Path = EXPLORE_NOTEBOOK,
    ) -> None:
        """``wheel``: churn's (package `ml`); ``wheels``: the built wheel of every other managed workload's
        package, by package path."""
        super().__init__(scope, id)
        configure_backend(self, team_env=team_env, component="workspace")
        DatabricksProvider(self, "databricks", **access.provider)
        if access.cloud_provider is not None:  # AWS: the role that trusts the storage credential lives here
            access.cloud_provider(self)
        settings = WorkspaceSettings(self, "workspace-settings", team_env=team_env)
        WorkspaceHardening(
            self,
            "hardening",
            team_env=team_env,
            ip_lists_enabled=settings.conf,
            compute_egress=access.compute_egress_addresses,
        )
        deployer = Principal.deployer(team_env.platform.deployer_principal)
        owners = [Principal.group(g) for g in team_env.team.owner_groups]
        readers = [Principal.group(g) for g in team_env.team.reader_groups]

        metastore = []
        if team_env.platform.metastore_id and not access.account_stack_assigns:
            metastore.append(
                MetastoreAssignment(
                    self,
                    "metastore-assignment",
                    metastore_id=str(team_env.platform.metastore_id),
                    workspace_id=Token.as_number(access.workspace_id),
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
        identities = workload_identities(self, team_env=team_env, deployer=deployer)
        workload_principals = [i.principal for i in identities.values()]
        # Bundle workloads' principals first: the catalog's grants and the policy's permissions list them.
        bundles = bundle_identities(self, team_env=team_env, deployer=deployer)
        sat = sat_identity(self, team_env=team_env, deployer=deployer)  # where the config runs SAT
        sat_principals = [sat.principal] if sat else []

        unity_catalog = UnityCatalogScope(
            self,
            "unity-catalog",
            team_env=team_env,
            access=access,
            owners=owners,
            readers=readers,
            job_principal=job_principal,
            workload_principals=workload_principals,
            catalog_users=[b.principal for b in bundles],
            schema_creators=sat_principals,
            depends_on=metastore,
        )
        compute = ComputePolicy(
            self,
            "compute",
            team_env=team_env,
            owners=owners,
            job_principal=job_principal,
            deployer=deployer,
            workload_principals=[*workload_principals, *(b.principal for b in bundles), *sat_principals],
        )
        add_bundle_workloads(
            self,
            team_env=team_env,
            identities=bundles,
            catalog=unity_catalog,
            owners=owners,
            readers=readers,
            host=access.provider["host"],
            cluster_policy_id=compute.policy_id,
        )
        folder = TeamFolder(
            self, "team-folder", team_env=team_env, owners=owners, readers=readers, deployer=deployer
        )
        place = WorkloadPlace(
            team_env=team_env,
            catalog=unity_catalog,
            compute=compute,
            folder=folder,
            owners=owners,
            readers=readers,
            deployer=deployer,
        )
        for workload in team_env.team.managed_workloads:
            workload_wheel = wheel_of(workload, wheel=wheel, wheels=wheels or {})
            if workload.preset == "churn":
                self._churn(place, workload, workload_wheel, access, job_principal, role_grants)
            else:
                add_managed_workload(
                    self,
                    place=place,
                    workload=workload,
                    wheel=workload_wheel,
                    identity=identities.get(workload.name),
                    team_principal=job_principal,
                    team_role_grants=role_grants,
                )
        add_audit_controls(
            self,
            team_env=team_env,
            workspace_id=access.workspace_id,
            folder_path=folder.path,
            owners=owners,
            readers=readers,
            deployer=deployer,
            metastore=metastore,
            depends_on=[folder.directory],
        )
        if sat is not None:
            SecurityAnalysisTool(
                self,
                "security-analysis-tool",
                team_env=team_env,
                identity=sat,
                catalog=unity_catalog,
                compute=compute,
                owners=owners,
                readers=readers,
                deployer=deployer,
            )
        keep_retired_churn_data(self, team_env=team_env)
        if access.key_vault is not None:  # AWS team-envs have no vault, so no scope
            self._secret_scope(
                team_env, access.key_vault, readers=[*owners, job_principal], managers=[deployer]
            )
        TeamNotebook(
            self,
            "explore-notebook",
            source=notebook_source,
            workspace_path=f"{folder.path}/{notebook_source.stem}",
            depends_on=[folder.directory],
        )
        # Last: every permissions resource, secret ACL and cluster above waits for the team's groups. Where the
        # account stack assigns them, it is deployed before this stack and destroyed after it.
        if not access.account_stack_assigns:
            WorkspaceGroups(self, "team-groups", groups=[*owners, *readers]).precede_acls_in(self)

    def _churn(
        self,
        place: WorkloadPlace,
        workload: ManagedWorkload,
        wheel: WheelArtifact,
        access: WorkspaceAccess,
        job_principal: Principal,
        role_grants: list[AccessControlRuleSet],
    ) -> None:
        """The churn preset, under the construct IDs it always had (its Terraform addresses never move)."""
        team_env, unity_catalog, compute, folder = place.team_env, place.catalog, place.compute, place.folder
        owners, readers, deployer = place.owners, place.readers, place.deployer
        mlflow = MlflowAccess(
            self,
            "mlflow",
            team_env=team_env,
            workload=workload,
            folder=folder,
            catalog=unity_catalog,
            schema=SchemaHandle.of_catalog_scope(unity_catalog),
            owners=owners,
            readers=readers,
            job_principal=job_principal,
            deployer=deployer,
            depends_on=role_grants,
        )
        endpoint = None
        if team_env.settings.serving.enabled:
            endpoint = ChampionEndpoint(
                self,
                "serving",
                team_env=team_env,
                model_name=workload.models[0],
                catalog=unity_catalog,
                owners=owners,
                readers=readers,
                job_principal=job_principal,
                deployer=deployer,
                depends_on=[mlflow.model, mlflow.model_grants, unity_catalog.schema_grants],
            )
        predictions = PredictionsMonitor(
            self,
            "predictions-monitor",
            team_env=team_env,
            catalog=unity_catalog,
            folder=folder,
            job_principal=job_principal,
        )
        ModelJobs(
            self,
            "model-jobs",
            team_env=team_env,
            workload=workload,
            wheel=wheel,
            artifacts=unity_catalog,
            experiment_path=mlflow.experiment_path,
            raw_input=f"{access.lake_urls['landing']}{RAW_DROP_FOLDER}",
            compute=compute,
            run_as=job_principal,
            owners=owners,
            readers=readers,
            deployer=deployer,
            validate_options=endpoint.validate_options if endpoint else (),
            # The validate task moves the endpoint's served version: the endpoint and the job principal's
            # CAN_MANAGE on it exist before the job can run.
            depends_on=[
                mlflow.experiment,
                mlflow.model,
                *role_grants,
                *([endpoint.permissions] if endpoint else []),
                # Scoring appends to the declared predictions table rather than creating its own.
                predictions.table,
            ],
        )

    def _secret_scope(
        self,
        team_env: TeamEnv,
        key_vault: tuple[str, str],
        *,
        readers: list[Principal],
        managers: list[Principal],
    ) -> None:
        # The vault uses Azure RBAC: the scope can read secrets only once the AzureDatabricks application holds
        # Key Vault Secrets User on it, which the platform stack grants to the object id in the config. Without
        # that id a scope would exist and fail every read, so there is none (validate and synth say so).
        if team_env.platform.azure_databricks_sp_object_id is None:
            Annotations.of(self).add_warning(NO_SECRET_SCOPE)
            return
        key_vault_id, key_vault_uri = key_vault
        KeyVaultSecretScope(
            self,
            "secret-scope",
            name=team_env.names.stem,
            key_vault_id=key_vault_id,
            key_vault_uri=key_vault_uri,
            readers=readers,
            managers=managers,
        )
