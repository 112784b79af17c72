"""The installed `platform` command re-runs itself under `python -O` (the bindings skip their Python-side type
checks), unless asked not to or the optimized bytecode is missing."""

import sys
from types import SimpleNamespace

import pytest

import infra.cli.main as cli


@pytest.fixture
def execs(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append(argv))
    monkeypatch.setattr(sys, "argv", ["/venv/bin/platform", "synth", "--out", "x"])
    monkeypatch.setattr(sys, "flags", SimpleNamespace(optimize=0))
    monkeypatch.delenv(cli.TYPE_CHECKS_ENV_VAR, raising=False)
    monkeypatch.setattr(cli, "optimized_bytecode_installed", lambda: True)
    return calls


def test_the_command_reruns_itself_optimized_with_the_same_arguments(execs):
    cli._run_optimized()
    assert execs == [[sys.executable, "-O", "-m", "infra.cli.main", "synth", "--out", "x"]]


def test_no_rerun_when_optimized_asked_for_type_checks_or_without_bytecode(execs, monkeypatch):
    monkeypatch.setattr(sys, "flags", SimpleNamespace(optimize=1))
    cli._run_optimized()
    monkeypatch.setattr(sys, "flags", SimpleNamespace(optimize=0))
    monkeypatch.setenv(cli.TYPE_CHECKS_ENV_VAR, "1")
    cli._run_optimized()
    monkeypatch.delenv(cli.TYPE_CHECKS_ENV_VAR)
    monkeypatch.setattr(cli, "optimized_bytecode_installed", lambda: False)
    cli._run_optimized()
    assert execs == []


def test_make_setup_compiled_the_bindings_for_python_o():
    assert cli.optimized_bytecode_installed()
