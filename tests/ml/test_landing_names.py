"""Landing file names as exporters write them: every file in a landing folder is either read or named in the
error. Spark skips names starting with `_` or `.` without a word and cannot open a name with `:` (a Java stack
trace); brackets and braces are Hadoop glob characters and must be read as the file they name."""

from __future__ import annotations

from pathlib import Path

import pytest
from churn.cli import main
from churn.runtime import BRONZE, local_runtime


def ingest(landing: Path, workdir: Path) -> int:
    with pytest.raises(SystemExit) as exited:
        main(["ingest", "--input", str(landing), "--workdir", str(workdir)])
    return exited.value.code


def test_hidden_and_colon_names_are_named_in_one_line_and_nothing_is_written(
    spark, telco_raw, tmp_path, capsys
):
    landing = tmp_path / "landing"
    landing.mkdir()
    telco_raw.iloc[:100].to_csv(landing / "day1.csv", index=False)
    telco_raw.iloc[100:200].to_csv(landing / "_export.csv", index=False)
    telco_raw.iloc[200:300].to_csv(landing / "churn-2026-12-06T10:00:00.csv", index=False)
    (landing / "_SUCCESS").write_text("")  # a Spark exporter's commit marker: skipped on purpose

    assert ingest(landing, tmp_path / "work") == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "Exception" not in err
    assert err.splitlines()[-1] == (
        f"error: --input: Spark cannot read '{landing / '_export.csv'}', "
        f"'{landing / 'churn-2026-12-06T10:00:00.csv'}': a name starting with '_' or '.' is skipped and a ':' "
        "is not allowed in a Hadoop path; rename them; nothing was written"
    )
    assert not (tmp_path / "work").exists()


def test_brackets_and_braces_in_names_are_files_not_globs(spark, telco_raw, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    telco_raw.iloc[:100].to_csv(landing / "batch[1].csv", index=False)
    telco_raw.iloc[100:150].to_csv(landing / "batch{2}.csv", index=False)
    telco_raw.iloc[150:160].to_csv(
        landing / "batch1.csv", index=False
    )  # what `batch[1].csv` matches as a glob
    (landing / "_SUCCESS").write_text("")

    assert ingest(landing, tmp_path / "work") == 0
    bronze = local_runtime(tmp_path / "work").store.read(BRONZE).toPandas()
    assert len(bronze) == 160
    assert bronze.groupby("_source").size().to_dict() == {
        str(landing / "batch[1].csv"): 100,
        str(landing / "batch{2}.csv"): 50,
        str(landing / "batch1.csv"): 10,
    }


def test_a_zero_byte_file_is_named_not_silently_dropped(spark, telco_raw, tmp_path, capsys):
    # Spark's file listing drops zero-byte files, so the batch landed without it and said nothing.
    landing = tmp_path / "landing"
    (landing / "eu").mkdir(parents=True)
    telco_raw.iloc[:100].to_csv(landing / "day1.csv", index=False)
    (landing / "eu" / "day1.csv").write_bytes(b"")  # an exporter that crashed before the header
    (landing / "_SUCCESS").write_text("")  # a commit marker is empty on purpose

    assert ingest(landing, tmp_path / "work") == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == (
        f"error: --input: '{landing / 'eu' / 'day1.csv'}': empty file (0 bytes, not even a header line); "
        "remove it or re-export it; nothing was written"
    )
    assert not (tmp_path / "work").exists()
