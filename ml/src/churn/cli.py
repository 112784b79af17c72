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

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from churn.cli_options import (
    DRIFT,
    GATE,
    Alpha,
    Catalog,
    CvFolds,
    ExperimentPath,
    GateMode,
    HoldoutFraction,
    MaxFairnessGap,
    MaxQuarantinedShare,
    MaxRocAuc,
    MaxRocAucDecay,
    MaxRocAucDrop,
    MetricsOut,
    MinMinorityShare,
    MinPinnedAgreement,
    MinPinnedRows,
    MinRocAuc,
    MinTrainingRows,
    ModelName,
    NumericBins,
    PsiThreshold,
    RawInput,
    ReportOut,
    Schema,
    Seed,
    Workdir,
    check_local_input,
    check_metrics_out,
    check_share,
    drift_thresholds,
    gate_thresholds,
    prestart_spark,
    runtime_for,
    train_settings,
    write_metrics,
)
from churn.cli_output import drift_table, err, gate_table, out, progress_steps, rows_table
from churn.errors import ChurnError, printable
from churn.thresholds import ENFORCE

# 0 done, 1 a verdict, 2 bad input or a refused batch; anything else (this code) is a bug.
INTERNAL_ERROR_EXIT_CODE = 3

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

    check_share(max_quarantined_share)
    check_local_input(input)
    runtime = runtime_for(
        workdir, catalog, schema, model_name, experiment_path, existing=False, tracking=False
    )
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
    out.print(rows_table("ingested", {**counts, **versions}))


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

    settings = train_settings(seed, cv_folds, holdout_fraction)
    check_metrics_out(metrics_out)
    runtime = runtime_for(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_train(runtime, settings, report=report)
    write_metrics(result.summary(), metrics_out)
    out.print(
        rows_table(
            f"{result.model_name} v{result.model_version} ({', '.join(result.aliases)})", result.summary()
        )
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

    check_share(max_quarantined_share)
    if input is not None:
        check_local_input(input)
    runtime = runtime_for(workdir, catalog, schema, model_name, experiment_path)
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
    out.print(rows_table("scored", summary))


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

    settings = train_settings(seed, cv_folds, holdout_fraction)
    gate = gate_thresholds(min_roc_auc, max_roc_auc_drop, max_fairness_gap, mode,
                 min_training_rows=min_training_rows, min_minority_share=min_minority_share, max_roc_auc=max_roc_auc,
                 min_pinned_agreement=min_pinned_agreement, min_pinned_rows=min_pinned_rows)  # fmt: skip
    check_share(max_quarantined_share)
    check_local_input(input)
    check_metrics_out(metrics_out)
    runtime = runtime_for(workdir, catalog, schema, model_name, experiment_path, existing=False)
    with progress_steps() as report:
        result = run_pipeline(runtime, input, settings, gate=gate, gate_mode=mode, drift=DRIFT,
                              max_quarantined_share=max_quarantined_share, report=report)  # fmt: skip
    metrics = result.metrics()
    write_metrics(metrics, metrics_out)
    out.print(gate_table(result.validation))
    out.print(rows_table(f"{result.train.model_name} v{result.train.model_version}", metrics))
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
    thresholds = gate_thresholds(min_roc_auc, max_roc_auc_drop, max_fairness_gap, mode,
                       min_training_rows=min_training_rows, min_minority_share=min_minority_share, max_roc_auc=max_roc_auc,
                       min_pinned_agreement=min_pinned_agreement, min_pinned_rows=min_pinned_rows)  # fmt: skip
    check_metrics_out(report_out, "--report-out")
    runtime = runtime_for(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_validate(runtime, thresholds, mode=mode, report=report)
    write_metrics(result.payload, report_out)
    out.print(gate_table(result))
    rows = {"challenger": result.challenger.version, "champion now": result.champion_version or "none"}
    rows |= {
        f"challenger {k}": v for k, v in result.challenger.metrics.items() if k in ("roc_auc", "pr_auc", "f1")
    }
    if result.champion is not None:
        rows |= {
            f"champion {k}": v for k, v in result.champion.metrics.items() if k in ("roc_auc", "pr_auc", "f1")
        }
    rows["validation run"] = result.validation_run_id
    out.print(rows_table("models on the challenger's hold-out", rows))
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

    thresholds = drift_thresholds(psi_threshold, alpha, max_roc_auc_decay, numeric_bins)
    check_metrics_out(report_out, "--report-out")
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
    runtime = runtime_for(workdir, catalog, schema, model_name, experiment_path) if has_runtime else None
    with progress_steps() as report:
        result = run_monitor(
            runtime, reference=reference, current=current, thresholds=thresholds, report=report
        )
    write_metrics(result.as_dict(), report_out)
    drift = result.report
    table = drift_table(result)
    out.print(table)
    out.print(f"drift_detected: {drift.drift_detected}" + "".join(f"\nnote: {n}" for n in drift.notes),
              highlight=False, markup=False)  # fmt: skip
    if retrain_cooldown_days is not None:
        from datetime import UTC, datetime

        from churn.retrain import decide_retrain, last_trained, publish, record_request

        decision = decide_retrain(drift_detected=drift.drift_detected, now=datetime.now(UTC),
                                  last_trained_at=last_trained(runtime.model_name, runtime.tracking.experiment),
                                  cooldown_days=retrain_cooldown_days)  # fmt: skip
        if decision.retrain:
            runtime.tracking.activate()
            record_request(decision)
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

    check_metrics_out(report_out, "--report-out")
    runtime = runtime_for(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_reproduce(runtime, run_id, report=report)
    write_metrics(result.as_dict(), report_out)
    rows = {
        "data at recorded versions": "same content" if result.data_matches else "CHANGED",
        "metrics differing": len(result.metric_differences),
        "predictions compared": result.predictions_compared,
        "max |prediction difference|": result.predictions_max_abs_difference,
    }
    rows |= {f"env {k}": f"{a} -> {b}" for k, (a, b) in result.environment_differences.items()}
    out.print(rows_table(f"reproduce {run_id}: {'MATCH' if result.matches else 'MISMATCH'}", rows))
    for problem in result.problems:
        err.print(f"mismatch: {problem}", highlight=False, markup=False)
    if not result.matches:
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> None:
    """Console-script and python_wheel_task entry point."""
    try:
        prestart_spark(sys.argv[1:] if argv is None else argv)
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
