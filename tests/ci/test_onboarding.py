"""Onboarding a team is a one-file pull request: the README's path (add a team to platform.yaml, validate,
synth, open a pull request) stays green with nothing but the config changed.

The checks derive every count and name from the config they run on; here they run on a copy of the committed
config with a fourth (Azure) team and a second AWS team (tests/onboarding.py). The CI routing of the same copy is
checked in test_deploy_runners.py, parametrized over both configs.
"""

from __future__ import annotations

import json

import pytest

from infra.cli.main import main
from tests.onboarding import NEW_TEAMS, counts, onboarded_config, stack_names, team_envs, write_config


def run(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture
def onboarded(tmp_path):
    return onboarded_config(), write_config(tmp_path / "platform.yaml", onboarded_config())


def test_validate_accepts_new_teams_and_counts_them(onboarded, capsys):
    config, path = onboarded
    code, out, err = run(["validate", "--config", str(path)], capsys)
    assert code == 0, err
    assert out.startswith(f"valid: {counts(config)}")
    assert "Traceback" not in err


def test_envs_lists_the_new_teams_envs(onboarded, capsys):
    config, path = onboarded
    code, out, _ = run(["envs", "--json", "--config", str(path)], capsys)
    rows = json.loads(out)
    assert code == 0
    assert [(row["team"], row["env"]) for row in rows] == team_envs(config)
    assert {row["team"] for row in rows} >= set(NEW_TEAMS)


def test_synth_writes_the_stacks_of_every_team_the_config_names(onboarded, tmp_path, capsys):
    config, path = onboarded
    wheel = tmp_path / "churn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"churn wheel stand-in\n")
    out_dir = tmp_path / "cdktf.out"
    code, _, err = run(["synth", "--config", str(path), "--out", str(out_dir), "--wheel", str(wheel)], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (out_dir / "stacks").iterdir()) == stack_names(config)
    assert {"fraud-prod-workspace", "credit-prod-account"} <= set(stack_names(config))
