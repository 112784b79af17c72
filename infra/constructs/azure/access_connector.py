"""The Databricks access connector: the managed identity Unity Catalog uses to reach the lake storage."""

from __future__ import annotations

from cdktf_cdktf_provider_azurerm.databricks_access_connector import (
    DatabricksAccessConnector,
    DatabricksAccessConnectorIdentity,
)
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.resource_group import ResourceGroupRef


class AccessConnector(Construct):
    """System-assigned identity for the env's Unity Catalog storage credential; no secret to rotate."""

    def __init__(
        self, scope: Construct, id: str, *, team_env: TeamEnv, resource_group: ResourceGroupRef
    ) -> None:
        super().__init__(scope, id)
        self.connector = DatabricksAccessConnector(
            self,
            "connector",
            name=team_env.names.access_connector,
            location=resource_group.location,
            resource_group_name=resource_group.name,
            identity=DatabricksAccessConnectorIdentity(type="SystemAssigned"),
        )
        self.resource_id = self.connector.id  # read once: each read is a round trip to the jsii runtime

    @property
    def principal_id(self) -> str:
        return self.connector.identity.principal_id
