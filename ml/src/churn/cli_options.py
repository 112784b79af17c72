"""The `churn` command line's options (one definition serves every command) and the checks of their values that
run before anything starts. Kept apart from the commands (churn/cli.py) so each stays readable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from churn.errors import ChurnError
from churn.thresholds import GATE_MODES, DriftThresholds, GateThresholds

GATE = GateThresholds()
DRIFT = DriftThresholds()

Workdir = Annotated[
    Path | None,
    typer.Option("--workdir", help="Local run: Delta tables and the MLflow SQLite store live here."),
]
Catalog = Annotated[str | None, typer.Option("--catalog", help="Databricks run: Unity Catalog catalog.")]
Schema = Annotated[str | None, typer.Option("--schema", help="Databricks run: Unity Catalog schema.")]
ModelName = Annotated[
    str, typer.Option("--model-name", help="Registered model: a name, or catalog.schema.name on Databricks.")
]
ExperimentPath = Annotated[
    str | None,
    typer.Option(
        "--experiment-path", help="MLflow experiment (workspace path on Databricks; 'churn' locally)."
    ),
]
RawInput = Annotated[
    str,
    typer.Option(
        "--input", help="Raw CSV file or folder in the IBM Telco layout (local, /Volumes/..., abfss://)."
    ),
]
Seed = Annotated[int, typer.Option("--seed", help="Seed for the split, the CV folds and the models.")]
CvFolds = Annotated[int, typer.Option("--cv-folds", help="Stratified cross-validation folds.")]
HoldoutFraction = Annotated[
    float, typer.Option("--holdout-fraction", help="Share of rows kept for the hold-out.")
]
MetricsOut = Annotated[
    Path | None, typer.Option("--metrics-out", help="Write the metrics as JSON to this file.")
]
ReportOut = Annotated[
    Path | None, typer.Option("--report-out", help="Write the report as JSON to this file.")
]
GateMode = Annotated[
    str, typer.Option("--mode", help="enforce: only a passing challenger becomes champion, exit 1 if it fails; "
                      "dry-run: report only, never replace the champion.")
]  # fmt: skip
MinRocAuc = Annotated[float, typer.Option("--min-roc-auc", help="Gate: floor of the challenger's ROC AUC.")]
MaxRocAucDrop = Annotated[
    float, typer.Option("--max-roc-auc-drop", help="Gate: largest ROC AUC loss against the champion.")
]
MaxFairnessGap = Annotated[
    float, typer.Option("--max-fairness-gap", help="Gate: largest equalized odds difference over the groups.")
]
MinTrainingRows = Annotated[
    int, typer.Option("--min-training-rows", help="Gate: fewest labelled rows the challenger learned from.")
]
MinMinorityShare = Annotated[
    float,
    typer.Option("--min-minority-share", help="Gate: smallest share of the rarer class in training data."),
]
MaxRocAuc = Annotated[
    float, typer.Option("--max-roc-auc", help="Gate: ROC AUC ceiling; above it a leaked label is suspected.")
]
MinPinnedAgreement = Annotated[
    float,
    typer.Option(
        "--min-pinned-agreement", help="Gate: smallest rank correlation with the champion (pinned set)."
    ),
]
MinPinnedRows = Annotated[
    int,
    typer.Option("--min-pinned-rows", help="Gate: fewest pinned rows for a comparison with the champion."),
]
PsiThreshold = Annotated[float, typer.Option("--psi-threshold", help="Drift: PSI at which a shift matters.")]
Alpha = Annotated[
    float, typer.Option("--alpha", help="Drift: family-wise test level, Bonferroni-split over the features.")
]
MaxRocAucDecay = Annotated[
    float, typer.Option("--max-roc-auc-decay", help="Decay: largest tolerated ROC AUC drop on labelled rows.")
]
NumericBins = Annotated[int, typer.Option("--numeric-bins", help="Drift: quantile bins of numeric features.")]
MaxQuarantinedShare = Annotated[
    float | None,
    typer.Option(
        "--max-quarantined-share",
        help="Refuse a batch (exit 2, nothing written) when more than this share of its rows breaks the "
        "contract. Default: the contract's (0.1).",
    ),
]


def check_share(value: float | None) -> None:
    if value is not None and not 0 <= value <= 1:
        raise ChurnError(f"--max-quarantined-share: {value} must be between 0 and 1")


def gate_thresholds(
    min_roc_auc: float, max_roc_auc_drop: float, max_fairness_gap: float, mode: str, **judgement
):
    """`judgement`: the GateThresholds fields of the judgement checks (training rows, class balance, ...)."""
    if mode not in GATE_MODES:
        raise ChurnError(f"--mode: '{mode}' is not one of {', '.join(GATE_MODES)}")
    thresholds = GateThresholds(min_roc_auc, max_roc_auc_drop, max_fairness_gap, **judgement)
    thresholds.validate()
    return thresholds


def drift_thresholds(psi_threshold: float, alpha: float, max_roc_auc_decay: float, numeric_bins: int):
    thresholds = DriftThresholds(psi_threshold, alpha, max_roc_auc_decay, numeric_bins)
    thresholds.validate()
    return thresholds


def check_local_input(path: str) -> None:
    """Fail before anything is created when a local input is missing (remote URIs are checked by Spark)."""
    if "://" not in path and not path.startswith("dbfs:") and not os.path.exists(path):
        raise ChurnError(f"--input: '{path}' does not exist")


def check_metrics_out(path: Path | None, option: str = "--metrics-out") -> None:
    if path is not None and path.is_dir():
        raise ChurnError(f"{option}: '{path}' is a directory, expected a file name")


def runtime_for(
    workdir, catalog, schema, model_name, experiment_path, *, existing: bool = True, tracking: bool = True
):
    """`existing`: the command reads a work directory made by `ingest`/`pipeline`, so it must not create one.
    `tracking`: it uses MLflow (every command but `ingest`)."""
    from churn.runtime import runtime_from_options

    return runtime_from_options(
        workdir=workdir,
        catalog=catalog,
        schema=schema,
        model_name=model_name,
        experiment_path=experiment_path,
        existing_workdir=existing,
        uses_tracking=tracking,
    )


def train_settings(seed: int, cv_folds: int, holdout_fraction: float):
    from churn.jobs.train import TrainSettings

    settings = TrainSettings(seed=seed, cv_folds=cv_folds, holdout_fraction=holdout_fraction)
    settings.validate()
    return settings


def write_metrics(metrics: dict[str, object], path: Path | None) -> None:
    from churn.jobs.pipeline import write_json_atomically

    if path is not None:
        write_json_atomically(metrics, path)


# Commands that open a Spark session on a local run (`serve` does not).
_SPARK_COMMANDS = frozenset({"ingest", "train", "score", "pipeline", "validate", "monitor", "reproduce"})


# Commands that score with spark_udf: their Python workers come from a daemon that imported MLflow beforehand.
_SCORING_COMMANDS = frozenset({"pipeline", "score"})


def prestart_spark(argv: list[str]) -> None:
    """A local run of a Spark command: boot the JVM now, in the background, while Python imports scikit-learn and
    MLflow (a third of the start-up otherwise spent one after the other). Never on a Databricks cluster
    (DATABRICKS_RUNTIME_VERSION is set there): its session is the cluster's, not a second local JVM. The JVM's JIT
    compiler is chosen by the data the run reads (churn.jvm_jit); a bad CHURN_JVM_JIT is refused here."""
    command = next((a for a in argv if not a.startswith("-")), None)
    local = any(a == "--workdir" or a.startswith("--workdir=") for a in argv)
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return
    if command in _SPARK_COMMANDS and local and not {"--help", "-h"} & set(argv):
        from churn import jvm_jit
        from churn.spark_session import prestart_local_spark

        prestart_local_spark(
            warm_python_workers=command in _SCORING_COMMANDS, jit_options=jvm_jit.java_options(argv)
        )
