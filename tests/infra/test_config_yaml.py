"""YAML as people write it: merge keys work; what YAML silently turns into something else (yes/no/on/off as
booleans), control characters, alias bombs and deep nesting are refused in one line, quickly, with bounded memory,
and through `platform validate` with exit 2 and no traceback."""

import time
import tracemalloc
from pathlib import Path

import pytest

from infra.cli.main import main
from infra.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = (ROOT / "platform.yaml").read_text()
# 1-based line of churn's cost center (`    cost_center: CC-4711`, the value starting in column 18)
CHURN_COST_CENTER = COMMITTED.splitlines().index("    cost_center: CC-4711") + 1


def edited(old: str, new: str) -> str:
    assert old in COMMITTED, old
    return COMMITTED.replace(old, new, 1)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="platform.yaml")
    return caught.value.lines()


def test_merge_keys_reuse_an_env_and_override_what_is_written_beside_them():
    text = edited(
        "      dev:\n        network: 10.10.0.0/22", "      dev: &churn_dev\n        network: 10.10.0.0/22"
    )
    text = text.replace(
        "      staging:\n        network: 10.10.4.0/22",
        "      staging:\n        <<: *churn_dev\n        network: 10.10.4.0/22",
        1,
    )
    churn = parse_config(text).team("churn")
    # merged from dev: the interactive cluster; written beside the merge: network, budget and compute
    assert churn.environments["staging"].interactive_cluster is True
    assert churn.environments["staging"].network == "10.10.4.0/22"
    assert churn.environments["staging"].budget.amount == 1500
    assert churn.environments["staging"].compute.max_workers == 4


def test_a_merge_key_still_refuses_a_key_written_twice():
    text = edited("      dev:\n        network: 10.10.0.0/22", "      dev: &d\n        network: 10.10.0.0/22")
    text = text.replace(
        "      staging:\n        network: 10.10.4.0/22",
        "      staging:\n        <<: *d\n        network: 10.10.4.0/22\n        network: 10.10.5.0/24",
        1,
    )
    (line,) = problems(text)
    assert "duplicate key 'network'" in line and line.startswith("platform.yaml: line ")


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("cost_center: CC-4711", "cost_center: no", "teams.churn.cost_center"),
        ("region: northeurope", "region: on", "teams.pricing.region"),
        ("      staging:\n        network: 10.10.4.0/22", "      off:\n        network: 10.10.4.0/22", "teams.churn.environments.false"),
    ],
)  # fmt: skip
def test_yes_no_on_off_read_as_booleans_get_a_hint_to_quote_them(old, new, path):
    (line,) = problems(edited(old, new))
    assert line.startswith(f"platform.yaml: {path}: ")
    assert "YAML reads unquoted yes/no/on/off/true/false as a boolean; quote the value" in line


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (
            edited("cost_center: CC-4711", "cost_center: CC-4711\x07"),
            f"line {CHURN_COST_CENTER}, column 25",
            "U+0007",
        ),
        (
            edited("cost_center: CC-4711", "cost_center: CC-\x004711"),
            f"line {CHURN_COST_CENTER}, column 21",
            "U+0000",
        ),
        (
            edited("cost_center: CC-4711", 'cost_center: "CC-4711\\x1b"'),
            f"line {CHURN_COST_CENTER}, column 18",
            "U+001B",
        ),
    ],
    ids=["raw-bell", "raw-nul", "escaped-escape"],
)
def test_control_characters_are_refused_with_line_and_column(text, where, words):
    (line,) = problems(text)
    assert line.startswith(f"platform.yaml: {where}: ") and words in line


def billion_laughs(levels: int = 10) -> str:
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n" + COMMITTED


def test_an_alias_bomb_is_refused_quickly_with_bounded_memory():
    tracemalloc.start()
    started = time.perf_counter()
    try:
        (line,) = problems(billion_laughs())
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "aliases expand to more than 500,000 values (an alias bomb?)" in line
    assert line.startswith("platform.yaml: line ")
    # 10**10 expanded values; refused after reading the ~2 KB document once
    assert elapsed < 5 and peak < 50 * 2**20


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("platform: &p [*p]\n", "(a cycle)"),
        ("platform:\n" + " [\n" * 20_000 + " ]\n" * 20_000, "nested 20000 deep (at most 50)"),
        # libyaml's recursive composer crashed the process at ~40,000 levels of `- - - ...`
        ("platform:\n" + "- " * 100_000 + "x\n", "line 2: 200,001 characters long (at most 5,000)"),
    ],
    ids=["recursive-alias", "deep-flow", "deep-compact-sequence"],
)
def test_recursive_or_very_deep_documents_are_one_line_never_a_hang(text, words):
    started = time.perf_counter()
    (line,) = problems(text)
    assert words in line and time.perf_counter() - started < 5


def test_deep_block_nesting_within_the_line_limit_is_read_and_reported_like_any_config():
    text = "platform:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(500))
    lines = problems(text)
    assert "platform.yaml: platform.k0: unknown key" in lines[2]


def test_block_nesting_deeper_than_libyaml_reads_is_one_line_at_its_position():
    # PyYAML 6.0.4's libyaml stops at 1,000 levels; the refusal names where, like any syntax error.
    text = "platform:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(2_000))
    assert problems(text) == [
        "platform.yaml: line 1000, column 1004: invalid YAML: exceeded maximum nesting depth"
    ]


@pytest.mark.parametrize(
    "text",
    [
        billion_laughs(),
        edited("cost_center: CC-4711", "cost_center: CC-4711\x07"),
        edited("cost_center: CC-4711", "cost_center: off"),
        "platform: " + "[" * 5_000 + "]" * 5_000 + "\n",
    ],
    ids=["alias-bomb", "control-character", "boolean", "deep-flow"],
)
def test_platform_validate_refuses_them_in_one_line_with_exit_2(text, tmp_path, capsys):
    file = tmp_path / "platform.yaml"
    file.write_text(text)
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {file}: ") and "Traceback" not in err
