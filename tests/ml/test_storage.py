"""The local Delta store behaves like a Delta table: versions per commit, upserts by key, overwrites with
schema changes, and nothing collected on the driver to write."""

from __future__ import annotations

import pytest
from churn.errors import ChurnError
from churn.storage import LocalDeltaStore, UnityCatalogStore, check_identifier
from deltalake import DeltaTable


@pytest.fixture
def store(spark, tmp_path):
    return LocalDeltaStore(spark, tmp_path / "work")


def rows(store, name):
    return sorted(tuple(r) for r in store.read(name).collect())


def test_append_creates_then_adds_versions(spark, store):
    store.append("t", spark.createDataFrame([("a", 1)], "k string, v int"))
    store.append("t", spark.createDataFrame([("b", 2)], "k string, v int"))
    assert store.version("t") == 1
    assert rows(store, "t") == [("a", 1), ("b", 2)]
    assert DeltaTable(store.location("t")).version() == 1  # a real Delta table on disk


def test_upsert_replaces_existing_keys_and_inserts_new(spark, store):
    store.upsert(
        "t", spark.createDataFrame([("a", 1), ("b", 2)], "customerID string, v int"), key="customerID"
    )
    store.upsert(
        "t", spark.createDataFrame([("b", 20), ("c", 3)], "customerID string, v int"), key="customerID"
    )
    assert rows(store, "t") == [("a", 1), ("b", 20), ("c", 3)]


def test_overwrite_replaces_rows_and_schema(spark, store):
    store.append("t", spark.createDataFrame([("a", 1)], "k string, v int"))
    store.overwrite("t", spark.createDataFrame([("x", 1.5, True)], "k string, v double, flag boolean"))
    assert store.read("t").columns == ["k", "v", "flag"]
    assert rows(store, "t") == [("x", 1.5, True)]


def test_timestamps_round_trip_in_utc(spark, store):
    frame = spark.sql("SELECT 'a' AS k, TIMESTAMP '2024-05-01 12:30:00' AS at")
    store.append("t", frame)
    assert dict(store.read("t").dtypes)["at"] == "timestamp"
    assert store.read("t").first()["at"] == frame.first()["at"]


def test_empty_table_reads_with_its_schema(spark, store):
    store.append("t", spark.createDataFrame([], "k string, v int"))
    assert store.read("t").count() == 0
    assert store.read("t").columns == ["k", "v"]


def test_missing_table_is_a_clear_error(store):
    assert not store.exists("nope")
    with pytest.raises(ChurnError, match="does not exist; run `churn ingest` first"):
        store.read("nope")


def test_staging_leaves_nothing_behind(spark, store):
    store.append("t", spark.createDataFrame([("a", 1)], "k string, v int"))
    assert list((store.workdir / "_staging").iterdir()) == []


def test_unity_catalog_names_are_validated_and_quoted(spark):
    uc = UnityCatalogStore(spark, "main", "ml")
    assert uc.location("churn_features") == "main.ml.churn_features"
    assert uc._quoted("churn_features") == "`main`.`ml`.`churn_features`"
    with pytest.raises(ChurnError, match="--schema: 'ml-team' is not a valid name"):
        UnityCatalogStore(spark, "main", "ml-team")
    with pytest.raises(ChurnError, match="--catalog"):
        check_identifier("1abc", option="--catalog")
