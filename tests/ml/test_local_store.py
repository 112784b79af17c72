"""The MLflow store a local run prepares while its JVM starts (churn.local_store): the work directory gets exactly
the store MLflow would have made, only when the run uses MLflow, never over a store that is there."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import churn.spark_session
import mlflow
import pytest
from churn import local_store
from churn.runtime import runtime_from_options
from churn.tracking import LOCAL_STORE_FILE, TrackingTarget

SRC = str(Path(__file__).resolve().parents[2] / "ml" / "src")


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    monkeypatch.setattr(local_store, "_prepared", {})


def store_contents(database: Path) -> dict[str, object]:
    with sqlite3.connect(database) as db:
        return {
            "tables": sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")),
            "schema": db.execute("SELECT version_num FROM alembic_version").fetchall(),
            "experiments": db.execute(
                "SELECT experiment_id, name, lifecycle_stage FROM experiments"
            ).fetchall(),
        }


def test_the_prepared_store_is_the_one_mlflow_makes(tmp_path):
    migrated_by_mlflow = TrackingTarget.local(tmp_path / "plain", "churn")
    migrated_by_mlflow.activate()
    prepared = TrackingTarget.local(tmp_path / "prepared", "churn")
    prepared.prepare_local_store()
    assert not (tmp_path / "prepared").exists()  # nothing in the work directory before MLflow is used

    prepared.activate()
    assert store_contents(tmp_path / "prepared" / LOCAL_STORE_FILE) == store_contents(
        tmp_path / "plain" / LOCAL_STORE_FILE
    )
    assert sorted(p.name for p in (tmp_path / "prepared").iterdir()) == [
        LOCAL_STORE_FILE
    ]  # no staged copy left


def test_a_store_that_is_there_is_never_replaced(tmp_path):
    first = TrackingTarget.local(tmp_path / "w", "churn")
    first.activate()
    database = tmp_path / "w" / LOCAL_STORE_FILE
    with sqlite3.connect(database) as db:
        db.execute("UPDATE experiments SET name = 'kept' WHERE name = 'churn'")
    local_store.prepare(tmp_path / "elsewhere" / LOCAL_STORE_FILE)  # prepared in this process for another dir

    assert local_store.install(database) is False
    assert ("1", "kept", "active") in [(str(i), n, s) for i, n, s in store_contents(database)["experiments"]]


def test_of_two_runs_at_once_the_first_store_wins(tmp_path):
    database = tmp_path / "w" / LOCAL_STORE_FILE
    database.parent.mkdir()
    local_store.prepare(database)
    assert local_store.install(database) is True
    database.write_bytes(b"the other run's store")  # what the losing run must not overwrite
    assert local_store.install(database) is False
    assert database.read_bytes() == b"the other run's store"


@pytest.mark.parametrize(("uses_tracking", "prepared"), [(True, True), (False, False)])
def test_only_runs_that_use_mlflow_prepare_a_store(tmp_path, monkeypatch, uses_tracking, prepared):
    """`churn ingest` never touches MLflow: its JVM start-up is not spent migrating a store nobody reads."""
    calls = []
    monkeypatch.setattr(churn.spark_session, "local_spark", lambda *a, **k: None)
    monkeypatch.setattr(local_store, "prepare", calls.append)
    runtime_from_options(
        workdir=tmp_path / "w", catalog=None, schema=None, model_name="churn", experiment_path=None,
        uses_tracking=uses_tracking,
    )  # fmt: skip
    assert bool(calls) is prepared


def test_preparing_writes_nothing_in_the_current_directory(tmp_path, monkeypatch):
    """A run refused before MLflow is used must leave nothing behind; with `--workdir .` the cwd IS the work dir."""
    monkeypatch.chdir(tmp_path)
    TrackingTarget.local(tmp_path, "churn").prepare_local_store()
    assert local_store._prepared  # the store was prepared
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == []
    )  # MLflow's store makes ./mlruns: not before its use


def test_an_experiment_another_run_created_meanwhile_is_used(tmp_path, monkeypatch):
    """Two runs at once on one work dir: both see no experiment 'churn', one creates it, the other must reuse it
    (seen 1 in 10 with two real processes once the store race is gone)."""
    TrackingTarget.local(tmp_path / "w", "churn").activate()  # the other run created 'churn' meanwhile
    real = mlflow.get_experiment_by_name
    calls = []

    def not_yet(name):  # what this run saw just before the other run's INSERT
        calls.append(name)
        return None if len(calls) == 1 else real(name)

    monkeypatch.setattr(mlflow, "get_experiment_by_name", not_yet)
    assert TrackingTarget.local(tmp_path / "w", "churn").activate() == "1"


def test_a_store_put_there_during_the_copy_is_not_replaced(tmp_path, monkeypatch):
    """Another run puts its store in place while this one writes its copy: the link refuses, theirs stays."""
    database = tmp_path / "w" / LOCAL_STORE_FILE
    database.parent.mkdir()
    local_store.prepare(database)
    link = local_store.os.link

    def other_run_wins(staged, target):
        database.write_bytes(b"the other run's store")
        link(staged, target)

    monkeypatch.setattr(local_store.os, "link", other_run_wins)
    assert local_store.install(database) is False
    assert database.read_bytes() == b"the other run's store"
    assert [p.name for p in database.parent.iterdir()] == [LOCAL_STORE_FILE]


def test_two_runs_with_the_same_pid_do_not_share_a_staged_file(tmp_path, monkeypatch):
    """Two containers sharing a work dir volume often have the same pid (1, 7, ...): a staged name made from the pid
    alone lets run B truncate the copy run A is about to link. Each run stages under a name of its own."""
    database = tmp_path / "w" / LOCAL_STORE_FILE
    database.parent.mkdir()
    local_store.prepare(database)
    prepared = local_store._prepared["store"]
    link = local_store.os.link

    def then_run_b_stages_its_copy(staged, target):
        for other in database.parent.glob(f".{LOCAL_STORE_FILE}.{os.getpid()}.tmp"):
            other.write_bytes(prepared[: len(prepared) // 2])  # what a pid-named staging file would suffer
        link(staged, target)

    monkeypatch.setattr(local_store.os, "link", then_run_b_stages_its_copy)
    (database.parent / f".{LOCAL_STORE_FILE}.{os.getpid()}.tmp").write_bytes(b"run B's copy, midway")
    assert local_store.install(database) is True
    assert database.read_bytes() == prepared


def _run(code: str, cwd: Path, tmpdir: Path) -> subprocess.CompletedProcess:
    tmpdir.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": SRC, "TMPDIR": str(tmpdir)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_a_killed_run_leaves_no_prepared_store_behind(tmp_path, signal_name):
    """`timeout`, Kubernetes, systemd stop a run with SIGTERM, and atexit does not run then."""
    code = (
        "import os, signal; from pathlib import Path; from churn import local_store\n"
        f"local_store.prepare(Path({str(tmp_path / 'w' / LOCAL_STORE_FILE)!r}))\n"
        "assert local_store._prepared\n"
        f"os.kill(os.getpid(), signal.{signal_name})\n"
    )
    done = _run(code, tmp_path, tmp_path / "tmp")
    assert done.returncode < 0, done.stderr  # killed, after preparing
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_copy_left_by_a_run_killed_while_installing_is_cleaned_up_later(tmp_path):
    database = tmp_path / "w" / LOCAL_STORE_FILE
    code = (
        "import os, signal; from pathlib import Path; from churn import local_store\n"
        f"db = Path({str(database)!r}); db.parent.mkdir()\n"
        "local_store.prepare(db)\n"
        "local_store.os.link = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        "local_store.install(db)\n"
    )
    assert _run(code, tmp_path, tmp_path / "tmp").returncode < 0
    (left,) = database.parent.iterdir()
    assert left.name.startswith(f".{LOCAL_STORE_FILE}.")
    long_ago = time.time() - 3600
    os.utime(left, (long_ago, long_ago))

    local_store.prepare(database)
    assert local_store.install(database) is True
    assert sorted(p.name for p in database.parent.iterdir()) == [LOCAL_STORE_FILE]


def test_without_hard_links_mlflow_makes_the_store_as_before(tmp_path, monkeypatch):
    def vfat(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(local_store.os, "link", vfat)
    target = TrackingTarget.local(tmp_path / "w", "churn")
    target.prepare_local_store()
    assert target.activate() == "1"
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [LOCAL_STORE_FILE]


def test_a_store_that_is_a_dangling_link_and_a_linked_work_directory_work_as_before(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    (real / LOCAL_STORE_FILE).symlink_to(tmp_path / "elsewhere.db")
    target = TrackingTarget.local(tmp_path / "link", "churn")
    target.prepare_local_store()
    assert target.activate() == "1"
    assert (tmp_path / "elsewhere.db").stat().st_size > 0  # MLflow created it through the link, as before
    assert sorted(p.name for p in real.iterdir()) == [LOCAL_STORE_FILE]


class _Stop(Exception):
    pass


@pytest.mark.parametrize(("command", "tracking"), [("ingest", False), ("pipeline", True)])
def test_ingest_never_prepares_a_store_and_the_pipeline_does(tmp_path, monkeypatch, command, tracking):
    """Through the command line: `churn ingest` does not use MLflow, `churn pipeline` does."""
    import churn.runtime
    from churn.cli import app
    from typer.testing import CliRunner

    seen = {}

    def capture(**kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(churn.runtime, "runtime_from_options", capture)
    batch = tmp_path / "batch.csv"
    batch.write_text("customerID\n1\n")
    CliRunner().invoke(app, [command, "--input", str(batch), "--workdir", str(tmp_path / "w")])
    assert seen.get("uses_tracking") is tracking
