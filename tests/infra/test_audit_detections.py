"""The audit alerts' SQL run for real: local Spark 4 (ANSI mode, as Databricks SQL warehouses) over a table with the
columns of `system.access.audit` that the detections read (Databricks docs, "Audit log system table reference":
workspace_id string, event_time timestamp, service_name, action_name, request_params map<string,string>,
response struct<status_code int, error_message string, result string>).

Which events each detection must and must not count follows the queries Databricks ships with SRA
(terraform-databricks-sra @72a96ea, aws/customizations/workspace/solution_accelerators/system_tables_audit_log/
queries_and_alerts.json): failed logins are the login actions answered 401/403, admin changes include setAdmin /
removeAdmin, IP access list changes are createIpAccessList / updateIpAccessList / deleteIpAccessList.
"""

from __future__ import annotations

import pytest

from infra.constructs.databricks.audit_alerts import AUDIT_TABLE, DETECTIONS, detection_query

WORKSPACE = "1234567890123456"
OTHER_WORKSPACE = "6543210987654321"

# (service_name, action_name, request_params, status_code, workspace) -> the detections that must count it.
EVENTS = [
    ("accounts", "addPrincipalToGroup", {"targetGroupName": "admins"}, 200, WORKSPACE, {"admin-changes"}),
    (
        "accounts",
        "removePrincipalFromGroup",
        {"targetGroupName": "admins"},
        200,
        WORKSPACE,
        {"admin-changes"},
    ),
    ("accounts", "setAdmin", {"targetUserName": "someone@example.com"}, 200, WORKSPACE, {"admin-changes"}),
    ("accounts", "addPrincipalToGroup", {"targetGroupName": "churn-owners"}, 200, WORKSPACE, set()),
    ("accounts", "tokenLogin", {"user": "someone@example.com"}, 401, WORKSPACE, {"failed-logins"}),
    ("accounts", "samlLogin", {"user": "someone@example.com"}, 403, WORKSPACE, {"failed-logins"}),
    # A browser sign-in is a redirect, not a failure.
    ("accounts", "oidcBrowserLogin", {"user": "someone@example.com"}, 302, WORKSPACE, set()),
    ("accounts", "tokenLogin", {"user": "someone@example.com"}, 200, WORKSPACE, set()),
    ("accounts", "generateDbToken", {"tokenExpirationTime": "0"}, 200, WORKSPACE, {"token-creation"}),
    ("tokenManagement", "createOboToken", {}, 200, WORKSPACE, {"token-creation"}),
    (
        "ipAccessLists",
        "createIpAccessList",
        {"ipAccessListId": "x"},
        200,
        WORKSPACE,
        {"ip-access-list-changes"},
    ),
    (
        "ipAccessLists",
        "deleteIpAccessList",
        {"ipAccessListId": "x"},
        200,
        WORKSPACE,
        {"ip-access-list-changes"},
    ),
    # Reading the lists (a terraform refresh, an admin opening the settings page) changes nothing.
    ("ipAccessLists", "listIpAccessLists", {}, 200, WORKSPACE, set()),
    ("ipAccessLists", "getIpAccessList", {"ipAccessListId": "x"}, 200, WORKSPACE, set()),
    (
        "workspace",
        "workspaceConfEdit",
        {"workspaceConfKeys": "enableIpAccessLists", "workspaceConfValues": "false"},
        200,
        WORKSPACE,
        {"ip-access-list-changes"},
    ),
    ("workspace", "workspaceConfEdit", {"workspaceConfKeys": "enableTokensConfig"}, 200, WORKSPACE, set()),
    # Another workspace's events belong to its own env's alerts.
    ("accounts", "addPrincipalToGroup", {"targetGroupName": "admins"}, 200, OTHER_WORKSPACE, set()),
]


@pytest.fixture(scope="module")
def spark():
    from churn.spark_session import local_spark

    session = local_spark("audit-detections", cores=1, driver_memory="1g")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def audit_table(spark):
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("workspace_id", T.StringType()),
            T.StructField("service_name", T.StringType()),
            T.StructField("action_name", T.StringType()),
            T.StructField("request_params", T.MapType(T.StringType(), T.StringType())),
            T.StructField(
                "response",
                T.StructType(
                    [
                        T.StructField("status_code", T.IntegerType()),
                        T.StructField("error_message", T.StringType()),
                        T.StructField("result", T.StringType()),
                    ]
                ),
            ),
            T.StructField("label", T.StringType()),
        ]
    )
    rows = [
        (workspace, service, action, params, (status, None, None), str(index))
        for index, (service, action, params, status, workspace, _) in enumerate(EVENTS)
    ]
    # Every event falls in the hour each run counts: [trunc(now) - 2h, trunc(now) - 1h).
    spark.createDataFrame(rows, schema).createOrReplaceTempView("audit_rows")
    spark.sql(
        "CREATE OR REPLACE TEMP VIEW audit AS SELECT *, "
        "date_trunc('HOUR', current_timestamp()) - INTERVAL 90 MINUTES AS event_time FROM audit_rows"
    )
    return "audit"


def test_spark_runs_in_ansi_mode_like_a_sql_warehouse(spark):
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"


@pytest.mark.parametrize("detection", DETECTIONS, ids=lambda d: d.key)
def test_each_detection_counts_exactly_its_events_of_this_workspace(spark, audit_table, detection):
    query = detection_query(detection, WORKSPACE).replace(AUDIT_TABLE, audit_table)
    counted = spark.sql(query).collect()[0]["events"]
    labels = {
        row["label"]
        for row in spark.sql(query.replace("SELECT count(*) AS events", "SELECT label", 1)).collect()
    }
    expected = {str(index) for index, event in enumerate(EVENTS) if detection.key in event[-1]}
    assert labels == expected, [(EVENTS[int(i)][1], EVENTS[int(i)][3]) for i in labels ^ expected]
    assert counted == len(expected)


def test_events_outside_the_counted_hour_are_not_counted(spark, audit_table):
    """An event of the current hour is left for the next run, one of three hours ago was counted by an earlier one."""
    detection = DETECTIONS[0]
    for offset in ("30 MINUTES", "150 MINUTES"):
        spark.sql(
            "CREATE OR REPLACE TEMP VIEW audit_shifted AS SELECT *, "
            f"date_trunc('HOUR', current_timestamp()) - INTERVAL {offset} AS event_time FROM audit_rows"
        )
        query = detection_query(detection, WORKSPACE).replace(AUDIT_TABLE, "audit_shifted")
        assert spark.sql(query).collect()[0]["events"] == 0, offset
