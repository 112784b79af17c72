"""The local JVM's JIT compiler is chosen per run by the data it reads (churn.jvm_jit): the quick compiler for a
small run such as the Telco pipeline, the full one for a large batch, `CHURN_JVM_JIT` to override and a typo in it
refused in one line."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from churn import jvm_jit
from churn.errors import ChurnError

REPO = Path(__file__).resolve().parents[2]
MB = 2**20


def write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv(jvm_jit.ENV, raising=False)


def test_a_small_input_gets_the_quick_compiler_and_a_large_one_the_full(tmp_path):
    small = write(tmp_path / "small.csv", MB)
    large = write(tmp_path / "large" / "part-0.csv", jvm_jit.SMALL_RUN_BYTES + 1)
    workdir = str(tmp_path / "w")
    assert (
        jvm_jit.java_options(["ingest", "--input", str(small), "--workdir", workdir]) == jvm_jit.QUICK_OPTIONS
    )
    assert jvm_jit.java_options(["ingest", f"--input={large.parent}", "--workdir", workdir]) == ""
    # The Telco pipeline, as `make demo` and bench/ml.md run it.
    telco = REPO / "ml" / "data" / "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"
    assert (
        jvm_jit.java_options(["pipeline", "--input", str(telco), "--workdir", workdir])
        == jvm_jit.QUICK_OPTIONS
    )


def test_a_large_work_directory_gets_the_full_compiler_whatever_the_command(tmp_path):
    """`churn score` after a large ingest reads the large tables, though it names no input file."""
    workdir = tmp_path / "w"
    write(workdir / "tables" / "churn_features" / "part-0.parquet", jvm_jit.SMALL_RUN_BYTES + 1)
    assert jvm_jit.java_options(["score", "--workdir", str(workdir)]) == ""
    assert jvm_jit.java_options(["monitor", f"--workdir={workdir}"]) == ""


def test_models_and_plots_in_the_work_directory_do_not_count(tmp_path):
    """Many training runs leave many MBs of MLflow artifacts; Spark processes none of them."""
    workdir = tmp_path / "w"
    write(workdir / "mlartifacts" / "1" / "model.pkl", jvm_jit.SMALL_RUN_BYTES + 1)
    write(workdir / "mlflow.db", MB)
    assert jvm_jit.java_options(["train", "--workdir", str(workdir)]) == jvm_jit.QUICK_OPTIONS


def test_a_compressed_file_counts_as_what_it_unpacks_to(tmp_path):
    packed = tmp_path / "batch.csv.gz"
    # Random bytes do not compress: the file is as large as what it unpacks to, a sixth of the limit.
    with gzip.open(packed, "wb", compresslevel=1) as out:
        out.write(os.urandom(jvm_jit.SMALL_RUN_BYTES // 6))
    assert packed.stat().st_size < jvm_jit.SMALL_RUN_BYTES
    assert jvm_jit.java_options(["ingest", "--input", str(packed), "--workdir", str(tmp_path / "w")]) == ""


def test_the_reference_and_current_files_of_monitor_count(tmp_path):
    reference = write(tmp_path / "reference.csv", jvm_jit.SMALL_RUN_BYTES // 2)
    current = write(tmp_path / "current.csv", jvm_jit.SMALL_RUN_BYTES // 2 + 2)
    argv = ["monitor", "--reference", str(reference), "--current", str(current), "--workdir", str(tmp_path)]
    assert jvm_jit.java_options(argv) == ""
    assert jvm_jit.java_options(argv[:3] + argv[5:]) == jvm_jit.QUICK_OPTIONS


@pytest.mark.parametrize(
    "remote", ["s3://bucket/landing/", "abfss://raw@acct.dfs.core.windows.net/x", "dbfs:/x"]
)
def test_data_whose_size_cannot_be_told_gets_the_full_compiler(tmp_path, remote):
    assert jvm_jit.java_options(["ingest", "--input", remote, "--workdir", str(tmp_path / "w")]) == ""


def test_counting_stops_once_the_run_is_known_to_be_large(tmp_path, monkeypatch):
    folder = tmp_path / "landing"
    for i in range(50):
        write(folder / f"part-{i:02d}.csv", 10)
    stats = []
    real_stat = os.stat

    def counting_stat(path, *args, **kwargs):
        if str(path).endswith(".csv"):
            stats.append(path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(jvm_jit.os, "stat", counting_stat)
    assert jvm_jit.bytes_on_disk([str(folder)], stop_above=45) > 45
    assert len(stats) == 5


def test_the_override_wins_and_a_typo_in_it_is_refused(tmp_path, monkeypatch):
    small = write(tmp_path / "small.csv", MB)
    argv = ["ingest", "--input", str(small), "--workdir", str(tmp_path / "w")]
    monkeypatch.setenv(jvm_jit.ENV, "full")
    assert jvm_jit.java_options(argv) == ""
    monkeypatch.setenv(jvm_jit.ENV, " Quick ")
    assert jvm_jit.java_options(argv) == jvm_jit.QUICK_OPTIONS
    monkeypatch.setenv(jvm_jit.ENV, "fast")
    with pytest.raises(ChurnError, match="CHURN_JVM_JIT: 'fast' is not one of auto, quick, full"):
        jvm_jit.java_options(argv)


def big_file(path: Path, size: int = 3 * jvm_jit.SMALL_RUN_BYTES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def test_a_symlinked_input_file_counts_as_the_file_it_names(tmp_path):
    """Spark (and ingest's own os.path.getsize) read through the link; jvm_jit lstat()s it and counts the ~30
    bytes of the link itself, so a 24 MB batch gets the quick compiler."""
    target = big_file(tmp_path / "store" / "batch.csv")
    link = tmp_path / "batch.csv"
    link.symlink_to(target)
    assert jvm_jit.java_options(["ingest", "--input", str(link), "--workdir", str(tmp_path / "w")]) == ""


def test_a_landing_folder_of_symlinks_counts_the_files_they_name(tmp_path):
    target = big_file(tmp_path / "store" / "part-0.csv")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "part-0.csv").symlink_to(target)
    assert jvm_jit.java_options(["ingest", "--input", str(landing), "--workdir", str(tmp_path / "w")]) == ""


def test_a_symlinked_subfolder_of_the_landing_folder_counts(tmp_path):
    """Hadoop's local listing (recursiveFileLookup) follows a symlinked folder; os.walk(followlinks=False) not."""
    big_file(tmp_path / "store" / "2026-12-01" / "part-0.csv")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "2026-12-01").symlink_to(tmp_path / "store" / "2026-12-01")
    assert jvm_jit.java_options(["ingest", "--input", str(landing), "--workdir", str(tmp_path / "w")]) == ""


def test_the_delta_history_of_the_work_directory_is_not_data_the_run_reads(tmp_path):
    """ingest upserts silver and features (a merge rewrites the files, the old ones stay: nothing vacuums). A
    daily refresh of the same 1 MB of customers, 12 times, leaves 12+ MB under tables/ while the live table is
    still 1 MB: `churn train`/`score` on it flips to the full compiler for a run that reads 1 MB."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    location = tmp_path / "w" / "tables" / "churn_features"
    rows = 20_000
    ids = pa.array([f"{i:06d}" for i in range(rows)])

    def batch(seed: int) -> pa.Table:
        return pa.table({"customerID": ids, "payload": pa.array([os.urandom(48).hex() for _ in range(rows)])})

    write_deltalake(str(location), batch(0))
    for day in range(1, 12):
        (
            DeltaTable(str(location))
            .merge(batch(day), predicate="target.customerID = source.customerID", source_alias="source",
                   target_alias="target")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )  # fmt: skip
    live = sum(os.path.getsize(u.removeprefix("file://")) for u in DeltaTable(str(location)).file_uris())
    on_disk = sum(f.stat().st_size for f in location.rglob("*") if f.is_file())
    assert on_disk > jvm_jit.SMALL_RUN_BYTES
    assert live < 3 * MB
    assert jvm_jit.java_options(["train", "--workdir", str(tmp_path / "w")]) == jvm_jit.QUICK_OPTIONS


def test_a_repeated_option_counts_only_the_value_click_uses(tmp_path):
    """click keeps the last `--input`; jvm_jit adds every one, so a corrected typo picks the wrong compiler."""
    big = big_file(tmp_path / "big.csv")
    small = tmp_path / "small.csv"
    small.write_bytes(b"x" * MB)
    argv = ["ingest", "--input", str(big), "--input", str(small), "--workdir", str(tmp_path / "w")]
    assert jvm_jit.java_options(argv) == jvm_jit.QUICK_OPTIONS


def test_a_refused_override_names_the_value_as_the_user_typed_it(monkeypatch):
    monkeypatch.setenv(jvm_jit.ENV, "FAST")
    with pytest.raises(ChurnError, match="CHURN_JVM_JIT: 'FAST' is not one of"):
        jvm_jit.choice()


def test_a_link_back_up_the_landing_tree_is_walked_once(tmp_path):
    landing = tmp_path / "landing"
    write(landing / "day-1" / "part-0.csv", MB)
    (landing / "day-1" / "again").symlink_to(landing)
    assert jvm_jit.bytes_on_disk([str(landing)], stop_above=100 * MB) == MB


def test_a_table_whose_first_commits_were_cleaned_up_counts_every_data_file(tmp_path):
    """Without the log from version 0 the current files cannot be told from the replaced ones: count them all."""
    table = tmp_path / "w" / "tables" / "churn_features"
    write(table / "_delta_log" / f"{12:020d}.json", 10)
    write(table / "part-0.parquet", jvm_jit.SMALL_RUN_BYTES + 1)
    assert jvm_jit.java_options(["train", "--workdir", str(tmp_path / "w")]) == ""


def churn_env(**extra: str) -> dict[str, str]:
    """This checkout's churn, with no CHURN_JVM_JIT from the caller's environment unless `extra` sets one."""
    env = {k: v for k, v in os.environ.items() if k != jvm_jit.ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "ml" / "src"), os.environ.get("PYTHONPATH", "")])
    return env | extra


def test_a_typo_in_the_override_is_one_line_exit_2_before_spark_starts(tmp_path, telco_sample):
    done = subprocess.run(
        [sys.executable, "-m", "churn.cli", "ingest", "--input", str(telco_sample), "--workdir", str(tmp_path / "w")],
        capture_output=True, text=True, timeout=300, env=churn_env(CHURN_JVM_JIT="c1"),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: CHURN_JVM_JIT: 'c1' is not one of auto, quick, full"]
    assert not (tmp_path / "w").exists()


JVM_ARGUMENTS = """
import sys
from churn.cli_options import prestart_spark
from churn.spark_session import local_spark
prestart_spark(sys.argv[1:])
spark = local_spark()
print(list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()))
"""


@pytest.mark.parametrize(("override", "quick"), [(None, True), ("full", False)])
def test_the_local_jvm_a_command_starts_runs_with_the_chosen_compiler(
    tmp_path, telco_sample, override, quick
):
    """What the JVM itself reports: the option reaches the driver JVM that spark-submit starts."""
    argv = ["ingest", "--input", str(telco_sample), "--workdir", str(tmp_path / "w")]
    env = churn_env(**({"CHURN_JVM_JIT": override} if override else {}))
    done = subprocess.run(
        [sys.executable, "-c", JVM_ARGUMENTS, *argv], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    assert (jvm_jit.QUICK_OPTIONS in done.stdout) is quick, done.stdout
