"""Where the local pipeline's time goes: `churn pipeline` on Telco in-process, timed per step (Python start and
imports, Spark start, then each step the jobs report), printed as a markdown table for bench/ml.md.

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


def profile(input_path: Path, workdir: Path) -> list[tuple[str, float]]:
    from churn.jobs.pipeline import run_pipeline

    marks: list[tuple[str, float]] = [("python start and imports", time.perf_counter())]
    from churn.runtime import local_runtime

    runtime = local_runtime(workdir)
    runtime.spark.range(1).count()  # the JVM and the session are up
    marks.append(("spark session start", time.perf_counter()))
    current = ["(before the first step)"]

    def report(step: str) -> None:
        marks.append((current[0], time.perf_counter()))
        current[0] = step

    run_pipeline(runtime, str(input_path), report=report)
    marks.append((current[0], time.perf_counter()))
    previous, steps = STARTED, []
    for name, at in marks:
        steps.append((name, at - previous))
        previous = at
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=TELCO)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="churn-profile-") as tmp:
        steps = profile(args.input, Path(tmp) / "work")
    total = sum(seconds for _, seconds in steps)
    print(f"load average at start {load:.1f}; total {total:.1f} s\n")
    print("| step | seconds | share |\n| --- | ---: | ---: |")
    for name, seconds in steps:
        print(f"| {name} | {seconds:.1f} | {seconds / total:.0%} |")


if __name__ == "__main__":
    main()
