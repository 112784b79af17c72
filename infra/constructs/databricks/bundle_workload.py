"""What a team's own Databricks Asset Bundle needs in one team-env, and nothing else: the workload's schema with
its registered models, an artifact volume, a run_as service principal that may use the team's cluster policy,
and the team CI's federated credential for that principal. The bundle creates its jobs, experiments and
pipelines itself (`platform bundle-targets` writes the targets it deploys with, docs/bundles.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import Annotations, ITerraformDependable, TerraformOutput, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_databricks.data_databricks_service_principal import DataDatabricksServicePrincipal
from cdktf_cdktf_provider_databricks.grants import Grants, GrantsGrant
from cdktf_cdktf_provider_databricks.provider import DatabricksProvider
from cdktf_cdktf_provider_databricks.registered_model import RegisteredModel
from cdktf_cdktf_provider_databricks.service_principal_federation_policy import (
    ServicePrincipalFederationPolicy,
    ServicePrincipalFederationPolicyOidcPolicy,
)
from cdktf_cdktf_provider_databricks.volume import Volume
from constructs import Construct

from infra.config import TeamEnv
from infra.config.workload import BundleCi, BundleWorkload
from infra.constructs.bundle_contract import (
    BUNDLE_ARTIFACTS_VOLUME,
    BUNDLE_CLUSTER_POLICY_OUTPUT,
    BUNDLE_HOST_OUTPUT,
    artifact_volume_output,
    artifact_volume_path,
    run_as_display_name,
    run_as_output,
)
from infra.constructs.databricks.identity import JobServicePrincipal, Principal
from infra.constructs.databricks.unity_catalog import UnityCatalogScope
from infra.constructs.databricks.workload_schema import WorkloadSchema

# The account console of each cloud: federation policies live at the account, not in a workspace.
ACCOUNT_HOSTS = {
    "azure": "https://accounts.azuredatabricks.net",
    "aws": "https://accounts.cloud.databricks.com",
}
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
CI_POLICY_ID = "github-actions"
OWNER_MODEL_PRIVILEGES = ["EXECUTE", "APPLY_TAG"]
READER_MODEL_PRIVILEGES = ["EXECUTE"]
# Whoever deploys a target writes its artifacts: the principal in production, each developer in development.
VOLUME_WRITE = ["READ_VOLUME", "WRITE_VOLUME"]
VOLUME_READ = ["READ_VOLUME"]
DEVELOPMENT_KINDS = ("dev", "ephemeral")


class BundleIdentity(Construct):
    """The workload's run_as service principal. Created before the catalog and the policy, whose authoritative
    grants and permissions must list it (a second grants resource on the same object would revoke the first's)."""

    def __init__(
        self, scope: Construct, id: str, *, team_env: TeamEnv, workload: BundleWorkload, deployer: Principal
    ) -> None:
        super().__init__(scope, id)
        account_id = team_env.platform.account_id
        self.identity = JobServicePrincipal(
            self,
            "run-as",
            display_name=run_as_display_name(team_env.names.stem, workload.name),
            deployer=deployer,
            account_id=str(account_id) if account_id else None,
        )
        self.principal = self.identity.principal
        if self.identity.role_grants is None:
            Annotations.of(self).add_warning(
                "platform.account_id is unset: grant the deployer the Service Principal User role on "
                f"{run_as_display_name(team_env.names.stem, workload.name)}, or handing it the models fails"
            )


class BundleWorkloadResources(Construct):
    """Schema, registered models, artifact volume, CI credential and the outputs a bundle target reads."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        workload: BundleWorkload,
        identity: BundleIdentity,
        catalog: UnityCatalogScope,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
    ) -> None:
        super().__init__(scope, id)
        ephemeral = team_env.is_ephemeral
        protect = team_env.settings.prevent_destroy and not ephemeral
        run_as = identity.principal
        development = team_env.kind in DEVELOPMENT_KINDS
        role_grants: list[ITerraformDependable] = (
            [identity.identity.role_grants] if identity.identity.role_grants else []
        )

        # Owners work in it, readers read it, the bundle's principal creates and changes its tables.
        self.schema = WorkloadSchema(
            self,
            "schema",
            team_env=team_env,
            name=workload.schema,
            comment=f"Tables and models of the {workload.name} bundle in {team_env.key}",
            catalog=catalog,
            owners=owners,
            readers=readers,
            job_principal=run_as,
        ).schema

        # In Unity Catalog only a model's owner creates versions and sets aliases: in development the team's
        # developers train as themselves (their first owner group owns the models), elsewhere the bundle's
        # principal does (handing it ownership may need the deployer's role on it, see identity.py).
        model_owner = owners[0].name if development else run_as.name
        self.models = []
        for model in workload.models:
            registered = RegisteredModel(
                self,
                f"model-{model}",
                catalog_name=catalog.catalog_ref,
                schema_name=self.schema.name,
                name=model,
                owner=model_owner,
                comment=f"{model} of the {workload.name} bundle in {team_env.key}; its versions and aliases "
                "belong to the bundle",
                lifecycle=TerraformResourceLifecycle(prevent_destroy=protect, ignore_changes=["aliases"]),
                depends_on=role_grants or None,
            )
            Grants(
                self,
                f"model-{model}-grants",
                model=registered.id,
                grant=[GrantsGrant(principal=p.name, privileges=OWNER_MODEL_PRIVILEGES) for p in owners]
                + [GrantsGrant(principal=p.name, privileges=READER_MODEL_PRIVILEGES) for p in readers]
                + (
                    []
                    if model_owner == run_as.name
                    else [GrantsGrant(principal=run_as.name, privileges=["EXECUTE"])]
                ),
            )
            self.models.append(registered)

        volume = Volume(
            self,
            "artifacts-volume",
            catalog_name=catalog.catalog_ref,
            schema_name=self.schema.name,
            name=BUNDLE_ARTIFACTS_VOLUME,
            volume_type="MANAGED",
            comment=f"Artifacts (wheels, files) the {workload.name} bundle uploads",
            lifecycle=TerraformResourceLifecycle(prevent_destroy=protect),
        )
        # Production: only the principal that deploys the bundle writes what its jobs run.
        writers = [run_as, *owners] if development else [run_as]
        viewers = [p for p in (*owners, *readers) if p not in writers]
        Grants(
            self,
            "artifacts-volume-grants",
            volume=volume.id,
            grant=[GrantsGrant(principal=p.name, privileges=VOLUME_WRITE) for p in writers]
            + [GrantsGrant(principal=p.name, privileges=VOLUME_READ) for p in viewers],
        )
        self.volume_path = artifact_volume_path(team_env.names.catalog, workload.schema)

        self.federation: ServicePrincipalFederationPolicy | None = None
        if workload.ci is not None:
            self.federation = self._ci_credential(team_env, workload, workload.ci, identity, role_grants)

        TerraformOutput(scope, run_as_output(workload.name), value=identity.identity.application_id)
        TerraformOutput(scope, artifact_volume_output(workload.name), value=self.volume_path)

    def _ci_credential(
        self,
        team_env: TeamEnv,
        workload: BundleWorkload,
        ci: BundleCi,
        identity: BundleIdentity,
        role_grants: list[ITerraformDependable],
    ) -> ServicePrincipalFederationPolicy:
        """GitHub Actions OIDC tokens of the team's repository (and environment) sign in as the run_as principal.

        A federation policy is an account-level object (the provider's resource calls GetAccountClient,
        internal/providers/pluginfw/products/service_principal_federation_policy, databricks v1.99.0), so it goes
        through an account-level provider alias, and the principal's account ID is looked up there by its
        application ID (the account-level data source, data-sources/service_principal.md). Validate refuses `ci`
        without platform.account_id. No Entra ID application: that route needs the azuread provider.
        """
        account_id = str(team_env.platform.account_id)
        account = DatabricksProvider(
            self,
            "account",
            alias=f"account-{workload.name}",
            host=ACCOUNT_HOSTS[team_env.team.cloud],
            account_id=account_id,
        )
        found = DataDatabricksServicePrincipal(
            self, "run-as-in-account", provider=account, application_id=identity.identity.application_id
        )
        if ci.environment:
            subject_claim, subject = "sub", f"repo:{ci.github_repository}:environment:{ci.environment}"
        else:  # every workflow run of the repository: GitHub's `repository` claim is `owner/repo`
            subject_claim, subject = "repository", ci.github_repository
        return ServicePrincipalFederationPolicy(
            self,
            "ci-federation",
            provider=account,
            service_principal_id=Token.as_number(found.id),
            # Scoped to the principal (accounts/<id>/servicePrincipals/<sp>/federationPolicies/<policy_id>).
            policy_id=CI_POLICY_ID,
            description=f"GitHub Actions of {ci.github_repository} deploy the {workload.name} bundle to {team_env.key}",
            oidc_policy=ServicePrincipalFederationPolicyOidcPolicy(
                issuer=GITHUB_ISSUER,
                audiences=[account_id],
                subject_claim=subject_claim,
                subject=subject,
            ),
            depends_on=role_grants or None,
        )


def bundle_identities(scope: Construct, *, team_env: TeamEnv, deployer: Principal) -> list[BundleIdentity]:
    """One run_as principal per bundle workload of the team, in config order."""
    return [
        BundleIdentity(scope, f"bundle-{w.name}-identity", team_env=team_env, workload=w, deployer=deployer)
        for w in team_env.team.bundle_workloads
    ]


def add_bundle_workloads(
    scope: Construct,
    *,
    team_env: TeamEnv,
    identities: Sequence[BundleIdentity],
    catalog: UnityCatalogScope,
    owners: Sequence[Principal],
    readers: Sequence[Principal],
    host: str,
    cluster_policy_id: str,
) -> list[BundleWorkloadResources]:
    """Each bundle workload's resources, and the stack outputs every bundle target of the env reads."""
    added = [
        BundleWorkloadResources(
            scope,
            f"bundle-{workload.name}",
            team_env=team_env,
            workload=workload,
            identity=identity,
            catalog=catalog,
            owners=owners,
            readers=readers,
        )
        for workload, identity in zip(team_env.team.bundle_workloads, identities, strict=True)
    ]
    if added:
        TerraformOutput(scope, BUNDLE_HOST_OUTPUT, value=host)
        TerraformOutput(scope, BUNDLE_CLUSTER_POLICY_OUTPUT, value=cluster_policy_id)
    return added
