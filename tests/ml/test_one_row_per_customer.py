"""One row per customer, whatever arrives (contract.py, docs/ml-lifecycle.md): a key repeated inside one batch,
in one file or across two, lands once when its copies are identical (an exporter's retry) and is quarantined in
every copy with a reason when they differ; a customer sent again in a later batch replaces the earlier row
(latest batch wins). Silver, features and the training frame hold each customer once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from churn.cli import main
from churn.errors import ChurnError
from churn.jobs.train import load_training_frame
from churn.runtime import BRONZE, FEATURES, QUARANTINE, SILVER, local_runtime
from churn.storage import LocalDeltaStore


def ingest(landing: Path, workdir: Path) -> int:
    with pytest.raises(SystemExit) as exited:
        main(["ingest", "--input", str(landing), "--workdir", str(workdir)])
    return exited.value.code


def one_row_per_key(frame) -> bool:
    return frame.count() == frame.select("customerID").distinct().count()


def test_a_customer_in_two_files_of_one_batch_is_quarantined_and_a_later_batch_wins(
    spark, telco_raw, tmp_path
):
    first = tmp_path / "day1"
    first.mkdir()
    telco_raw.iloc[:150].to_csv(first / "a.csv", index=False)
    resent = telco_raw.iloc[140:300].copy()  # customers 140..149 also in a.csv, with another charge
    resent.loc[resent.index[:10], "MonthlyCharges"] = "99.5"
    resent.to_csv(first / "b.csv", index=False)
    workdir = tmp_path / "work"

    assert ingest(first, workdir) == 0
    store = local_runtime(workdir).store
    repeated = set(telco_raw.iloc[140:150]["customerID"])
    for table in (SILVER, FEATURES):
        frame = store.read(table)
        assert one_row_per_key(frame), table
        assert not repeated & {r[0] for r in frame.select("customerID").collect()}
        assert frame.count() == 290
    quarantine = store.read(QUARANTINE).toPandas()
    assert sorted(quarantine["customerID"]) == sorted(list(repeated) * 2)
    assert set(quarantine["_quarantine_reason"]) == {
        "customerID: appears 2 times in this batch with different values"
    }
    assert store.read(BRONZE).count() == 310  # bronze keeps what landed, copies included

    second = tmp_path / "day2"
    second.mkdir()
    later = telco_raw.iloc[100:120].copy()
    later["MonthlyCharges"] = "12.25"
    later.to_csv(second / "c.csv", index=False)
    assert ingest(second, workdir) == 0
    silver = store.read(SILVER).toPandas().set_index("customerID")
    assert one_row_per_key(store.read(SILVER)) and one_row_per_key(store.read(FEATURES))
    assert (silver.loc[later["customerID"], "MonthlyCharges"] == 12.25).all()


def test_the_real_telco_file_sent_with_an_exporters_retry_keeps_every_customer_once(
    spark, telco_raw, tmp_path
):
    landing = tmp_path / "landing"
    landing.mkdir()
    telco_raw.to_csv(landing / "full.csv", index=False)
    # An exporter's retry: the same 200 customers again, identical but for padding and column order.
    retry = telco_raw.iloc[:200].copy()
    retry["MonthlyCharges"] = " " + retry["MonthlyCharges"].astype(str) + " "
    retry[list(reversed(retry.columns))].to_csv(landing / "full_part_again.csv", index=False)
    workdir = tmp_path / "work"

    assert ingest(landing, workdir) == 0
    runtime = local_runtime(workdir)
    frame, lineage = load_training_frame(runtime)
    assert len(frame) == frame["customerID"].nunique() == len(telco_raw)  # no good customer lost
    assert lineage["data_row_count"] == str(len(telco_raw))
    assert one_row_per_key(runtime.store.read(SILVER))
    assert not runtime.store.exists(QUARANTINE)
    assert runtime.store.read(BRONZE).count() == len(telco_raw) + 200  # bronze keeps both copies as landed


def test_copies_that_differ_only_in_the_label_are_quarantined_identical_ones_in_one_file_land_once(
    spark, telco_raw, tmp_path
):
    landing = tmp_path / "landing"
    landing.mkdir()
    batch = telco_raw.iloc[:50].copy()
    twice = batch.iloc[[0]].copy()  # customer 0 twice, identical
    flipped = batch.iloc[[1]].copy()  # customer 1 twice, once with the other label
    flipped["Churn"] = "No" if flipped["Churn"].iloc[0] == "Yes" else "Yes"
    pd.concat([batch, twice, flipped]).to_csv(landing / "a.csv", index=False)
    workdir = tmp_path / "work"

    assert ingest(landing, workdir) == 0
    store = local_runtime(workdir).store
    silver_ids = [r[0] for r in store.read(SILVER).select("customerID").collect()]
    assert sorted(silver_ids) == sorted(set(batch["customerID"]) - {batch["customerID"].iloc[1]})
    quarantine = store.read(QUARANTINE).toPandas()
    assert list(quarantine["customerID"]) == [batch["customerID"].iloc[1]] * 2


def test_an_upsert_with_a_repeated_key_is_refused_before_writing(spark, tmp_path):
    store = LocalDeltaStore(spark, tmp_path / "work")
    schema = "customerID string, v int"
    store.upsert("t", spark.createDataFrame([("a", 1)], schema), key="customerID")
    with pytest.raises(ChurnError, match="1 repeated customerID value"):
        store.upsert("t", spark.createDataFrame([("b", 1), ("b", 2)], schema), key="customerID")
    assert store.version("t") == 0
    assert [tuple(r) for r in store.read("t").collect()] == [("a", 1)]
