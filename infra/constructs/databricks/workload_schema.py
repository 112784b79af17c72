"""A workload's own Unity Catalog schema, so two workloads of one team never write into each other's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.grants import Grants
from cdktf_cdktf_provider_databricks.schema import Schema
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.unity_catalog import UnityCatalogScope, schema_grants


@dataclass(frozen=True)
class SchemaHandle:
    """What a workload's models and jobs need of its schema: its name, a reference that orders them after it,
    and its grants (the registered models and the serving inference tables wait for those)."""

    name: str
    ref: str
    grants: Grants

    @classmethod
    def of_catalog_scope(cls, catalog: UnityCatalogScope) -> SchemaHandle:
        """The catalog scope's own schema (`ml`, which also holds the artifact volume)."""
        return cls(name=catalog.schema_name, ref=catalog.schema_ref, grants=catalog.schema_grants)


class WorkloadSchema(Construct):
    """The schema `<catalog>.<name>` with authoritative grants: the team's owners work in it, readers read it,
    and only the workload's own job principal (not another workload's) may create and change its tables.

    Same shape and lifecycle as the `ml` schema of UnityCatalogScope: it references the catalog binding, so a
    destroy removes it (and the models in it) before the binding.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        name: str,
        comment: str,
        catalog: UnityCatalogScope,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        job_principal: Principal | None,
        owner: Principal | None = None,
    ) -> None:
        """``owner``: who owns the schema instead of the deployer that creates it (the deployer, owning the catalog,
        still manages its grants); only for a principal whose own code must own it (SAT comments on its schema)."""
        super().__init__(scope, id)
        ephemeral = team_env.is_ephemeral
        self.schema = Schema(
            self,
            "schema",
            catalog_name=catalog.catalog_ref,
            name=name,
            comment=comment,
            owner=owner.name if owner else None,
            force_destroy=ephemeral,
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=team_env.settings.prevent_destroy and not ephemeral
            ),
            depends_on=[catalog.binding],
        )
        self.grants = Grants(
            self,
            "grants",
            schema=self.schema.id,
            grant=schema_grants(
                owners=owners, readers=readers, jobs=[job_principal] if job_principal else []
            ),
        )
        self.handle = SchemaHandle(name=name, ref=self.schema.name, grants=self.grants)
