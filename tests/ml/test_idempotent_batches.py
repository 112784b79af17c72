"""Every write is idempotent per batch identity and safe under concurrency: a batch file scored twice leaves one
copy of its predictions, quarantine rows and monitored batch; two ingests of one file started at the same
time, in two processes, land it once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from churn.cli import main
from churn.gate import GateThresholds
from churn.jobs.ingest import run_ingest
from churn.jobs.train import TrainSettings, run_train
from churn.jobs.validate import run_validate
from churn.runtime import BRONZE, PREDICTIONS, QUARANTINE, SILVER, local_runtime

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code


@pytest.fixture(scope="module")
def trained_workdir(spark, telco_sample, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("idempotent-work")
    runtime = local_runtime(workdir)
    run_ingest(runtime, str(telco_sample))
    run_train(runtime, TrainSettings(cv_folds=2))
    run_validate(runtime, GateThresholds(min_roc_auc=0.75, max_fairness_gap=0.6))
    return workdir


def test_scoring_the_same_batch_file_twice_keeps_one_copy(spark, telco_raw, trained_workdir, tmp_path):
    batch = telco_raw.iloc[2000:2400].drop(columns=["Churn"]).reset_index(drop=True)
    batch.loc[:4, "Contract"] = "Three year"  # 5 rows for quarantine
    path = tmp_path / "to_score.csv"
    batch.to_csv(path, index=False)
    common = ["--workdir", str(trained_workdir)]
    store = local_runtime(trained_workdir).store
    before = store.read(QUARANTINE).count() if store.exists(QUARANTINE) else 0

    assert run_cli("score", "--input", str(path), *common) == 0
    assert run_cli("score", "--input", str(path), *common) == 0  # a retried job step

    predictions = store.read(PREDICTIONS).toPandas()
    from_file = predictions[predictions["source"] == str(path)]
    assert len(from_file) == 395 and from_file["customerID"].is_unique
    assert from_file["batch_id"].nunique() == 1
    assert store.read(QUARANTINE).count() - before == 5
    report = tmp_path / "drift.json"
    assert run_cli("monitor", *common, "--report-out", str(report)) == 0
    assert json.loads(report.read_text())["current_rows"] == 395


def test_two_ingests_of_one_file_at_the_same_time_land_it_once(spark, telco_raw, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    batch = telco_raw.iloc[:300].copy().reset_index(drop=True)
    batch.loc[0, "Contract"] = "Three year"
    batch.to_csv(landing / "day1.csv", index=False)
    workdir = tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "ml" / "src")])}
    command = [
        sys.executable,
        "-m",
        "churn.cli",
        "ingest",
        "--input",
        str(landing),
        "--workdir",
        str(workdir),
    ]

    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    outcomes = [(run.wait(timeout=600), run.stderr.read().decode()) for run in runs]

    assert [code for code, _ in outcomes] == [0, 0], outcomes
    store = local_runtime(workdir).store
    assert store.read(BRONZE).count() == 300
    assert store.read(SILVER).count() == 299
    assert store.read(QUARANTINE).count() == 1


def test_two_ingests_that_both_find_the_file_new_land_it_once(spark, telco_raw, tmp_path, monkeypatch):
    """The race made certain: each run, once it has looked up what is landed, waits for the other to have
    looked too (at most 20 s). Without a lock both find the file new and both land it; with it, the second
    looks only after the first has written, finds it landed and lands nothing."""
    import threading

    import churn.jobs.ingest as ingest_job

    landing = tmp_path / "landing"
    landing.mkdir()
    telco_raw.iloc[:200].to_csv(landing / "day1.csv", index=False)
    runtime = local_runtime(tmp_path / "work")
    looked, real = [], ingest_job.landed_file_ids
    both_looked = threading.Event()

    def landed_then_wait(rt):
        ids = real(rt)
        looked.append(ids)
        if len(looked) == 2:
            both_looked.set()
        both_looked.wait(timeout=20)
        return ids

    monkeypatch.setattr(ingest_job, "landed_file_ids", landed_then_wait)
    results = []
    runs = [
        threading.Thread(target=lambda: results.append(run_ingest(runtime, str(landing)))) for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=600)

    assert sorted(r.files_landed for r in results) == [0, 1]
    assert runtime.store.read(BRONZE).count() == 200
