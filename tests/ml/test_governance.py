"""The validation gate, reproduction and monitoring on a 1,200-row sample, through the CLI as the jobs run them.

One work directory, in order: a weak first challenger is refused (no champion), a real model passes and becomes
champion, a weak challenger is blocked (enforce) or only reported (dry-run) while the champion stays, a retrained
model passes and takes over; its run reproduces exactly; the monitor appends to the monitoring table."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from churn.cli import main
from churn.features import NUMERIC_FEATURES
from churn.jobs.train import HOLDOUT_PREDICTIONS
from churn.runtime import EVALUATION, MONITORING, local_runtime
from churn.tracking import CHALLENGER, CHAMPION, THRESHOLD_TAG, register
from mlflow.tracking import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

GATE = ["--min-roc-auc", "0.75", "--max-roc-auc-drop", "0.01", "--max-fairness-gap", "0.6"]


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code


def aliases() -> dict[str, str]:
    return {a: str(v) for a, v in MlflowClient().get_registered_model("churn").aliases.items()}


def register_weak_challenger(workdir: Path, like_run_id: str) -> str:
    """A real but poor model (one feature), recorded with the same data versions and split as `like_run_id`."""
    runtime = local_runtime(workdir)
    runtime.tracking.activate()
    like = MlflowClient().get_run(like_run_id)
    frame = runtime.store.read("churn_features").toPandas()
    labels = runtime.store.read("churn_silver").select("customerID", "Churn").toPandas()
    frame = frame.merge(labels, on="customerID")
    weak = Pipeline(
        [("preprocess", ColumnTransformer([("one", "passthrough", ["monthly_charges"])])),
         ("model", LogisticRegression())]
    ).fit(frame[NUMERIC_FEATURES], frame["Churn"].astype(int))  # fmt: skip
    with mlflow.start_run(run_name="weak") as run:
        mlflow.set_tags({k: v for k, v in like.data.tags.items() if k.startswith("data_")})
        mlflow.log_params({k: like.data.params[k] for k in ("seed", "cv_folds", "holdout_fraction")})
        info = mlflow.sklearn.log_model(weak, name="model", pyfunc_predict_fn="predict_proba")
    version, _ = register(info.model_uri, "churn", tags={THRESHOLD_TAG: "0.5"})
    assert run.info.run_id
    return str(version.version)


@pytest.fixture(scope="module")
def governed(spark, telco_sample, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("governed")
    assert run_cli("ingest", "--input", str(telco_sample), "--workdir", str(workdir)) == 0
    return workdir


def validate(workdir: Path, report: Path, *extra: str) -> tuple[int, dict]:
    code = run_cli("validate", "--workdir", str(workdir), *GATE, "--report-out", str(report), *extra)
    return code, json.loads(report.read_text())


def test_gate_promotes_only_passing_challengers(governed, tmp_path):
    workdir, report = governed, tmp_path / "gate.json"
    assert run_cli("train", "--workdir", str(workdir), "--cv-folds", "2", "--seed", "5") == 0
    first_run = MlflowClient().get_model_version("churn", "1").run_id
    assert aliases() == {CHALLENGER: "1"}  # training alone never names a champion

    # v2: weak, and there is no champion yet -> enforce refuses it, exit 1, still no champion
    assert register_weak_challenger(workdir, first_run) == "2"
    code, payload = validate(workdir, report)
    assert code == 1 and payload["passed"] is False and payload["promoted"] is False
    assert [c["name"] for c in payload["checks"] if not c["passed"]] == ["roc_auc_floor"]
    assert CHAMPION not in aliases()
    # ... and dry-run does not install it either: a model below the floors never becomes champion
    code, payload = validate(workdir, report, "--mode", "dry-run")
    assert code == 0 and payload["promoted"] is False and CHAMPION not in aliases()
    assert (
        payload["message"]
        == "no champion yet and version 2 failed roc_auc_floor: no champion is set (dry-run)"
    )

    # v3: a real model -> first champion
    assert run_cli("train", "--workdir", str(workdir), "--cv-folds", "2", "--seed", "5") == 0
    code, payload = validate(workdir, report)
    assert (code, payload["passed"], payload["champion_version_after"]) == (0, True, "3")
    assert "no champion yet" in payload["message"]
    assert aliases() == {CHALLENGER: "3", CHAMPION: "3"}

    # v4: weak again -> blocked in enforce mode, champion stays v3, report compares both on one hold-out
    champion_run = MlflowClient().get_model_version("churn", "3").run_id
    assert register_weak_challenger(workdir, champion_run) == "4"
    code, payload = validate(workdir, report)
    assert code == 1 and aliases()[CHAMPION] == "3"
    failed = {c["name"] for c in payload["checks"] if not c["passed"]}
    assert failed == {
        "roc_auc_floor",
        "roc_auc_drop_vs_champion",
        "roc_auc_drop_on_pinned_set",
        "pinned_agreement",
    }
    assert payload["champion"]["version"] == "3" and payload["holdout"]["rows"] == "240"
    assert payload["pinned_evaluation"]["rows"] == 240  # v3's hold-out, pinned when it became champion
    assert payload["message"] == (
        "version 4 failed roc_auc_floor, roc_auc_drop_vs_champion, roc_auc_drop_on_pinned_set (240 pinned rows "
        "the challenger never trained on), pinned_agreement (240 pinned rows); champion stays version 3"
    )

    # dry-run never moves the champion and never fails the job
    code, payload = validate(workdir, report, "--mode", "dry-run")
    assert code == 0 and payload["passed"] is False and aliases()[CHAMPION] == "3"

    # v5: retrained with the same seed on the same data -> as good as v3 -> passes and takes over
    assert run_cli("train", "--workdir", str(workdir), "--cv-folds", "2", "--seed", "5") == 0
    code, payload = validate(workdir, report)
    assert code == 0 and aliases() == {CHALLENGER: "5", CHAMPION: "5"}
    drop = next(c for c in payload["checks"] if c["name"] == "roc_auc_drop_vs_champion")
    assert drop["observed"] == pytest.approx(0.0, abs=1e-12)

    # the report is an MLflow artifact of its own run: JSON plus a readable page with the plots inlined
    artifacts = {a.path for a in MlflowClient().list_artifacts(payload["validation_run_id"], "validation")}
    assert {"validation/validation_report.json", "validation/validation_report.html"} <= artifacts
    page = Path(
        MlflowClient().download_artifacts(
            payload["validation_run_id"], "validation/validation_report.html", str(tmp_path)
        )
    )
    assert "data:image/png;base64," in page.read_text() and "equalized odds" in page.read_text()  # fmt: skip


def test_training_records_fairness_and_what_reproduction_needs(governed):
    local_runtime(governed).tracking.activate()
    run = MlflowClient().get_run(MlflowClient().get_model_version("churn", "1").run_id)
    for attribute in ("gender", "senior_citizen", "partner", "dependents"):
        assert 0.0 <= run.data.metrics[f"fairness_{attribute}_equalized_odds_difference"] <= 1.0
    for tag in (
        "data_features_version",
        "data_labels_version",
        "data_content_sha256",
        "code_git_commit",
        "code_churn_version",
        "env_scikit_learn",
        "env_numpy",
        "env_pandas",
        "env_python",
        "env_spark",
    ):
        assert run.data.tags[tag], tag  # fmt: skip
    assert {"seed", "cv_folds", "holdout_fraction"} <= run.data.params.keys()
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "evaluation")}
    assert {
        f"evaluation/{HOLDOUT_PREDICTIONS}",
        "evaluation/fairness.png",
        "evaluation/fairness.json",
    } <= artifacts


def test_reproduce_matches_a_recorded_run_exactly(governed, tmp_path):
    local_runtime(governed).tracking.activate()
    run_id = MlflowClient().get_model_version("churn", "3").run_id
    report = tmp_path / "reproduce.json"
    assert run_cli("reproduce", run_id, "--workdir", str(governed), "--report-out", str(report)) == 0
    payload = json.loads(report.read_text())
    assert payload["matches"] is True and payload["metric_differences"] == {}
    assert payload["predictions_compared"] == 240 and payload["predictions_max_abs_difference"] == 0.0


def test_reproduce_reports_a_mismatch_with_exit_1(governed, tmp_path, capsys):
    local_runtime(governed).tracking.activate()
    run_id = MlflowClient().get_model_version("churn", "3").run_id
    MlflowClient().log_metric(run_id, "roc_auc", 0.5)  # the record now disagrees with what the data gives
    assert run_cli("reproduce", run_id, "--workdir", str(governed)) == 1
    assert "mismatch: metrics differ: roc_auc" in capsys.readouterr().err


def test_reproduce_an_unknown_run_is_bad_input(governed, capsys):
    assert run_cli("reproduce", "no-such-run", "--workdir", str(governed)) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: RUN_ID: no run 'no-such-run'")


def test_monitor_defaults_compare_champion_training_data_with_the_latest_scores(governed, tmp_path):
    assert run_cli("score", "--workdir", str(governed)) == 0
    report = tmp_path / "drift.json"
    assert run_cli("monitor", "--workdir", str(governed), "--report-out", str(report), "--fail-on-drift") == 0
    payload = json.loads(report.read_text())
    assert payload["drift_detected"] is False
    assert payload["reference"].startswith("churn_features@") and payload["current"].startswith(
        "churn_predictions"
    )
    assert payload["prediction"]["drifted"] is False and payload["performance"]["decayed"] is False
    table = local_runtime(governed).store.read(MONITORING).toPandas()
    assert set(table["check"]) == {"feature", "prediction", "performance"}
    assert len(table) == len(payload["features"]) + 2


def test_a_model_trained_on_a_broken_feed_is_refused(spark, telco_raw, telco_sample, tmp_path):
    """Tenure stuck at one value in a re-landed feed: the challenger's own hold-out comes from the broken data,
    so only the pinned evaluation set and the drift of its training data from the champion's catch it."""
    workdir, report, landing = tmp_path / "work", tmp_path / "gate.json", tmp_path / "landing"
    landing.mkdir()
    sample = pd.read_csv(telco_sample, dtype=str, keep_default_na=False)
    sample.to_csv(landing / "day1.csv", index=False)
    assert run_cli("ingest", "--input", str(landing), "--workdir", str(workdir)) == 0
    assert run_cli("train", "--workdir", str(workdir), "--cv-folds", "2", "--seed", "5") == 0
    code, payload = validate(workdir, report)
    assert code == 0 and aliases()[CHAMPION] == "1"
    pinned = MlflowClient().get_model_version("churn", "1").tags["evaluation_table_version"]
    evaluation = local_runtime(workdir).store.read(EVALUATION, version=int(pinned))
    assert evaluation.count() == 240  # the first champion's hold-out, pinned

    sample.assign(tenure="1").to_csv(landing / "day2_broken.csv", index=False)
    assert run_cli("ingest", "--input", str(landing), "--workdir", str(workdir)) == 0
    assert run_cli("train", "--workdir", str(workdir), "--cv-folds", "2", "--seed", "5") == 0
    code, payload = validate(workdir, report)

    assert code == 1 and aliases()[CHAMPION] == "1"
    failed = {c["name"]: c for c in payload["checks"] if not c["passed"]}
    assert "training_data_drift" in failed
    assert "tenure_months" in payload["training_data_drift"]["drifted_features"]
    assert "tenure_months: PSI" in failed["training_data_drift"]["detail"]
    assert payload["pinned_evaluation"]["rows"] == 240
    assert payload["pinned_evaluation"]["champion"]["version"] == "1"
    assert "training_data_drift (tenure_months: PSI" in payload["message"]
