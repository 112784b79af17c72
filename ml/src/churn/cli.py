"""`churn` command line, also the wheel's entry point for Databricks `python_wheel_task` jobs.

Every subcommand takes the same job parameters, so one parameter list serves every task of a job:
locally `--workdir DIR` selects Delta tables under DIR and an MLflow SQLite store; on Databricks
`--catalog C --schema S` selects Unity Catalog tables, the `databricks` tracking server and the UC registry;
`--model-name` and `--experiment-path` name the registered model and the MLflow experiment.

Exit codes: 0 done; 1 a verdict, not a fault: an enforced validation gate rejected the challenger
(`validate`, `pipeline`), drift was found with `monitor --fail-on-drift`, or `reproduce` did not match;
2 bad arguments or data, or a batch refused by the contract (one line on stderr, nothing written);
3 an internal error (a bug: traceback on stderr).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from churn.errors import ChurnError, printable
from churn.jobs import Report
from churn.thresholds import ENFORCE, GATE_MODES, DriftThresholds, GateThresholds

# 0 done, 1 a verdict, 2 bad input or a refused batch; anything else (this code) is a bug.
INTERNAL_ERROR_EXIT_CODE = 3
GATE = GateThresholds()
DRIFT = DriftThresholds()

try:  # newer typer releases vendor click; older ones (Runtime 18 LTS ML's typer 0.20) use click itself
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:
    from click.exceptions import UsageError

    try:
        from click.exceptions import NoArgsIsHelpError
    except ImportError:  # click < 8.2 (the runtime ships 8.1.8) prints the help and exits by itself

        class NoArgsIsHelpError(UsageError):  # type: ignore[no-redef]
            """Never raised by this click version."""


app = typer.Typer(
    rich_markup_mode="rich",  # explicit: the default differs across typer versions, and `\[` is an escape only in this mode
    name="churn",
    help="Telco churn model: ingest, train, validate (gate), score with the champion, monitor drift, reproduce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

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


def _check_share(value: float | None) -> None:
    if value is not None and not 0 <= value <= 1:
        raise ChurnError(f"--max-quarantined-share: {value} must be between 0 and 1")


def _gate(min_roc_auc: float, max_roc_auc_drop: float, max_fairness_gap: float, mode: str, **judgement):
    """`judgement`: the GateThresholds fields of the judgement checks (training rows, class balance, ...)."""
    if mode not in GATE_MODES:
        raise ChurnError(f"--mode: '{mode}' is not one of {', '.join(GATE_MODES)}")
    thresholds = GateThresholds(min_roc_auc, max_roc_auc_drop, max_fairness_gap, **judgement)
    thresholds.validate()
    return thresholds


def _drift(psi_threshold: float, alpha: float, max_roc_auc_decay: float, numeric_bins: int):
    thresholds = DriftThresholds(psi_threshold, alpha, max_roc_auc_decay, numeric_bins)
    thresholds.validate()
    return thresholds


def _gate_table(result) -> Table:
    table = Table(
        title=f"validation gate ({result.decision.mode}): {result.decision.message}", title_justify="left"
    )
    for column in ("check", "result", "observed", "limit"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for check in result.decision.checks:
        table.add_row(check.name, "pass" if check.passed else "[red]FAIL[/red]", f"{check.observed:.4f}",
                      f"{check.limit:.4f}")  # fmt: skip
    return table


@contextlib.contextmanager
def progress_steps() -> Iterator[Report]:
    """A `report(step)` callable: a live spinner on a terminal, one line per step in job logs."""
    if not err.is_terminal:
        yield lambda step: err.print(f"- {step}", highlight=False, markup=False)
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err) as bar:
        current: list[int] = []

        def report(step: str) -> None:
            if current:
                bar.update(current[-1], completed=1, total=1)
            current.append(bar.add_task(step, total=None))

        yield report
        if current:
            bar.update(current[-1], completed=1, total=1)


def _check_local_input(path: str) -> None:
    """Fail before anything is created when a local input is missing (remote URIs are checked by Spark)."""
    if "://" not in path and not path.startswith("dbfs:") and not os.path.exists(path):
        raise ChurnError(f"--input: '{path}' does not exist")


def _check_metrics_out(path: Path | None, option: str = "--metrics-out") -> None:
    if path is not None and path.is_dir():
        raise ChurnError(f"{option}: '{path}' is a directory, expected a file name")


def _runtime(workdir, catalog, schema, model_name, experiment_path, *, existing: bool = True):
    """`existing`: the command reads a work directory made by `ingest`/`pipeline`, so it must not create one."""
    from churn.runtime import runtime_from_options

    return runtime_from_options(
        workdir=workdir,
        catalog=catalog,
        schema=schema,
        model_name=model_name,
        experiment_path=experiment_path,
        existing_workdir=existing,
    )


def _train_settings(seed: int, cv_folds: int, holdout_fraction: float):
    from churn.jobs.train import TrainSettings

    settings = TrainSettings(seed=seed, cv_folds=cv_folds, holdout_fraction=holdout_fraction)
    settings.validate()
    return settings


def _write_metrics(metrics: dict[str, object], path: Path | None) -> None:
    from churn.jobs.pipeline import write_json_atomically

    if path is not None:
        write_json_atomically(metrics, path)


def _table(title: str, rows: dict[str, object]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table


@app.command()
def ingest(
    input: RawInput,
    workdir: Workdir = None,
    catalog: Catalog = None,
    schema: Schema = None,
    model_name: ModelName = "churn",
    experiment_path: ExperimentPath = None,
    max_quarantined_share: MaxQuarantinedShare = None,
) -> None:
    """Check the new files of a landing folder against the contract and land them in bronze, quarantine,
    silver and features. Files landed before are skipped; files without Churn land customers to score."""
    from churn.jobs.ingest import run_ingest

    _check_share(max_quarantined_share)
    _check_local_input(input)
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path, existing=False)
    with progress_steps() as report:
        result = run_ingest(runtime, input, max_quarantined_share=max_quarantined_share, report=report)
    versions = {f"{name} version": v for name, v in result.table_versions.items()}
    counts = {
        "files landed": result.files_landed,
        "files already landed": result.files_skipped,
        "rows read": result.rows_read,
        "rows valid": result.rows_valid,
        "rows quarantined": result.rows_quarantined,
    }
    out.print(_table("ingested", {**counts, **versions}))


@app.command()
def train(
    workdir: Workdir = None,
    catalog: Catalog = None,
    schema: Schema = None,
    model_name: ModelName = "churn",
    experiment_path: ExperimentPath = None,
    seed: Seed = 42,
    cv_folds: CvFolds = 5,
    holdout_fraction: HoldoutFraction = 0.2,
    metrics_out: MetricsOut = None,
) -> None:
    """Compare models by stratified CV, evaluate on a hold-out, log to MLflow and register a challenger."""
    from churn.jobs.train import run_train

    settings = _train_settings(seed, cv_folds, holdout_fraction)
    _check_metrics_out(metrics_out)
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_train(runtime, settings, report=report)
    _write_metrics(result.summary(), metrics_out)
    out.print(
        _table(f"{result.model_name} v{result.model_version} ({', '.join(result.aliases)})", result.summary())
    )


@app.command()
def score(
    workdir: Workdir = None,
    catalog: Catalog = None,
    schema: Schema = None,
    model_name: ModelName = "churn",
    experiment_path: ExperimentPath = None,
    input: Annotated[
        str | None,
        typer.Option("--input", help="Score this raw CSV (contract-checked) instead of the features table."),
    ] = None,
    arrow_batch_rows: Annotated[
        int, typer.Option("--arrow-batch-rows", help="Rows per Arrow batch sent to the scoring UDF.")
    ] = 200_000,
    rescore_all: Annotated[
        bool, typer.Option("--all", help="Score every customer again, not only those new since the last run.")
    ] = False,
    max_quarantined_share: MaxQuarantinedShare = None,
) -> None:
    """Score the customers new since the last scoring run (or a raw CSV) with the `champion` model via
    spark_udf and append them, as one batch, to the predictions table."""
    from churn.jobs.score import run_score

    _check_share(max_quarantined_share)
    if input is not None:
        _check_local_input(input)
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_score(runtime, input_path=input, arrow_batch_rows=arrow_batch_rows, rescore_all=rescore_all,
                           max_quarantined_share=max_quarantined_share, report=report)  # fmt: skip
    summary = {
        "model": f"{result.model_name} v{result.model_version}",
        "rows scored": result.rows_scored,
        "rows quarantined": result.rows_quarantined,
        "batch": result.batch_id if result.rows_scored else "none (nothing new to score)",
        "predictions table": result.predictions_table,
        "predictions version": result.predictions_version
        if result.predictions_version is not None
        else "unchanged",
    }
    out.print(_table("scored", summary))


@app.command()
def pipeline(
    input: RawInput,
    workdir: Workdir = None,
    catalog: Catalog = None,
    schema: Schema = None,
    model_name: ModelName = "churn",
    experiment_path: ExperimentPath = None,
    seed: Seed = 42,
    cv_folds: CvFolds = 5,
    holdout_fraction: HoldoutFraction = 0.2,
    metrics_out: MetricsOut = None,
    mode: GateMode = ENFORCE,
    min_roc_auc: MinRocAuc = GATE.min_roc_auc,
    max_roc_auc_drop: MaxRocAucDrop = GATE.max_roc_auc_drop,
    max_fairness_gap: MaxFairnessGap = GATE.max_fairness_gap,
    min_training_rows: MinTrainingRows = GATE.min_training_rows,
    min_minority_share: MinMinorityShare = GATE.min_minority_share,
    max_roc_auc: MaxRocAuc = GATE.max_roc_auc,
    min_pinned_agreement: MinPinnedAgreement = GATE.min_pinned_agreement,
    min_pinned_rows: MinPinnedRows = GATE.min_pinned_rows,
    max_quarantined_share: MaxQuarantinedShare = None,
) -> None:
    """Run ingest -> train -> validate -> score -> monitor in order (locally with --workdir).

    The drift thresholds are the documented defaults of `monitor`. Exits 2 when the batch is refused (before
    training), 1 when an enforced gate rejects the challenger (after scoring with the existing champion, if
    any).
    """
    from churn.jobs.pipeline import run_pipeline

    settings = _train_settings(seed, cv_folds, holdout_fraction)
    gate = _gate(min_roc_auc, max_roc_auc_drop, max_fairness_gap, mode,
                 min_training_rows=min_training_rows, min_minority_share=min_minority_share, max_roc_auc=max_roc_auc,
                 min_pinned_agreement=min_pinned_agreement, min_pinned_rows=min_pinned_rows)  # fmt: skip
    _check_share(max_quarantined_share)
    _check_local_input(input)
    _check_metrics_out(metrics_out)
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path, existing=False)
    with progress_steps() as report:
        result = run_pipeline(runtime, input, settings, gate=gate, gate_mode=mode, drift=DRIFT,
                              max_quarantined_share=max_quarantined_share, report=report)  # fmt: skip
    metrics = result.metrics()
    _write_metrics(metrics, metrics_out)
    out.print(_gate_table(result.validation))
    out.print(_table(f"{result.train.model_name} v{result.train.model_version}", metrics))
    if workdir is not None:
        out.print(
            f"browse the run: mlflow ui --backend-store-uri {runtime.tracking.tracking_uri}",
            highlight=False,
            soft_wrap=True,
        )
    if result.validation.decision.exit_code:
        raise typer.Exit(result.validation.decision.exit_code)


@app.command()
def validate(
    workdir: Workdir = None,
    catalog: Catalog = None,
    schema: Schema = None,
    model_name: ModelName = "churn",
    experiment_path: ExperimentPath = None,
    mode: GateMode = ENFORCE,
    min_roc_auc: MinRocAuc = GATE.min_roc_auc,
    max_roc_auc_drop: MaxRocAucDrop = GATE.max_roc_auc_drop,
    max_fairness_gap: MaxFairnessGap = GATE.max_fairness_gap,
    min_training_rows: MinTrainingRows = GATE.min_training_rows,
    min_minority_share: MinMinorityShare = GATE.min_minority_share,
    max_roc_auc: MaxRocAuc = GATE.max_roc_auc,
    min_pinned_agreement: MinPinnedAgreement = GATE.min_pinned_agreement,
    min_pinned_rows: MinPinnedRows = GATE.min_pinned_rows,
    report_out: ReportOut = None,
    serving_endpoint: Annotated[
        str | None,
        typer.Option(
            "--serving-endpoint", help="Databricks: serve the champion on this endpoint after the gate."
        ),
    ] = None,
    serving_workload_size: Annotated[
        str, typer.Option("--serving-workload-size", help="Small, Medium or Large.")
    ] = "Small",
    serving_scale_to_zero: Annotated[
        bool,
        typer.Option("--serving-scale-to-zero/--no-serving-scale-to-zero", help="Scale to zero when idle."),
    ] = False,
) -> None:
    """Gate the challenger against the champion on the same hold-out; only a passing one becomes champion.

    Exit 1 when the gate fails in enforce mode; the report (JSON + HTML page with plots) is logged to MLflow.
    With --serving-endpoint, the endpoint is then pointed at the champion (whether or not it changed).
    """
    from churn.jobs.validate import run_validate
    from churn.serving import ServingTarget, serve_champion

    serving = (
        ServingTarget(serving_endpoint, serving_workload_size, serving_scale_to_zero)
        if serving_endpoint
        else None
    )
    thresholds = _gate(min_roc_auc, max_roc_auc_drop, max_fairness_gap, mode,
                       min_training_rows=min_training_rows, min_minority_share=min_minority_share, max_roc_auc=max_roc_auc,
                       min_pinned_agreement=min_pinned_agreement, min_pinned_rows=min_pinned_rows)  # fmt: skip
    _check_metrics_out(report_out, "--report-out")
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_validate(runtime, thresholds, mode=mode, report=report)
    _write_metrics(result.payload, report_out)
    out.print(_gate_table(result))
    rows = {"challenger": result.challenger.version, "champion now": result.champion_version or "none"}
    rows |= {
        f"challenger {k}": v for k, v in result.challenger.metrics.items() if k in ("roc_auc", "pr_auc", "f1")
    }
    if result.champion is not None:
        rows |= {
            f"champion {k}": v for k, v in result.champion.metrics.items() if k in ("roc_auc", "pr_auc", "f1")
        }
    rows["validation run"] = result.validation_run_id
    out.print(_table("models on the challenger's hold-out", rows))
    served = serve_champion(serving, result.model_name, result.champion_version)
    if served:
        out.print(served)
    if result.decision.exit_code:
        raise typer.Exit(result.decision.exit_code)


@app.command()
def monitor(
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="Reference batch: CSV/Parquet/Delta path or table\\[@version]. "
            "Default: the champion's training features at their recorded version.",
        ),
    ] = None,
    current: Annotated[
        str | None,
        typer.Option(
            "--current", help="Current batch: path or table\\[@version]. Default: the latest scored batch."
        ),
    ] = None,
    report_out: ReportOut = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 1 when drift is detected.")
    ] = False,
    retrain_cooldown_days: Annotated[
        int | None,
        typer.Option(
            "--retrain-cooldown-days",
            help="Decide whether drift retrains now (no version registered and no train run started within "
            "this many days) and set the job's task value `retrain`.",
        ),
    ] = None,
    workdir: Workdir = None,
    catalog: Catalog = None,
    schema: Schema = None,
    model_name: ModelName = "churn",
    experiment_path: ExperimentPath = None,
    psi_threshold: PsiThreshold = DRIFT.psi,
    alpha: Alpha = DRIFT.alpha,
    max_roc_auc_decay: MaxRocAucDecay = DRIFT.max_roc_auc_decay,
    numeric_bins: NumericBins = DRIFT.numeric_bins,
) -> None:
    """Feature and prediction drift (PSI + KS / chi-squared) and ROC AUC decay; appends to the monitoring table.

    Without --workdir or --catalog/--schema, both batches must be files and nothing is appended.
    """
    from churn.jobs.monitor import check_source, run_monitor

    thresholds = _drift(psi_threshold, alpha, max_roc_auc_decay, numeric_bins)
    _check_metrics_out(report_out, "--report-out")
    has_runtime = workdir is not None or bool(catalog or schema)
    if not has_runtime and (reference is None or current is None):
        raise ChurnError(
            "--reference: give --reference and --current files, or --workdir / --catalog and --schema"
        )
    check_source("--reference", reference, has_runtime=has_runtime)
    check_source("--current", current, has_runtime=has_runtime)
    if retrain_cooldown_days is not None and (retrain_cooldown_days < 1 or not has_runtime):
        raise ChurnError(
            "--retrain-cooldown-days: needs a positive number of days and the registry (--workdir or "
            "--catalog/--schema)"
        )
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path) if has_runtime else None
    with progress_steps() as report:
        result = run_monitor(
            runtime, reference=reference, current=current, thresholds=thresholds, report=report
        )
    _write_metrics(result.as_dict(), report_out)
    drift = result.report
    table = Table(title=f"drift: {result.current} vs {result.reference}", title_justify="left")
    for column in ("check", "kind", "PSI", "test", "p-value", "status"):
        table.add_column(column, justify="left" if column in ("check", "kind", "test") else "right")
    for f in drift.features + ([drift.prediction] if drift.prediction else []):
        table.add_row(f.name, f.kind, f"{f.psi:.3f}", f.test, f"{f.p_value:.2g}",
                      "[red]DRIFT[/red]" if f.drifted else "ok")  # fmt: skip
    if drift.performance is not None:
        p = drift.performance
        table.add_row("roc_auc", "metric", "", f"{p.roc_auc_reference:.3f} -> {p.roc_auc_current:.3f}", "",
                      "[red]DECAY[/red]" if p.decayed else "ok")  # fmt: skip
    out.print(table)
    out.print(f"drift_detected: {drift.drift_detected}" + "".join(f"\nnote: {n}" for n in drift.notes),
              highlight=False, markup=False)  # fmt: skip
    if retrain_cooldown_days is not None:
        from datetime import UTC, datetime

        from churn.retrain import decide_retrain, last_trained, publish

        decision = decide_retrain(drift_detected=drift.drift_detected, now=datetime.now(UTC),
                                  last_trained_at=last_trained(runtime.model_name, runtime.tracking.experiment),
                                  cooldown_days=retrain_cooldown_days)  # fmt: skip
        publish(decision)
        out.print(f"retrain: {decision.task_value} ({decision.reason})", highlight=False, markup=False)
    if fail_on_drift and drift.drift_detected:
        raise typer.Exit(1)


@app.command()
def serve(
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Local work directory of `churn pipeline` (read only).")
    ],
    model_name: ModelName = "churn",
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 5001,
    timeout: Annotated[int, typer.Option("--timeout", help="Seconds one request may take.")] = 60,
) -> None:
    """Serve the local champion with MLflow's scoring server: POST /invocations, GET /ping. Ctrl-C stops it."""
    from churn.serve import check_port, check_port_free, local_champion
    from churn.serve import serve as run_server

    check_port(port)
    if timeout < 1:
        raise ChurnError(f"--timeout: {timeout} must be at least 1 second")
    champion = local_champion(workdir, model_name)
    check_port_free(host, port)
    err.print(f"serving {model_name} version {champion.version} on http://{host}:{port}/invocations",
              highlight=False, markup=False)  # fmt: skip
    run_server(champion, host=host, port=port, timeout_seconds=timeout)


@app.command()
def reproduce(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN_ID", help="The MLflow run id of a `churn train` run.")
    ],
    workdir: Workdir = None,
    catalog: Catalog = None,
    schema: Schema = None,
    model_name: ModelName = "churn",
    experiment_path: ExperimentPath = None,
    report_out: ReportOut = None,
) -> None:
    """Re-train from a run's record (data versions, seed, settings); exit 1 unless metrics and hold-out
    predictions match exactly."""
    from churn.jobs.reproduce import run_reproduce

    _check_metrics_out(report_out, "--report-out")
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_reproduce(runtime, run_id, report=report)
    _write_metrics(result.as_dict(), report_out)
    rows = {
        "data at recorded versions": "same content" if result.data_matches else "CHANGED",
        "metrics differing": len(result.metric_differences),
        "predictions compared": result.predictions_compared,
        "max |prediction difference|": result.predictions_max_abs_difference,
    }
    rows |= {f"env {k}": f"{a} -> {b}" for k, (a, b) in result.environment_differences.items()}
    out.print(_table(f"reproduce {run_id}: {'MATCH' if result.matches else 'MISMATCH'}", rows))
    for problem in result.problems:
        err.print(f"mismatch: {problem}", highlight=False, markup=False)
    if not result.matches:
        raise typer.Exit(1)


# Commands that open a Spark session on a local run (`serve` does not).
_SPARK_COMMANDS = frozenset({"ingest", "train", "score", "pipeline", "validate", "monitor", "reproduce"})


def _prestart_spark(argv: list[str]) -> None:
    """A local run of a Spark command: boot the JVM now, in the background, while Python imports scikit-learn and
    MLflow (a third of the start-up otherwise spent one after the other)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    local = any(a == "--workdir" or a.startswith("--workdir=") for a in argv)
    if command in _SPARK_COMMANDS and local and not {"--help", "-h"} & set(argv):
        from churn.spark_session import prestart_local_spark

        prestart_local_spark()


def main(argv: list[str] | None = None) -> None:
    """Console-script and python_wheel_task entry point."""
    _prestart_spark(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=argv, prog_name="churn", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        out.print(exc.ctx.get_help() if exc.ctx else "", highlight=False, markup=False)
        sys.exit(2)
    except UsageError as exc:
        command = f"{exc.ctx.command_path}: " if exc.ctx else ""
        message = " ".join(exc.format_message().split())
        err.print(f"error: {command}{message}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(2)
    except ChurnError as exc:
        err.print(f"error: {printable(' '.join(str(exc).split()), limit=2000)}", highlight=False, soft_wrap=True,
                  markup=False)  # fmt: skip
        sys.exit(2)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except OSError as exc:  # the file system refused (e.g. a work directory it cannot create): one line
        where = f"'{printable(exc.filename, limit=200)}': " if exc.filename else ""
        err.print(f"error: {where}{exc.strerror or exc}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(2)
    except Exception:  # a bug, not a verdict: never exit 1, which the jobs read as "gate refused" / "drift"
        traceback.print_exc()
        err.print(f"internal error (exit {INTERNAL_ERROR_EXIT_CODE}): this is a bug in churn, please report it",
                  highlight=False, markup=False)  # fmt: skip
        sys.exit(INTERNAL_ERROR_EXIT_CODE)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
