"""A local command that scores with spark_udf (`pipeline`, `score`) forks its Python workers from
churn.spark_worker_daemon, started early, which imported MLflow and scikit-learn once: the scoring step's worker
does not import them again (bench/ml.md). Other commands keep pyspark's own daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_only_scoring_commands_warm_the_python_workers(monkeypatch):
    import churn.spark_session
    from churn.cli_options import prestart_spark

    calls: list[bool] = []
    monkeypatch.setattr(churn.spark_session, "prestart_local_spark",
                        lambda *, warm_python_workers: calls.append(warm_python_workers))  # fmt: skip
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    for command in ["pipeline", "score", "ingest", "train", "monitor", "validate"]:
        prestart_spark([command, "--workdir", "/tmp/churn"])
    assert calls == [True, True, False, False, False, False]


def test_scoring_workers_start_with_mlflow_and_sklearn_imported():
    script = textwrap.dedent(
        """
        from churn.spark_session import local_spark, prestart_local_spark
        prestart_local_spark(warm_python_workers=True)
        spark = local_spark()
        import pandas as pd
        from pyspark.sql.functions import pandas_udf

        @pandas_udf("string")
        def seen(ids: pd.Series) -> pd.Series:
            import os, sys
            with open(f"/proc/{os.getppid()}/cmdline", "rb") as parent:
                daemon = parent.read().replace(b"\\0", b" ").decode()
            loaded = all(m in sys.modules for m in ["mlflow.pyfunc", "sklearn.pipeline", "pyarrow"])
            return pd.Series([f"{loaded}|{daemon}"] * len(ids))

        print(spark.range(1, numPartitions=1).select(seen("id")).first()[0])
        """
    )
    env = {
        **os.environ,
        "CHURN_JVM_CDS": "0",  # not what this test is about; spares it writing an archive at exit
        "PYTHONPATH": os.pathsep.join([str(REPO / "ml" / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    loaded, daemon = done.stdout.strip().split("|", 1)
    assert "-m churn.spark_worker_daemon" in daemon
    assert loaded == "True"
    assert done.stderr == ""
