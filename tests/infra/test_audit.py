"""Audit and detection (issue 25, item 4 and 5): system tables once per metastore, audit alerts; SAT in
tests/infra/test_security_analysis_tool.py."""

from pathlib import Path

import pytest
import yaml

from infra.config import ConfigError, parse_config
from infra.config.deployability import deploy_warnings

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "platform.yaml").read_text())


def config_with(audit: dict) -> dict:
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["platform"]["audit"] = audit
    return raw


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(raw))
    return [line.removeprefix("platform.yaml: ") for line in caught.value.lines()]


def test_two_envs_of_one_metastore_may_not_both_manage_its_system_tables():
    """databricks v1.99.0 catalog/resource_system_schema.go: Delete calls SystemSchemas.Disable on the metastore of
    the provider's workspace. Two states declaring one metastore's schemas would each enable, and on destroy disable,
    them for every team of the region."""
    lines = problems(config_with({"system_tables": {"managed_in": ["churn/prod", "churn/dev"]}}))
    assert any(
        line.startswith("platform.audit.system_tables.managed_in[1]:") and "azure westeurope" in line
        for line in lines
    ), lines


@pytest.mark.parametrize(
    "ref", ["churn/prd", "churn/pr1", "billing/prod"], ids=["typo", "ephemeral", "no-team"]
)
def test_system_tables_named_in_an_env_that_does_not_exist_are_refused(ref):
    """A typo or an ephemeral env's name would leave every metastore's schemas unmanaged while validate passes
    (only a warning before): nothing would be declared where the engineer asked for it."""
    lines = problems(config_with({"system_tables": {"managed_in": [ref, "pricing/prod", "risk/prod"]}}))
    assert [line.split(":")[0] for line in lines] == ["platform.audit.system_tables.managed_in[0]"], lines
    assert "not a permanent env" in lines[0]


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_system_tables_may_only_be_managed_in_a_protected_env(env):
    """databricks v1.99.0 catalog/resource_system_schema.go: Delete disables the schema on the metastore. Managed in
    an env without prevent_destroy, `platform destroy` of that env (or its teardown) turns system.access off for
    every team of the region, and every prod's audit alerts read nothing."""
    lines = problems(
        config_with({"system_tables": {"managed_in": [f"churn/{env}", "pricing/prod", "risk/prod"]}})
    )
    assert [line.split(":")[0] for line in lines] == ["platform.audit.system_tables.managed_in[0]"], lines
    assert "prevent_destroy" in lines[0]


def test_a_prod_that_turns_prevent_destroy_off_may_not_manage_system_tables():
    raw = config_with({"system_tables": {"managed_in": ["churn/prod", "pricing/prod", "risk/prod"]}})
    raw["teams"][1]["environments"]["prod"]["prevent_destroy"] = False
    assert "platform.audit.system_tables.managed_in[1]" in [line.split(":")[0] for line in problems(raw)]


def test_one_metastore_id_for_teams_in_several_regions_is_refused():
    """metastore_of (and the one-owner-per-metastore check) assume one metastore per cloud and region, as Databricks
    does (databricks v1.99.0 docs/resources/metastore_assignment.md: a single metastore for each region). A pinned
    metastore_id was assigned to westeurope, northeurope and eu-west-1 workspaces alike: valid, but undeployable."""
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["platform"]["metastore_id"] = "11111111-2222-4333-8444-555555555555"
    lines = problems(raw)
    assert [line.split(":")[0] for line in lines] == ["platform.metastore_id"], lines
    assert "aws eu-west-1" in lines[0] and "azure northeurope" in lines[0]


def test_one_metastore_id_for_teams_of_one_region_is_accepted():
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["platform"]["metastore_id"] = "11111111-2222-4333-8444-555555555555"
    raw["platform"]["audit"] = {"system_tables": {"managed_in": ["churn/prod"]}}
    raw["teams"] = [raw["teams"][0]]
    assert parse_config(yaml.safe_dump(raw)).platform.metastore_id is not None


def in_region_without_system_tables(region: str = "switzerlandwest") -> dict:
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["teams"][1]["region"] = region  # pricing
    return raw


@pytest.mark.parametrize("region", ["switzerlandwest", "westindia"])
def test_alerts_and_system_tables_are_refused_where_databricks_has_no_system_tables(region):
    """Microsoft Learn, azure/databricks/admin/system-tables: system tables are not available in West India and
    Switzerland West. Prod's mandatory alerts there would query a table that does not exist, and managed_in would
    try to enable a schema the region does not offer: valid, but nothing there could work."""
    lines = problems(in_region_without_system_tables(region))
    assert sorted(line.split(":")[0] for line in lines) == [
        "platform.audit.system_tables.managed_in[1]",
        "teams.pricing.environments.prod.audit.alerts",
    ], lines
    assert all(f"azure {region}" in line for line in lines)


def test_a_prod_without_system_tables_validates_with_alerts_off():
    raw = in_region_without_system_tables()
    raw["teams"][1]["environments"]["prod"]["audit"] = {"alerts": False}
    raw["platform"]["audit"] = {"system_tables": {"managed_in": ["churn/prod", "risk/prod"]}}
    config = parse_config(yaml.safe_dump(raw))
    assert config.teams[1].environments["prod"].audit.alerts is False


@pytest.mark.parametrize(
    "schedule",
    ["0 0 7 * * ?", "0 */15 * * * ?", "0 0 */2 * * ?", "0 7 * ? * MON-FRI", "0 0,30 * * * ?"],
    ids=["daily", "every-15-min", "every-2-hours", "weekdays", "twice-an-hour"],
)
def test_alert_schedule_must_fire_once_an_hour(schedule):
    """Each alert run counts the events of ONE hour (detection_query): a daily schedule would check one hour in 24
    and silently miss the rest, a quarter-hourly one would mail the same events four times."""
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["teams"][0]["environments"]["prod"]["audit"] = {"alert_schedule": schedule}
    lines = problems(raw)
    assert [line.split(":")[0] for line in lines] == ["teams.churn.environments.prod.audit.alert_schedule"], (
        lines
    )


def test_an_hourly_schedule_at_another_minute_is_accepted():
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["teams"][0]["environments"]["prod"]["audit"] = {"alert_schedule": "30 45 * * * ?"}
    config = parse_config(yaml.safe_dump(raw))
    assert config.teams[0].environments["prod"].audit.alert_schedule == "30 45 * * * ?"


def test_billing_is_not_a_schema_the_platform_manages():
    lines = problems(config_with({"system_tables": {"schemas": ["access", "billing"]}}))
    assert any("platform.audit.system_tables.schemas" in line for line in lines), lines


@pytest.mark.parametrize(
    ("workspace", "problem"), [(None, "required when enabled"), ("churn/pr1", "not a permanent env")]
)
def test_the_security_analysis_tool_needs_one_existing_permanent_env(workspace, problem):
    lines = problems(config_with({"security_analysis_tool": {"enabled": True, "workspace": workspace}}))
    assert any(
        line.startswith("platform.audit.security_analysis_tool.workspace:") and problem in line
        for line in lines
    )


def test_security_analysis_tool_is_off_by_default(platform_config):
    assert platform_config.platform.audit.security_analysis_tool.enabled is False


def test_alerts_in_a_metastore_nobody_enables_are_a_warning():
    raw = config_with({"system_tables": {"managed_in": ["churn/prod", "pricing/prod"]}})
    warnings = deploy_warnings(parse_config(yaml.safe_dump(raw)))
    assert [w.split(":")[0] for w in warnings if "system.access" in w] == [
        "teams.risk.environments.prod.audit.alerts"
    ]


def test_alerts_and_log_delivery_default_on_in_prod_only(platform_config):
    for team_env in platform_config.team_envs:
        assert team_env.settings.audit.alerts is (team_env.env == "prod"), team_env.key
        # risk/dev asks for log delivery in platform.yaml (a bucket is cheap), which the moto test then exercises
        wanted = team_env.env == "prod" or team_env.key == "risk/dev"
        assert team_env.settings.audit.log_delivery is wanted, team_env.key


def test_each_metastore_of_the_committed_config_has_its_system_tables_declared_once(synthesized):
    owners = {}
    for stack in synthesized.stack_names:
        if stack.endswith("-workspace") and synthesized.resources(stack, "databricks_system_schema"):
            owners[stack] = sorted(
                s["schema"] for s in synthesized.resources(stack, "databricks_system_schema").values()
            )
    assert owners == {
        f"{team}-prod-workspace": ["access", "compute", "lakeflow", "serving"]
        for team in ("churn", "pricing", "risk")
    }


def test_the_system_schemas_of_a_protected_env_refuse_a_destroy(synthesized):
    """Destroying them disables the tables for every workspace of the metastore (Delete -> Disable)."""
    for schema in synthesized.resources("churn-prod-workspace", "databricks_system_schema").values():
        assert schema["lifecycle"]["prevent_destroy"] is True


def test_prod_alerts_watch_this_workspace_and_notify_the_team(synthesized):
    alerts = synthesized.resources("pricing-prod-workspace", "databricks_alert_v2")
    assert len(alerts) == 4
    (destination,) = synthesized.resources("pricing-prod-workspace", "databricks_notification_destination")
    for alert in alerts.values():
        assert "FROM system.access.audit WHERE workspace_id = '${" in alert["query_text"]
        assert "workspace_id" in alert["query_text"].split("WHERE workspace_id = '")[1]
        subscriptions = alert["evaluation"]["notification"]["subscriptions"]
        assert [s["destination_id"] for s in subscriptions] == [
            f"${{databricks_notification_destination.{destination}.id}}"
        ]
        assert alert["evaluation"]["comparison_operator"] == "GREATER_THAN"
        assert alert["schedule"]["pause_status"] == "UNPAUSED"
    titles = sorted(a["display_name"] for a in alerts.values())
    assert titles == [
        "dbp-pricing-prod: IP access lists changed",
        "dbp-pricing-prod: access tokens created",
        "dbp-pricing-prod: failed logins",
        "dbp-pricing-prod: workspace admins changed",
    ]


def test_alerts_run_on_a_small_serverless_warehouse_that_stops_and_the_team_may_use(synthesized):
    """databricks v1.99.0 sql/resource_sql_endpoint.go: auto_stop_mins defaults to 120 and serverless needs PRO."""
    stack = "churn-prod-workspace"
    alert = next(iter(synthesized.resources(stack, "databricks_alert_v2").values()))
    warehouse_ref = alert["warehouse_id"].removeprefix("${databricks_sql_endpoint.").removesuffix(".id}")
    warehouse = synthesized.resources(stack, "databricks_sql_endpoint")[warehouse_ref]
    assert warehouse["enable_serverless_compute"] is True
    assert warehouse["warehouse_type"] == "PRO"
    assert warehouse["auto_stop_mins"] == 5
    assert warehouse["cluster_size"] == "2X-Small"
    permissions = [
        p
        for p in synthesized.resources(stack, "databricks_permissions").values()
        if p.get("sql_endpoint_id") == f"${{databricks_sql_endpoint.{warehouse_ref}.id}}"
    ]
    assert len(permissions) == 1
    levels = {
        (a.get("group_name") or a.get("service_principal_name")): a["permission_level"]
        for a in permissions[0]["access_control"]
    }
    assert levels["churn-owners"] == "CAN_USE" and levels["churn-analysts"] == "CAN_USE"
    assert "CAN_MANAGE" in levels.values()


def test_dev_has_no_alerts_and_no_system_schemas(synthesized):
    for team in ("churn", "risk"):
        assert synthesized.resources(f"{team}-dev-workspace", "databricks_alert_v2") == {}
        assert synthesized.resources(f"{team}-dev-workspace", "databricks_system_schema") == {}


@pytest.mark.parametrize(
    ("team", "field"), [(0, "alerts"), (2, "log_delivery")], ids=["prod-alerts", "aws-prod-log-delivery"]
)
def test_prod_cannot_turn_its_audit_controls_off(team, field):
    """Validate refuses what PLAT-AUDIT-1 / -2 would refuse at synth, in one line naming the field."""
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["teams"][team]["environments"]["prod"]["audit"] = {field: False}
    name = raw["teams"][team]["name"]
    assert f"teams.{name}.environments.prod.audit.{field}" in [line.split(":")[0] for line in problems(raw)]


def test_azure_prod_ignores_log_delivery():
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["teams"][0]["environments"]["prod"]["audit"] = {"log_delivery": False}
    parse_config(yaml.safe_dump(raw))


def validate_refusal(tmp_path, capsys, audit: dict) -> tuple[str, str]:
    """`platform validate` on the committed config with this `platform.audit`: exit 2, nothing on stdout, one line
    on stderr and no traceback; returns the file and that line."""
    from infra.cli.main import main

    file = tmp_path / "platform.yaml"
    file.write_text(yaml.safe_dump(config_with(audit)))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and "Traceback" not in err
    (line,) = err.splitlines()
    return str(file), line


def test_alerts_come_after_their_warehouse_its_permissions_and_the_schemas_and_go_first(synthesized):
    """Graph of the synthesized stack (tests/terraform_graph.py): an alert is created once its warehouse can be used
    and system.access is enabled, and destroyed before them."""
    from tests.terraform_graph import StackGraph

    graph = StackGraph(synthesized.json("churn-prod-workspace"))
    access = next(
        n.address for n in graph.of_type("databricks_system_schema") if n.config["schema"] == "access"
    )
    for alert in graph.of_type("databricks_alert_v2"):
        warehouse = alert.config["warehouse_id"].removeprefix("${").removesuffix(".id}")
        (permissions,) = [
            n.address
            for n in graph.of_type("databricks_permissions")
            if n.config.get("sql_endpoint_id") == alert.config["warehouse_id"]
        ]
        for dependency in (warehouse, permissions, access):
            assert graph.depends(alert.address, dependency), (alert.address, dependency)
            assert graph.destroyed_before(alert.address, dependency), (alert.address, dependency)


def test_alerts_mail_the_team_addresses_through_an_email_destination(synthesized):
    """The team's notification_emails are lists and mailboxes (pricing-oncall@...), not workspace users: an
    alert_v2 `user_email` subscription names a workspace user, while notification destinations send "to
    destinations outside of Databricks" (databricks v1.99.0 docs/resources/notification_destination.md)."""
    stack = "pricing-prod-workspace"
    (destination,) = synthesized.resources(stack, "databricks_notification_destination").values()
    assert destination["config"]["email"]["addresses"] == [
        "pricing-oncall@example.com",
        "pricing-lead@example.com",
    ]
    # config.email is ForceNew (settings/resource_notification_destination.go): replaced before it is removed.
    assert destination["lifecycle"]["create_before_destroy"] is True
    for alert in synthesized.resources(stack, "databricks_alert_v2").values():
        assert all("user_email" not in s for s in alert["evaluation"]["notification"]["subscriptions"])


def test_an_alert_that_stays_triggered_still_mails_each_hour_of_events(synthesized):
    """databricks v1.99.0 docs/resources/alert_v2.md, retrigger_seconds: 'If set to 0 or omitted, the alert will not
    send any further notifications after the first trigger'. Each run counts a NEW hour's events, so an admin change
    in the hour after a first one would never be mailed while the alert stays TRIGGERED; 1 mails every such run."""
    for alert in synthesized.resources("churn-prod-workspace", "databricks_alert_v2").values():
        assert alert["evaluation"]["notification"]["retrigger_seconds"] == 1


def test_platform_validate_refuses_a_mistyped_managed_in_in_one_line_with_exit_2(tmp_path, capsys):
    file, line = validate_refusal(
        tmp_path, capsys, {"system_tables": {"managed_in": ["churn/prd", "pricing/prod", "risk/prod"]}}
    )
    assert line.startswith(f"error: {file}: platform.audit.system_tables.managed_in[0]: 'churn/prd' ")
