"""The suite's wheelhouse hooks (PLATFORM_WHEELHOUSE_LOCK, PLATFORM_WHEELHOUSE_FIND_LINKS) never reach a deploy.

tests/conftest.py points them at stand-in wheels (no code) and a lock listing the stand-ins' sha256. Left in a
developer's shell or a runner's environment (copied from a failing test's output, say), the lock variable would make
validate and synth pin the wheelhouse with hashes that are not the repository's Pipfile.lock, and the synth upload
the stand-ins to prod: every job would fail at `import fairlearn`. Outside pytest both are refused in one line
naming the variable; the cache variable stays (every cached wheel is checked against Pipfile.lock's hashes).
"""

from __future__ import annotations

import copy

import pytest
import yaml

from infra.config import load_config
from infra.wheelhouse import WheelhouseUnavailable, describe_fetch, wheelhouse
from tests.infra.conftest import ROOT
from tests.infra.test_aws_config import validate

COMMITTED = yaml.safe_load((ROOT / "platform.yaml").read_text())


def outside_pytest(monkeypatch) -> None:
    """As a shell or runner would run the CLI: pytest's marker variable absent, the suite's hooks still set. Called
    in the test's body (pytest sets the marker again at the start of each phase, after the fixtures)."""
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)


def risk_prod():
    config = load_config(ROOT / "platform.yaml")
    (team_env,) = [t for t in config.team_envs if t.key == "risk/prod"]
    return team_env


def test_a_stray_lock_variable_is_refused_by_validate(tmp_path, capsys, monkeypatch):
    outside_pytest(monkeypatch)
    code, out, err = validate(copy.deepcopy(COMMITTED), tmp_path, capsys)
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "teams.risk.environments.prod.egress.mode" in line
    assert "PLATFORM_WHEELHOUSE_LOCK is set" in line and "honoured only under pytest" in line


def test_a_stray_find_links_variable_is_refused_by_the_fetch(tmp_path, monkeypatch):
    """Even with the repository's own lock: the wheels come from a configured index or the cache, nowhere else."""
    outside_pytest(monkeypatch)
    monkeypatch.delenv("PLATFORM_WHEELHOUSE_LOCK")
    with pytest.raises(WheelhouseUnavailable, match="PLATFORM_WHEELHOUSE_FIND_LINKS is set"):
        wheelhouse(risk_prod(), "ml", cache=tmp_path / "cache")
    (line,) = describe_fetch(risk_prod())
    assert "refused" in line and "PLATFORM_WHEELHOUSE_FIND_LINKS" in line


def test_without_the_hooks_the_repository_lock_pins_the_wheelhouse(tmp_path, monkeypatch):
    outside_pytest(monkeypatch)
    monkeypatch.delenv("PLATFORM_WHEELHOUSE_LOCK")
    monkeypatch.delenv("PLATFORM_WHEELHOUSE_FIND_LINKS")
    from infra.config.offline_packages import lock_path

    assert lock_path() == ROOT / "Pipfile.lock"
