"""Time and peak memory of one large batch through the jobs, each a fresh `churn` process as a job runs it:
`ingest` of a raw CSV landing folder, `score` of the customers it landed with the champion, and `monitor` of
that scored batch against the champion's training data. Peak memory is the whole process tree (Python driver,
Spark JVM, Python workers), sampled from /proc.

Used by bench/bench_ml.py (1,000,000 rows); tests/ml/test_bench_batch.py runs it on a small batch.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ml import CHURN_CLI, TELCO, run_with_peak_memory  # noqa: E402

STEPS = ("ingest", "score", "monitor")


@dataclass(frozen=True)
class StepCost:
    step: str
    seconds: float
    peak_gib: float


def write_landing_folder(spark, folder: Path, rows: int, *, seed: int = 1) -> Path:
    """`rows` synthetic customers drawn from Telco's marginals, written by Spark as CSV part files (with the
    `_SUCCESS` and `.crc` files a Spark exporter leaves), the way a large batch lands."""
    from churn.synthetic import Marginals, synthetic_raw

    marginals = Marginals.of(pd.read_csv(TELCO, dtype=str, keep_default_na=False))
    partitions = max(1, rows // 250_000)
    synthetic_raw(spark, marginals, rows, seed=seed).repartition(partitions).write.csv(
        str(folder), header=True, mode="overwrite"
    )
    return folder


def bench_batch(champion_workdir: Path, landing: Path, work: Path) -> list[StepCost]:
    """Run ingest, score and monitor on a copy of `champion_workdir` (which holds a champion), in order."""
    workdir = work / "batch-workdir"
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(champion_workdir, workdir)
    common = ["--workdir", str(workdir)]
    commands = {
        "ingest": ["ingest", "--input", str(landing), *common],
        "score": ["score", *common],
        "monitor": ["monitor", *common, "--report-out", str(work / "batch-drift.json")],
    }
    costs = []
    for step in STEPS:
        seconds, peak = run_with_peak_memory([str(CHURN_CLI), *commands[step]])
        costs.append(StepCost(step, seconds, peak / 2**30))
        print(f"{step}: {seconds:.1f} s, peak {peak / 2**30:.2f} GiB", flush=True)
    return costs


def render_batch(costs: list[StepCost], rows: int, *, load: str) -> list[str]:
    lines = [
        f"## One batch of {rows:,} rows through the jobs",
        "",
        "Synthetic customers from Telco's marginals, landed as Spark-written CSV part files; each step a fresh "
        "`churn` process on a copy of the pipeline's work directory (champion set). Peak memory is the whole "
        f"process tree (Python, JVM, Python workers). {load}",
        "",
        "| step | wall time | peak memory |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| `churn {c.step}` | {c.seconds:.1f} s | {c.peak_gib:.2f} GiB |" for c in costs]
    return [*lines, ""]
