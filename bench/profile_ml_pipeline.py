"""Where the local pipeline's time goes: `churn pipeline` on Telco in-process, timed per step (Python start and
imports, Spark start, then each step the jobs report), printed as a markdown table for bench/ml.md, with the
number of Spark jobs each step ran and the CPU seconds of the whole process tree (Python, JVM, Python workers),
which a busy machine disturbs much less than wall time.

    .venv/bin/python bench/profile_ml_pipeline.py [--input FILE]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()

ROOT = Path(__file__).resolve().parents[1]
TELCO = ROOT / "ml" / "data" / "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"


def tree_cpu_seconds() -> float:
    """CPU seconds of this process and its live descendants (the JVM, the Python workers)."""
    from bench_ml import tree_totals

    return tree_totals(os.getpid())[1]


def _jobs(spark) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(None))


def profile(input_path: Path, workdir: Path, *, prestart: bool = True) -> list[tuple[str, float, int]]:
    """(step, seconds, Spark jobs) per step. `prestart`: boot the JVM in the background during the imports, with
    the JIT compiler the `churn` command would choose for this input (churn.jvm_jit), as it does for a local run."""
    if prestart:
        from churn import jvm_jit
        from churn.spark_session import prestart_local_spark

        argv = ["pipeline", "--input", str(input_path), "--workdir", str(workdir)]
        prestart_local_spark(warm_python_workers=True, jit_options=jvm_jit.java_options(argv))
    from churn.jobs.pipeline import run_pipeline

    marks: list[tuple[str, float, int]] = [("python start and imports", time.perf_counter(), 0)]
    from churn.runtime import local_runtime

    runtime = local_runtime(workdir, prepare_tracking=True)  # as `churn pipeline` does
    runtime.spark.range(1).count()  # the JVM and the session are up
    marks.append(("spark session start (rest of)", time.perf_counter(), _jobs(runtime.spark)))
    current = ["(before the first step)"]

    def report(step: str) -> None:
        marks.append((current[0], time.perf_counter(), _jobs(runtime.spark)))
        current[0] = step

    run_pipeline(runtime, str(input_path), report=report)
    marks.append((current[0], time.perf_counter(), _jobs(runtime.spark)))
    previous, jobs_before, steps = STARTED, 0, []
    for name, at, jobs in marks:
        steps.append((name, at - previous, jobs - jobs_before))
        previous, jobs_before = at, jobs
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=TELCO)
    parser.add_argument("--no-prestart", action="store_true", help="Start Spark only after the imports.")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="churn-profile-") as tmp:
        steps = profile(args.input, Path(tmp) / "work", prestart=not args.no_prestart)
        cpu = tree_cpu_seconds()
    total = sum(seconds for _, seconds, _ in steps)
    jobs = sum(n for _, _, n in steps)
    print(f"load average at start {load:.1f}; total {total:.1f} s wall, {cpu:.1f} s CPU, {jobs} Spark jobs\n")
    print("| step | seconds | share | Spark jobs |\n| --- | ---: | ---: | ---: |")
    for name, seconds, n in steps:
        print(f"| {name} | {seconds:.1f} | {seconds / total:.0%} | {n} |")


if __name__ == "__main__":
    main()
