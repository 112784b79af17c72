"""Spark's Python worker daemon for local scoring runs (`spark.python.daemon.module`, set by churn.spark_session
for `churn pipeline` and `churn score` on a local session only; Databricks runs its own).

Spark forks every Python worker from this daemon; the stock one (pyspark.daemon) imports next to nothing, so each
worker that runs `mlflow.pyfunc.spark_udf` imports MLflow, scikit-learn, pandas and pyarrow itself (seconds per
worker, bench/ml.md). Here the daemon imports them once before it serves, and the forked workers start with them
loaded. The daemon is started early by a tiny pandas UDF (churn.spark_session), so the imports overlap the run's
other work instead of delaying the scoring step.
"""

# ruff: noqa: F401 - imported for the forked workers, not used here
from __future__ import annotations

import logging

import pandas
import pyarrow
import pyspark.worker
import sklearn.compose
import sklearn.ensemble
import sklearn.linear_model
import sklearn.pipeline
import sklearn.preprocessing
from pyspark.daemon import manager

# MLflow's import warns about the type hints of its own functions (three "Union type hint ..." lines on stderr, once
# per process that imports it): no news for whoever runs `churn`; only the import's warnings are held back.
_mlflow_log = logging.getLogger("mlflow")
_level = _mlflow_log.level
_mlflow_log.setLevel(logging.ERROR)
try:
    import mlflow.pyfunc
    import mlflow.sklearn
finally:
    _mlflow_log.setLevel(_level)

if __name__ == "__main__":
    manager()
