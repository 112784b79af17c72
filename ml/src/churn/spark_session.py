"""Spark sessions: a tuned local one for laptops and tests, the cluster's own on Databricks."""

from __future__ import annotations

import os
import sys
import tempfile
from importlib import resources

from pyspark.sql import SparkSession


def local_spark(
    app_name: str = "churn", *, cores: int | str = "*", driver_memory: str = "4g"
) -> SparkSession:
    """A local[*] session whose Python workers run this interpreter (so spark_udf sees our packages)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    # A laptop session needs no routable address; this also silences Spark's hostname warning.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log_config = resources.files("churn").joinpath("log4j2.properties")
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_config}")
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
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def cluster_spark() -> SparkSession:
    """The session Databricks already runs for the job or notebook."""
    return SparkSession.builder.getOrCreate()
