"""Ingest under real landing folders: several files in different column orders, dirty feeds, unreadable files,
re-runs, unlabelled customers. Through the CLI as the training job runs it; exit codes are the contract
(0 done, 1 a verdict, 2 bad input or a refused batch, 3 a bug)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from churn.cli import main
from churn.runtime import BRONZE, FEATURES, QUARANTINE, SILVER, local_runtime


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code


def ingest(landing: Path, workdir: Path, *extra: str) -> int:
    return run_cli("ingest", "--input", str(landing), "--workdir", str(workdir), *extra)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("error: ")
    return last


def nothing_written(workdir: Path) -> bool:
    return not (workdir / "tables").exists() and not (workdir / "mlflow.db").exists()


@pytest.fixture()
def landing(tmp_path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def test_files_with_the_same_columns_in_another_order_are_read_by_name(spark, telco_raw, landing, tmp_path):
    first, second = telco_raw.iloc[:300], telco_raw.iloc[300:600]
    first.to_csv(landing / "a.csv", index=False)
    columns = list(second.columns)
    i, j = columns.index("MonthlyCharges"), columns.index("TotalCharges")
    columns[i], columns[j] = columns[j], columns[i]
    second[columns[::-1]].to_csv(landing / "b.csv", index=False)  # reversed, charges swapped

    assert ingest(landing, tmp_path / "work") == 0

    silver = local_runtime(tmp_path / "work").store.read(SILVER).toPandas().set_index("customerID")
    assert len(silver) == 600
    expected = pd.concat([first, second]).set_index("customerID")
    assert (silver["MonthlyCharges"] == expected.loc[silver.index, "MonthlyCharges"].astype(float)).all()
    assert (silver["tenure"] == expected.loc[silver.index, "tenure"].astype(int)).all()
    assert set(silver["Contract"]) <= {"Month-to-month", "One year", "Two year"}


def test_a_file_whose_header_breaks_the_contract_is_named(spark, telco_raw, landing, tmp_path, capsys):
    telco_raw.iloc[:50].to_csv(landing / "good.csv", index=False)
    telco_raw.iloc[50:100].rename(columns={"tenure": "Tenure"}).to_csv(landing / "renamed.csv", index=False)
    assert ingest(landing, tmp_path / "work") == 2
    error = one_line_error(capsys)
    assert "renamed.csv: breaks the data contract: missing column 'tenure'" in error
    assert nothing_written(tmp_path / "work")


def test_a_few_bad_numeric_cells_are_quarantined_under_ansi_mode(spark, telco_raw, landing, tmp_path):
    batch = telco_raw.iloc[:200].copy().reset_index(drop=True)
    batch.loc[0, "tenure"] = "abc"
    batch.loc[1, "tenure"] = "99999999999999999999"  # overflows a long: a cast would raise under ANSI
    batch.loc[2, "SeniorCitizen"] = "yes"
    batch.to_csv(landing / "dirty.csv", index=False)
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"

    assert ingest(landing, tmp_path / "work") == 0

    store = local_runtime(tmp_path / "work").store
    reasons = {r["customerID"]: r["_quarantine_reason"] for r in store.read(QUARANTINE).collect()}
    assert "tenure: not integer: 'abc'" in reasons[batch.loc[0, "customerID"]]
    assert "tenure: not integer" in reasons[batch.loc[1, "customerID"]]
    assert "SeniorCitizen: not integer: 'yes'" in reasons[batch.loc[2, "customerID"]]
    assert store.read(SILVER).count() == 197


def test_a_column_that_is_mostly_not_numbers_is_a_changed_type(spark, telco_raw, landing, tmp_path, capsys):
    batch = telco_raw.iloc[:100].copy()
    batch["tenure"] = batch["tenure"] + " months"
    batch.to_csv(landing / "months.csv", index=False)
    assert ingest(landing, tmp_path / "work") == 2
    error = one_line_error(capsys)
    assert "months.csv: breaks the data contract: column 'tenure' changed type: 100 of 100 values" in error
    assert nothing_written(tmp_path / "work")


def test_a_feed_where_most_rows_break_the_contract_is_refused(spark, telco_raw, landing, tmp_path, capsys):
    batch = telco_raw.iloc[:200].copy().reset_index(drop=True)
    batch.loc[:59, "Contract"] = "Three year"  # 30 % of the rows
    batch.to_csv(landing / "broken.csv", index=False)

    assert ingest(landing, tmp_path / "work") == 2
    error = one_line_error(capsys)
    assert "60 of 200 rows (30%) break the data contract, above the ceiling of 10%" in error
    assert "Contract: 'Three year' is not one of" in error and error.endswith("nothing was written")
    assert nothing_written(tmp_path / "work")

    # the ceiling is configurable: a team that accepts it lands the good rows and quarantines the rest
    assert ingest(landing, tmp_path / "work", "--max-quarantined-share", "0.5") == 0
    assert local_runtime(tmp_path / "work").store.read(QUARANTINE).count() == 60


def test_a_required_column_empty_in_every_row_is_structural(spark, telco_raw, landing, tmp_path, capsys):
    telco_raw.iloc[:100].assign(PaymentMethod="").to_csv(landing / "blank.csv", index=False)
    assert ingest(landing, tmp_path / "work", "--max-quarantined-share", "1") == 2
    assert "required column 'PaymentMethod' is empty in every row" in one_line_error(capsys)
    assert nothing_written(tmp_path / "work")


def test_the_pipeline_stops_before_training_on_a_refused_batch(spark, telco_raw, landing, tmp_path, capsys):
    telco_raw.iloc[:300].assign(tenure="1").assign(Contract="Weekly").to_csv(landing / "x.csv", index=False)
    workdir = tmp_path / "work"
    assert run_cli("pipeline", "--input", str(landing), "--workdir", str(workdir), "--cv-folds", "2") == 2
    assert "above the ceiling" in one_line_error(capsys)
    assert nothing_written(workdir)


def _parquet_as_csv(telco_raw, path: Path) -> None:
    telco_raw.iloc[:20].to_parquet(path)


def _truncated_gzip(telco_raw, path: Path) -> None:
    data = gzip.compress(telco_raw.iloc[:2000].to_csv(index=False).encode())
    path.write_bytes(data[: len(data) // 2])


def _binary(telco_raw, path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 40)


@pytest.mark.parametrize(
    "name, write, why",
    [
        ("customers.csv", _parquet_as_csv, "is not CSV text (binary content)"),
        ("customers.csv.gz", _truncated_gzip, "cannot be read as CSV (truncated or corrupt compressed data)"),
        ("dump.csv", _binary, "is not CSV text (binary content)"),
    ],
    ids=["parquet-as-csv", "truncated-gzip", "binary"],
)
def test_an_unreadable_file_is_one_line_naming_it(
    spark, telco_raw, landing, tmp_path, capsys, name, write, why
):
    telco_raw.iloc[:50].to_csv(landing / "good.csv", index=False)
    write(telco_raw, landing / name)
    assert ingest(landing, tmp_path / "work") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"error: {landing / name}: {why}; nothing was written"
    assert not any(ord(c) < 32 and c not in "\n" for c in err)  # no control bytes echoed
    assert nothing_written(tmp_path / "work")


def test_reingest_lands_only_new_files_and_unlabelled_customers_land_for_scoring(
    spark, telco_raw, landing, tmp_path, capsys
):
    workdir = tmp_path / "work"
    telco_raw.iloc[:300].to_csv(landing / "day1.csv", index=False)
    assert ingest(landing, workdir) == 0
    assert ingest(landing, workdir) == 0  # unchanged: nothing lands twice
    store = local_runtime(workdir).store
    assert store.read(BRONZE).count() == 300 and store.read(SILVER).count() == 300
    assert "files already landed" in capsys.readouterr().out

    telco_raw.iloc[300:400].drop(columns=["Churn"]).to_csv(landing / "day2_new_customers.csv", index=False)
    assert ingest(landing, workdir) == 0
    assert store.read(BRONZE).count() == 400
    silver = store.read(SILVER).toPandas()
    assert len(silver) == 400 and silver["Churn"].isna().sum() == 100
    assert store.read(FEATURES).count() == 400
    from churn.features import labels

    assert labels(store.read(SILVER)).count() == 300  # unlabelled customers are scored, never trained on


def test_a_failed_run_can_be_run_again(spark, telco_raw, landing, tmp_path, monkeypatch, capsys):
    from churn.storage import LocalDeltaStore

    workdir = tmp_path / "work"
    batch = telco_raw.iloc[:100].copy().reset_index(drop=True)
    batch.loc[0, "Contract"] = "Three year"
    batch.to_csv(landing / "day1.csv", index=False)
    real_upsert = LocalDeltaStore.upsert

    def crash_on_features(self, name, df, *, key):
        if name == FEATURES:
            raise RuntimeError("cluster lost")
        return real_upsert(self, name, df, key=key)

    monkeypatch.setattr(LocalDeltaStore, "upsert", crash_on_features)
    assert ingest(landing, workdir) == 3  # a crash is a bug-class failure, never the verdict code 1
    assert "internal error" in capsys.readouterr().err
    monkeypatch.setattr(LocalDeltaStore, "upsert", real_upsert)

    assert ingest(landing, workdir) == 0
    store = local_runtime(workdir).store
    assert store.read(BRONZE).count() == 100
    assert store.read(FEATURES).count() == store.read(SILVER).count() == 99
    assert store.read(QUARANTINE).count() == 1  # the re-run did not quarantine the bad row twice
