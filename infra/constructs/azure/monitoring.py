"""Log Analytics for the env, and the diagnostic settings that feed it."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_azurerm.log_analytics_workspace import LogAnalyticsWorkspace
from cdktf_cdktf_provider_azurerm.monitor_diagnostic_setting import (
    MonitorDiagnosticSetting,
    MonitorDiagnosticSettingEnabledLog,
    MonitorDiagnosticSettingEnabledMetric,
)
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.azure.resource_group import ResourceGroupRef

DIAGNOSTIC_SETTING_NAME = "to-log-analytics"


class Monitoring(Construct):
    """One Log Analytics workspace per env; ``send_diagnostics`` routes a resource's logs to it."""

    def __init__(
        self, scope: Construct, id: str, *, team_env: TeamEnv, resource_group: ResourceGroupRef
    ) -> None:
        super().__init__(scope, id)
        self.workspace = LogAnalyticsWorkspace(
            self,
            "log-analytics",
            name=team_env.names.log_analytics_workspace,
            location=resource_group.location,
            resource_group_name=resource_group.name,
            sku="PerGB2018",
            retention_in_days=team_env.platform.log_retention_days,
            # Entra ID only: no agent may ingest or query with the workspace's shared keys. Diagnostic settings
            # do not use those keys, so the settings below keep working.
            local_authentication_enabled=False,
        )
        self.workspace_id = self.workspace.id  # read once: every read is a round trip to the jsii runtime

    def send_diagnostics(
        self,
        id: str,
        *,
        target_resource_id: str,
        log_category_groups: Sequence[str] = ("allLogs",),
        metric_categories: Sequence[str] = (),
    ) -> MonitorDiagnosticSetting:
        """Category groups rather than single categories: a resource type's category list grows over time
        (Databricks adds services), and ``allLogs`` follows it without a config change."""
        return MonitorDiagnosticSetting(
            self,
            id,
            name=DIAGNOSTIC_SETTING_NAME,
            target_resource_id=target_resource_id,
            log_analytics_workspace_id=self.workspace_id,
            enabled_log=[
                MonitorDiagnosticSettingEnabledLog(category_group=group) for group in log_category_groups
            ],
            enabled_metric=[MonitorDiagnosticSettingEnabledMetric(category=c) for c in metric_categories]
            or None,
        )
