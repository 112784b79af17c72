"""Benchmarks of the churn package on this machine; writes bench/ml.md.

1. `churn pipeline` on Telco (7,043 rows) as a fresh process: wall time and peak memory of its whole process
   tree (Python driver + Spark JVM + Python workers).
2. Feature engineering (contract check + row split + silver + features) on synthetic customers drawn from
   Telco's marginals, at 100k and 1M rows (10k as the fixed-cost baseline).
3. Scoring 1M rows with the champion: `mlflow.pyfunc.spark_udf` at several Arrow batch sizes against plain
   pandas `predict` on the same rows, as a ratio.

Each figure is the median of --repeats runs within one invocation.

    .venv/bin/python bench/bench_ml.py [--repeats 3] [--out bench/ml.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TELCO = ROOT / "ml" / "data" / "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"
CHURN_CLI = Path(sys.executable).with_name("churn")
FEATURE_SIZES = [10_000, 100_000, 1_000_000]
SCORING_ROWS = 1_000_000
ARROW_BATCH_SIZES = [10_000, 50_000, 200_000]


def tree_totals(root_pid: int) -> tuple[int, float]:
    """Resident bytes and CPU seconds (user + system, with reaped children) of a process and all its
    descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            pid, parent = int(entry.name), int(fields[1])
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            cpu[pid] = sum(int(v) for v in fields[11:15]) / ticks
            children.setdefault(parent, []).append(pid)
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    memory, seconds, stack = 0, 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        memory += rss.get(pid, 0)
        seconds += cpu.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return memory, seconds


def _tree_rss_bytes(root_pid: int) -> int:
    return tree_totals(root_pid)[0]


def run_with_peak_memory(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident bytes of the command's process tree, sampled every 0.2 s."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(process.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
    return time.perf_counter() - start, peak


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def best_batch_rows(udf_seconds: dict[int, float]) -> int:
    return min(udf_seconds, key=udf_seconds.__getitem__)


def cds_archive_state() -> str:
    """Whether the local JVM's class data sharing archive (churn.jvm_cds) is there for `churn pipeline`."""
    from churn import jvm_cds

    if not jvm_cds.enabled():
        return "not used (CHURN_JVM_CDS=0)"
    return "present" if jvm_cds.java_options("-Xmx4g", may_dump=False)[0] else "absent"


def bench_pipeline(work: Path, repeats: int) -> dict[str, object]:
    """Median of `repeats` warm runs. Without the JVM's class data sharing archive, one cold run first writes it
    (timed and printed apart, not in the median)."""
    if cds_archive_state() == "absent":
        command = [
            str(CHURN_CLI),
            "pipeline",
            "--input",
            str(TELCO),
            "--workdir",
            str(work / "pipeline-cold"),
        ]
        seconds, peak = run_with_peak_memory(command)
        print(
            f"pipeline cold run (writes the JVM archive): {seconds:.1f} s, peak {peak / 2**30:.2f} GiB",
            flush=True,
        )
    runs = []
    for i in range(repeats):
        workdir = work / f"pipeline-{i}"
        metrics_path = work / f"metrics-{i}.json"
        command = [str(CHURN_CLI), "pipeline", "--input", str(TELCO), "--workdir", str(workdir)]
        seconds, peak = run_with_peak_memory([*command, "--metrics-out", str(metrics_path)])
        runs.append((seconds, peak))
        print(f"pipeline run {i + 1}: {seconds:.1f} s, peak {peak / 2**30:.2f} GiB", flush=True)
    metrics = json.loads((work / f"metrics-{repeats - 1}.json").read_text())
    return {
        "seconds": statistics.median(r[0] for r in runs),
        "peak_gib": statistics.median(r[1] for r in runs) / 2**30,
        "metrics": metrics,
        "workdir": work / f"pipeline-{repeats - 1}",
    }


def bench_features(spark, work: Path, repeats: int) -> list[dict[str, float]]:
    from churn.contract import Contract, check_structure, split_rows
    from churn.features import build_features, to_silver
    from churn.synthetic import Marginals, synthetic_raw

    marginals = Marginals.of(pd.read_csv(TELCO, dtype=str, keep_default_na=False))
    contract = Contract.load()
    results = []
    # One untimed pass first: the JVM's first jobs pay for class loading and code generation.
    synthetic_raw(spark, marginals, 1_000, seed=0).write.mode("overwrite").parquet(str(work / "raw-warmup"))
    warmup = split_rows(spark.read.parquet(str(work / "raw-warmup")), contract, require_label=True)
    build_features(to_silver(warmup.valid)).write.format("noop").mode("overwrite").save()
    for rows in FEATURE_SIZES:
        path = str(work / f"raw-{rows}")
        synthetic_raw(spark, marginals, rows, seed=rows).write.mode("overwrite").parquet(path)

        def engineer(path: str = path) -> None:
            raw = spark.read.parquet(path)
            check_structure(raw, contract, source=path, require_label=True)
            features = build_features(to_silver(split_rows(raw, contract, require_label=True).valid))
            features.write.format("noop").mode("overwrite").save()

        seconds = median_seconds(engineer, repeats)
        results.append({"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds})
        print(f"features {rows:>9,} rows: {seconds:.2f} s", flush=True)
    return results


def bench_scoring(spark, work: Path, pipeline_workdir: Path, repeats: int) -> dict[str, object]:
    import mlflow
    from churn.contract import Contract, split_rows
    from churn.features import build_features, to_silver
    from churn.jobs.score import model_input_columns, score_frame
    from churn.runtime import local_runtime
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    runtime = local_runtime(pipeline_workdir)
    runtime.tracking.use_registry()
    model_uri = f"models:/{runtime.model_name}@champion"
    input_columns = model_input_columns(model_uri)

    raw = spark.read.parquet(str(work / f"raw-{SCORING_ROWS}"))
    features_path = str(work / "features-1m")
    build_features(to_silver(split_rows(raw, Contract.load(), require_label=True).valid)).write.mode(
        "overwrite"
    ).parquet(features_path)
    provenance = {"model_version": "bench", "run_id": "bench"}

    udf_seconds: dict[int, float] = {}
    for batch_rows in ARROW_BATCH_SIZES:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))

        def score_with_udf() -> None:
            scored = score_frame(
                spark.read.parquet(features_path),
                model_uri=model_uri,
                input_columns=input_columns,
                threshold=0.5,
                provenance=provenance,
            )
            scored.write.format("noop").mode("overwrite").save()

        udf_seconds[batch_rows] = median_seconds(score_with_udf, repeats)
        print(f"spark_udf, Arrow batch {batch_rows:>7,}: {udf_seconds[batch_rows]:.2f} s", flush=True)

    # The same transfer without MLflow: a bare pandas_udf around the scikit-learn pipeline. If it costs as
    # much as spark_udf, the gap to pandas is Spark's row -> Arrow -> pandas transfer, not MLflow.
    model_path = mlflow.artifacts.download_artifacts(model_uri)

    @pandas_udf("double")
    def bare_predict_proba(batches: Iterator[pd.DataFrame]) -> Iterator[pd.Series]:
        import mlflow.sklearn

        pipeline = mlflow.sklearn.load_model(model_path)
        for batch in batches:
            yield pd.Series(pipeline.predict_proba(batch)[:, 1])

    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(best_batch_rows(udf_seconds)))
    bare_seconds = median_seconds(
        lambda: (
            spark.read.parquet(features_path)
            .select(bare_predict_proba(F.struct(*[F.col(c) for c in input_columns])).alias("p"))
            .write.format("noop")
            .mode("overwrite")
            .save()
        ),
        repeats,
    )
    print(f"bare pandas_udf: {bare_seconds:.2f} s", flush=True)

    start = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_uri)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    frame = pd.read_parquet(features_path, columns=input_columns)
    read_seconds = time.perf_counter() - start
    predict_seconds = median_seconds(lambda: model.predict(frame), repeats)
    print(f"pandas predict: {predict_seconds:.2f} s (+ read {read_seconds:.2f} s, load {load_seconds:.2f} s)")
    return {
        "udf_seconds": udf_seconds,
        "bare_udf_seconds": bare_seconds,
        "pandas_predict_seconds": predict_seconds,
        "pandas_read_seconds": read_seconds,
        "model_load_seconds": load_seconds,
    }


def render(pipeline: dict, features: list[dict], scoring: dict, *, repeats: int, started: str) -> str:
    from churn.jobs.score import DEFAULT_ARROW_BATCH_ROWS

    metrics = pipeline["metrics"]
    by_rows = {r["rows"]: r for r in features}
    growth = by_rows[1_000_000]["seconds"] / by_rows[100_000]["seconds"]
    best_batch = best_batch_rows(scoring["udf_seconds"])
    best_udf = scoring["udf_seconds"][best_batch]
    pandas_total = scoring["pandas_predict_seconds"] + scoring["pandas_read_seconds"]
    lines = [
        "# churn benchmarks",
        "",
        f"Run {started} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.1f}. Medians of {repeats} runs from one invocation of "
        "`.venv/bin/python bench/bench_ml.py`. Local Spark `local[*]`, Delta through `deltalake`, MLflow on SQLite.",
        "",
        "## Local pipeline on Telco (7,043 rows)",
        "",
        "`churn pipeline --input ml/data/WA_Fn-UseC_-Telco-Customer-Churn.csv.gz --workdir DIR`, a fresh process each "
        "time: Spark start, ingest, 2 models x 5-fold CV, hold-out evaluation and plots, MLflow logging and "
        "registration, spark_udf scoring. Peak memory is the whole process tree (Python, JVM, Python workers).",
        "",
        "| wall time | peak memory | hold-out ROC AUC | CV ROC AUC (mean ± std) | PR AUC | F1 | Brier |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {pipeline['seconds']:.1f} s | {pipeline['peak_gib']:.2f} GiB | {metrics['roc_auc']:.4f} | "
        f"{metrics['cv_roc_auc_mean']:.4f} ± {metrics['cv_roc_auc_std']:.4f} | {metrics['pr_auc']:.4f} | "
        f"{metrics['f1']:.4f} | {metrics['brier']:.4f} |",
        "",
        f"Chosen model: {metrics['chosen_model']}, decision threshold {metrics['decision_threshold']:.3f} "
        "(F1-optimal on out-of-fold predictions).",
        "",
        "## Feature engineering on synthetic customers",
        "",
        "Rows drawn in Spark from Telco's marginals (`churn.synthetic`), stored as raw text Parquet; timed: "
        "structure check, row contract, silver, features, materialised to Spark's `noop` sink.",
        "",
        "| rows | seconds | rows/s |",
        "| ---: | ---: | ---: |",
        *[f"| {r['rows']:,} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} |" for r in features],
        "",
        f"10x the rows from 100k to 1M took {growth:.1f}x the time: no worse than linear; the fixed cost of a "
        "Spark job (planning, task launch: about the 10k-row time) is still a large share at 100k.",
        "",
        f"## Scoring {SCORING_ROWS:,} rows with the champion",
        "",
        "Same rows (features Parquet) for both. spark_udf: read, UDF, `noop` sink, with "
        "`spark.sql.execution.arrow.maxRecordsPerBatch` varied. pandas: `pyfunc.load_model(...).predict` "
        "on a frame already in memory.",
        "",
        "| method | seconds | rows/s | vs pandas predict |",
        "| --- | ---: | ---: | ---: |",
        *[
            f"| spark_udf, Arrow batch {batch:,} | {seconds:.2f} | {SCORING_ROWS / seconds:,.0f} | "
            f"{seconds / scoring['pandas_predict_seconds']:.2f}x |"
            for batch, seconds in scoring["udf_seconds"].items()
        ],
        f"| bare pandas_udf (no MLflow), Arrow batch {best_batch:,} | {scoring['bare_udf_seconds']:.2f} | "
        f"{SCORING_ROWS / scoring['bare_udf_seconds']:,.0f} | "
        f"{scoring['bare_udf_seconds'] / scoring['pandas_predict_seconds']:.2f}x |",
        f"| pandas predict | {scoring['pandas_predict_seconds']:.2f} | "
        f"{SCORING_ROWS / scoring['pandas_predict_seconds']:,.0f} | 1.00x |",
        f"| pandas read Parquet + predict | {pandas_total:.2f} | {SCORING_ROWS / pandas_total:,.0f} | "
        f"{pandas_total / scoring['pandas_predict_seconds']:.2f}x |",
        "",
        f"Best spark_udf setting: Arrow batches of {best_batch:,} rows, {best_udf / scoring['pandas_predict_seconds']:.2f}x "
        f"the time of pandas predict ({best_udf / pandas_total:.2f}x of pandas read + predict). "
        f"Model load: {scoring['model_load_seconds']:.2f} s once on the driver for pandas; spark_udf loads it once per "
        "Python worker (workers are reused across batches). `churn score --arrow-batch-rows` defaults to "
        f"{DEFAULT_ARROW_BATCH_ROWS:,}.",
        "",
    ]
    return "\n".join(lines)


PROFILE_HEADING = "## Where the pipeline's time goes"


def kept_profile(page: Path) -> list[str]:
    """The profile section of the existing page (written from bench/profile_ml_pipeline.py, by hand): kept when
    the benchmark rewrites the page."""
    if not page.exists() or PROFILE_HEADING not in (text := page.read_text()):
        return []
    return ["", text[text.index(PROFILE_HEADING) :].rstrip("\n"), ""]


def bench_pipeline_only(repeats: int) -> None:
    """The pipeline runs alone, with the state of the local JVM's class data sharing archive (churn.jvm_cds)."""
    archive = cds_archive_state()
    print(f"load average {os.getloadavg()[0]:.1f}; class data sharing archive: {archive}", flush=True)
    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        pipeline = bench_pipeline(Path(tmp), repeats)
    print(f"pipeline: median {pipeline['seconds']:.1f} s of {repeats}, peak {pipeline['peak_gib']:.2f} GiB; "
          f"load average now {os.getloadavg()[0]:.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "ml.md")
    parser.add_argument("--batch-rows", type=int, default=1_000_000,
                        help="Rows of the batch timed through ingest, score and monitor (0: skip).")  # fmt: skip
    parser.add_argument("--pipeline-only", action="store_true",
                        help="Time only `churn pipeline` on Telco (--repeats fresh processes) and print the figures; "
                        "bench/ml.md is left as it is.")  # fmt: skip
    args = parser.parse_args()
    if args.repeats < 1:
        raise SystemExit("--repeats: must be at least 1")
    if args.pipeline_only:
        bench_pipeline_only(args.repeats)
        return
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    from churn.spark_session import local_spark

    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        work = Path(tmp)
        pipeline = bench_pipeline(work, args.repeats)
        spark = local_spark("churn-bench", driver_memory="6g")
        features = bench_features(spark, work, args.repeats)
        scoring = bench_scoring(spark, work, pipeline["workdir"], args.repeats)
        batch_lines: list[str] = []
        if args.batch_rows:
            from bench_ml_batch import bench_batch, render_batch, write_landing_folder

            landing = write_landing_folder(spark, work / "batch-landing", args.batch_rows)
            load = f"Load average before the batch: {os.getloadavg()[0]:.1f} (the machine is shared)."
            batch_lines = render_batch(
                bench_batch(pipeline["workdir"], landing, work), args.batch_rows, load=load
            )
        spark.stop()
    page = render(pipeline, features, scoring, repeats=args.repeats, started=started)
    args.out.write_text("\n".join([page.rstrip("\n"), "", *batch_lines, *kept_profile(args.out)]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
