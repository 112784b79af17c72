"""A local run of a Spark command boots the JVM in the background while Python imports (churn.spark_session);
a command that then refuses its options must still print its one line and nothing from the JVM it never used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def churn(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "ml" / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "churn.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_a_refused_local_command_prints_one_line_and_no_jvm_output(tmp_path):
    typo = tmp_path / "wrok"
    done = churn("train", "--workdir", str(typo))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: --workdir: '{typo}' does not exist; check the path or run `churn ingest` first"
    ]
    assert not typo.exists()


def test_no_local_jvm_is_prestarted_on_a_databricks_cluster(monkeypatch):
    """On a cluster (DATABRICKS_RUNTIME_VERSION is set) the session is the cluster's: a `--workdir` run there must
    not boot a second, local JVM beside it."""
    import churn.spark_session
    from churn.cli_options import prestart_spark

    started = []
    monkeypatch.setattr(churn.spark_session, "prestart_local_spark", lambda **_: started.append(True))
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "18.0")
    prestart_spark(["train", "--workdir", "/local_disk0/churn"])
    assert started == []
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION")
    prestart_spark(["train", "--workdir", "/tmp/churn"])
    assert started == [True]


def test_a_batch_refused_after_spark_started_prints_one_line(tmp_path, telco_raw):
    """The most common refusal comes after Spark read the file (a column missing): the JVM's start-up banners
    (the incubator-module warning, Spark's default log level notice) must not come before the one line."""
    batch = tmp_path / "batch.csv"
    telco_raw.drop(columns=["MonthlyCharges"]).head(20).to_csv(batch, index=False)
    done = churn("ingest", "--input", str(batch), "--workdir", str(tmp_path / "w"))
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if not line.startswith("- ")]  # progress steps
    assert len(lines) == 1 and lines[0].startswith("error: ") and "MonthlyCharges" in lines[0], done.stderr
