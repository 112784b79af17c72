"""Databricks' Security Analysis Tool (SAT) v0.8.0 in the one workspace `platform.audit.security_analysis_tool` names.

A port of SAT's own Terraform at tag v0.8.0 (security-analysis-tool @ 9714352, terraform/common/{secrets,repo,
sql_warehouse,jobs}.tf, terraform/azure/{secrets,service_principal}.tf, terraform/aws/secrets.tf) and of SRA's wrapper
(terraform-databricks-sra azure/tf/modules/sat/main.tf: the service principal a workspace admin, its catalog grant):
- the `sat_scope` secret scope (the name SAT's notebooks hard-code) with explicit ACLs, and every key SAT reads
  except `client-secret`: those are configuration (IDs, names, `{}` proxies), written with `databricks_secret`;
  the secret itself is written by `platform sat set-secret` through the API, never through Terraform or state;
- a small classic SQL warehouse (its ID is the `sql-warehouse-id` key), the Git folder checked out at tag v0.8.0,
  the analysis schema in the env's catalog (SAT's `CREATE DATABASE IF NOT EXISTS` then finds it), owned by SAT's
  principal (its `COMMENT ON SCHEMA` on every run needs ownership; its scratch `intermediate_schema`, dropped at the
  end of every run, SAT creates itself),
  and the initializer, driver and secrets scanner jobs, run as SAT's service principal on the env's cluster policy
  (or serverless), with SAT's SDK wheel from the Git folder (`lib/`, pinned by the tag; PyPI has no 0.1.51).
The driver's and scanner's schedules are created PAUSED: until the secret is set every run would start a cluster only
to stop at SAT's pre-run check (notebooks/diagnosis/pre_run_config_check.py). `platform sat
set-secret` unpauses them, and `ignore_changes` on `schedule[0].pause_status` keeps the next apply from pausing them
again. Left out: SAT's dashboards and the experimental "BrickHound" permissions app and job (brickhound_*.tf).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.access_control_rule_set import (
    AccessControlRuleSet,
    AccessControlRuleSetGrantRules,
)
from cdktf_cdktf_provider_databricks.job import (
    Job,
    JobEnvironment,
    JobEnvironmentSpec,
    JobRunAs,
    JobSchedule,
    JobTask,
    JobTaskLibrary,
    JobTaskNotebookTask,
)
from cdktf_cdktf_provider_databricks.permission_assignment import PermissionAssignment
from cdktf_cdktf_provider_databricks.repo import Repo
from cdktf_cdktf_provider_databricks.secret import Secret
from cdktf_cdktf_provider_databricks.secret_acl import SecretAcl
from cdktf_cdktf_provider_databricks.secret_scope import SecretScope
from cdktf_cdktf_provider_databricks.sql_endpoint import (
    SqlEndpoint,
    SqlEndpointTags,
    SqlEndpointTagsCustomTags,
)
from constructs import Construct

from infra.config import TeamEnv
from infra.config.security_analysis_tool import (
    SAT_ANALYSIS_SCHEMA_COMMENT,
    SAT_NOTEBOOKS,
    SAT_REPO_PATH,
    SAT_REPO_URL,
    SAT_SCOPE,
    SAT_SDK,
    SAT_TAG,
    SCHEDULED_JOBS,
    runs_sat,
    sat_job_name,
)
from infra.constructs.databricks.compute_policy import ComputePolicy
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.job_compute import JOB_CLUSTER_KEY, job_clusters
from infra.constructs.databricks.unity_catalog import UnityCatalogScope
from infra.constructs.databricks.workload_schema import WorkloadSchema

SERVERLESS_ENVIRONMENT_KEY = "sat"
# Terraform keeps the pause state `platform sat set-secret` sets (the schedule block is a one-item list).
PAUSE_STATUS = "schedule[0].pause_status"


def sat_identity(scope: Construct, *, team_env: TeamEnv, deployer: Principal) -> SatIdentity | None:
    """SAT's service principal in this workspace, where the config runs SAT here (never in an ephemeral env)."""
    if team_env.is_ephemeral or not runs_sat(team_env.platform, team_env.team, team_env.env):
        return None
    return SatIdentity(scope, "sat-identity", team_env=team_env, deployer=deployer)


class SatIdentity(Construct):
    """SAT's service principal (an Entra ID application on Azure, an account service principal on AWS: SAT signs in
    to the account console as it, so it is in the account already) assigned to this workspace as an admin: SAT reads
    workspace settings only an admin sees (SRA azure/tf/modules/sat/main.tf and SAT terraform/azure/
    service_principal.tf put it in `admins`).

    SRA creates a workspace `databricks_service_principal` and a `databricks_group_member` in `admins`; here one
    `databricks_permission_assignment` by `service_principal_name` with `ADMIN` (databricks v1.99.0 access/
    resource_permission_assignment.go: assigned as USER, then re-assigned ADMIN, which "adds the principal to the
    workspace admins group"; docs/resources/service_principal.md: account service principals are assigned to a
    workspace this way). Its destroy removes the assignment, never the account's principal. `principal` names it
    by a reference to that resource, so every grant and ACL on it is created after it and destroyed before it.

    The jobs run as it (PLAT-DBX-2), which needs the deployer to hold the Service Principal User role on it: granted
    through its account rule set (authoritative; the deployer keeps Manager), as JobServicePrincipal does."""

    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv, deployer: Principal) -> None:
        super().__init__(scope, id)
        sat = team_env.platform.audit.security_analysis_tool
        self.assignment = PermissionAssignment(
            self, "admin", service_principal_name=str(sat.client_id), permissions=["ADMIN"]
        )
        application_id = self.assignment.service_principal_name
        self.principal = Principal.service_principal(application_id)
        self.role_grants = AccessControlRuleSet(
            self,
            "roles",
            name=f"accounts/{team_env.platform.account_id}/servicePrincipals/{application_id}/ruleSets/default",
            grant_rules=[
                AccessControlRuleSetGrantRules(role=role, principals=[deployer.acl_principal_id])
                for role in ("roles/servicePrincipal.manager", "roles/servicePrincipal.user")
            ],
        )


def secret_values(team_env: TeamEnv, *, warehouse_id: str, analysis_schema: str) -> dict[str, str]:
    """Every key SAT v0.8.0's notebooks read from `sat_scope` except `client-secret` (notebooks/Utils/initialize.py,
    terraform/common/secrets.tf, terraform/<cloud>/secrets.tf): configuration, not credentials. AWS uses OAuth of a
    Databricks service principal (`use-sp-auth`), never the retired account user and password keys."""
    platform, sat = team_env.platform, team_env.platform.audit.security_analysis_tool
    values = {
        "account-console-id": str(platform.account_id),
        "analysis_schema_name": analysis_schema,
        "client-id": str(sat.client_id),
        "proxies": json.dumps({}),
        "sql-warehouse-id": warehouse_id,
        "user-email-for-alerts": str(team_env.team.notification_emails[0]),
    }
    if team_env.team.cloud == "azure":
        values |= {"subscription-id": str(platform.subscription_id), "tenant-id": str(platform.tenant_id)}
    else:
        values |= {"use-sp-auth": "true"}
    return dict(sorted(values.items()))


class SecurityAnalysisTool(Construct):
    """SAT's scope and keys, warehouse, Git folder, schemas and jobs (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        identity: SatIdentity,
        catalog: UnityCatalogScope,
        compute: ComputePolicy,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        deployer: Principal,
    ) -> None:
        super().__init__(scope, id)
        sat = team_env.platform.audit.security_analysis_tool
        names = team_env.names
        sp = identity.principal

        self.scope = SecretScope(self, "scope", name=SAT_SCOPE)
        scope_name = self.scope.name
        # SAT terraform/common/secrets.tf: the deployer MANAGE, named readers READ; `admins` keep their implicit
        # MANAGE on every Databricks-backed scope (no ACL can narrow it).
        self.acls = [
            SecretAcl(self, "acl-deployer", scope=scope_name, principal=deployer.name, permission="MANAGE"),
            SecretAcl(self, "acl-sat", scope=scope_name, principal=sp.name, permission="READ"),
        ]
        self.warehouse = SqlEndpoint(
            self,
            "warehouse",
            name=f"{names.stem}-sat",
            cluster_size="2X-Small",
            max_num_clusters=1,
            # Classic, as SAT's default (sql_warehouse_enable_serverless false): it reads the env's lake.
            enable_serverless_compute=False,
            warehouse_type="PRO",
            auto_stop_mins=10,
            tags=SqlEndpointTags(
                custom_tags=[
                    SqlEndpointTagsCustomTags(key=k, value=v) for k, v in sorted(team_env.tags.items())
                ]
            ),
        )
        # The analysis schema only: SAT creates its scratch `intermediate_schema` itself (CREATE_SCHEMA on the
        # catalog) and drops it CASCADE at the end of every run (security_analysis_driver.py, _initializer.py).
        self.schemas = [
            WorkloadSchema(
                self,
                f"schema-{sat.schema_name}",
                team_env=team_env,
                name=sat.schema_name,
                comment=SAT_ANALYSIS_SCHEMA_COMMENT,  # what SAT's create_schema() sets: no diff after a run
                catalog=catalog,
                owners=owners,
                readers=readers,
                job_principal=sp,
                # SAT's create_schema() runs `COMMENT ON SCHEMA` on every job: only an owner may.
                owner=sp,
            )
        ]
        analysis_schema = f"{names.catalog}.{sat.schema_name}"
        values = secret_values(team_env, warehouse_id=self.warehouse.id, analysis_schema=analysis_schema)
        self.secrets = [
            Secret(self, f"key-{key}", scope=scope_name, key=key, string_value=value)
            for key, value in values.items()
        ]
        # Never `branch`: the provider's Create clones the default branch, then checks out the tag (databricks v1.99.0
        # repos/resource_repo.go), so what the jobs run is exactly v0.8.0 (PLAT-AUDIT-6).
        self.repo = Repo(self, "repo", url=SAT_REPO_URL, tag=SAT_TAG, path=SAT_REPO_PATH)
        repo_path = self.repo.path
        self.workspace_path = self.repo.workspace_path  # `/Workspace` + path: where a job library may point
        after = [
            *self.secrets,
            *self.acls,
            *(s.grants for s in self.schemas),
            identity.assignment,
            identity.role_grants,
        ]
        self.jobs = {
            job: self._job(
                team_env, job, f"{repo_path}/{notebook}", compute=compute, run_as=sp, depends_on=after
            )
            for job, notebook in SAT_NOTEBOOKS.items()
        }

    def _job(
        self,
        team_env: TeamEnv,
        job: str,
        notebook_path: str,
        *,
        compute: ComputePolicy,
        run_as: Principal,
        depends_on: list,
    ) -> Job:
        sat = team_env.platform.audit.security_analysis_tool
        task = {"task_key": job, "notebook_task": JobTaskNotebookTask(notebook_path=notebook_path)}
        placement: dict = {}
        if sat.serverless:
            # SAT's serverless path installs the SDK wheel from the Git folder's lib/ with --no-deps
            # (notebooks/Includes/install_sat_sdk.py): no library, only an environment (msal ships from v4 on).
            version = team_env.settings.serverless.environment_version
            task["environment_key"] = SERVERLESS_ENVIRONMENT_KEY
            placement["environment"] = [
                JobEnvironment(
                    environment_key=SERVERLESS_ENVIRONMENT_KEY,
                    spec=JobEnvironmentSpec(environment_version=version),
                )
            ]
        else:
            task |= {
                "job_cluster_key": JOB_CLUSTER_KEY,
                "library": [JobTaskLibrary(whl=f"{self.workspace_path}/{SAT_SDK}")],
            }
            placement["job_cluster"] = job_clusters(compute, run_as=run_as)
        schedule = {}
        if job in SCHEDULED_JOBS:
            cron = sat.driver_schedule if job == "driver" else sat.secrets_scanner_schedule
            schedule = {
                "schedule": JobSchedule(
                    quartz_cron_expression=cron, timezone_id="UTC", pause_status="PAUSED"
                ),
                "lifecycle": TerraformResourceLifecycle(ignore_changes=[PAUSE_STATUS]),
            }
        return Job(
            self,
            f"job-{job}",
            name=sat_job_name(team_env.names.stem, job),
            run_as=JobRunAs(service_principal_name=run_as.name),
            task=[JobTask(**task)],
            tags={"Application": "SAT"},
            max_concurrent_runs=1,
            **placement,
            **schedule,
            depends_on=depends_on,
        )
