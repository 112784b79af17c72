"""Where a job runs, built from its parameters: a local work directory, or a Unity Catalog schema on
Databricks. Everything downstream gets a `Runtime` and does not care which."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from churn.errors import ChurnError
from churn.storage import LocalDeltaStore, TableStore, UnityCatalogStore, check_identifier
from churn.tracking import TrackingTarget

BRONZE = "churn_bronze"
SILVER = "churn_silver"
QUARANTINE = "churn_quarantine"
FEATURES = "churn_features"
PREDICTIONS = "churn_predictions"
MONITORING = "churn_monitoring"
EVALUATION = "churn_evaluation"  # the pinned evaluation set the champion is judged on (validate)

DEFAULT_MODEL_NAME = "churn"
DEFAULT_LOCAL_EXPERIMENT = "churn"
_LOCAL_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass
class Runtime:
    store: TableStore
    tracking: TrackingTarget
    model_name: str

    @property
    def spark(self) -> SparkSession:
        return self.store.spark


def local_runtime(
    workdir: Path,
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    experiment: str | None = None,
    prepare_tracking: bool = False,
) -> Runtime:
    """`prepare_tracking`: the run will use MLflow, so its store is made ready while the JVM starts."""
    from churn.spark_session import local_spark

    if not _LOCAL_MODEL_NAME.match(model_name):
        raise ChurnError(f"--model-name: '{model_name}' is not a valid model name")
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise ChurnError(f"--workdir: '{workdir}' exists and is not a directory")
    # The tracking target first: its MLflow store is made ready while the JVM that local_spark() waits for starts.
    tracking = TrackingTarget.local(workdir, experiment or DEFAULT_LOCAL_EXPERIMENT)
    if prepare_tracking:
        tracking.prepare_local_store()
    return Runtime(store=LocalDeltaStore(local_spark(), workdir), tracking=tracking, model_name=model_name)


def unity_catalog_model_name(catalog: str, schema: str, model_name: str) -> str:
    """`churn` -> `<catalog>.<schema>.churn`; a full three-level name is kept as given."""
    parts = model_name.split(".")
    if len(parts) == 1:
        parts = [catalog, schema, parts[0]]
    if len(parts) != 3:
        raise ChurnError(f"--model-name: '{model_name}' must be a name or catalog.schema.name")
    for part in parts:
        check_identifier(part, option="--model-name")
    return ".".join(parts)


def unity_catalog_runtime(
    catalog: str, schema: str, *, model_name: str = DEFAULT_MODEL_NAME, experiment_path: str | None = None
) -> Runtime:
    from churn.spark_session import cluster_spark

    check_identifier(catalog, option="--catalog")
    check_identifier(schema, option="--schema")
    qualified = unity_catalog_model_name(catalog, schema, model_name)
    if experiment_path is not None and not experiment_path.startswith("/"):
        raise ChurnError(
            f"--experiment-path: '{experiment_path}' must be a workspace path such as /Shared/churn"
        )
    return Runtime(
        store=UnityCatalogStore(cluster_spark(), catalog, schema),
        tracking=TrackingTarget.databricks(experiment_path or ""),
        model_name=qualified,
    )


def _check_workdir(workdir: Path) -> None:
    """Refuse a work directory that cannot be created or written, before anything is written."""
    if workdir.exists() and not workdir.is_dir():
        raise ChurnError(f"--workdir: '{workdir}' exists and is not a directory")
    existing = next(p for p in (workdir, *workdir.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ChurnError(f"--workdir: cannot create or write '{workdir}' ('{existing}' is not writable)")


def _check_writable_inside(workdir: Path) -> None:
    """Refuse a work directory with a part this process cannot write (a table folder, the MLflow store, a file at
    its top such as mlflow.db), before anything is written: a job that found out at its third table would leave
    the first two written. Writes only add files to folders, except the top-level files (SQLite, the lock)."""
    if not workdir.is_dir():
        return
    blocked: list[str] = []

    def unreadable(error: OSError) -> None:
        blocked.append(str(error.filename))

    # Links are followed (a table folder moved to a bigger disk is written through its link), each real folder
    # once, so a link back up the tree ends the walk instead of looping.
    seen: set[str] = set()
    for folder, subfolders, _ in os.walk(workdir, onerror=unreadable, followlinks=True):
        seen.add(os.path.realpath(folder))
        subfolders[:] = [s for s in subfolders if os.path.realpath(os.path.join(folder, s)) not in seen]
        if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
            blocked.append(folder)
    blocked += [str(p) for p in workdir.iterdir() if p.is_file() and not os.access(p, os.R_OK | os.W_OK)]
    if blocked:
        blocked = sorted(set(blocked))
        more = f" and {len(blocked) - 1} more" if len(blocked) > 1 else ""
        raise ChurnError(
            f"--workdir: cannot write '{blocked[0]}'{more} inside '{workdir}' (read-only); "
            "fix the permissions; nothing was written"
        )


def _check_existing_workdir(workdir: Path) -> None:
    if not workdir.is_dir():
        raise ChurnError(f"--workdir: '{workdir}' does not exist; check the path or run `churn ingest` first")
    if not (workdir / "tables").is_dir():
        raise ChurnError(
            f"--workdir: '{workdir}' is not a churn work directory (no tables); "
            "check the path or run `churn ingest` first"
        )


def runtime_from_options(
    *,
    workdir: Path | None,
    catalog: str | None,
    schema: str | None,
    model_name: str,
    experiment_path: str | None,
    existing_workdir: bool = False,
    uses_tracking: bool = True,
) -> Runtime:
    """Pick the local store (`--workdir`) or Unity Catalog (`--catalog` and `--schema`), never both.

    `existing_workdir`: the command works on what `ingest` made there, so a mistyped path is refused instead of
    being created (with an empty MLflow store) and reported as a missing model. `uses_tracking`: the command
    logs to or reads from MLflow (all but ingest)."""
    if workdir is not None and (catalog or schema):
        raise ChurnError(
            "--workdir: use either --workdir (local) or --catalog/--schema (Databricks), not both"
        )
    if workdir is not None:
        if existing_workdir:
            _check_existing_workdir(workdir)
        _check_workdir(workdir)
        _check_writable_inside(workdir)
        return local_runtime(
            workdir, model_name=model_name, experiment=experiment_path, prepare_tracking=uses_tracking
        )
    if catalog and schema:
        return unity_catalog_runtime(catalog, schema, model_name=model_name, experiment_path=experiment_path)
    if catalog or schema:
        missing = "--schema" if catalog else "--catalog"
        raise ChurnError(f"{missing}: required together with {'--catalog' if catalog else '--schema'}")
    raise ChurnError("--workdir: give --workdir DIR (local) or --catalog and --schema (Databricks)")
