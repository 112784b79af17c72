"""Validation job: the `challenger` and the current `champion` scored on the challenger's own hold-out
(rebuilt from the data versions, seed and split recorded on its training run), the gate's checks, the
`champion` alias moved only for a passing challenger, and a report logged to MLflow."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from churn.errors import ChurnError
from churn.fairness import fairness_report
from churn.gate import ENFORCE, GateDecision, GateThresholds, ModelScores, decide
from churn.jobs import Report, no_report
from churn.jobs.train import DataVersions, TrainSettings, load_training_frame, sensitive_groups
from churn.modeling import Split, holdout_metrics, stratified_split
from churn.runtime import Runtime
from churn.tracking import CHALLENGER, CHAMPION, THRESHOLD_TAG, alias_version, promote
from churn.validation_report import report_payload, write_validation_report


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


def rebuild_holdout(runtime: Runtime, recorded: RecordedRun) -> tuple[Split, dict[str, str]]:
    frame, lineage = load_training_frame(runtime, recorded.versions)
    if lineage["data_content_sha256"] != recorded.content_sha256:
        raise ChurnError(
            f"run {recorded.run_id}: the features/labels at versions {recorded.versions.features}/"
            f"{recorded.versions.labels} no longer hash to the recorded content"
        )
    split = stratified_split(
        frame, holdout_fraction=recorded.settings.holdout_fraction, seed=recorded.settings.seed
    )
    return split, lineage


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
    split, lineage = rebuild_holdout(runtime, RecordedRun.of(challenger_version.run_id))
    report("scoring challenger and champion on it")
    challenger, challenger_probability = score_version(name, challenger_version, split)
    probabilities = {f"challenger v{challenger.version}": challenger_probability}
    champion = None
    if champion_version is not None:
        champion, probabilities[f"champion v{champion_version.version}"] = score_version(
            name, champion_version, split
        )
    decision = decide(challenger, champion, thresholds, mode)

    report("logging the validation report")
    holdout = {k: v for k, v in lineage.items() if k.startswith("data_")} | {
        "rows": str(len(split.y_holdout))
    }
    payload = report_payload(name, decision, asdict(thresholds), challenger, champion, holdout)
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
