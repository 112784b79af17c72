"""Workspace-wide settings: personal access tokens off unless the platform config allows them."""

from cdktf_cdktf_provider_databricks.workspace_conf import WorkspaceConf
from constructs import Construct

from infra.config import TeamEnv


class WorkspaceSettings(Construct):
    """One ``databricks_workspace_conf`` per workspace (the provider's advice: two would fight over keys).

    With personal access tokens disabled, nobody can create or use a PAT in the workspace; people sign in
    with Entra ID and automation uses service principals with OAuth or Azure credentials. Deleting the
    resource resets ``enable*`` keys to false, so a destroy never re-opens tokens.
    """

    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv) -> None:
        super().__init__(scope, id)
        allow = team_env.platform.personal_access_tokens
        self.conf = WorkspaceConf(
            self, "conf", custom_config={"enableTokensConfig": "true" if allow else "false"}
        )
