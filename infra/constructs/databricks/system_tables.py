"""The system schemas of the workspace's Unity Catalog metastore, declared by the one env named for it.

databricks v1.99.0, catalog/resource_system_schema.go: Create enables the schema on the metastore of the
provider's workspace (`Metastores.Summary`), ignoring "already exists"; Delete calls `SystemSchemas.Disable` on it.
A metastore is shared by every workspace of its region, so only the env named in
`platform.audit.system_tables.managed_in` declares them (infra/config/audit.py), and an env that protects its data
also refuses a plan that would disable them.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable, TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.system_schema import SystemSchema
from constructs import Construct

from infra.config import TeamEnv


class SystemTables(Construct):
    """One `databricks_system_schema` per configured schema (`system.<schema>`)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, id)
        protect = team_env.settings.prevent_destroy and not team_env.is_ephemeral
        self.schemas = {
            name: SystemSchema(
                self,
                name,
                schema=name,
                # The workspace must have its metastore before the schema can be enabled on it.
                depends_on=list(depends_on) or None,
                lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if protect else None,
            )
            for name in team_env.platform.audit.system_tables.schemas
        }
