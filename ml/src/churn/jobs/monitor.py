"""Monitoring job: drift of the features and the prediction, and decay of ROC AUC, between a reference batch
and a current one; the result is appended to the monitoring Delta table.

Sources are files (CSV, Parquet, a Delta table folder) or, with a runtime, table names of the store
(`churn_features`, `churn_features@12` for a Delta version). Without --reference/--current the job compares
the champion's training features (at the Delta version its run recorded) with the latest scored batch.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from churn.contract import Contract
from churn.drift import LABEL, PREDICTION, DriftReport, DriftThresholds, drift_report
from churn.errors import ChurnError, printable
from churn.features import FEATURE_COLUMNS, KEY, NUMERIC_FEATURES
from churn.jobs import Report, no_report
from churn.runtime import FEATURES, MONITORING, PREDICTIONS, SILVER, Runtime
from churn.tracking import CHAMPION, alias_version

_TABLE_REFERENCE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:@(?P<version>\d+))?$")
_WANTED = [KEY, *FEATURE_COLUMNS, PREDICTION, LABEL]


@dataclass(frozen=True)
class MonitorResult:
    report: DriftReport
    reference: str
    current: str
    model_version: str | None
    monitoring_table: str | None
    monitoring_version: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "current": self.current,
            "model_version": self.model_version,
            "monitoring_table": self.monitoring_table,
            **self.report.as_dict(),
        }


def _is_remote(path: str) -> bool:
    return "://" in path or path.startswith(("dbfs:", "/Volumes/"))


def _read_local(option: str, path: str) -> pd.DataFrame:
    if not os.path.exists(path):
        raise ChurnError(f"{option}: '{path}' does not exist")
    try:
        if os.path.isdir(os.path.join(path, "_delta_log")):
            from deltalake import DeltaTable

            return DeltaTable(path).to_pandas()
        if path.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path)
        if path.endswith(".parquet") or os.path.isdir(path):
            return pd.read_parquet(path)
    except Exception as exc:
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ChurnError(f"{option}: cannot read '{path}': {first_line}") from exc
    raise ChurnError(f"{option}: '{path}' is not a CSV, Parquet or Delta table")


def _wanted_columns(df) -> list[str]:
    """The model's features (with prediction and label) when the batch has them, else every column."""
    if set(FEATURE_COLUMNS) <= set(df.columns):
        return [c for c in _WANTED if c in df.columns]
    return list(df.columns)


def monitored_columns(reference: pd.DataFrame) -> list[str]:
    """The model's inputs; for other batches (raw files, say) every column but the key, label and metadata."""
    if set(FEATURE_COLUMNS) <= set(reference.columns):
        return FEATURE_COLUMNS
    skipped = {KEY, LABEL, PREDICTION, "Churn"}
    return [c for c in reference.columns if c not in skipped and not c.startswith("_")]


def check_source(option: str, source: str | None, *, has_runtime: bool) -> None:
    """Reject a missing file or an unreadable table reference before anything runs."""
    if source is None or _is_remote(source) or os.path.exists(source):
        return
    if _TABLE_REFERENCE.match(source) and not source.endswith((".csv", ".parquet")):
        if not has_runtime:
            raise ChurnError(
                f"{option}: '{source}' is not a file; give --workdir or --catalog/--schema to read tables"
            )
        return
    raise ChurnError(f"{option}: '{source}' does not exist")


def typed_by_contract(option: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A raw-layout batch (columns of the data contract, not the model's features) typed as the contract says.

    Raw files hold text: TotalCharges is blank for new customers, so a CSV reader leaves it as text and drift
    would compare it as a category. Numeric contract columns become numbers (blanks missing; a few cells that
    do not parse are missing too, as the contract quarantines them), text columns are trimmed. A column that
    mostly does not parse changed type: one line, exit 2.
    """
    contract = Contract.load()
    typed = frame.copy()
    if set(FEATURE_COLUMNS) <= set(frame.columns):
        # A feature-layout file (CSV written by hand or by another tool) can hold text in a numeric feature.
        for name in (n for n in NUMERIC_FEATURES if not pd.api.types.is_numeric_dtype(frame[n])):
            typed[name] = _numbers(option, name, "number", frame[name], contract.type_change_fraction)
        return typed
    for rule in (r for r in contract.columns if r.name in frame.columns):
        column = frame[rule.name]
        if rule.type != "string" and pd.api.types.is_numeric_dtype(column):
            continue
        if rule.type == "string":
            text = column.astype("string").str.strip()
            typed[rule.name] = text.mask(text.isna() | (text == "")).astype(object)
            continue
        typed[rule.name] = _numbers(option, rule.name, rule.type, column, contract.type_change_fraction)
    return typed


def _numbers(option: str, name: str, kind: str, column: pd.Series, type_change_fraction: float) -> pd.Series:
    """Text as numbers: blanks and a few unparseable cells become missing; a column that mostly does not
    parse changed type (one line, exit 2)."""
    text = column.astype("string").str.strip()
    blank = text.isna() | (text == "")
    numbers = pd.to_numeric(text.mask(blank), errors="coerce")
    bad = ~blank & numbers.isna()
    filled = int((~blank).sum())
    if filled and bad.sum() / filled > type_change_fraction:
        raise ChurnError(
            f"{option}: column '{name}' cannot be typed as {kind}: {int(bad.sum())} of {filled} "
            f"values do not parse (e.g. '{printable(text[bad].iloc[0])}')"
        )
    return numbers.astype(float)


def load_batch(option: str, source: str, runtime: Runtime | None) -> pd.DataFrame:
    """A batch as pandas with only the columns monitoring looks at, raw layouts typed by the contract."""
    return typed_by_contract(option, _load_batch(option, source, runtime))


def _load_batch(option: str, source: str, runtime: Runtime | None) -> pd.DataFrame:
    match = _TABLE_REFERENCE.match(source)
    if match and not os.path.exists(source):
        if runtime is None:
            raise ChurnError(
                f"{option}: '{source}' is not a file; give --workdir or --catalog/--schema to read tables"
            )
        name, version = match["name"], match["version"]
        if not runtime.store.exists(name):
            raise ChurnError(f"{option}: table '{runtime.store.location(name)}' does not exist")
        df = runtime.store.read(name, version=int(version) if version else None)
        return df.select(*_wanted_columns(df)).toPandas()
    if _is_remote(source):
        if runtime is None:
            raise ChurnError(f"{option}: reading '{source}' needs Spark; give --catalog/--schema")
        reader = runtime.spark.read
        df = (reader.option("header", True).option("inferSchema", True).csv(source)
              if source.endswith((".csv", ".csv.gz")) else reader.format(
                  "parquet" if source.endswith(".parquet") else "delta").load(source))  # fmt: skip
        return df.select(*_wanted_columns(df)).toPandas()
    frame = _read_local(option, source)
    return frame[_wanted_columns(frame)]


def _champion_predictions(model_name: str, frame: pd.DataFrame) -> pd.Series:
    model = mlflow.sklearn.load_model(f"models:/{model_name}@{CHAMPION}")
    return pd.Series(model.predict_proba(frame[FEATURE_COLUMNS])[:, 1], index=frame.index)


def default_reference(runtime: Runtime) -> tuple[str, pd.DataFrame, float | None, str]:
    """The champion's training features, at the Delta version its training run recorded."""
    champion = alias_version(runtime.model_name, CHAMPION)
    if champion is None:
        raise ChurnError(f"--reference: model '{runtime.model_name}' has no '{CHAMPION}'; give --reference")
    run = MlflowClient().get_run(champion.run_id)
    version = run.data.tags.get("data_features_version")
    if version is None:
        raise ChurnError(f"--reference: run {champion.run_id} recorded no features version; give --reference")
    source = f"{FEATURES}@{version}"
    return (
        source,
        load_batch("--reference", source, runtime),
        run.data.metrics.get("roc_auc"),
        str(champion.version),
    )


def default_current(runtime: Runtime) -> tuple[str, pd.DataFrame]:
    """The latest scored batch, with labels joined from silver where they are known."""
    from pyspark.sql import functions as F

    store = runtime.store
    if not store.exists(PREDICTIONS):
        raise ChurnError(
            f"--current: table '{store.location(PREDICTIONS)}' does not exist; run `churn score` first"
        )
    predictions = store.read(PREDICTIONS)
    latest = predictions.orderBy(F.col("scored_at").desc()).select("batch_id").first()
    if latest is None:
        raise ChurnError(f"--current: table '{store.location(PREDICTIONS)}' has no rows")
    batch = predictions.where(F.col("batch_id") == latest["batch_id"])
    if store.exists(SILVER):
        silver = store.read(SILVER)
        batch = batch.join(silver.select(KEY, F.col("Churn").cast("int").alias(LABEL)), on=KEY, how="left")
    source = f"{PREDICTIONS} batch {latest['batch_id']}"
    return source, batch.select(*_wanted_columns(batch)).toPandas()


def monitoring_rows(result: MonitorResult, monitored_at: datetime) -> pd.DataFrame:
    """One row per check (each feature, the prediction, performance), the shape of the monitoring table."""
    report = result.report
    common = {
        "monitor_id": uuid.uuid4().hex,
        "monitored_at": monitored_at,
        "reference": result.reference,
        "current": result.current,
        "model_version": result.model_version or "",
        "drift_detected": report.drift_detected,
    }
    checked = [("feature", f) for f in report.features]
    if report.prediction is not None:
        checked.append(("prediction", report.prediction))
    rows = [
        {**common, "check": check, "name": f.name, "kind": f.kind, "psi": f.psi, "test": f.test,
         "p_value": f.p_value, "value_reference": f.missing_share_reference,
         "value_current": f.missing_share_current, "drifted": f.drifted}
        for check, f in checked
    ]  # fmt: skip
    if report.performance is not None:
        p = report.performance
        rows.append({**common, "check": "performance", "name": "roc_auc", "kind": "metric", "psi": float("nan"),
                     "test": "roc_auc_drop", "p_value": float("nan"), "value_reference": p.roc_auc_reference,
                     "value_current": p.roc_auc_current, "drifted": p.decayed})  # fmt: skip
    return pd.DataFrame(rows)


def run_monitor(
    runtime: Runtime | None,
    *,
    reference: str | None,
    current: str | None,
    thresholds: DriftThresholds | None = None,
    report: Report = no_report,
) -> MonitorResult:
    thresholds = thresholds or DriftThresholds()
    thresholds.validate()
    if runtime is None and (reference is None or current is None):
        raise ChurnError("--reference: give --reference and --current, or --workdir / --catalog and --schema")
    reference_roc_auc, model_version = None, None
    if runtime is not None:
        runtime.tracking.use_registry()
        champion = alias_version(runtime.model_name, CHAMPION)
        model_version = str(champion.version) if champion else None
    report("reading the reference batch")
    if reference is None:
        reference, reference_frame, reference_roc_auc, model_version = default_reference(runtime)
    else:
        reference_frame = load_batch("--reference", reference, runtime)
    report("reading the current batch")
    if current is None:
        current, current_frame = default_current(runtime)
    else:
        current_frame = load_batch("--current", current, runtime)
    if model_version is not None:
        # Batches without predictions get the champion's, so prediction drift is always measured.
        for frame in (reference_frame, current_frame):
            if PREDICTION not in frame.columns and set(FEATURE_COLUMNS) <= set(frame.columns):
                frame[PREDICTION] = _champion_predictions(runtime.model_name, frame)
    report("comparing distributions")
    drift = drift_report(
        reference_frame,
        current_frame,
        monitored_columns(reference_frame),
        thresholds,
        reference_roc_auc=reference_roc_auc,
    )
    result = MonitorResult(drift, reference, current, model_version, None, None)
    if runtime is None:
        return result
    report("appending to the monitoring table")
    store = runtime.store
    rows = monitoring_rows(result, datetime.now(UTC))
    store.append(MONITORING, runtime.spark.createDataFrame(rows))
    return MonitorResult(drift, reference, current, model_version, store.location(MONITORING),
                         store.version(MONITORING))  # fmt: skip
