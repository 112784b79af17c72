"""Drift detection on the Telco columns: resamples of the reference stay quiet (false-alarm rate measured over
many seeded resamples), real shifts are flagged; and `churn monitor` on files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from churn.cli import main
from churn.drift import UNSEEN, categorical_bucket_counts, drift_report, numeric_bucket_counts, psi
from churn.thresholds import DriftThresholds

RESAMPLES = 200
CURRENT_ROWS = 1000


@pytest.fixture(scope="module")
def reference(telco_raw) -> pd.DataFrame:
    frame = telco_raw.drop(columns=["customerID", "Churn"]).copy()
    for column in ("tenure", "MonthlyCharges", "SeniorCitizen"):
        frame[column] = pd.to_numeric(frame[column])
    frame["TotalCharges"] = pd.to_numeric(frame["TotalCharges"].str.strip().replace("", np.nan))
    return frame


@pytest.fixture(scope="module")
def features(reference) -> list[str]:
    return list(reference.columns)


def resample(reference: pd.DataFrame, seed: int, rows: int = CURRENT_ROWS) -> pd.DataFrame:
    return reference.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)


def test_resamples_of_the_reference_are_rarely_flagged(reference, features):
    rng = np.random.default_rng(20261122)
    alarms = sum(
        drift_report(reference, resample(reference, int(seed)), features).drift_detected
        for seed in rng.integers(0, 2**31, RESAMPLES)
    )
    false_alarm_rate = alarms / RESAMPLES
    print(f"false-alarm rate over {RESAMPLES} resamples of {CURRENT_ROWS} rows: {false_alarm_rate:.3f}")
    assert false_alarm_rate <= 0.01


def test_the_tests_alone_would_raise_false_alarms_which_is_why_psi_must_agree(reference, features):
    """Without the PSI requirement and the Bonferroni split, 19 tests at 5 % flag many clean resamples."""
    naive = DriftThresholds(psi=1e-9, alpha=0.05 * len(features))  # each test at 5 %, no correction
    rng = np.random.default_rng(7)
    alarms = sum(
        drift_report(reference, resample(reference, int(seed)), features, naive).drift_detected
        for seed in rng.integers(0, 2**31, 40)
    )
    assert alarms / 40 >= 0.3


def test_a_moved_numeric_distribution_is_flagged(reference, features):
    current = resample(reference, 1)
    current["MonthlyCharges"] = current["MonthlyCharges"] * 1.15
    report = drift_report(reference, current, features)
    assert report.drifted_features == ["MonthlyCharges"]
    assert report.drift_detected


def test_a_changed_category_mix_is_flagged(reference, features):
    current = resample(reference, 2)
    rng = np.random.default_rng(2)
    longer = current["Contract"].ne("Month-to-month") & (rng.random(len(current)) < 0.8)
    current.loc[longer, "Contract"] = "Month-to-month"  # long contracts mostly gone
    report = drift_report(reference, current, features)
    assert report.drifted_features == ["Contract"]
    assert report.as_dict()["features"]["Contract"]["test"] == "chi_squared"


@pytest.mark.parametrize(
    "column, broken",
    [("tenure", np.nan), ("MonthlyCharges", 70.0), ("PaymentMethod", None), ("InternetService", "Satellite")],
    ids=["all-missing-numeric", "constant-numeric", "all-missing-category", "unseen-category"],
)
def test_a_broken_feature_is_flagged(reference, features, column, broken):
    current = resample(reference, 3)
    current[column] = broken
    report = drift_report(reference, current, features)
    assert report.drifted_features == [column]


def test_psi_bins_are_reference_quantiles_plus_missing_and_unseen_buckets(reference):
    ref_counts, cur_counts, edges = numeric_bucket_counts(reference["tenure"], reference["tenure"], 10)
    assert len(edges) <= 9 and len(ref_counts) == len(edges) + 2  # inner bins + top + missing
    assert psi(ref_counts, cur_counts) == 0.0
    ref_counts, cur_counts = categorical_bucket_counts(
        pd.Series(["a", "b", None]), pd.Series(["a", "c", "c"])
    )
    assert ref_counts.tolist() == [1, 1, 0, 1]  # a, b, unseen, missing
    assert cur_counts.tolist() == [1, 0, 2, 0]
    assert UNSEEN == "__unseen__"


def test_prediction_drift_and_performance_decay_are_reported():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 4000)
    good = np.clip(0.5 * y + rng.normal(0.25, 0.15, len(y)), 0, 1)
    reference = pd.DataFrame({"x": rng.normal(size=len(y)), "churn": y, "churn_probability": good})
    current = reference.copy()
    current["churn_probability"] = rng.beta(5, 2, len(y))  # high scores for everyone, no signal left
    report = drift_report(reference, current, ["x"])
    assert report.prediction is not None and report.prediction.drifted
    assert report.performance is not None and report.performance.decayed
    assert report.performance.roc_auc_current < 0.6 < 0.9 < report.performance.roc_auc_reference


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code


def test_monitor_on_files_writes_the_report_and_fails_on_drift_only_when_asked(reference, tmp_path, capsys):
    features = ["tenure", "MonthlyCharges", "Contract"]
    ref_path, same_path, moved_path = tmp_path / "ref.csv", tmp_path / "same.parquet", tmp_path / "moved.csv"
    reference[features].to_csv(ref_path, index=False)
    resample(reference, 9)[features].to_parquet(same_path)
    moved = resample(reference, 9)[features]
    moved["tenure"] = moved["tenure"] + 24
    moved.to_csv(moved_path, index=False)
    report_path = tmp_path / "report.json"

    monitor = ["monitor", "--reference", str(ref_path), "--report-out", str(report_path)]
    assert run_cli(*monitor, "--current", str(same_path), "--fail-on-drift") == 0
    quiet = json.loads(report_path.read_text())
    assert quiet["drift_detected"] is False and set(quiet["features"]) == set(features)

    assert run_cli(*monitor, "--current", str(moved_path)) == 0  # drift is reported, not fatal by default
    moved_report = json.loads(report_path.read_text())
    assert moved_report["drift_detected"] is True and moved_report["drifted_features"] == ["tenure"]
    assert moved_report["features"]["tenure"]["kind"] == "numeric"
    assert run_cli(*monitor, "--current", str(moved_path), "--fail-on-drift") == 1
    assert "tenure" in capsys.readouterr().out


def test_monitor_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    for args, expected in [
        (["--reference", str(tmp_path / "absent.csv"), "--current", str(tmp_path / "absent.csv")],
         f"error: --reference: '{tmp_path / 'absent.csv'}' does not exist"),
        (["--reference", "churn_features", "--current", "x.csv"],
         "error: --reference: 'churn_features' is not a file; give --workdir or --catalog/--schema to read tables"),
        (["--current", "x.csv"], "error: --reference: give --reference and --current files"),
        (["--reference", "a", "--current", "b", "--alpha", "2"], "error: --alpha: 2.0 must be between 0 and 1"),
    ]:  # fmt: skip
        assert run_cli("monitor", *args) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and "Traceback" not in error
        assert error.startswith(expected), error
    assert not list(tmp_path.iterdir())


def test_monitor_on_two_halves_of_the_raw_file_finds_no_drift(telco_csv, tmp_path, capsys):
    """Raw layout: TotalCharges is text with blanks; typed through the contract it is numeric, not a category."""
    raw = pd.read_csv(telco_csv, dtype=str, keep_default_na=False)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    raw.iloc[: len(raw) // 2].to_csv(first, index=False)
    raw.iloc[len(raw) // 2 :].to_csv(second, index=False)
    report_path = tmp_path / "report.json"
    code = run_cli("monitor", "--reference", str(first), "--current", str(second), "--report-out", str(report_path),
                   "--fail-on-drift")  # fmt: skip
    report = json.loads(report_path.read_text())
    assert report["features"]["TotalCharges"]["kind"] == "numeric"
    assert report["features"]["tenure"]["kind"] == "numeric"
    assert (code, report["drift_detected"]) == (0, False), report["drifted_features"]


def test_monitor_refuses_a_raw_column_it_cannot_type(telco_raw, tmp_path, capsys):
    reference, current = tmp_path / "ref.csv", tmp_path / "cur.csv"
    telco_raw.iloc[:500].to_csv(reference, index=False)
    telco_raw.iloc[500:1000].assign(MonthlyCharges="n/a\x1b[2J").to_csv(current, index=False)
    assert run_cli("monitor", "--reference", str(reference), "--current", str(current)) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "Traceback" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("error: --current: column 'MonthlyCharges' cannot be typed as double: 500 of 500")
    )
