"""Validation job: the `challenger` and the current `champion` scored on the challenger's own hold-out
(rebuilt from the data versions, seed and split recorded on its training run) and on the pinned evaluation set
(a Delta table version recorded with the champion, so a broken new feed cannot make the champion look worse),
the drift of the challenger's training data from the champion's, the gate's checks, the `champion` alias moved
only for a passing challenger, and a report logged to MLflow."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from scipy.stats import spearmanr

from churn.drift import drift_report
from churn.errors import ChurnError
from churn.fairness import fairness_report
from churn.features import FEATURE_COLUMNS, KEY, LABEL
from churn.gate import ENFORCE, Evidence, GateDecision, GateThresholds, ModelScores, decide
from churn.jobs import Report, no_report
from churn.jobs.train import DataVersions, TrainSettings, load_training_frame, sensitive_groups
from churn.modeling import Split, holdout_metrics, stratified_split
from churn.runtime import EVALUATION, Runtime
from churn.thresholds import DriftThresholds
from churn.tracking import CHALLENGER, CHAMPION, THRESHOLD_TAG, alias_version, promote
from churn.validation_report import report_payload, write_validation_report

# Model version tag naming the Delta version of the pinned evaluation set the champion is judged on.
EVALUATION_VERSION_TAG = "evaluation_table_version"


@dataclass(frozen=True)
class ValidationResult:
    model_name: str
    decision: GateDecision
    challenger: ModelScores
    champion: ModelScores | None
    champion_version: str | None  # after the gate
    validation_run_id: str
    payload: dict[str, object]


@dataclass(frozen=True)
class RecordedRun:
    """What a training run recorded about its data and split: enough to rebuild its exact hold-out."""

    run_id: str
    versions: DataVersions
    settings: TrainSettings
    content_sha256: str

    @classmethod
    def of(cls, run_id: str) -> RecordedRun:
        run = MlflowClient().get_run(run_id)
        tags, params = run.data.tags, run.data.params
        try:
            return cls(
                run_id=run_id,
                versions=DataVersions(int(tags["data_features_version"]), int(tags["data_labels_version"])),
                settings=TrainSettings(
                    seed=int(params["seed"]),
                    cv_folds=int(params["cv_folds"]),
                    holdout_fraction=float(params["holdout_fraction"]),
                ),
                content_sha256=tags["data_content_sha256"],
            )
        except KeyError as exc:
            raise ChurnError(
                f"run {run_id}: no {exc.args[0]} recorded; it was not made by `churn train`"
            ) from exc


def recorded_frame(runtime: Runtime, recorded: RecordedRun) -> tuple[pd.DataFrame, dict[str, str]]:
    """The training frame of a recorded run, checked against the content hash it recorded."""
    frame, lineage = load_training_frame(runtime, recorded.versions)
    if lineage["data_content_sha256"] != recorded.content_sha256:
        raise ChurnError(
            f"run {recorded.run_id}: the features/labels at versions {recorded.versions.features}/"
            f"{recorded.versions.labels} no longer hash to the recorded content"
        )
    return frame, lineage


def rebuild_holdout(runtime: Runtime, recorded: RecordedRun) -> tuple[Split, dict[str, str]]:
    frame, lineage = recorded_frame(runtime, recorded)
    split = stratified_split(
        frame, holdout_fraction=recorded.settings.holdout_fraction, seed=recorded.settings.seed
    )
    return split, lineage


def pinned_split(frame: pd.DataFrame) -> Split:
    """An evaluation-only split: every row is hold-out."""
    empty = frame.iloc[:0]
    return Split(empty[FEATURE_COLUMNS], np.array([], dtype=int), frame[FEATURE_COLUMNS],
                 frame[LABEL].to_numpy(dtype=int), frame)  # fmt: skip


def gather_evidence(
    runtime: Runtime,
    name: str,
    challenger_version: ModelVersion,
    champion_version: ModelVersion,
    challenger_frame: pd.DataFrame,
    split: Split,
    thresholds: GateThresholds,
) -> Evidence:
    """The champion-side checks: training-data drift and the pinned evaluation set."""
    champion_frame, _ = recorded_frame(runtime, RecordedRun.of(champion_version.run_id))
    drift = drift_report(champion_frame, challenger_frame, FEATURE_COLUMNS, DriftThresholds())
    drifted = Evidence(
        drifted_features=tuple(drift.drifted_features),
        drift_detail="; ".join(f"{f.name}: {f.reason}" for f in drift.features if f.drifted),
    )
    pinned_version = champion_version.tags.get(EVALUATION_VERSION_TAG)
    if pinned_version is None or not runtime.store.exists(EVALUATION):
        problem = f"champion version {champion_version.version} has no pinned evaluation set"
        return replace(drifted, pinned_problem=problem, notes=(problem,))
    pinned = runtime.store.read(EVALUATION, version=int(pinned_version)).toPandas()
    # Rows the challenger trained on would flatter it: only the pinned rows it never saw are compared.
    trained_on = set(challenger_frame[KEY]) - set(split.holdout[KEY])
    unseen = pinned[~pinned[KEY].isin(trained_on)].sort_values(KEY).reset_index(drop=True)
    if len(unseen) < thresholds.min_pinned_rows or unseen[LABEL].nunique() < 2:
        problem = (
            f"pinned evaluation set (version {pinned_version}): only {len(unseen)} of {len(pinned)} rows were "
            f"not trained on by the challenger (need {thresholds.min_pinned_rows} of both classes)"
        )
        return replace(
            drifted, pinned_rows=len(unseen), pinned_problem=problem, notes=(f"{problem}; not compared",)
        )
    evaluation = pinned_split(unseen)
    pinned_challenger, challenger_probability = score_version(name, challenger_version, evaluation)
    pinned_champion, champion_probability = score_version(name, champion_version, evaluation)
    return replace(
        drifted,
        pinned_challenger=pinned_challenger,
        pinned_champion=pinned_champion,
        pinned_rows=len(unseen),
        pinned_agreement=rank_agreement(challenger_probability, champion_probability),
    )


def rank_agreement(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation; 0 when either model gives every row the same score (no ranking to share)."""
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    return float(spearmanr(first, second).statistic)


def pin_evaluation_set(runtime: Runtime, name: str, new_champion: str, previous: ModelVersion | None,
                       split: Split) -> str:  # fmt: skip
    """Keep the champion's pinned evaluation set; the first champion pins its own hold-out."""
    if previous is not None and previous.tags.get(EVALUATION_VERSION_TAG) is not None:
        version = previous.tags[EVALUATION_VERSION_TAG]
    else:
        store = runtime.store
        store.overwrite(EVALUATION, runtime.spark.createDataFrame(split.holdout))
        version = str(store.version(EVALUATION))
    MlflowClient().set_model_version_tag(name, new_champion, EVALUATION_VERSION_TAG, version)
    return version


def score_version(model_name: str, version: ModelVersion, split: Split) -> tuple[ModelScores, np.ndarray]:
    model = mlflow.sklearn.load_model(f"models:/{model_name}/{version.version}")
    probability = model.predict_proba(split.x_holdout)[:, 1]
    threshold = float(version.tags.get(THRESHOLD_TAG, 0.5))
    scores = ModelScores(
        version=str(version.version),
        run_id=version.run_id,
        threshold=threshold,
        metrics=holdout_metrics(split.y_holdout, probability, threshold),
        fairness=fairness_report(split.y_holdout, probability, threshold, sensitive_groups(split.holdout)),
    )
    return scores, probability


def run_validate(
    runtime: Runtime,
    thresholds: GateThresholds | None = None,
    *,
    mode: str = ENFORCE,
    report: Report = no_report,
) -> ValidationResult:
    thresholds = thresholds or GateThresholds()
    thresholds.validate()
    name = runtime.model_name
    runtime.tracking.activate()
    report("resolving challenger and champion")
    challenger_version = alias_version(name, CHALLENGER)
    if challenger_version is None:
        raise ChurnError(
            f"--model-name: model '{name}' has no '{CHALLENGER}' version; run `churn train` first"
        )
    champion_version = alias_version(name, CHAMPION)
    if champion_version is not None and champion_version.version == challenger_version.version:
        champion_version = None  # validating the champion again: nothing to compare it with

    report(f"rebuilding the hold-out of version {challenger_version.version}")
    recorded = RecordedRun.of(challenger_version.run_id)
    challenger_frame, lineage = recorded_frame(runtime, recorded)
    split = stratified_split(
        challenger_frame, holdout_fraction=recorded.settings.holdout_fraction, seed=recorded.settings.seed
    )
    report("scoring challenger and champion on it")
    challenger, challenger_probability = score_version(name, challenger_version, split)
    probabilities = {f"challenger v{challenger.version}": challenger_probability}
    champion = None
    if champion_version is not None:
        champion, probabilities[f"champion v{champion_version.version}"] = score_version(
            name, champion_version, split
        )
    evidence = Evidence()
    if champion_version is not None:
        report("comparing with the champion's training data and its pinned evaluation set")
        evidence = gather_evidence(
            runtime, name, challenger_version, champion_version, challenger_frame, split, thresholds
        )
    churn_share = float(challenger_frame[LABEL].mean()) if len(challenger_frame) else 0.0
    evidence = replace(
        evidence, training_rows=len(challenger_frame), minority_share=min(churn_share, 1 - churn_share)
    )
    decision = decide(challenger, champion, thresholds, mode, evidence)

    report("logging the validation report")
    holdout = {k: v for k, v in lineage.items() if k.startswith("data_")} | {
        "rows": str(len(split.y_holdout))
    }
    payload = report_payload(name, decision, asdict(thresholds), challenger, champion, holdout) | {
        "training_data": {"rows": evidence.training_rows, "minority_share": evidence.minority_share},
        "pinned_evaluation": {
            "rows": evidence.pinned_rows,
            "compared": not evidence.pinned_problem and evidence.pinned_challenger is not None,
            "problem": evidence.pinned_problem or None,
            "rank_agreement": evidence.pinned_agreement,
            "challenger": evidence.pinned_challenger.as_dict() if evidence.pinned_challenger else None,
            "champion": evidence.pinned_champion.as_dict() if evidence.pinned_champion else None,
        },
        "training_data_drift": {
            "drifted_features": list(evidence.drifted_features or []),
            "detail": evidence.drift_detail,
            "measured": evidence.drifted_features is not None,
        },
        "notes": list(evidence.notes),
    }
    with mlflow.start_run(run_name=f"validate-v{challenger.version}") as run:
        mlflow.set_tags({"validated_model_version": challenger.version, "validated_run_id": challenger.run_id,
                         "gate_mode": mode, "gate_passed": str(decision.passed).lower(),
                         "gate_promoted": str(decision.promote).lower()})  # fmt: skip
        mlflow.log_params({f"gate.{k}": v for k, v in asdict(thresholds).items()})
        mlflow.log_metrics({f"challenger_{k}": v for k, v in challenger.metrics.items()})
        mlflow.log_metrics(challenger.fairness.metrics("challenger_fairness"))
        if champion is not None:
            mlflow.log_metrics({f"champion_{k}": v for k, v in champion.metrics.items()})
            mlflow.log_metrics(champion.fairness.metrics("champion_fairness"))
        mlflow.log_metric("gate_passed", float(decision.passed))
        with tempfile.TemporaryDirectory() as tmp:
            write_validation_report(payload, split.y_holdout, probabilities, challenger, champion, Path(tmp))
            mlflow.log_artifacts(tmp, artifact_path="validation")
    # The report is logged before the alias moves: a champion is never without its validation record.
    if decision.promote:
        report(f"promoting version {challenger.version} to {CHAMPION}")
        pin_evaluation_set(runtime, name, challenger.version, champion_version, split)
        promote(name, challenger.version)
    client = MlflowClient()
    client.set_model_version_tag(
        name, challenger.version, "validation_status", "passed" if decision.passed else "failed"
    )
    client.set_model_version_tag(name, challenger.version, "validation_run_id", run.info.run_id)
    after = alias_version(name, CHAMPION)
    return ValidationResult(
        model_name=name,
        decision=decision,
        challenger=challenger,
        champion=champion,
        champion_version=str(after.version) if after else None,
        validation_run_id=run.info.run_id,
        payload=payload | {"champion_version_after": str(after.version) if after else None,
                           "validation_run_id": run.info.run_id},
    )  # fmt: skip
