"""What `churn score` writes fits the predictions table the workspace stack declares for Lakehouse Monitoring
(infra/constructs/databricks/quality_monitor.py): same table name, and each declared column written with the
declared type, so the job's append (mergeSchema) never meets a type it cannot merge."""

from __future__ import annotations

import mlflow.pyfunc  # the real module, not mlflow's lazy stand-in that a patch would miss
from churn.jobs.score import score_frame
from churn.runtime import PREDICTIONS
from pyspark.sql import functions as F

from infra.constructs.databricks.quality_monitor import LABEL_COLUMN, MONITORED_COLUMNS, PREDICTIONS_TABLE


def test_scoring_writes_the_monitored_columns_with_the_declared_types(spark, monkeypatch):
    # The model is not the point here: a UDF stand-in that returns [P(stay), P(churn)] as the real one does.
    monkeypatch.setattr(
        mlflow.pyfunc, "spark_udf", lambda *args, **kwargs: lambda _: F.array(F.lit(0.25), F.lit(0.75))
    )
    features = spark.createDataFrame(
        [("0001-A", 3, "2026-12-01 08:00:00")], "customerID string, tenure_months int, _ingested_at string"
    )
    scored = score_frame(
        features,
        model_uri="models:/m@champion",
        input_columns=["tenure_months"],
        threshold=0.5,
        provenance={"model_name": "m", "model_version": "4", "run_id": "r", "batch_id": "b", "source": "s"},
    )
    written = {field.name: field.dataType.simpleString() for field in scored.schema.fields}
    assert PREDICTIONS_TABLE == PREDICTIONS
    for name, declared in MONITORED_COLUMNS:
        if name == LABEL_COLUMN:
            assert name not in written, "the label is merged in when it arrives, never written by scoring"
            continue
        assert written.get(name) == declared, (name, written.get(name), declared)
    row = scored.first()
    assert (row["churn_prediction"], row["model_version"]) == (1, "4")
