"""Bad arguments end with one line naming the option and exit code 2, before anything is created."""

from __future__ import annotations

import pytest
from churn.cli import main


def fails_with(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and "Traceback" not in error
    return error


def test_help_lists_the_job_commands(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    for command in ["ingest", "train", "score", "pipeline"]:
        assert command in help_text


def test_a_store_must_be_chosen(capsys):
    assert "give --workdir DIR (local) or --catalog and --schema" in fails_with(capsys, "train")


def test_local_and_unity_catalog_options_exclude_each_other(capsys, tmp_path):
    error = fails_with(capsys, "train", "--workdir", str(tmp_path), "--catalog", "main", "--schema", "churn")
    assert "not both" in error


def test_catalog_needs_schema(capsys):
    assert "--schema: required together with --catalog" in fails_with(capsys, "score", "--catalog", "main")


def test_invalid_catalog_name_is_named(capsys):
    error = fails_with(capsys, "ingest", "--input", __file__, "--catalog", "main;drop", "--schema", "churn")
    assert "--catalog: 'main;drop' is not a valid name" in error


def test_missing_input_file_creates_no_workdir(capsys, tmp_path):
    workdir = tmp_path / "work"
    error = fails_with(capsys, "pipeline", "--input", str(tmp_path / "nope.csv"), "--workdir", str(workdir))
    assert "--input:" in error and "does not exist" in error
    assert not workdir.exists()


def test_too_few_folds(capsys, tmp_path):
    assert "--cv-folds: 1 is too few" in fails_with(
        capsys, "train", "--workdir", str(tmp_path), "--cv-folds", "1"
    )


def test_non_numeric_seed_names_the_option(capsys):
    assert "'--seed'" in fails_with(capsys, "train", "--seed", "abc")


def test_unknown_option(capsys):
    assert "No such option: --bogus" in fails_with(capsys, "score", "--bogus")


def test_unity_catalog_model_name_must_have_three_parts():
    from churn.errors import ChurnError
    from churn.runtime import unity_catalog_model_name

    assert unity_catalog_model_name("main", "team", "churn") == "main.team.churn"
    assert unity_catalog_model_name("main", "team", "other.models.churn") == "other.models.churn"
    with pytest.raises(
        ChurnError, match=r"--model-name: 'team\.churn' must be a name or catalog\.schema\.name"
    ):
        unity_catalog_model_name("main", "team", "team.churn")


def test_a_work_directory_that_is_a_file_is_refused_before_anything_starts(capsys, tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a directory")
    assert "--workdir: '" in fails_with(capsys, "train", "--workdir", str(blocker))
    assert "is not writable" in fails_with(
        capsys, "pipeline", "--input", __file__, "--workdir", str(blocker / "work")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_monitor_help_keeps_the_table_version_syntax(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one help line per option: the text is not wrapped
    with pytest.raises(SystemExit) as exited:
        main(["monitor", "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "CSV/Parquet/Delta path or table[@version]" in help_text  # rich markup would swallow "[@version]"
    assert "Current batch: path or table[@version]" in help_text


def test_an_internal_error_is_exit_3_never_the_verdict_code(capsys, monkeypatch, tmp_path):
    import churn.jobs.train

    def broken(*args, **kwargs):
        raise KeyError("unexpected")

    monkeypatch.setattr(churn.jobs.train, "run_train", broken)
    (tmp_path / "tables").mkdir()  # a work directory made by `churn ingest`
    with pytest.raises(SystemExit) as exited:
        main(["train", "--workdir", str(tmp_path)])
    assert exited.value.code == 3
    assert "internal error (exit 3): this is a bug in churn" in capsys.readouterr().err
