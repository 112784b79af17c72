"""Alerts as code on the workspace's audit events (`system.access.audit`), sent to the team's notification emails.

`databricks_alert_v2` (databricks v1.99.0, docs/resources/alert_v2.md) carries its query text, warehouse and
Quartz schedule in one resource; `databricks_alert` needs a separate `databricks_query` and has no schedule of its
own (it is evaluated only when something runs the query), and `databricks_sql_alert` is the legacy API. The alerts
run on a small serverless SQL warehouse that stops after a few idle minutes, usable by the team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdktf import ITerraformDependable, TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.alert_v2 import (
    AlertV2,
    AlertV2Evaluation,
    AlertV2EvaluationNotification,
    AlertV2EvaluationNotificationSubscriptions,
    AlertV2EvaluationSource,
    AlertV2EvaluationThreshold,
    AlertV2EvaluationThresholdValue,
    AlertV2Schedule,
)
from cdktf_cdktf_provider_databricks.notification_destination import (
    NotificationDestination,
    NotificationDestinationConfigA,
    NotificationDestinationConfigEmail,
)
from cdktf_cdktf_provider_databricks.permissions import Permissions
from cdktf_cdktf_provider_databricks.sql_endpoint import (
    SqlEndpoint,
    SqlEndpointTags,
    SqlEndpointTagsCustomTags,
)
from constructs import Construct

from infra.config import TeamEnv
from infra.config.audit import manages_system_tables
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.system_tables import SystemTables

AUDIT_TABLE = "system.access.audit"


@dataclass(frozen=True)
class Detection:
    key: str
    title: str
    condition: str
    """SQL predicate on `system.access.audit` rows (columns: service_name, action_name, request_params, response)."""


# Audit event names: Databricks docs "Audit log reference" (services accounts, tokenManagement, ipAccessLists,
# workspace), and the queries Databricks ships with SRA (terraform-databricks-sra @72a96ea, aws/customizations/
# workspace/solution_accelerators/system_tables_audit_log/queries_and_alerts.json), which match on action names:
# failed logins are the login actions answered 401/403 (not every non-200, a browser sign-in redirects), admin
# changes include setAdmin/removeAdmin, and IP access list CHANGES are create/update/replace/delete (the service
# also logs every get and list). request_params is a map<string,string>; a missing key reads as NULL.
LOGIN_ACTIONS = (
    "aadBrowserLogin",
    "aadTokenLogin",
    "certLogin",
    "jwtLogin",
    "login",
    "oidcBrowserLogin",
    "samlLogin",
    "tokenLogin",
)
IP_ACCESS_LIST_CHANGES = (
    "createIpAccessList",
    "updateIpAccessList",
    "replaceIpAccessList",
    "deleteIpAccessList",
)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


DETECTIONS: tuple[Detection, ...] = (
    Detection(
        "admin-changes",
        "workspace admins changed",
        "(action_name IN ('addPrincipalToGroup', 'removePrincipalFromGroup') "
        "AND request_params['targetGroupName'] = 'admins') OR action_name IN ('setAdmin', 'removeAdmin')",
    ),
    Detection(
        "failed-logins",
        "failed logins",
        f"action_name IN {_in(LOGIN_ACTIONS)} AND response.status_code IN (401, 403)",
    ),
    Detection(
        "token-creation",
        "access tokens created",
        "(service_name = 'accounts' AND action_name = 'generateDbToken') "
        "OR (service_name = 'tokenManagement' AND action_name IN ('createToken', 'createOboToken'))",
    ),
    Detection(
        "ip-access-list-changes",
        "IP access lists changed",
        f"action_name IN {_in(IP_ACCESS_LIST_CHANGES)} "
        "OR (action_name = 'workspaceConfEdit' AND contains(request_params['workspaceConfKeys'], 'enableIpAccessLists'))",
    ),
)


def detection_query(detection: Detection, workspace_id: str) -> str:
    """Events of this workspace in the hour that ended an hour ago: with an hourly schedule each event is counted
    once, after the audit table's delivery delay."""
    return (
        f"SELECT count(*) AS events FROM {AUDIT_TABLE} "
        f"WHERE workspace_id = '{workspace_id}' "
        "AND event_time >= date_trunc('HOUR', current_timestamp()) - INTERVAL 2 HOURS "
        "AND event_time < date_trunc('HOUR', current_timestamp()) - INTERVAL 1 HOUR "
        f"AND ({detection.condition})"
    )


class AuditAlerts(Construct):
    """A serverless warehouse and one alert per detection, notifying the team's emails when a count is above 0."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        workspace_id: str,
        folder_path: str,
        owners: Sequence[Principal],
        readers: Sequence[Principal],
        deployer: Principal,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, id)
        settings = team_env.settings.audit
        self.warehouse = SqlEndpoint(
            self,
            "warehouse",
            name=f"{team_env.names.stem}-audit-alerts",
            cluster_size="2X-Small",
            max_num_clusters=1,
            enable_serverless_compute=True,
            warehouse_type="PRO",  # serverless warehouses are PRO (sql/resource_sql_endpoint.go v1.99.0)
            auto_stop_mins=settings.warehouse_auto_stop_minutes,
            tags=SqlEndpointTags(
                custom_tags=[
                    SqlEndpointTagsCustomTags(key=k, value=v) for k, v in sorted(team_env.tags.items())
                ]
            ),
        )
        # Authoritative: the deployer keeps CAN_MANAGE; the team's groups may run queries on it.
        self.permissions = Permissions(
            self,
            "warehouse-permissions",
            sql_endpoint_id=self.warehouse.id,
            access_control=[deployer.can("CAN_MANAGE")] + [p.can("CAN_USE") for p in (*owners, *readers)],
        )
        # The team's addresses are lists and mailboxes outside Databricks: an alert's `user_email` subscribes a
        # workspace user, while an email notification destination ("destinations outside of Databricks",
        # databricks v1.99.0 docs/resources/notification_destination.md; created by a workspace admin, as the
        # deployer is) mails any address.
        self.destination = NotificationDestination(
            self,
            "team-email",
            display_name=f"{team_env.names.stem} audit alerts",
            config=NotificationDestinationConfigA(
                email=NotificationDestinationConfigEmail(addresses=list(team_env.team.notification_emails))
            ),
            # config.email is ForceNew: the alerts move to the new destination before the old one goes.
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        subscriptions = [AlertV2EvaluationNotificationSubscriptions(destination_id=self.destination.id)]
        self.alerts = [
            AlertV2(
                self,
                detection.key,
                display_name=f"{team_env.names.stem}: {detection.title}",
                parent_path=folder_path,
                query_text=detection_query(detection, workspace_id),
                warehouse_id=self.warehouse.id,
                evaluation=AlertV2Evaluation(
                    source=AlertV2EvaluationSource(name="events"),
                    comparison_operator="GREATER_THAN",
                    threshold=AlertV2EvaluationThreshold(
                        value=AlertV2EvaluationThresholdValue(double_value=0)
                    ),
                    empty_result_state="OK",
                    notification=AlertV2EvaluationNotification(
                        subscriptions=subscriptions,
                        notify_on_ok=False,
                        # Each run counts a new hour's events. Unset (0), an alert that stays TRIGGERED notifies
                        # once: the events of the next hours would go unmailed (docs/resources/alert_v2.md, v1.99.0
                        # "retrigger_seconds"); 1 notifies on every run that counts events.
                        retrigger_seconds=1,
                    ),
                ),
                schedule=AlertV2Schedule(
                    quartz_cron_schedule=settings.alert_schedule, timezone_id="UTC", pause_status="UNPAUSED"
                ),
                depends_on=[*depends_on, self.permissions],
            )
            for detection in DETECTIONS
        ]


def add_audit_controls(
    scope: Construct,
    *,
    team_env: TeamEnv,
    metastore: Sequence[ITerraformDependable] = (),
    depends_on: Sequence[ITerraformDependable] = (),
    **alerts: Any,
) -> None:
    """The workspace stack's audit controls: the metastore's system schemas where this env is the one named for them
    (platform.audit.system_tables.managed_in; after the workspace's ``metastore`` assignment), and the audit alerts
    (after ``depends_on`` and the schemas; ``alerts``: AuditAlerts' other keywords) where the env turns them on."""
    schemas: list[ITerraformDependable] = []
    if not team_env.is_ephemeral and manages_system_tables(team_env.platform, team_env.team, team_env.env):
        system_tables = SystemTables(scope, "system-tables", team_env=team_env, depends_on=metastore)
        schemas = list(system_tables.schemas.values())
    if team_env.settings.audit.alerts:
        AuditAlerts(
            scope, "audit-alerts", team_env=team_env, depends_on=[*metastore, *depends_on, *schemas], **alerts
        )
