"""YAML that looks right to the person who wrote it: keys that are not words, tabs, dates that do not exist. Each
used to end in a traceback (exit 1) or a message that does not say what to change."""

import time

import pytest

from infra.cli.main import main
from infra.config import ConfigError, parse_config
from tests.infra.test_config_yaml import COMMITTED, edited, problems

NON_WORD_KEYS = [
    # an alias to a mapping used as a key: the alias shares its anchor's position, so the value's line is named
    ("platform: &p\n  prefix: dbp\n? *p\n: 1\nteams: []\n", "line 4"),
    ("? [platform, teams]\n: 1\n", "line 2"),
    ("platform:\n  ? {prefix: dbp}\n  : 1\n", "line 3"),
]


@pytest.mark.parametrize(("text", "where"), NON_WORD_KEYS)
def test_a_list_or_mapping_as_a_key_is_one_line_naming_where(text, where):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="platform.yaml")
    [line] = caught.value.lines()
    assert line.startswith(f"platform.yaml: {where}, ") and "a key must be a plain word" in line


@pytest.mark.parametrize(
    "text",
    [
        edited("  prefix: dbp", "\tprefix: dbp"),
        COMMITTED.replace("    cost_center: CC-4711", "    cost_center: CC-4711\n\tregion: westeurope", 1),
    ],
)
def test_a_tab_in_the_indentation_says_to_use_spaces(text):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="platform.yaml")
    [line] = caught.value.lines()
    assert "YAML indents with spaces only" in line


@pytest.mark.parametrize("text", [case[0] for case in NON_WORD_KEYS])
def test_platform_validate_refuses_a_non_word_key_with_exit_2_and_no_traceback(text, tmp_path, capsys):
    file = tmp_path / "platform.yaml"
    file.write_text(text)
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {file}: line ") and "Traceback" not in err


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("  log_retention_days: 30", "  log_retention_days: 30\n  budget_start: 2026-13-01", "'2026-13-01'"),
        ("  log_retention_days: 30", "  log_retention_days: 30\n  budget_start: 2027-02-30", "'2027-02-30'"),
        ("    cost_center: CC-4711", "    cost_center: 2026-02-28 25:00:00", "hour must be in 0..23"),
    ],
)
def test_a_date_that_does_not_exist_is_one_line_with_its_position_through_validate(
    old, new, words, tmp_path, capsys
):
    text = edited(old, new)
    line_number = text.splitlines().index(new.splitlines()[-1]) + 1
    file = tmp_path / "platform.yaml"
    file.write_text(text)
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith(f"error: {file}: line {line_number}, ")
    assert words in err and "no such date" in err


# Explicit tags a value does not fit: PyYAML's constructors raised ValueError (!!int abc), KeyError (!!bool maybe),
# AttributeError (!!timestamp nope), IndexError (!!float "") or TypeError (!!map [1], !!set [1]).
MISFIT_TAGS = [
    "!!int abc",
    "!!bool maybe",
    "!!timestamp nope",
    '!!float ""',
    "!!map [1]",
    "!!set [1]",
    "!!int 0x",
]


@pytest.mark.parametrize("tagged", MISFIT_TAGS)
def test_an_explicit_tag_the_value_does_not_fit_is_one_line_at_the_value(tagged, tmp_path, capsys):
    text = edited("    cost_center: CC-4711", f"    cost_center: {tagged}")
    file = tmp_path / "platform.yaml"
    file.write_text(text)
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and "Traceback" not in err
    line = text.splitlines().index(f"    cost_center: {tagged}") + 1
    assert (
        err
        == f"error: {file}: line {line}, column 18: the tag {tagged.split()[0]} does not fit this value; "
        + ("remove the tag (platform.yaml needs none)\n")
    )


def test_tags_that_fit_their_value_still_read():
    text = edited("    cost_center: CC-4711", '    cost_center: !!str "CC-4711"')
    text = text.replace("        budget: {amount: 800}", "        budget: {amount: !!float 800}", 1)
    churn = parse_config(text).team("churn")
    assert churn.cost_center == "CC-4711" and churn.environments["dev"].budget.amount == 800


@pytest.mark.parametrize(
    "text",
    ["x:\n" + "- a\n" * 1_250_000, "x:\n" + "- []\n" * 500_000, "x:\n" + ("- " * 2_400 + "a\n") * 200],
    ids=["5-MB-list", "empty-flow-lists", "deep-dashes"],
)
def test_a_document_far_larger_than_any_config_is_refused_in_one_line_before_it_is_composed(text):
    # Composing 1.25 million nodes took ~10 s here, and the line then called a plain list "an alias bomb".
    started = time.perf_counter()
    (line,) = problems(text)
    assert "is this the platform config?" in line and "alias" not in line
    assert time.perf_counter() - started < 4
