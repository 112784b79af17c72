"""Scheduled scoring sees new customers: the scoring job scores only what is new since its last run and records
that batch; the monitor compares exactly that batch with the champion's training data. 1,000 shifted new
customers among ~7,000 scored before are found, where re-scoring everyone would average them away."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from churn.cli import main
from churn.runtime import PREDICTIONS, local_runtime

GATE = ["--min-roc-auc", "0.75", "--max-fairness-gap", "0.6"]


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code


def new_customers(telco_raw: pd.DataFrame, rows: int) -> pd.DataFrame:
    """`rows` customers not seen before (new IDs, no label yet) whose monthly charges are 30 % higher."""
    batch = telco_raw.sample(n=rows, random_state=11).drop(columns=["Churn"]).reset_index(drop=True)
    batch["customerID"] = [f"{i:04d}-NEWCU" for i in range(rows)]
    batch["MonthlyCharges"] = (batch["MonthlyCharges"].astype(float) * 1.3).round(2).astype(str)
    return batch


def test_scoring_scores_new_customers_as_a_batch_and_the_monitor_finds_their_drift(
    spark, telco_raw, telco_sample, tmp_path
):
    workdir, landing = tmp_path / "work", tmp_path / "landing"
    landing.mkdir()
    pd.read_csv(telco_sample, dtype=str, keep_default_na=False).to_csv(landing / "a_sample.csv", index=False)
    common = ["--workdir", str(workdir)]
    assert run_cli("ingest", "--input", str(landing), *common) == 0
    assert run_cli("train", *common, "--cv-folds", "2", "--seed", "5") == 0
    assert run_cli("validate", *common, *GATE) == 0

    telco_raw.to_csv(landing / "b_everyone.csv", index=False)
    assert run_cli("ingest", "--input", str(landing), *common) == 0
    assert run_cli("score", *common) == 0
    report = tmp_path / "drift.json"
    assert run_cli("monitor", *common, "--report-out", str(report)) == 0
    assert json.loads(report.read_text())["current_rows"] == 7043

    assert run_cli("score", *common) == 0  # nothing new: no empty batch is recorded
    predictions = local_runtime(workdir).store.read(PREDICTIONS)
    assert predictions.count() == 7043 and predictions.select("batch_id").distinct().count() == 1

    new_customers(telco_raw, 1000).to_csv(landing / "c_new_customers.csv", index=False)
    assert run_cli("ingest", "--input", str(landing), *common) == 0
    assert run_cli("score", *common) == 0
    every = local_runtime(workdir).store.read(PREDICTIONS).toPandas()
    scored = every[every["batch_id"] == every.sort_values("scored_at")["batch_id"].iloc[-1]]
    assert len(every) == 8043 and len(scored) == 1000 and scored["customerID"].str.endswith("-NEWCU").all()

    code = run_cli("monitor", *common, "--report-out", str(report), "--fail-on-drift")
    drift = json.loads(report.read_text())
    assert drift["current_rows"] == 1000 and drift["reference"].startswith("churn_features@")
    assert code == 1 and "monthly_charges" in drift["drifted_features"]
