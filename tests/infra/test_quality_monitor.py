"""Lakehouse Monitoring of the predictions table in every workspace stack, read from the synthesized JSON, and
its order on Terraform's graph (tests/terraform_graph.py)."""

from __future__ import annotations

import re

import pytest

from infra.constructs.databricks.quality_monitor import LABEL_COLUMN, MONITORED_COLUMNS, PREDICTIONS_TABLE
from tests.infra.conftest import churn_workspace_stacks
from tests.infra.test_workspace_stack import team_env_of
from tests.terraform_graph import StackGraph

MONITOR = "databricks_quality_monitor"


def _workspace_stacks(synthesized) -> list[str]:
    return churn_workspace_stacks(synthesized)


def _predictions_table(synthesized, stack: str) -> tuple[str, dict]:
    tables = synthesized.resources(stack, "databricks_sql_table")
    found = [(name, t) for name, t in tables.items() if t["name"] == PREDICTIONS_TABLE]
    assert len(found) == 1, stack
    return found[0]


def test_the_predictions_table_exists_before_the_first_scoring_run_and_keeps_what_scoring_adds(
    synthesized, platform_config
):
    """The provider drops columns that are not in the configuration (catalog/resource_sql_table.go, v1.99.0):
    scoring's own columns, merged in by its first append, must be ignored, never planned away."""
    for stack in _workspace_stacks(synthesized):
        _, table = _predictions_table(synthesized, stack)
        assert table["table_type"] == "MANAGED"
        assert [(c["name"], c["type"]) for c in table["column"]] == list(MONITORED_COLUMNS)
        assert table["lifecycle"]["ignore_changes"] == ["column"]
        assert table["owner"].startswith("${databricks_service_principal."), "the scoring job owns it"
        assert re.fullmatch(r"\$\{databricks_sql_endpoint\.[\w-]+\.id\}", table["warehouse_id"]), stack
        protected = team_env_of(platform_config, stack).settings.prevent_destroy
        assert table["lifecycle"].get("prevent_destroy", False) is protected, stack


def test_the_monitor_profiles_inference_on_columns_the_table_has(synthesized):
    for stack in _workspace_stacks(synthesized):
        table_address, table = _predictions_table(synthesized, stack)
        monitor = synthesized.only(stack, MONITOR)
        assert monitor["table_name"] == "${databricks_sql_table." + table_address + ".id}"
        assert re.fullmatch(r"\$\{databricks_schema\.[\w-]+\.id\}", monitor["output_schema_name"]), stack
        (profile,) = monitor["inference_log"]
        assert profile["problem_type"] == "PROBLEM_TYPE_CLASSIFICATION"
        declared = {c["name"] for c in table["column"]}
        named = {profile[k] for k in ("timestamp_col", "model_id_col", "prediction_col", "label_col")}
        assert named <= declared, named - declared
        assert profile["label_col"] == LABEL_COLUMN
        assert monitor["assets_dir"].startswith("/Teams/")


def test_the_monitor_refreshes_on_the_monitoring_schedule_unless_schedules_are_paused(
    synthesized, platform_config
):
    for stack in _workspace_stacks(synthesized):
        schedules = team_env_of(platform_config, stack).settings.schedules
        monitor = synthesized.only(stack, MONITOR)
        if schedules.paused:
            assert "schedule" not in monitor, stack
        else:
            assert monitor["schedule"] == [
                {"quartz_cron_expression": schedules.monitoring, "timezone_id": schedules.timezone}
            ]


def test_the_warehouse_that_runs_the_tables_sql_stops_when_idle(synthesized):
    for stack in _workspace_stacks(synthesized):
        (warehouse,) = [  # prod stacks also hold the audit alerts' warehouse (test_audit.py)
            w
            for k, w in synthesized.resources(stack, "databricks_sql_endpoint").items()
            if k.startswith("predictions-monitor")
        ]
        assert (warehouse["max_num_clusters"], warehouse["auto_stop_mins"]) == (1, 10)
        assert {t["key"] for t in warehouse["tags"]["custom_tags"]} >= {"team", "env", "cost-center"}


@pytest.fixture(scope="module")
def graphs(synthesized, synthesized_ephemeral) -> dict[str, StackGraph]:
    stacks = {n: synthesized.json(n) for n in _workspace_stacks(synthesized)}
    stacks |= {n: synthesized_ephemeral.json(n) for n in _workspace_stacks(synthesized_ephemeral)}
    return {name: StackGraph(stack) for name, stack in stacks.items()}


def _one(graph: StackGraph, rtype: str, **config) -> str:
    found = [n.address for n in graph.of_type(rtype) if all(n.config.get(k) == v for k, v in config.items())]
    assert len(found) == 1, (rtype, config)
    return found[0]


def test_monitor_after_its_table_and_schema_and_destroyed_before_them(graphs):
    for name, graph in graphs.items():
        monitor = _one(graph, MONITOR)
        table = _one(graph, "databricks_sql_table", name=PREDICTIONS_TABLE)
        binding = _one(graph, "databricks_workspace_binding")
        # the monitor's classic warehouse, not the audit alerts' serverless one (prod)
        warehouse = _one(graph, "databricks_sql_endpoint", enable_serverless_compute=False)
        for dependency in (table, _one(graph, "databricks_schema"), binding, warehouse):
            assert graph.depends(monitor, dependency), f"{name}: {monitor} before {dependency}"
        # The table is dropped through the warehouse: the warehouse outlives it.
        assert graph.destroyed_before(table, warehouse), name
        assert graph.destroyed_before(table, binding), name
        scoring = next(
            n.address for n in graph.of_type("databricks_job") if n.config["name"].endswith("-scoring")
        )
        assert graph.depends(scoring, table), f"{name}: scoring must append to the declared table"


def test_declaring_the_table_never_replaces_predictions_scoring_already_wrote(synthesized):
    """The provider creates a MANAGED table with data_source_format DELTA by `CREATE OR REPLACE TABLE`
    (catalog/resource_sql_table.go, v1.99.0, buildTableCreateStatement: "Use CREATE OR REPLACE for managed Delta
    tables"): an env whose scoring job created churn_predictions before the table was declared would have it
    emptied by its next deploy. Without the format the statement is a plain CREATE TABLE (Delta is the default
    for managed tables), which fails on an existing table instead of wiping it (docs/workspace-stack.md says how
    to import it), and the provider suppresses the diff of an unset format (SqlTableInfo.CustomizeSchema)."""
    for stack in _workspace_stacks(synthesized):
        _, table = _predictions_table(synthesized, stack)
        replaces = (
            table["table_type"] == "MANAGED" and str(table.get("data_source_format", "")).upper() == "DELTA"
        )
        assert not replaces, f"{stack}: the first deploy would CREATE OR REPLACE {PREDICTIONS_TABLE}"
