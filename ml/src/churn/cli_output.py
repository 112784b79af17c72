"""What the `churn` commands print: result tables on stdout, progress and errors on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from churn.jobs import Report

out = Console()
err = Console(stderr=True)


def gate_table(result) -> Table:
    table = Table(
        title=f"validation gate ({result.decision.mode}): {result.decision.message}", title_justify="left"
    )
    for column in ("check", "result", "observed", "limit"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for check in result.decision.checks:
        table.add_row(check.name, "pass" if check.passed else "[red]FAIL[/red]", f"{check.observed:.4f}",
                      f"{check.limit:.4f}")  # fmt: skip
    return table


def rows_table(title: str, rows: dict[str, object]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table


def drift_table(result) -> Table:
    """Each feature's (and the prediction's) drift test, and the ROC AUC decay where labels arrived."""
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
