"""Commands that work on an existing work directory never create one: a mistyped --workdir is one line naming
the path, exit 2, nothing created. A feature-layout file with a bad cell is monitored, not a traceback."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from churn.cli import main
from churn.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code


@pytest.mark.parametrize(
    "command",
    [["train"], ["validate"], ["score"], ["monitor"], ["reproduce", "0123abcd"]],
    ids=["train", "validate", "score", "monitor", "reproduce"],
)
def test_a_mistyped_workdir_is_named_and_not_created(command, tmp_path, capsys):
    (tmp_path / "work" / "tables").mkdir(parents=True)  # the real one, made by `churn ingest`
    typo = tmp_path / "wrok"
    assert run_cli(*command, "--workdir", str(typo)) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert err == f"error: --workdir: '{typo}' does not exist; check the path or run `churn ingest` first"
    assert not typo.exists()


def test_a_directory_that_is_not_a_work_directory_gets_no_mlflow_store(tmp_path, capsys):
    assert run_cli("validate", "--workdir", str(tmp_path)) == 2
    assert "is not a churn work directory (no tables)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def feature_batch(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.integers(0, 50, rows) for name in NUMERIC_FEATURES})
    for name in CATEGORICAL_FEATURES:
        frame[name] = rng.choice(["Yes", "No", "No internet service"], rows)
    frame["customerID"] = [f"{i:04d}-ABCDE" for i in range(rows)]
    return frame


def test_monitor_on_a_feature_file_with_a_bad_cell_reports_instead_of_crashing(tmp_path, capsys):
    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    feature_batch(2000, 1).to_csv(reference, index=False)
    batch = feature_batch(2000, 2).astype({"tenure_months": object})
    batch.loc[7, "tenure_months"] = "twelve"
    batch.to_csv(current, index=False)
    report = tmp_path / "drift.json"

    code = run_cli(
        "monitor", "--reference", str(reference), "--current", str(current), "--report-out", str(report)
    )

    assert code == 0, capsys.readouterr().err
    drift = json.loads(report.read_text())
    assert drift["features"]["tenure_months"]["kind"] == "numeric"
    assert drift["drift_detected"] is False


def test_monitor_on_a_feature_file_whose_numeric_column_is_text_is_one_line(tmp_path, capsys):
    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    feature_batch(500, 1).to_csv(reference, index=False)
    feature_batch(500, 2).assign(monthly_charges="unknown").to_csv(current, index=False)
    assert run_cli("monitor", "--reference", str(reference), "--current", str(current)) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        "error: --current: column 'monthly_charges' cannot be typed as number: 500 of 500"
    )
