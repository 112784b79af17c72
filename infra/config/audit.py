"""Audit and detection: the metastore's system tables, audit log delivery, audit alerts, the Security Analysis Tool
(its own module, infra/config/security_analysis_tool.py).

System tables are enabled per Unity Catalog METASTORE, not per workspace. `databricks_system_schema` (databricks
v1.99.0, catalog/resource_system_schema.go) enables the schema on the metastore of the workspace its provider
points at, and its Delete calls `SystemSchemas.Disable` on that metastore: declared in every team-env, several
states would manage one object and destroying any of them (an ephemeral or a dev env) would turn the tables off
for every team. So each metastore's schemas are declared exactly once, in one team-env's workspace stack named in
`platform.audit.system_tables.managed_in`, and validate refuses two names for one metastore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field

from infra.config.base import EnvRef, QuartzCron, StrictModel, team_paths
from infra.config.security_analysis_tool import SecurityAnalysisTool, sat_problems, sat_warnings

if TYPE_CHECKING:
    from infra.config.model import TeamEnv
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

# The schemas the project enables. `billing` is left out on purpose: Databricks enables it on every metastore and it
# cannot be turned off, so a resource for it would only make a destroy call Disable on a schema that refuses it.
SystemSchemaName = Literal["access", "compute", "lakeflow", "serving", "query", "storage", "marketplace"]
DEFAULT_SYSTEM_SCHEMAS: tuple[SystemSchemaName, ...] = ("access", "compute", "lakeflow", "serving")


def check_hourly(value: str) -> str:
    """The alert queries count the events of one hour (audit_alerts.detection_query): a schedule that fires less
    often than hourly would never look at the other hours, one that fires more often would count an hour twice."""
    second, minute, hour, day, month, weekday, *year = value.upper().split()
    if not (second.isdigit() and minute.isdigit() and hour == "*" and {day, weekday} <= {"*", "?"}) or (
        month != "*" or year not in ([], ["*"])
    ):
        raise ValueError(
            f"{value!r} must fire once every hour, e.g. '0 7 * * * ?' (each run counts the audit events of one hour, "
            "so any other schedule misses events or counts them twice)"
        )
    return value


HourlyCron = Annotated[QuartzCron, AfterValidator(check_hourly)]


class SystemTables(StrictModel):
    """Which team-env's workspace stack enables the system schemas of its metastore (one per metastore)."""

    managed_in: list[EnvRef] = []  # noqa: RUF012 (pydantic copies defaults)
    """`<team>/<env>` of permanent envs with `prevent_destroy` (prod), at most one per metastore (a cloud and region:
    the metastore Databricks assigns to the region's workspaces). That env's workspace stack declares the schemas;
    destroying it disables them for every workspace of the metastore, so validate refuses an env that does not
    exist or is not protected. Metastores
    without an entry are not managed here: the audit alerts there need `system.access` enabled by an account
    admin (validate warns)."""
    schemas: list[SystemSchemaName] = list(DEFAULT_SYSTEM_SCHEMAS)  # noqa: RUF012 (pydantic copies defaults)
    """System schemas to enable: access (audit), compute, lakeflow (jobs), serving; also query, storage and
    marketplace. `billing` is enabled by Databricks on every metastore and is not managed."""


class AuditSettings(StrictModel):
    """Platform-wide audit: the metastores' system tables and the Security Analysis Tool."""

    system_tables: SystemTables = SystemTables()
    """Where each metastore's system schemas are declared."""
    security_analysis_tool: SecurityAnalysisTool = SecurityAnalysisTool()
    """The Security Analysis Tool (off by default)."""


class EnvAudit(StrictModel):
    """One env's detection: SQL alerts on `system.access.audit` and, on AWS, audit log delivery to S3."""

    alerts: bool = False
    """Alerts on this workspace's audit events (admin group changes, failed logins, token creation, IP access list
    changes) to the team's notification_emails, on a small serverless SQL warehouse (default on in prod, where
    they cannot be turned off, except in the Azure regions without system tables, westindia and switzerlandwest,
    where validate refuses them)."""
    alert_schedule: HourlyCron = "0 7 * * * ?"
    """When the alerts run (Quartz, UTC): once every hour, at a fixed minute. Each run counts the events of the hour
    that ended an hour before it, so an event is counted once even with the audit table's delivery delay (up to an
    hour); validate refuses any other schedule, which would skip hours or count one twice."""
    warehouse_auto_stop_minutes: Annotated[int, Field(ge=5, le=120)] = 5
    """Idle minutes (5-120) before the alerts' serverless warehouse stops."""
    log_delivery: bool = False
    """AWS teams: deliver the workspace's audit logs (JSON) to a protected S3 bucket of the env with
    `databricks_mws_log_delivery` (default on in prod). Azure teams get the same logs through the workspace's
    diagnostic settings (all log categories to Log Analytics) and ignore this field. Never for ephemeral envs
    (Databricks cannot delete a delivery configuration, only disable it); cannot be turned off in an AWS prod."""


# Azure Databricks regions without system tables (Microsoft Learn, azure/databricks/admin/system-tables: "System
# tables are not available in ... West India, Switzerland West", besides the China and Government clouds, which
# infra.config.regions does not offer). There `system.access.audit` does not exist and no schema can be enabled.
NO_SYSTEM_TABLES = frozenset({"azure westindia", "azure switzerlandwest"})


def has_system_tables(team: TeamConfig) -> bool:
    return metastore_of(team) not in NO_SYSTEM_TABLES


def metastore_of(team: TeamConfig) -> str:
    """The metastore a team's workspaces are assigned: one per cloud account and region."""
    return f"{team.cloud} {team.region}"


def audit_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """One line per problem with `platform.audit` (see base.CROSS_CHECK_MARK)."""
    envs = {f"{team.name}/{env}": team for team in teams for env in team.environments}
    problems = []
    owners: dict[str, str] = {}
    for index, ref in enumerate(platform.audit.system_tables.managed_in):
        path = f"platform.audit.system_tables.managed_in[{index}]"
        team = envs.get(ref)
        if team is None:
            problems.append(
                f"{path}: {ref!r} is not a permanent env of this config (ephemeral envs never manage system "
                "tables), so no stack would enable them; name an existing <team>/<env>"
            )
            continue
        if not has_system_tables(team):
            problems.append(
                f"{path}: {ref!r} is in {metastore_of(team)}, where Databricks offers no system tables to enable"
            )
        elif not team.environments[ref.split("/")[1]].prevent_destroy:
            problems.append(
                f"{path}: {ref!r} does not set prevent_destroy, so destroying it disables the system schemas for "
                "every workspace of its metastore; name a protected env (prod)"
            )
        metastore = metastore_of(team)
        if metastore in owners:
            problems.append(
                f"{path}: {ref!r} and {owners[metastore]!r} share the {metastore} metastore; name one env per "
                "metastore (each would manage, and on destroy disable, the same system schemas)"
            )
        owners.setdefault(metastore, ref)
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        if not has_system_tables(team):
            problems.extend(
                f"{team_path}.environments.{env}.audit.alerts: {metastore_of(team)} has no system tables, so "
                "there is no system.access.audit to alert on; set it to false (the workspace's audit logs still "
                "reach Log Analytics through its diagnostic settings)"
                for env, settings in team.environments.items()
                if settings.audit.alerts
            )
            continue
        prod = team.environments.get("prod")
        if prod is None:
            continue
        path = f"{team_path}.environments.prod.audit"
        if not prod.audit.alerts:
            problems.append(f"{path}.alerts: prod keeps its audit alerts (policy rule PLAT-AUDIT-1)")
        if team.cloud == "aws" and not prod.audit.log_delivery:
            problems.append(
                f"{path}.log_delivery: an AWS prod workspace delivers its audit logs (PLAT-AUDIT-2)"
            )
    regions = sorted({metastore_of(team) for team in teams})
    if platform.metastore_id and len(regions) > 1:
        # metastore_of's model: one metastore per cloud account and region (databricks v1.99.0
        # docs/resources/metastore_assignment.md: a single metastore for each region). One ID for all workspaces
        # would be assigned across regions (and Databricks accounts), which the account refuses at deploy.
        problems.append(
            f"platform.metastore_id: a metastore serves the workspaces of one region, but the teams are in "
            f"{', '.join(regions)}; unset it (each region's workspaces get that region's metastore)"
        )
    problems += sat_problems(platform, teams)
    return problems


def audit_warnings(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """Alerts in a metastore whose `access` schema nothing here enables: they deploy, but read nothing until an
    account admin enables it."""
    managed = {
        metastore_of(team)
        for team in teams
        for env in team.environments
        if f"{team.name}/{env}" in platform.audit.system_tables.managed_in
    }
    enables_access = "access" in platform.audit.system_tables.schemas
    warnings = []
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for env, settings in team.environments.items():
            if settings.audit.alerts and not (enables_access and metastore_of(team) in managed):
                warnings.append(
                    f"{path}.environments.{env}.audit.alerts: nothing in this config enables system.access on the "
                    f"{metastore_of(team)} metastore (platform.audit.system_tables); the alerts read nothing until "
                    "an account admin enables it"
                )
    return warnings + sat_warnings(platform, teams)


def manages_system_tables(platform: PlatformSettings, team: TeamConfig, env: str) -> bool:
    return f"{team.name}/{env}" in platform.audit.system_tables.managed_in


def delivers_audit_logs(team_env: TeamEnv) -> bool:
    """AWS envs with log_delivery, never ephemeral ones: Databricks cannot delete a log delivery configuration (the
    provider's Delete only disables it, databricks v1.99.0 mws/resource_mws_log_delivery.go), so each throwaway env
    would leave one behind in the account."""
    return team_env.team.cloud == "aws" and team_env.settings.audit.log_delivery and not team_env.is_ephemeral
