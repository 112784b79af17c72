"""The raw-layout contract: structural breaks reject the batch with a report, row breaks are quarantined
with a reason naming the field."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from churn.contract import QUARANTINE_REASON_COLUMN, Contract, check_structure, split_rows
from churn.errors import ContractViolation
from churn.jobs.ingest import read_raw_csv

CONTRACT = Contract.load()


def raw_frame(spark, frame: pd.DataFrame, tmp_path, name="batch.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return read_raw_csv(spark, str(path)), str(path)


def violation(spark, frame, tmp_path, *, require_label=True) -> str:
    raw, path = raw_frame(spark, frame, tmp_path)
    with pytest.raises(ContractViolation) as caught:
        check_structure(raw, CONTRACT, source=path, require_label=require_label)
    return str(caught.value)


def quarantine_reasons(spark, frame, tmp_path, *, require_label=True) -> dict[str, str]:
    raw, path = raw_frame(spark, frame, tmp_path)
    check_structure(raw, CONTRACT, source=path, require_label=require_label)
    split = split_rows(raw, CONTRACT, require_label=require_label)
    return {r["customerID"]: r[QUARANTINE_REASON_COLUMN] for r in split.quarantined.collect()}


def test_full_telco_file_passes_without_quarantine(spark, telco_raw, tmp_path):
    raw, path = raw_frame(spark, telco_raw, tmp_path)
    check_structure(raw, CONTRACT, source=path, require_label=True)
    split = split_rows(raw, CONTRACT, require_label=True)
    assert split.valid.count() == 7043
    assert split.quarantined.count() == 0
    assert dict(split.valid.dtypes)["tenure"] == "int"
    assert dict(split.valid.dtypes)["TotalCharges"] == "double"


def test_missing_column_rejects_the_batch(spark, telco_raw, tmp_path):
    message = violation(spark, telco_raw.head(20).copy().drop(columns=["tenure"]), tmp_path)
    assert "missing column 'tenure'" in message


def test_renamed_column_is_reported_as_missing_and_unexpected(spark, telco_raw, tmp_path):
    message = violation(
        spark, telco_raw.head(20).copy().rename(columns={"Contract": "ContractType"}), tmp_path
    )
    assert "missing column 'Contract'" in message and "unexpected column 'ContractType'" in message


def test_text_in_a_numeric_column_is_a_changed_type(spark, telco_raw, tmp_path):
    batch = telco_raw.head(20).copy().assign(MonthlyCharges=lambda f: "$" + f["MonthlyCharges"])
    message = violation(spark, batch, tmp_path)
    assert "column 'MonthlyCharges' changed type" in message
    assert "not double" in message


def test_typed_source_with_a_changed_column_type_is_rejected(spark, telco_raw):
    batch = telco_raw.head(20).copy().assign(tenure=lambda f: f["tenure"].astype(float))
    typed = spark.createDataFrame(batch)
    with pytest.raises(ContractViolation, match="column 'tenure' changed type: expected integer, got double"):
        check_structure(typed, CONTRACT, source="table", require_label=True)


def test_header_only_file_has_no_data_rows(spark, telco_raw, tmp_path):
    message = violation(spark, telco_raw.head(0), tmp_path)
    assert "no data rows" in message


def test_duplicated_header_is_rejected_before_spark_renames_it(spark, telco_raw, tmp_path):
    path = tmp_path / "dup.csv"
    telco_raw.head(20).copy().to_csv(path, index=False)
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("gender", "tenure")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ContractViolation, match="column 'tenure' appears more than once"):
        read_raw_csv(spark, str(path))


def test_label_is_optional_only_when_scoring(spark, telco_raw, tmp_path):
    unlabelled = telco_raw.head(20).copy().drop(columns=["Churn"])
    assert "missing column 'Churn'" in violation(spark, unlabelled, tmp_path)
    assert quarantine_reasons(spark, unlabelled, tmp_path, require_label=False) == {}


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_pass(spark, telco_raw, tmp_path):
    batch = telco_raw.head(12).copy().reset_index(drop=True)
    ids = batch["customerID"]
    batch.loc[0, "Contract"] = "Three year"
    batch.loc[1, "tenure"] = "-3"
    batch.loc[2, "MonthlyCharges"] = "abc"
    batch.loc[3, "gender"] = ""
    batch.loc[4, ["tenure", "TotalCharges"]] = ["5", " "]
    batch.loc[5, "customerID"] = "bad-id"
    batch.loc[6, "InternetService"] = "No"  # add-on columns still say Yes/No
    batch.loc[7, "customerID"] = ids[8]  # the same customer twice in one batch

    reasons = quarantine_reasons(spark, batch, tmp_path)

    assert "Contract: 'Three year' is not one of" in reasons[ids[0]]
    assert "tenure: -3 outside [0, 600]" in reasons[ids[1]]
    assert "MonthlyCharges: not double: 'abc'" in reasons[ids[2]]
    assert "gender: missing" in reasons[ids[3]]
    assert "TotalCharges: blank although tenure > 0" in reasons[ids[4]]
    assert "customerID: 'bad-id' does not match" in reasons["bad-id"]
    assert "OnlineSecurity: disagrees with InternetService" in reasons[ids[6]]
    assert "customerID: appears 2 times in this batch" in reasons[ids[8]]
    assert len(reasons) == 8  # rows 9-11 are clean


def test_malformed_line_is_quarantined_not_silently_truncated(spark, telco_raw, tmp_path):
    path = tmp_path / "ragged.csv"
    telco_raw.head(3).copy().to_csv(path, index=False)
    lines = path.read_text().splitlines()
    lines[2] += ",surplus"
    path.write_text("\n".join(lines) + "\n")
    raw = read_raw_csv(spark, str(path))
    check_structure(raw, CONTRACT, source=str(path), require_label=True)
    split = split_rows(raw, CONTRACT, require_label=True)
    quarantined = split.quarantined.collect()
    assert len(quarantined) == 1
    assert quarantined[0][QUARANTINE_REASON_COLUMN] == "malformed line: wrong number of fields"
    assert quarantined[0]["_corrupt_record"].endswith(",surplus")
    assert split.valid.count() == 2


def test_a_contract_with_quotes_backslashes_and_odd_names_judges_values_as_written(spark, tmp_path):
    """Names, allowed values and patterns that hold quotes, spaces and backslashes mean exactly what the contract
    file says. (Writing the row rules as SQL text, to save JVM calls, broke this under session settings such as
    spark.sql.parser.escapedStringLiterals: tried and reverted, bench/ml.md.)"""
    spec = {
        "name": "odd", "version": 1, "key": "id key's", "label": "it's churn",
        "type_change_fraction": 0.5, "max_quarantined_share": 1.0,
        "columns": [
            {"name": "id key's", "type": "string", "pattern": "^\\d{2}-'x'$"},
            {"name": "it's churn", "type": "string", "allowed": ["Yes", "O'Neil", "back\\slash"]},
            {"name": "score (%)", "type": "double", "min": 0.5},
            {"name": "count", "type": "integer", "max": 3, "nullable": True},
        ],
    }  # fmt: skip
    contract_path = tmp_path / "odd.json"
    contract_path.write_text(json.dumps(spec))
    contract = Contract.load(contract_path)
    batch = pd.DataFrame(
        {
            "id key's": ["01-'x'", "02-'x'", "03-'x'", "0a-'x'", "05-x", "06-'x'"],
            "it's churn": ["O'Neil", "back\\slash", "backslash", "Yes", "Yes", "Yes"],
            "score (%)": ["0.5", "1e3", "2", "0.49", "1", "7"],
            "count": ["3", "", "1", "2", "4", "x"],
        }
    )
    raw, path = raw_frame(spark, batch, tmp_path)
    check_structure(raw, contract, source=path, require_label=True)
    split = split_rows(raw, contract, require_label=True)
    reasons = {r["id key's"]: r[QUARANTINE_REASON_COLUMN] for r in split.quarantined.collect()}
    assert sorted(r["id key's"] for r in split.valid.collect()) == ["01-'x'", "02-'x'"]
    assert reasons == {
        "03-'x'": "it's churn: 'backslash' is not one of Yes, O'Neil, back\\slash",
        "0a-'x'": "id key's: '0a-'x'' does not match ^\\d{2}-'x'$; score (%): 0.49 outside [0.5, inf]",
        "05-x": "id key's: '05-x' does not match ^\\d{2}-'x'$; count: 4 outside [-inf, 3]",
        "06-'x'": "count: not integer: 'x'",
    }
    typed = {r["id key's"]: (r["score (%)"], r["count"]) for r in split.valid.collect()}
    assert typed == {"01-'x'": (0.5, 3), "02-'x'": (1000.0, None)}
