"""The MLflow store a local run prepares while its JVM starts (churn.local_store): the work directory gets exactly
the store MLflow would have made, only when the run uses MLflow, never over a store that is there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import churn.spark_session
import pytest
from churn import local_store
from churn.runtime import runtime_from_options
from churn.tracking import LOCAL_STORE_FILE, TrackingTarget


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
