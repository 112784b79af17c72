"""`churn` command line, also the wheel's entry point for Databricks `python_wheel_task` jobs.

Every subcommand takes the same job parameters, so one parameter list serves every task of a job:
locally `--workdir DIR` selects Delta tables under DIR and an MLflow SQLite store; on Databricks
`--catalog C --schema S` selects Unity Catalog tables, the `databricks` tracking server and the UC registry;
`--model-name` and `--experiment-path` name the registered model and the MLflow experiment.
Bad arguments or data end with one line on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from churn.errors import ChurnError
from churn.jobs import Report

try:  # newer typer releases vendor click; older ones (as on some Databricks runtimes) use click itself
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:
    from click.exceptions import NoArgsIsHelpError, UsageError

app = typer.Typer(
    name="churn",
    help="Telco churn model: ingest raw data, train and register, score with the champion.",
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


def _check_metrics_out(path: Path | None) -> None:
    if path is not None and path.is_dir():
        raise ChurnError(f"--metrics-out: '{path}' is a directory, expected a file name")


def _runtime(workdir, catalog, schema, model_name, experiment_path):
    from churn.runtime import runtime_from_options

    return runtime_from_options(
        workdir=workdir,
        catalog=catalog,
        schema=schema,
        model_name=model_name,
        experiment_path=experiment_path,
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
) -> None:
    """Check a raw batch against the contract and land it in bronze, quarantine, silver and features."""
    from churn.jobs.ingest import run_ingest

    _check_local_input(input)
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_ingest(runtime, input, report=report)
    versions = {f"{name} version": v for name, v in result.table_versions.items()}
    counts = {
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
) -> None:
    """Score with the `champion` model via spark_udf and append to the predictions table."""
    from churn.jobs.score import run_score

    if input is not None:
        _check_local_input(input)
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_score(runtime, input_path=input, arrow_batch_rows=arrow_batch_rows, report=report)
    summary = {
        "model": f"{result.model_name} v{result.model_version}",
        "rows scored": result.rows_scored,
        "rows quarantined": result.rows_quarantined,
        "predictions table": result.predictions_table,
        "predictions version": result.predictions_version,
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
) -> None:
    """Run ingest -> train -> register -> score in order (locally with --workdir)."""
    from churn.jobs.pipeline import run_pipeline

    settings = _train_settings(seed, cv_folds, holdout_fraction)
    _check_local_input(input)
    _check_metrics_out(metrics_out)
    runtime = _runtime(workdir, catalog, schema, model_name, experiment_path)
    with progress_steps() as report:
        result = run_pipeline(runtime, input, settings, report=report)
    metrics = result.metrics()
    _write_metrics(metrics, metrics_out)
    out.print(_table(f"{result.train.model_name} v{result.train.model_version}", metrics))
    if workdir is not None:
        out.print(
            f"browse the run: mlflow ui --backend-store-uri {runtime.tracking.tracking_uri}",
            highlight=False,
            soft_wrap=True,
        )


def main(argv: list[str] | None = None) -> None:
    """Console-script and python_wheel_task entry point."""
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
        err.print(f"error: {' '.join(str(exc).split())}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(2)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
