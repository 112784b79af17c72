"""Training job: features + labels -> model comparison by stratified CV -> hold-out evaluation and fairness ->
MLflow run with artifacts and a reproduction record -> registered version aliased `challenger`.

Who becomes `champion` is the validation gate's decision (`churn validate`), never training's."""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from importlib.metadata import version as installed_version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from churn.errors import ChurnError
from churn.evaluation_plots import write_evaluation_artifacts
from churn.fairness import FairnessReport, fairness_report, plot_fairness
from churn.features import (
    FEATURE_COLUMNS,
    KEY,
    LABEL,
    SENSITIVE_ATTRIBUTES,
    SENSITIVE_PREFIX,
    labels,
    sensitive_attributes,
    training_frame,
)
from churn.jobs import Report, no_report
from churn.lineage import code_and_environment, content_hash
from churn.modeling import (
    CANDIDATES,
    CrossValidation,
    Split,
    cross_validate,
    f1_optimal_threshold,
    holdout_metrics,
    stratified_split,
)
from churn.runtime import FEATURES, SILVER, Runtime
from churn.tracking import THRESHOLD_TAG, TRAINING_ATTEMPT_TAG, register

SENSITIVE_COLUMNS = [f"{SENSITIVE_PREFIX}{name}" for name in SENSITIVE_ATTRIBUTES.values()]
# The logged model's pip requirements, pinned to the versions that trained it. Left to itself MLflow infers this
# very list by unpickling the model in a fresh Python process, several CPU seconds on every training run; the
# list is what either candidate pipeline imports when unpickled, plus MLflow and cloudpickle (its serialisation).
# tests/ml/test_model_requirements.py checks it against MLflow's inference.
MODEL_PACKAGES = ("mlflow", "cloudpickle", "numpy", "pandas", "scikit-learn", "scipy")


def model_requirements() -> list[str]:
    # MLflow pins itself at the version that runs (mlflow.__version__): the ML runtimes ship it as the
    # `mlflow-skinny` distribution, with no `mlflow` one for importlib.metadata to find.
    return [
        f"{name}=={mlflow.__version__ if name == 'mlflow' else installed_version(name)}"
        for name in MODEL_PACKAGES
    ]


HOLDOUT_PREDICTIONS = "holdout_predictions.csv"


def sensitive_groups(rows: pd.DataFrame) -> pd.DataFrame:
    """The sensitive attributes of `rows`, one column per attribute under its report name."""
    return rows[SENSITIVE_COLUMNS].rename(columns=lambda c: c.removeprefix(SENSITIVE_PREFIX))


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


@dataclass(frozen=True)
class Fitted:
    """What one training pass produced, before anything is logged: shared by `train` and `reproduce`."""

    model: Pipeline
    chosen_model: str
    threshold: float
    metrics: dict[str, float]
    cv_results: dict[str, CrossValidation]
    split: Split
    holdout_probability: np.ndarray
    fairness: FairnessReport

    def holdout_predictions(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                KEY: self.split.holdout[KEY],
                LABEL: self.split.y_holdout,
                "churn_probability": self.holdout_probability,
            }
        )


@dataclass(frozen=True)
class DataVersions:
    features: int | None = None
    labels: int | None = None


def load_training_frame(
    runtime: Runtime, versions: DataVersions = DataVersions()
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Labelled feature rows with the sensitive attributes, as pandas (a training set fits in memory by
    design), ordered by key so that the split depends only on the data; plus the data lineage tags.

    `versions` reads the tables as of earlier Delta versions (validation and reproduction of a recorded run).
    """
    store = runtime.store
    store.require(FEATURES)
    store.require(SILVER)
    features_version = versions.features if versions.features is not None else store.version(FEATURES)
    labels_version = versions.labels if versions.labels is not None else store.version(SILVER)
    silver = store.read(SILVER, version=labels_version)
    frame = (
        training_frame(store.read(FEATURES, version=features_version), labels(silver))
        .join(sensitive_attributes(silver), on=KEY, how="left")
        .toPandas()
        .sort_values(KEY, kind="stable")
        .reset_index(drop=True)
    )
    customers = frame[KEY].nunique()
    if customers != len(frame):
        # One row per customer (contract.py): a table written before that rule, or by another writer.
        raise ChurnError(
            f"training data: {len(frame)} rows for {customers} customers in '{store.location(FEATURES)}' "
            f"(version {features_version}) and '{store.location(SILVER)}' (version {labels_version}); "
            "each customer must have one row: re-ingest into a fresh work directory or schema"
        )
    lineage = {
        "data_features_table": store.location(FEATURES),
        "data_features_version": str(features_version),
        "data_labels_table": store.location(SILVER),
        "data_labels_version": str(labels_version),
        "data_row_count": str(len(frame)),
        "data_content_sha256": content_hash(frame),
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


def fit_and_evaluate(frame: pd.DataFrame, settings: TrainSettings, report: Report = no_report) -> Fitted:
    """Pure and seeded: the same frame and settings give the same model, threshold and metrics."""
    _check_trainable(frame, settings)
    split = stratified_split(frame, holdout_fraction=settings.holdout_fraction, seed=settings.seed)
    # A few thousand rows: OpenMP thread sync costs more than it saves, and on a busy machine two spinning
    # threads per fit made gradient boosting ~10x slower. One thread is fast everywhere.
    with threadpool_limits(limits=1, user_api="openmp"):
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
    fairness = fairness_report(split.y_holdout, probability, threshold, sensitive_groups(split.holdout))
    return Fitted(model, best.name, threshold, metrics, cv_results, split, probability, fairness)


def run_train(
    runtime: Runtime, settings: TrainSettings | None = None, *, report: Report = no_report
) -> TrainResult:
    settings = settings or TrainSettings()
    settings.validate()
    runtime.tracking.activate()
    # The run starts before anything can fail, tagged as a training attempt: a job that crashes before it
    # registers a version still leaves a (FAILED) run, and the retrain cooldown counts from it (churn.retrain).
    with mlflow.start_run(run_name="train", tags={TRAINING_ATTEMPT_TAG: "true"}) as run:
        report("loading features and labels")
        frame, lineage = load_training_frame(runtime)
        fitted = fit_and_evaluate(frame, settings, report)
        lineage |= code_and_environment(runtime.spark.version)
        return _log_and_register(runtime, settings, fitted, lineage, report, run)


def _log_and_register(
    runtime: Runtime,
    settings: TrainSettings,
    fitted: Fitted,
    lineage: dict[str, str],
    report: Report,
    run: mlflow.ActiveRun,
) -> TrainResult:
    report("logging the run to MLflow")
    split, model = fitted.split, fitted.model
    MlflowClient().update_run(run.info.run_id, name=f"train-{fitted.chosen_model}")
    mlflow.set_tags(lineage)
    mlflow.log_params(
        {
            "seed": settings.seed,
            "cv_folds": settings.cv_folds,
            "holdout_fraction": settings.holdout_fraction,
            "train_rows": len(split.y_train),
            "holdout_rows": len(split.y_holdout),
            "chosen_model": fitted.chosen_model,
            "decision_threshold": fitted.threshold,
            "features": ",".join(FEATURE_COLUMNS),
            "sensitive_attributes": ",".join(SENSITIVE_ATTRIBUTES.values()),
        }
    )
    mlflow.log_params({f"model.{k}": v for k, v in model.named_steps["model"].get_params().items()})
    mlflow.log_metrics(fitted.metrics)
    mlflow.log_metrics(fitted.fairness.metrics())
    for result in fitted.cv_results.values():
        mlflow.log_metrics(
            {f"cv_{result.name}_roc_auc_mean": result.mean, f"cv_{result.name}_roc_auc_std": result.std}
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "evaluation"
        write_evaluation_artifacts(
            model,
            split.x_holdout,
            split.y_holdout,
            fitted.holdout_probability,
            fitted.threshold,
            out,
            seed=settings.seed,
        )
        cv_table = {
            r.name: {"fold_roc_auc": r.fold_roc_auc, "mean": r.mean, "std": r.std}
            for r in fitted.cv_results.values()
        }
        (out / "cross_validation.json").write_text(json.dumps(cv_table, indent=2))
        (out / "fairness.json").write_text(json.dumps(fitted.fairness.as_dict(), indent=2))
        plot_fairness(fitted.fairness, out / "fairness.png", title="hold-out rates by group")
        # Full precision, so `churn reproduce` can demand bit-identical predictions.
        fitted.holdout_predictions().to_csv(out / HOLDOUT_PREDICTIONS, index=False, float_format="%.17g")
        mlflow.log_artifacts(str(out), artifact_path="evaluation")

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
        pip_requirements=model_requirements(),
    )
    report("registering the model as challenger")
    version, aliases = register(
        model_info.model_uri,
        runtime.model_name,
        tags={THRESHOLD_TAG: f"{fitted.threshold:.6f}", "chosen_model": fitted.chosen_model, **lineage},
    )
    return TrainResult(
        run_id=run.info.run_id,
        model_name=runtime.model_name,
        model_version=str(version.version),
        aliases=aliases,
        chosen_model=fitted.chosen_model,
        decision_threshold=fitted.threshold,
        metrics=fitted.metrics,
        cv={r.name: {"mean": r.mean, "std": r.std} for r in fitted.cv_results.values()},
    )
