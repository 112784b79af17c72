"""Across batches the later export wins, not the later arrival: an older export re-sent after a newer one leaves
the newer values in silver and features (the contract's as-of column `ExportedAt`; docs/ml-lifecycle.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from churn.features import AS_OF
from churn.jobs.ingest import run_ingest
from churn.runtime import FEATURES, SILVER, local_runtime


def _export(rows: pd.DataFrame, exported_at: str, path) -> str:
    rows.assign(ExportedAt=exported_at).to_csv(path, index=False)
    return str(path)


def test_an_older_export_arriving_later_does_not_overwrite_newer_values(spark, telco_raw, tmp_path):
    runtime = local_runtime(tmp_path / "work")
    customers = telco_raw.iloc[:200].reset_index(drop=True)
    customer = customers.loc[0, "customerID"]
    newer = customers.copy()
    newer.loc[0, "MonthlyCharges"] = "99.5"
    older = customers.copy()
    older.loc[0, "MonthlyCharges"] = "20.25"
    later_customer = telco_raw.iloc[[500]]  # only in the old file: still lands (nothing newer to keep)

    run_ingest(runtime, _export(newer, "2026-12-02T06:00:00Z", tmp_path / "export-2026-12-02.csv"))
    result = run_ingest(
        runtime,
        _export(
            pd.concat([older, later_customer]), "2026-12-01T06:00:00Z", tmp_path / "export-2026-12-01.csv"
        ),
    )

    assert result.files_landed == 1 and result.rows_quarantined == 0
    silver = runtime.store.read(SILVER).toPandas().set_index("customerID")
    features = runtime.store.read(FEATURES).toPandas().set_index("customerID")
    assert silver.loc[customer, "MonthlyCharges"] == 99.5
    assert features.loc[customer, "monthly_charges"] == 99.5
    assert silver.loc[customer, AS_OF] == pd.Timestamp("2026-12-02 06:00:00")
    assert later_customer["customerID"].iloc[0] in features.index
    assert len(silver) == len(features) == 201  # one row per customer still


def test_without_an_export_time_the_later_batch_wins_as_before(spark, telco_raw, tmp_path):
    runtime = local_runtime(tmp_path / "work")
    first = telco_raw.iloc[:100].reset_index(drop=True)
    second = first.copy()
    second.loc[0, "MonthlyCharges"] = "42.0"
    first.to_csv(tmp_path / "a.csv", index=False)
    second.to_csv(tmp_path / "b.csv", index=False)
    run_ingest(runtime, str(tmp_path / "a.csv"))
    run_ingest(runtime, str(tmp_path / "b.csv"))
    silver = runtime.store.read(SILVER).toPandas().set_index("customerID")
    assert silver.loc[first.loc[0, "customerID"], "MonthlyCharges"] == 42.0


def test_an_export_time_that_is_not_a_time_is_quarantined(spark, telco_raw, tmp_path):
    runtime = local_runtime(tmp_path / "work")
    rows = telco_raw.iloc[:100].assign(ExportedAt="2026-12-01T06:00:00Z").reset_index(drop=True)
    rows.loc[0, "ExportedAt"] = "2026-13-45"
    rows.loc[1, "ExportedAt"] = "yesterday"
    rows.to_csv(tmp_path / "odd.csv", index=False)
    result = run_ingest(runtime, str(tmp_path / "odd.csv"))
    assert result.rows_quarantined == 2


def test_on_unity_catalog_the_merge_keeps_the_newer_row_and_adds_the_column_to_an_older_table(spark):
    """No Databricks here: a stand-in session records the SQL the Unity Catalog store sends for a table written
    before the as-of rule (no `_as_of` column yet)."""
    from types import SimpleNamespace

    from churn.storage import UnityCatalogStore

    sent: list[str] = []
    session = SimpleNamespace(
        sql=sent.append,
        table=lambda name: SimpleNamespace(columns=["customerID", "MonthlyCharges"]),
        catalog=SimpleNamespace(tableExists=lambda name: True, dropTempView=lambda name: None),
    )
    store = UnityCatalogStore(session, "main", "ml")
    rows = spark.createDataFrame(
        [("0001-AAAAA", 20.0, datetime(2026, 12, 1))],
        f"customerID string, MonthlyCharges double, {AS_OF} timestamp",
    )
    store.upsert(SILVER, rows, key="customerID", as_of=AS_OF)

    assert sent[0] == f"ALTER TABLE `main`.`ml`.`{SILVER}` ADD COLUMNS (`{AS_OF}` TIMESTAMP)"
    assert (
        f"WHEN MATCHED AND (target.`{AS_OF}` IS NULL OR source.`{AS_OF}` >= target.`{AS_OF}`) THEN UPDATE SET *"
        in sent[1]
    )


def test_two_exports_landed_in_one_batch_keep_the_later_one_per_customer(spark, telco_raw, tmp_path):
    """A landing folder holding two days' full exports (the job missed a day) is one batch. Every customer is in
    both files with a different ExportedAt, so the copies are not 'identical': the export time must decide, as
    it does across batches, instead of quarantining every copy (which refuses the whole batch)."""
    runtime = local_runtime(tmp_path / "work")
    customers = telco_raw.iloc[:200].reset_index(drop=True)
    customer = customers.loc[0, "customerID"]
    monday = customers.copy()
    monday.loc[0, "MonthlyCharges"] = "20.25"
    tuesday = customers.copy()
    tuesday.loc[0, "MonthlyCharges"] = "99.5"
    landing = tmp_path / "landing"
    landing.mkdir()
    # Tuesday's file sorts first: the order of the files must not matter, only the export time.
    _export(tuesday, "2026-12-02T06:00:00+01:00", landing / "a-export.csv")
    _export(monday, "2026-12-01T06:00:00+01:00", landing / "b-export.csv")

    result = run_ingest(runtime, str(landing))

    assert result.files_landed == 2 and result.rows_quarantined == 0
    silver = runtime.store.read(SILVER).toPandas().set_index("customerID")
    features = runtime.store.read(FEATURES).toPandas().set_index("customerID")
    assert len(silver) == len(features) == 200
    assert silver.loc[customer, "MonthlyCharges"] == 99.5
    assert features.loc[customer, "monthly_charges"] == 99.5
    assert silver.loc[customer, AS_OF] == pd.Timestamp("2026-12-02 05:00:00")


def test_two_copies_with_the_same_export_time_and_different_values_are_quarantined(
    spark, telco_raw, tmp_path
):
    """Equal export times cannot order the copies: the batch still cannot tell which is right."""
    runtime = local_runtime(tmp_path / "work")
    customers = telco_raw.iloc[:100].reset_index(drop=True)
    changed = customers.iloc[[0]].copy()
    changed["MonthlyCharges"] = "99.5"
    landing = tmp_path / "landing"
    landing.mkdir()
    _export(customers, "2026-12-02T06:00:00Z", landing / "a.csv")
    _export(changed, "2026-12-02T06:00:00Z", landing / "b.csv")

    result = run_ingest(runtime, str(landing))

    assert result.rows_quarantined == 2
    assert customers.loc[0, "customerID"] not in set(runtime.store.read(SILVER).toPandas()["customerID"])


def test_an_offset_without_colon_as_python_and_java_write_it_is_a_time(spark, telco_raw, tmp_path):
    """`datetime.strftime('%Y-%m-%dT%H:%M:%S%z')` and Java's `Z` pattern write `+0100`, not `+01:00`: an exporter
    using either must land its rows at the right instant, not see its whole file refused."""
    runtime = local_runtime(tmp_path / "work")
    customers = telco_raw.iloc[:50].reset_index(drop=True)
    result = run_ingest(runtime, _export(customers, "2026-12-02T06:00:00+0100", tmp_path / "export.csv"))
    assert result.rows_quarantined == 0
    silver = runtime.store.read(SILVER).toPandas()
    assert set(silver[AS_OF]) == {pd.Timestamp("2026-12-02 05:00:00")}


def test_locally_a_table_from_before_the_as_of_rule_gets_the_column_and_then_keeps_the_newer_row(
    spark, tmp_path
):
    store = local_runtime(tmp_path / "work").store
    schema = "customerID string, MonthlyCharges double"
    store.upsert(SILVER, spark.createDataFrame([("0001-AAAAA", 10.0)], schema), key="customerID")
    with_as_of = f"{schema}, {AS_OF} timestamp"

    def upsert(charge: float, as_of: datetime) -> None:
        rows = spark.createDataFrame([("0001-AAAAA", charge, as_of)], with_as_of)
        store.upsert(SILVER, rows, key="customerID", as_of=AS_OF)

    upsert(20.0, datetime(2026, 12, 2))  # the stored row has no as-of time: replaced
    upsert(30.0, datetime(2026, 12, 1))  # older: ignored
    upsert(40.0, datetime(2026, 12, 2))  # equal: the later arrival wins
    rows = store.read(SILVER).toPandas()
    assert list(rows["MonthlyCharges"]) == [40.0]
    assert list(rows[AS_OF]) == [pd.Timestamp("2026-12-02")]


def test_an_export_time_in_the_future_does_not_lock_the_customer_until_then(spark, telco_raw, tmp_path):
    """An exporter east of UTC writing its local time without a zone (or with a clock ahead) stamps rows hours
    in the future. A row cannot be true at the source after it reached us: its as-of time is capped at the
    ingest, so the next batch (here one without ExportedAt, as of its ingest) still replaces it."""
    runtime = local_runtime(tmp_path / "work")
    customers = telco_raw.iloc[:50].reset_index(drop=True)
    ahead = (datetime.now(UTC) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%S")
    run_ingest(runtime, _export(customers, ahead, tmp_path / "export-ahead.csv"))
    later = customers.copy()
    later.loc[0, "MonthlyCharges"] = "99.5"
    later.to_csv(tmp_path / "export-next.csv", index=False)
    run_ingest(runtime, str(tmp_path / "export-next.csv"))

    silver = runtime.store.read(SILVER).toPandas().set_index("customerID")
    assert silver.loc[customers.loc[0, "customerID"], "MonthlyCharges"] == 99.5
