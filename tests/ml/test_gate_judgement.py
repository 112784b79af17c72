"""A gate with judgement: floors on training-set size and class balance, a ceiling that treats a near-perfect
ROC AUC as a leak, agreement with the champion on the pinned set beyond chance, and a comparison that cannot
be made blocks promotion in enforce mode. The report names which check fired (JSON and the CLI table)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from churn.cli import main
from churn.fairness import fairness_report
from churn.gate import ENFORCE, Evidence, ModelScores, decide
from churn.modeling import holdout_metrics
from churn.runtime import local_runtime
from churn.thresholds import GateThresholds
from churn.tracking import CHAMPION
from mlflow.tracking import MlflowClient

LENIENT = GateThresholds(min_roc_auc=0.75, max_fairness_gap=0.6)


def scores(version: str, y: np.ndarray, probability: np.ndarray) -> ModelScores:
    groups = pd.DataFrame({"gender": np.where(np.arange(len(y)) % 2, "Female", "Male")})
    return ModelScores(version, f"run-{version}", 0.5, holdout_metrics(y, probability, 0.5),
                       fairness_report(y, probability, 0.5, groups))  # fmt: skip


def honest(seed: int, rows: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Labels with ~27 % churn and a model that ranks them like a real churn model (ROC AUC ~0.83)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.27).astype(int)
    return y, 1 / (1 + np.exp(-(1.35 * y + rng.normal(0, 1, rows) - 1.2)))


def failed(decision) -> list[str]:
    return [check.name for check in decision.checks if not check.passed]


def test_an_80_row_training_set_never_becomes_the_first_champion():
    y, p = honest(1, rows=16)  # the hold-out of 80 rows
    y[:4] = [0, 1, 0, 1]
    decision = decide(
        scores("1", y, p), None, LENIENT, ENFORCE, Evidence(training_rows=80, minority_share=0.27)
    )
    assert "training_rows_floor" in failed(decision) and not decision.promote
    assert decision.exit_code == 1


def test_a_near_perfect_roc_auc_is_a_leak_to_investigate_not_a_champion():
    y, _ = honest(2)
    leaked = np.where(y == 1, 0.99, 0.01)
    decision = decide(
        scores("1", y, leaked), None, LENIENT, ENFORCE, Evidence(training_rows=5000, minority_share=0.27)
    )
    assert failed(decision) == ["roc_auc_leak_ceiling"] and not decision.promote
    assert "roc_auc_leak_ceiling" in decision.message


def test_a_training_set_that_lost_a_class_is_refused():
    y, p = honest(3)
    decision = decide(
        scores("1", y, p), None, LENIENT, ENFORCE, Evidence(training_rows=5000, minority_share=0.01)
    )
    assert failed(decision) == ["class_balance_floor"]


def test_a_challenger_ranking_customers_against_the_champion_is_blocked():
    y, champion_p = honest(4)
    _, challenger_p = honest(4)
    evidence = Evidence(training_rows=5000, minority_share=0.27, pinned_challenger=scores("2", y, challenger_p),
                        pinned_champion=scores("1", y, champion_p), pinned_rows=400, pinned_agreement=-0.8)  # fmt: skip
    decision = decide(scores("2", y, challenger_p), scores("1", y, champion_p), LENIENT, ENFORCE, evidence)
    assert failed(decision) == ["pinned_agreement"] and not decision.promote


def test_a_comparison_that_cannot_be_made_blocks_in_enforce_mode():
    y, p = honest(5)
    evidence = Evidence(training_rows=5000, minority_share=0.27, pinned_rows=12,
                        pinned_problem="pinned evaluation set (version 0): only 12 of 240 rows ...")  # fmt: skip
    decision = decide(scores("2", y, p), scores("1", y, p), LENIENT, ENFORCE, evidence)
    assert failed(decision) == ["pinned_set_comparison"] and not decision.promote
    assert "pinned_set_comparison (pinned evaluation set (version 0): only 12 of 240" in decision.message


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code


def test_a_model_trained_on_inverted_labels_with_a_small_holdout_does_not_replace_the_champion(
    spark, telco_sample, tmp_path, capsys
):
    """Real Telco rows: the champion is honest; the feed is re-sent with every label flipped and the challenger
    trained with a 5 % hold-out, so almost every pinned row is in its training data."""
    workdir, landing, report = tmp_path / "work", tmp_path / "landing", tmp_path / "gate.json"
    landing.mkdir()
    sample = pd.read_csv(telco_sample, dtype=str, keep_default_na=False)
    sample.to_csv(landing / "day1.csv", index=False)
    common = ["--workdir", str(workdir)]
    gate = ["--min-roc-auc", "0.75", "--max-fairness-gap", "0.6", "--report-out", str(report)]
    assert run_cli("ingest", "--input", str(landing), *common) == 0
    assert run_cli("train", *common, "--cv-folds", "2", "--seed", "5") == 0
    assert run_cli("validate", *common, *gate) == 0

    sample.assign(Churn=sample["Churn"].map({"Yes": "No", "No": "Yes"})).to_csv(
        landing / "day2.csv", index=False
    )
    assert run_cli("ingest", "--input", str(landing), *common) == 0
    assert run_cli("train", *common, "--cv-folds", "2", "--seed", "5", "--holdout-fraction", "0.05") == 0
    capsys.readouterr()
    code = run_cli("validate", *common, *gate)

    payload = json.loads(report.read_text())
    assert code == 1 and payload["promoted"] is False
    assert "pinned_set_comparison" in [c["name"] for c in payload["checks"] if not c["passed"]]
    assert payload["pinned_evaluation"]["compared"] is False
    assert "pinned_set_comparison" in capsys.readouterr().out  # the table names it too
    local_runtime(workdir).tracking.activate()
    assert MlflowClient().get_registered_model("churn").aliases[CHAMPION] == 1


def test_the_judgement_thresholds_are_job_parameters(tmp_path, capsys, monkeypatch):
    """The platform maps them per env as `churn validate` / `churn pipeline` options (issue 23)."""
    import churn.jobs.validate

    assert run_cli("validate", "--workdir", str(tmp_path), "--min-training-rows", "0") == 2
    assert (
        capsys.readouterr().err.strip().splitlines()[-1] == "error: --min-training-rows: 0 must be at least 1"
    )
    assert run_cli("validate", "--workdir", str(tmp_path), "--max-roc-auc", "1.5") == 2
    assert "--max-roc-auc: 1.5 must be between 0 and 1" in capsys.readouterr().err

    seen = []
    monkeypatch.setattr(
        churn.jobs.validate, "run_validate", lambda runtime, thresholds, **_: seen.append(thresholds) or 1 / 0
    )
    (tmp_path / "tables").mkdir()
    options = ["--min-training-rows", "50", "--min-minority-share", "0.1", "--max-roc-auc", "0.9",
               "--min-pinned-agreement", "0.3", "--min-pinned-rows", "20"]  # fmt: skip
    assert run_cli("validate", "--workdir", str(tmp_path), *options) == 3  # the stub raised after recording
    assert seen == [GateThresholds(min_training_rows=50, min_minority_share=0.1, max_roc_auc=0.9,
                                   min_pinned_agreement=0.3, min_pinned_rows=20)]  # fmt: skip
