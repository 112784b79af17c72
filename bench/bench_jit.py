"""Where the quick JIT compiler stops paying (churn.jvm_jit): synthetic batches of several sizes through `churn
ingest`, `score` and `monitor`, each step a fresh process, once with `CHURN_JVM_JIT=full` and once with `quick`,
on copies of one work directory that holds a champion. Prints a markdown table for bench/ml.md.

    .venv/bin/python bench/bench_jit.py [ROWS ...]      (default: 100000 300000 1000000; about 15 minutes)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench_ml import CHURN_CLI, TELCO, run_with_peak_memory
from bench_ml_batch import STEPS, write_landing_folder

CHOICES = ("full", "quick")


def step_seconds(champion: Path, landing: Path, workdir: Path, jit: str) -> dict[str, float]:
    shutil.copytree(champion, workdir)
    commands = {
        "ingest": ["ingest", "--input", str(landing)],
        "score": ["score"],
        "monitor": ["monitor", "--report-out", str(workdir.parent / f"{workdir.name}-drift.json")],
    }
    os.environ["CHURN_JVM_JIT"] = jit
    try:
        return {
            step: run_with_peak_memory([str(CHURN_CLI), *commands[step], "--workdir", str(workdir)])[0]
            for step in STEPS
        }
    finally:
        shutil.rmtree(workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[100_000, 300_000, 1_000_000])
    args = parser.parse_args()
    if any(rows < 1 for rows in args.rows):
        raise SystemExit("ROWS: every batch needs at least one row")
    from churn.spark_session import local_spark

    with tempfile.TemporaryDirectory(prefix="churn-bench-jit-") as tmp:
        work = Path(tmp)
        champion = work / "champion"
        subprocess.run([str(CHURN_CLI), "pipeline", "--input", str(TELCO), "--workdir", str(champion)],
                       check=True, capture_output=True)  # fmt: skip
        spark = local_spark("churn-bench-jit", driver_memory="6g")
        landings = {rows: write_landing_folder(spark, work / f"landing-{rows}", rows) for rows in args.rows}
        spark.stop()
        print(f"load average {os.getloadavg()[0]:.1f}\n", flush=True)
        print("| rows | CSV | JIT | " + " | ".join(f"`churn {s}`" for s in STEPS) + " |")
        print("| ---: | ---: | --- | " + " | ".join("---:" for _ in STEPS) + " |")
        for rows, landing in landings.items():
            size = sum(f.stat().st_size for f in landing.iterdir()) / 2**20
            for jit in CHOICES:
                seconds = step_seconds(champion, landing, work / f"work-{rows}-{jit}", jit)
                cells = " | ".join(f"{seconds[s]:.1f} s" for s in STEPS)
                print(f"| {rows:,} | {size:.0f} MB | {jit} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
