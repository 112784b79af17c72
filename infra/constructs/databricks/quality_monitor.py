"""Lakehouse Monitoring of the scored predictions, beside the churn package's own drift job."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.quality_monitor import (
    QualityMonitor,
    QualityMonitorInferenceLog,
    QualityMonitorNotifications,
    QualityMonitorNotificationsOnFailure,
    QualityMonitorSchedule,
)
from cdktf_cdktf_provider_databricks.sql_endpoint import (
    SqlEndpoint,
    SqlEndpointTags,
    SqlEndpointTagsCustomTags,
)
from cdktf_cdktf_provider_databricks.sql_table import SqlTable, SqlTableColumn
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.contracts import ML_SCHEMA
from infra.constructs.databricks.identity import Principal
from infra.constructs.databricks.team_folder import TeamFolder
from infra.constructs.databricks.unity_catalog import UnityCatalogScope

# churn.runtime.PREDICTIONS: the table `churn score` appends to.
PREDICTIONS_TABLE = "churn_predictions"
# Filled in when the label arrives (docs/ml-lifecycle.md, "Lakehouse Monitoring"); scoring never writes it.
LABEL_COLUMN = "churn_label"
# The columns the monitor reads, typed as `churn score` writes them (ml/src/churn/jobs/score.py, score_frame):
# the key, the probability (a double), the decision (cast to int), the model version and batch (literal
# strings) and current_timestamp(). Scoring appends with mergeSchema (churn.storage), which adds the feature
# and provenance columns on the first run; Terraform ignores them afterwards (see `ignore_changes`).
MONITORED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customerID", "string"),
    ("churn_probability", "double"),
    ("churn_prediction", "int"),
    ("model_version", "string"),
    ("batch_id", "string"),
    ("scored_at", "timestamp"),
    (LABEL_COLUMN, "int"),
)
GRANULARITIES = ["1 day", "1 week"]


class PredictionsMonitor(Construct):
    """The predictions table, declared so that it exists before the first scoring run, and an inference-log
    quality monitor on it, refreshed on the monitoring schedule, with its metric tables in the env's `ml` schema.

    The table is created (and later dropped) by SQL, which needs compute: a small PRO SQL warehouse that stops
    after 10 idle minutes, also the monitor's dashboard warehouse. Without one the provider would start an
    ungoverned single-node cluster `terraform-sql-table` (catalog/resource_sql_table.go, v1.99.0, initCluster).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        catalog: UnityCatalogScope,
        folder: TeamFolder,
        job_principal: Principal,
    ) -> None:
        super().__init__(scope, id)
        schedules = team_env.settings.schedules
        protect = team_env.settings.prevent_destroy and not team_env.is_ephemeral
        self.warehouse = SqlEndpoint(
            self,
            "warehouse",
            name=f"{team_env.names.stem}-monitoring",
            cluster_size="2X-Small",
            min_num_clusters=1,
            max_num_clusters=1,
            auto_stop_mins=10,
            warehouse_type="PRO",
            enable_serverless_compute=False,
            tags=SqlEndpointTags(
                custom_tags=[
                    SqlEndpointTagsCustomTags(key=k, value=v) for k, v in sorted(team_env.tags.items())
                ]
            ),
        )
        self.table = SqlTable(
            self,
            "predictions",
            catalog_name=catalog.catalog_ref,
            schema_name=catalog.schema_ref,
            name=PREDICTIONS_TABLE,
            table_type="MANAGED",
            # No data_source_format: the provider creates a MANAGED table declared DELTA with `CREATE OR REPLACE
            # TABLE` (catalog/resource_sql_table.go, v1.99.0, buildTableCreateStatement), which would silently
            # empty the predictions an env's scoring runs already wrote. Without it the statement is a plain
            # `CREATE TABLE` (a managed table is Delta by default), which refuses an existing table instead; the
            # provider suppresses the diff of an unset format against the DELTA it reads back.
            comment="Churn predictions, one row per scored customer and batch (churn score)",
            column=[SqlTableColumn(name=name, type=kind, nullable=True) for name, kind in MONITORED_COLUMNS],
            # The scoring job appends (and evolves the schema): it owns the table, like the registered model.
            owner=job_principal.name,
            warehouse_id=self.warehouse.id,
            # The provider drops columns missing from the configuration (resource_sql_table.go, v1.99.0,
            # "Remove old column if old column is no longer found in the config"): the columns scoring adds
            # must never be planned away.
            lifecycle=TerraformResourceLifecycle(prevent_destroy=protect, ignore_changes=["column"]),
        )
        self.monitor = QualityMonitor(
            self,
            "monitor",
            table_name=self.table.id,  # catalog.schema.table
            output_schema_name=catalog.schema.id,  # catalog.schema
            assets_dir=f"{folder.path}/monitoring/{PREDICTIONS_TABLE}",
            inference_log=[
                QualityMonitorInferenceLog(
                    problem_type="PROBLEM_TYPE_CLASSIFICATION",
                    timestamp_col="scored_at",
                    model_id_col="model_version",
                    prediction_col="churn_prediction",
                    label_col=LABEL_COLUMN,
                    granularities=GRANULARITIES,
                )
            ],
            # Paused schedules (dev, ephemeral) mean no scheduled refresh: refresh from the UI or the API.
            schedule=None
            if schedules.paused
            else [
                QualityMonitorSchedule(
                    quartz_cron_expression=schedules.monitoring, timezone_id=schedules.timezone
                )
            ],
            notifications=[
                QualityMonitorNotifications(
                    on_failure=[
                        QualityMonitorNotificationsOnFailure(
                            email_addresses=list(team_env.team.notification_emails)
                        )
                    ]
                )
            ]
            if team_env.team.notification_emails
            else None,
            warehouse_id=self.warehouse.id,
            depends_on=[folder.directory, catalog.schema_grants],
        )
        self.table_name = f"{catalog.catalog_name}.{ML_SCHEMA}.{PREDICTIONS_TABLE}"
