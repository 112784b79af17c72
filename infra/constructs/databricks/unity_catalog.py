"""The team-env's slice of Unity Catalog: lake access, its own catalog, the `ml` schema and the artifact volume."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_databricks.catalog import Catalog
from cdktf_cdktf_provider_databricks.external_location import ExternalLocation
from cdktf_cdktf_provider_databricks.grants import Grants, GrantsGrant
from cdktf_cdktf_provider_databricks.schema import Schema
from cdktf_cdktf_provider_databricks.storage_credential import StorageCredential
from cdktf_cdktf_provider_databricks.volume import Volume
from cdktf_cdktf_provider_databricks.workspace_binding import WorkspaceBinding
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.contracts import ARTIFACTS_VOLUME, LAKE_CONTAINERS, ML_SCHEMA, WorkspaceAccess
from infra.constructs.databricks.identity import Principal

# The container that is the catalog's managed storage root. It gets an external location (managed storage
# must lie inside one) but no file grants: only Unity Catalog itself reads and writes there.
MANAGED_STORAGE_CONTAINER = "catalog"
# Raw drops land here; the ingest task reads them as files.
LANDING_CONTAINER = "landing"

# Least privilege per role. Catalog-level grants only open the door; the work happens in the `ml` schema.
CATALOG_PRIVILEGES = ["USE_CATALOG"]
SCHEMA_CREATOR_PRIVILEGES = ["USE_CATALOG", "CREATE_SCHEMA"]
OWNER_SCHEMA_PRIVILEGES = [
    "USE_SCHEMA",
    "SELECT",
    "MODIFY",
    "CREATE_TABLE",
    "CREATE_FUNCTION",
    "CREATE_MODEL",
]
READER_SCHEMA_PRIVILEGES = ["USE_SCHEMA", "SELECT"]
# The jobs own the tables they create; they need to create and change them, nothing more.
JOB_SCHEMA_PRIVILEGES = ["USE_SCHEMA", "SELECT", "MODIFY", "CREATE_TABLE"]
# Only the deployer (the volume's owner) writes wheels: a writable artifact volume would let anyone swap the
# code that the jobs run as the service principal.
VOLUME_READ = ["READ_VOLUME"]
OWNER_LOCATION_PRIVILEGES = ["READ_FILES", "WRITE_FILES", "CREATE_EXTERNAL_TABLE"]
JOB_LANDING_PRIVILEGES = ["READ_FILES"]


def schema_grants(
    *, owners: Sequence[Principal], readers: Sequence[Principal], jobs: Sequence[Principal]
) -> list[GrantsGrant]:
    """A schema's grants: owners work in it, readers read it, the job principals create and change tables."""
    return (
        [GrantsGrant(principal=p.name, privileges=OWNER_SCHEMA_PRIVILEGES) for p in owners]
        + [GrantsGrant(principal=p.name, privileges=READER_SCHEMA_PRIVILEGES) for p in readers]
        + [GrantsGrant(principal=p.name, privileges=JOB_SCHEMA_PRIVILEGES) for p in jobs]
    )


class UnityCatalogScope(Construct):
    """Storage credential and one external location per lake container, an isolated catalog bound to this
    workspace only, the `ml` schema and the managed `artifacts` volume, each with authoritative grants.

    The deployer creates, and so owns, every object here; ownership already carries all privileges, so the
    deployer needs no grant of its own and is never locked out by these authoritative `databricks_grants`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        access: WorkspaceAccess,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        job_principal: Principal,
        workload_principals: Sequence[Principal] = (),
        catalog_users: Sequence[Principal] = (),
        schema_creators: Sequence[Principal] = (),
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        """``workload_principals``: the job principals of workloads with their own schema (WorkloadSchema); they
        get the catalog, the landing files and the wheels, not the `ml` schema. ``catalog_users``: principals that
        get only USE_CATALOG here (bundle workloads' run_as principals; their schema grants them the rest).
        ``schema_creators``: USE_CATALOG and CREATE_SCHEMA (the Security Analysis Tool's principal, whose notebooks
        run `CREATE DATABASE IF NOT EXISTS` on the schemas declared for it)."""
        super().__init__(scope, id)
        names = team_env.names
        ephemeral = team_env.is_ephemeral
        protect = TerraformResourceLifecycle(
            prevent_destroy=team_env.settings.prevent_destroy and not ephemeral
        )
        after_metastore = list(depends_on)

        self.credential = StorageCredential(
            self,
            "storage-credential",
            name=f"{names.catalog}_lake",
            comment=access.credential_comment,
            **access.credential,
            # Every team-env shares the region's metastore: isolate so no other workspace can use it.
            isolation_mode="ISOLATION_MODE_ISOLATED",
            force_destroy=ephemeral,
            depends_on=after_metastore,
        )
        # Where the cloud must trust the credential Databricks just created (AWS), locations wait for that trust.
        trusted = list(access.credential_trust(self, self.credential)) if access.credential_trust else []

        self.locations: dict[str, ExternalLocation] = {}
        credential_name = self.credential.name  # one round trip to the jsii runtime, not one per location
        for container in LAKE_CONTAINERS:
            location = ExternalLocation(
                self,
                f"location-{container}",
                name=f"{names.catalog}_{container}",
                url=access.lake_urls[container],
                credential_name=credential_name,
                comment=f"{container} container of {team_env.key}",
                isolation_mode="ISOLATION_MODE_ISOLATED",
                force_destroy=ephemeral,
                depends_on=trusted or None,
            )
            self.locations[container] = location
            if container == MANAGED_STORAGE_CONTAINER:
                continue
            grants = [GrantsGrant(principal=p.name, privileges=OWNER_LOCATION_PRIVILEGES) for p in owners]
            if container == LANDING_CONTAINER:
                grants += [
                    GrantsGrant(principal=p.name, privileges=JOB_LANDING_PRIVILEGES)
                    for p in (job_principal, *workload_principals)
                ]
            Grants(self, f"location-{container}-grants", external_location=location.name, grant=grants)

        self.catalog = Catalog(
            self,
            "catalog",
            name=names.catalog,
            comment=f"Data, models and artifacts of {team_env.key}",
            storage_root=access.lake_urls[MANAGED_STORAGE_CONTAINER],
            # ISOLATED binds the catalog to the workspace that creates it; the explicit binding below keeps
            # that visible and read-write in the configuration.
            isolation_mode="ISOLATED",
            force_destroy=ephemeral,
            lifecycle=protect,
            # storage_root is a plain URL, so Terraform would not know that it must lie inside an existing
            # external location: order it explicitly.
            depends_on=[*after_metastore, self.locations[MANAGED_STORAGE_CONTAINER]],
        )
        # References to the catalog and schema names, read once (each read is a round trip to the jsii runtime).
        catalog_ref = self.catalog_ref = self.catalog.name
        # Everything that lives in the catalog depends on the binding, so a destroy removes it all before the
        # binding and the catalog stays reachable from this workspace until then. The binding's delete only
        # unbinds (catalog/resource_workspace_binding.go, v1.99.0); the catalog's own delete re-binds the
        # current workspace first (catalog/resource_catalog.go), its contents' deletes do not (provider issue
        # 5300).
        self.binding = WorkspaceBinding(
            self,
            "catalog-binding",
            securable_type="catalog",
            securable_name=catalog_ref,
            workspace_id=Token.as_number(access.workspace_id),
            binding_type="BINDING_TYPE_READ_WRITE",
        )
        Grants(
            self,
            "catalog-grants",
            catalog=catalog_ref,
            grant=[GrantsGrant(principal=p.name, privileges=CATALOG_PRIVILEGES) for p in (*owners, *readers)]
            + [
                GrantsGrant(principal=p.name, privileges=CATALOG_PRIVILEGES)
                for p in (job_principal, *workload_principals, *catalog_users)
            ]
            + [GrantsGrant(principal=p.name, privileges=SCHEMA_CREATOR_PRIVILEGES) for p in schema_creators],
            depends_on=[self.binding],
        )

        self.schema = Schema(
            self,
            "schema",
            catalog_name=catalog_ref,
            name=ML_SCHEMA,
            comment="Tables, model and artifacts of the churn jobs",
            force_destroy=ephemeral,
            lifecycle=protect,
            # The volume, the registered model and every grant below reference the schema: through it they
            # all come down before the binding.
            depends_on=[self.binding],
        )
        self.schema_ref = self.schema.name
        self.schema_grants = Grants(
            self,
            "schema-grants",
            schema=self.schema.id,
            grant=schema_grants(owners=owners, readers=readers, jobs=[job_principal]),
        )

        self.volume = Volume(
            self,
            "artifacts-volume",
            catalog_name=catalog_ref,
            schema_name=self.schema_ref,
            name=ARTIFACTS_VOLUME,
            volume_type="MANAGED",
            comment="Built wheels the jobs install, one content-addressed folder per build",
            lifecycle=protect,
        )
        self.volume_grants = Grants(
            self,
            "artifacts-volume-grants",
            volume=self.volume.id,
            grant=[
                GrantsGrant(principal=p.name, privileges=VOLUME_READ)
                for p in (*owners, job_principal, *workload_principals)
            ],
        )
        self.catalog_name = names.catalog
        self.schema_name = ML_SCHEMA
        self.volume_path = f"/Volumes/{names.catalog}/{ML_SCHEMA}/{ARTIFACTS_VOLUME}"
