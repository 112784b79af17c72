"""Training job: features + labels -> model comparison by stratified CV -> hold-out evaluation -> MLflow run
with artifacts and lineage -> registered version aliased `challenger` (and `champion` if it is the first)."""

from __future__ import annotations

import json
import platform
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from threadpoolctl import threadpool_limits

from churn import __version__
from churn.errors import ChurnError
from churn.evaluation_plots import write_evaluation_artifacts
from churn.features import FEATURE_COLUMNS, LABEL, labels, training_frame
from churn.jobs import Report, no_report
from churn.lineage import content_hash, git_commit
from churn.modeling import (
    CANDIDATES,
    Split,
    cross_validate,
    f1_optimal_threshold,
    holdout_metrics,
    stratified_split,
)
from churn.runtime import FEATURES, SILVER, Runtime
from churn.tracking import THRESHOLD_TAG, register


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 42
    cv_folds: int = 5
    holdout_fraction: float = 0.2

    def validate(self) -> None:
        if self.cv_folds < 2:
            raise ChurnError(f"--cv-folds: {self.cv_folds} is too few; use at least 2")
        if not 0.05 <= self.holdout_fraction <= 0.5:
            raise ChurnError(f"--holdout-fraction: {self.holdout_fraction} must be between 0.05 and 0.5")


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_name: str
    model_version: str
    aliases: list[str]
    chosen_model: str
    decision_threshold: float
    metrics: dict[str, float]
    cv: dict[str, dict[str, float]]

    def summary(self) -> dict[str, object]:
        """Hold-out and CV metrics with what was registered: the shape of `--metrics-out`."""
        return {
            **{name: round(value, 6) for name, value in self.metrics.items()},
            "model_name": self.model_name,
            "model_version": self.model_version,
            "aliases": self.aliases,
            "chosen_model": self.chosen_model,
            "decision_threshold": round(self.decision_threshold, 6),
            "run_id": self.run_id,
        }


def load_training_frame(runtime: Runtime) -> tuple[pd.DataFrame, dict[str, str]]:
    """The labelled feature rows as pandas (a training set fits in memory by design), plus lineage tags."""
    store = runtime.store
    store.require(FEATURES)
    store.require(SILVER)
    versions = {FEATURES: store.version(FEATURES), SILVER: store.version(SILVER)}
    frame = training_frame(store.read(FEATURES), labels(store.read(SILVER))).toPandas()
    lineage = {
        "data_features_table": store.location(FEATURES),
        "data_features_version": str(versions[FEATURES]),
        "data_labels_table": store.location(SILVER),
        "data_labels_version": str(versions[SILVER]),
        "data_row_count": str(len(frame)),
        "data_content_sha256": content_hash(frame),
        "code_git_commit": git_commit(),
        "code_churn_version": __version__,
        "env_python": platform.python_version(),
        "env_scikit_learn": sklearn.__version__,
        "env_mlflow": mlflow.__version__,
    }
    return frame, lineage


def _check_trainable(frame: pd.DataFrame, settings: TrainSettings) -> None:
    counts = frame[LABEL].value_counts()
    smallest = int(counts.min()) if len(counts) == 2 else 0
    if smallest < 2 * settings.cv_folds:
        raise ChurnError(
            f"training data: {len(frame)} labelled rows with {smallest} in the rarer class; "
            f"need at least {2 * settings.cv_folds} of each class for {settings.cv_folds}-fold CV"
        )


def run_train(
    runtime: Runtime, settings: TrainSettings | None = None, *, report: Report = no_report
) -> TrainResult:
    settings = settings or TrainSettings()
    settings.validate()
    runtime.tracking.activate()
    report("loading features and labels")
    frame, lineage = load_training_frame(runtime)
    _check_trainable(frame, settings)
    split = stratified_split(frame, holdout_fraction=settings.holdout_fraction, seed=settings.seed)
    # A few thousand rows: OpenMP thread sync costs more than it saves, and on a busy machine two spinning
    # threads per fit made gradient boosting ~10x slower. One thread is fast everywhere.
    with threadpool_limits(limits=1, user_api="openmp"):
        return _train_and_log(runtime, settings, split, lineage, report)


def _train_and_log(
    runtime: Runtime, settings: TrainSettings, split: Split, lineage: dict[str, str], report: Report
) -> TrainResult:
    cv_results = {}
    for name, build in CANDIDATES.items():
        report(f"cross-validating {name} ({settings.cv_folds} folds)")
        cv_results[name] = cross_validate(
            name,
            build(settings.seed),
            split.x_train,
            split.y_train,
            folds=settings.cv_folds,
            seed=settings.seed,
        )
    best = max(cv_results.values(), key=lambda result: result.mean)
    threshold = f1_optimal_threshold(split.y_train, best.out_of_fold)

    report(f"fitting {best.name} and evaluating on the hold-out")
    model = CANDIDATES[best.name](settings.seed).fit(split.x_train, split.y_train)
    probability = model.predict_proba(split.x_holdout)[:, 1]
    metrics = holdout_metrics(split.y_holdout, probability, threshold)
    metrics["cv_roc_auc_mean"] = best.mean
    metrics["cv_roc_auc_std"] = best.std

    report("logging the run to MLflow")
    with mlflow.start_run(run_name=f"train-{best.name}") as run:
        mlflow.set_tags(lineage)
        mlflow.log_params(
            {
                "seed": settings.seed,
                "cv_folds": settings.cv_folds,
                "holdout_fraction": settings.holdout_fraction,
                "train_rows": len(split.y_train),
                "holdout_rows": len(split.y_holdout),
                "chosen_model": best.name,
                "decision_threshold": threshold,
                "features": ",".join(FEATURE_COLUMNS),
            }
        )
        mlflow.log_params({f"model.{k}": v for k, v in model.named_steps["model"].get_params().items()})
        mlflow.log_metrics(metrics)
        for result in cv_results.values():
            mlflow.log_metrics(
                {f"cv_{result.name}_roc_auc_mean": result.mean, f"cv_{result.name}_roc_auc_std": result.std}
            )
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            write_evaluation_artifacts(
                model,
                split.x_holdout,
                split.y_holdout,
                probability,
                threshold,
                out / "evaluation",
                seed=settings.seed,
            )
            cv_table = {
                r.name: {"fold_roc_auc": r.fold_roc_auc, "mean": r.mean, "std": r.std}
                for r in cv_results.values()
            }
            (out / "evaluation" / "cross_validation.json").write_text(json.dumps(cv_table, indent=2))
            mlflow.log_artifacts(str(out / "evaluation"), artifact_path="evaluation")

        example = split.x_train.head(5)
        with warnings.catch_warnings():
            # MLflow warns that integer columns cannot hold missing values; the contract rejects those rows.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            signature = infer_signature(example, model.predict_proba(example))
        model_info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            pyfunc_predict_fn="predict_proba",
        )
        report("registering the model")
        version, aliases = register(
            model_info.model_uri,
            runtime.model_name,
            tags={THRESHOLD_TAG: f"{threshold:.6f}", "chosen_model": best.name, **lineage},
        )
    return TrainResult(
        run_id=run.info.run_id,
        model_name=runtime.model_name,
        model_version=str(version.version),
        aliases=aliases,
        chosen_model=best.name,
        decision_threshold=threshold,
        metrics=metrics,
        cv={r.name: {"mean": r.mean, "std": r.std} for r in cv_results.values()},
    )
