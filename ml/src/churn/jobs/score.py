"""Scoring job: the `champion` model scores what is new in the features table since the last scoring run (or
a new raw batch that passes the contract) with `mlflow.pyfunc.spark_udf`, and predictions are appended with
the model version, run id, batch id and time. Each scored batch is what the monitor compares with the
champion's training data, so a few shifted new customers are not averaged away among everyone scored before.

Nothing here brings the scored rows to the driver: the UDF runs in Spark's Python workers and the result is
written by the store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import mlflow
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn.contract import Contract
from churn.errors import ChurnError
from churn.features import FEATURE_COLUMNS, KEY, build_features
from churn.jobs import Report, no_report
from churn.jobs.ingest import ContractedBatch, contracted_batch
from churn.runtime import FEATURES, PREDICTIONS, QUARANTINE, Runtime
from churn.tracking import CHAMPION, THRESHOLD_TAG, champion

INGESTED_AT = "_ingested_at"
FEATURES_INGESTED_AT = "features_ingested_at"
# Rows per Arrow batch sent to the scoring UDF. Spark's default of 10,000 made 1M rows ~2.5x slower than
# 200,000 on 2 cores: the per-batch cost dominates (bench/ml.md).
DEFAULT_ARROW_BATCH_ROWS = 200_000


@dataclass(frozen=True)
class ScoreResult:
    model_name: str
    model_version: str
    run_id: str
    batch_id: str
    rows_scored: int
    rows_quarantined: int
    predictions_table: str
    predictions_version: int | None  # None when there was nothing new to score


def model_input_columns(model_uri: str) -> list[str]:
    signature = mlflow.models.get_model_info(model_uri).signature
    if signature is None:
        raise ChurnError(f"--model-name: {model_uri} has no signature; retrain it with `churn train`")
    return signature.inputs.input_names()


def check_feature_schema(features: DataFrame, required: list[str], *, source: str) -> None:
    """The features given to the model must carry the key and every input of the model's signature."""
    missing = [c for c in [KEY, *required] if c not in features.columns]
    if missing:
        raise ChurnError(f"{source}: missing model input columns {', '.join(missing)}")


def score_frame(
    features: DataFrame,
    *,
    model_uri: str,
    input_columns: list[str],
    threshold: float,
    provenance: dict[str, str],
) -> DataFrame:
    """Lazily add churn probability and prediction to `features` (nothing runs until the frame is written)."""
    predict_proba = mlflow.pyfunc.spark_udf(
        features.sparkSession, model_uri, result_type=T.ArrayType(T.DoubleType()), env_manager="local"
    )
    probability = predict_proba(F.struct(*[F.col(c) for c in input_columns]))[1]
    return features.select(
        F.col(KEY),
        *[F.col(c) for c in FEATURE_COLUMNS if c in features.columns],
        probability.alias("churn_probability"),
        (probability >= F.lit(threshold)).cast("int").alias("churn_prediction"),
        F.lit(threshold).alias("decision_threshold"),
        *[F.lit(value).alias(name) for name, value in provenance.items()],
        (F.col(INGESTED_AT) if INGESTED_AT in features.columns else F.lit(None))
        .cast("timestamp")
        .alias(FEATURES_INGESTED_AT),
        F.current_timestamp().alias("scored_at"),
    )


def unscored_features(runtime: Runtime) -> tuple[DataFrame, object]:
    """Rows of the features table landed after the newest one the previous scoring runs scored, and that
    newest time (None when nothing was scored before)."""
    store = runtime.store
    features = store.read(FEATURES)
    if not store.exists(PREDICTIONS):
        return features, None
    predictions = store.read(PREDICTIONS)
    if FEATURES_INGESTED_AT not in predictions.columns or INGESTED_AT not in features.columns:
        return features, None
    scored_through = (
        predictions.where(F.col("source") == store.location(FEATURES))
        .agg(F.max(FEATURES_INGESTED_AT))
        .first()[0]
    )
    if scored_through is None:
        return features, None
    return features.where(F.col(INGESTED_AT) > F.lit(scored_through)), scored_through


def features_batch_id(runtime: Runtime, scored_through: object, *, rescore_all: bool) -> str:
    """What is scored from the features table is fixed by its version and what was scored before: the same
    inputs give the same batch id, so scoring them again replaces that batch instead of adding a copy."""
    what = "all" if rescore_all else str(scored_through)
    identity = f"{runtime.store.location(FEATURES)}@{runtime.store.version(FEATURES)}:{what}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def run_score(
    runtime: Runtime,
    *,
    input_path: str | None = None,
    arrow_batch_rows: int = DEFAULT_ARROW_BATCH_ROWS,
    rescore_all: bool = False,
    max_quarantined_share: float | None = None,
    report: Report = no_report,
) -> ScoreResult:
    if arrow_batch_rows < 1:
        raise ChurnError(f"--arrow-batch-rows: {arrow_batch_rows} must be positive")
    store = runtime.store
    runtime.tracking.use_registry()
    report("resolving the champion model")
    version = champion(runtime.model_name)
    input_columns = model_input_columns(f"models:/{runtime.model_name}@{CHAMPION}")

    # Held from "what is new" to the last write, so two runs over one batch score it once.
    with store.exclusive():
        return _score_and_release(runtime, version, input_columns, input_path=input_path, arrow_batch_rows=arrow_batch_rows,
                      rescore_all=rescore_all, max_quarantined_share=max_quarantined_share, report=report)  # fmt: skip


def _score_and_release(runtime: Runtime, version, input_columns: list[str], **options) -> ScoreResult:
    batches: list[ContractedBatch] = []
    try:
        return _score(runtime, version, input_columns, batches=batches, **options)
    finally:
        for batch in batches:
            batch.release()


def _score(
    runtime: Runtime,
    version,
    input_columns: list[str],
    *,
    input_path: str | None,
    arrow_batch_rows: int,
    rescore_all: bool,
    max_quarantined_share: float | None,
    report: Report,
    batches: list[ContractedBatch],
) -> ScoreResult:
    store = runtime.store
    model_uri = f"models:/{runtime.model_name}@{CHAMPION}"
    threshold = float(version.tags.get(THRESHOLD_TAG, 0.5))
    rows_quarantined = 0
    if input_path is None:
        report(
            "reading " + ("the features table" if rescore_all else "the customers new since the last scoring")
        )
        features, scored_through = (store.read(FEATURES), None) if rescore_all else unscored_features(runtime)
        source = store.location(FEATURES)
        batch_id = features_batch_id(runtime, scored_through, rescore_all=rescore_all)
    else:
        report("checking the batch against the data contract")
        batch = contracted_batch(runtime.spark, input_path, Contract.load(), require_label=False,
                                 max_quarantined_share=max_quarantined_share, stage="score")  # fmt: skip
        batches.append(batch)  # its cached frames are dropped once the predictions are written
        rows_quarantined = batch.rows_quarantined
        if rows_quarantined:
            store.replace_batch(
                QUARANTINE, batch.quarantined, batch={"_batch_id": batch.batch_id, "_stage": "score"}
            )
        features = build_features(batch.silver).withColumn(INGESTED_AT, F.lit(batch.ingested_at))
        source = input_path
        batch_id = batch.batch_id
    check_feature_schema(features, input_columns, source=source)
    rows = features.count()
    if rows == 0:
        report("nothing new to score")
        return ScoreResult(runtime.model_name, str(version.version), version.run_id, batch_id, 0,
                           rows_quarantined, store.location(PREDICTIONS), None)  # fmt: skip

    report(f"scoring with {runtime.model_name} version {version.version}")
    runtime.spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(arrow_batch_rows))
    predictions = score_frame(
        features,
        model_uri=model_uri,
        input_columns=input_columns,
        threshold=threshold,
        provenance={
            "model_name": runtime.model_name,
            "model_version": str(version.version),
            "run_id": version.run_id,
            "batch_id": batch_id,
            "source": source,
        },
    )
    store.replace_batch(PREDICTIONS, predictions, batch={"batch_id": batch_id})
    return ScoreResult(
        model_name=runtime.model_name,
        model_version=str(version.version),
        run_id=version.run_id,
        batch_id=batch_id,
        rows_scored=rows,
        rows_quarantined=rows_quarantined,
        predictions_table=store.location(PREDICTIONS),
        predictions_version=store.version(PREDICTIONS),
    )
