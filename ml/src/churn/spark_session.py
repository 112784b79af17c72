"""Spark sessions: a tuned local one for laptops and tests, the cluster's own on Databricks."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from importlib import resources

from pyspark.sql import SparkSession

# A local run is short: the JVM's optimising compiler (C2) would compete with the job for the laptop's few cores
# and rarely pays off within a minute, so the local JVM compiles with C1 only (-XX:TieredStopAtLevel=1).
_LOCAL_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"

_prestarted: dict[str, object] = {}
_prestart_lock = threading.Lock()


def local_spark(
    app_name: str = "churn", *, cores: int | str = "*", driver_memory: str = "4g"
) -> SparkSession:
    """A local[*] session whose Python workers run this interpreter (so spark_udf sees our packages).

    If `prestart_local_spark` started one in the background, this waits for it (and re-raises its error)."""
    with _prestart_lock:
        started = _prestarted.pop("thread", None)
    if isinstance(started, threading.Thread):
        started.join()
        error = _prestarted.pop("error", None)
        if isinstance(error, BaseException):
            raise error
    return _build_local_spark(app_name, cores=cores, driver_memory=driver_memory)


def _build_local_spark(app_name: str, *, cores: int | str, driver_memory: str) -> SparkSession:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    # A laptop session needs no routable address; this also silences Spark's hostname warning.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log_config = resources.files("churn").joinpath("log4j2.properties")
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dlog4j2.configurationFile=file:{log_config} {_LOCAL_JVM_OPTIONS}",
        )
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Parquet staged for deltalake must carry microsecond UTC timestamps, not Spark's legacy INT96.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.warehouse.dir", os.path.join(tempfile.gettempdir(), "churn-spark-warehouse"))
        # Python workers import MLflow to score; its default logging setup would echo the SQLite store's
        # schema checks into the job's output once per worker.
        .config("spark.executorEnv.MLFLOW_CONFIGURE_LOGGING", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.eventLog.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def prestart_local_spark() -> None:
    """Start the default local session in a background thread, so the JVM boots while Python imports
    scikit-learn and MLflow; `local_spark()` then picks it up. Writes nothing: a command that then refuses its
    options exits as before (the JVM ends with the process)."""
    with _prestart_lock:
        if "thread" in _prestarted:
            return

        def start() -> None:
            try:
                _build_local_spark("churn", cores="*", driver_memory="4g")
            except BaseException as exc:  # handed to the caller of local_spark()
                _prestarted["error"] = exc

        thread = threading.Thread(target=start, name="churn-spark-start", daemon=True)
        _prestarted["thread"] = thread
        thread.start()


def cluster_spark() -> SparkSession:
    """The session Databricks already runs for the job or notebook."""
    return SparkSession.builder.getOrCreate()
