"""The large-batch benchmark (bench/bench_ml_batch.py) runs end to end on a small batch: a Spark-written landing
folder (part files plus `_SUCCESS` and `.crc` files) goes through ingest, score and monitor as fresh processes,
and each step reports its wall time and the peak memory of its whole process tree (JVM included)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from churn.gate import GateThresholds
from churn.jobs.ingest import run_ingest
from churn.jobs.train import TrainSettings, run_train
from churn.jobs.validate import run_validate
from churn.runtime import BRONZE, local_runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
bench_ml_batch = pytest.importorskip("bench_ml_batch")


def test_the_batch_benchmark_times_each_job_on_a_small_batch(spark, telco_sample, tmp_path):
    champion = tmp_path / "champion"
    runtime = local_runtime(champion)
    run_ingest(runtime, str(telco_sample))
    run_train(runtime, TrainSettings(cv_folds=2))
    run_validate(runtime, GateThresholds(min_roc_auc=0.75, max_fairness_gap=0.6))
    landing = bench_ml_batch.write_landing_folder(spark, tmp_path / "landing", 3000)
    assert (landing / "_SUCCESS").exists() and list(landing.glob(".*.crc"))

    costs = bench_ml_batch.bench_batch(champion, landing, tmp_path)

    assert [c.step for c in costs] == ["ingest", "score", "monitor"]
    assert all(c.seconds > 0 for c in costs)
    assert all(c.peak_gib > 0.2 for c in costs)  # a JVM alone is more than this: the tree was measured
    workdir = tmp_path / "batch-workdir"
    assert local_runtime(workdir).store.read(BRONZE).count() == 1200 + 3000
    assert json.loads((tmp_path / "batch-drift.json").read_text())["current_rows"] > 2900
    table = bench_ml_batch.render_batch(costs, 3000, load="busy")
    assert "| `churn ingest` |" in "\n".join(table) and "3,000 rows" in table[0]
