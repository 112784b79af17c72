"""Where a team-env's workspace is and which job a run looks at: what `platform smoke` and `platform sat` hand
the Databricks clients (infra/lifecycle/services.py). Its own module, so that services, which builds those
clients, does not import the smoke run (which imports the rollout and the inventory, which take services)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.config.naming import azure_workspace_resource_id

if TYPE_CHECKING:
    from infra.config.naming import EnvNames
    from infra.config.team import TeamConfig


@dataclass(frozen=True)
class SmokeTarget:
    """What a smoke run needs to know about one team-env: where its workspace is and what to look for."""

    team: str
    env: str
    resource_group: str
    workspace_name: str
    job_name: str
    model_name: str | None
    """The model whose `challenger` alias the run must move; None for a job that registers no challenger (any
    job but the churn preset's training): then the run's success is the verdict."""
    cloud: str = "azure"
    workspace_url: str | None = None
    """An AWS workspace's URL (with_workspace_url reads it); an Azure workspace is found by its ARM ID."""

    @classmethod
    def of(
        cls, team: TeamConfig, env: str, names: EnvNames, *, job_name: str, model_name: str | None = None
    ) -> SmokeTarget:
        """The target in ``team``'s ``env`` whose derived names are ``names``."""
        return cls(
            team=team.name,
            env=env,
            cloud=team.cloud,
            resource_group=names.resource_group,
            workspace_name=names.databricks_workspace,
            job_name=job_name,
            model_name=model_name,
        )

    @property
    def key(self) -> str:
        return f"{self.team}/{self.env}"

    def workspace_resource_id(self, subscription_id: str) -> str:
        return azure_workspace_resource_id(subscription_id, self.resource_group, self.workspace_name)
