"""Workspace-wide settings: personal access tokens off unless the platform config allows them, and the env's
`workspace_conf` hardening (config `hardening`)."""

from cdktf_cdktf_provider_databricks.workspace_conf import WorkspaceConf
from constructs import Construct

from infra.config import TeamEnv


def _flag(value: bool) -> str:
    return "true" if value else "false"


def workspace_conf(team_env: TeamEnv) -> dict[str, str]:
    """The keys of the env's one workspace_conf. Key names as the workspace-conf API spells them (Databricks'
    security reference architecture, aws/customizations/workspace/admin_configuration; databricks v1.99.0
    docs/resources/workspace_conf.md for enableIpAccessLists and enableTokensConfig)."""
    hardening = team_env.settings.hardening
    return {
        "enableTokensConfig": _flag(team_env.platform.personal_access_tokens),
        "enableVerboseAuditLogs": _flag(hardening.verbose_audit_logs),
        "enableResultsDownloading": _flag(hardening.results_download),
        "enableExportNotebook": _flag(hardening.notebook_export),
        "enableNotebookTableClipboard": _flag(hardening.notebook_table_clipboard),
        # Lists apply to the public front end only; a private one has none (config refuses a list there).
        "enableIpAccessLists": _flag(
            bool(hardening.ip_access_list) and team_env.settings.public_network_access
        ),
    }


class WorkspaceSettings(Construct):
    """One ``databricks_workspace_conf`` per workspace (the provider's advice: two would fight over keys).

    With personal access tokens disabled, nobody can create or use a PAT in the workspace; people sign in
    with Entra ID and automation uses service principals with OAuth or Azure credentials. Deleting the
    resource resets every ``enable*`` key to "false" (databricks v1.99.0 workspace/resource_workspace_conf.go,
    deleteWorkspaceConf): a destroy never re-opens tokens, results download or notebook export, but it does turn
    verbose audit logs and IP access lists off, which matters only while the workspace outlives the stack.
    """

    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv) -> None:
        super().__init__(scope, id)
        self.conf = WorkspaceConf(self, "conf", custom_config=workspace_conf(team_env))
