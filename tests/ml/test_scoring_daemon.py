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
                        lambda *, warm_python_workers, **_: calls.append(warm_python_workers))  # fmt: skip
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
        import os, time
        import pandas as pd
        from pyspark.sql.functions import pandas_udf

        def descends_from_us(pid):
            # Only this script's own processes: other churn runs on the machine (another test's session, another
            # user's pipeline) have daemons of their own.
            while pid > 1:
                try:
                    with open(f"/proc/{pid}/stat") as stat:
                        pid = int(stat.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    return False
                if pid == os.getpid():
                    return True
            return False

        def daemons():
            found = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                        if b"-m\\0churn.spark_worker_daemon" in cmd.read():  # not the JVM (its conf names it)
                            if descends_from_us(int(pid)):
                                found.append(int(pid))
                except OSError:
                    pass
            return found

        deadline = time.monotonic() + 300
        while len(daemons()) < 2 and time.monotonic() < deadline:  # the warm-up's daemon and worker, before any
            time.sleep(0.2)  # UDF of ours
        before = daemons()

        @pandas_udf("string")
        def seen(ids: pd.Series) -> pd.Series:
            import os, sys
            loaded = all(m in sys.modules for m in ["mlflow.pyfunc", "sklearn.pipeline", "pyarrow"])
            return pd.Series([f"{loaded}|{os.getppid()}"] * len(ids))

        loaded, parent = spark.range(1, numPartitions=1).select(seen("id")).first()[0].split("|")
        print(loaded, int(parent) in before, len(before))
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
    # The worker imported nothing itself; it was forked from the one daemon the warm-up had started (the daemon
    # and its warm-up worker: two processes), not from a second daemon started for this UDF.
    assert done.stdout.split() == ["True", "True", "2"], done.stdout
    assert done.stderr == ""
