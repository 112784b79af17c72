"""`platform smoke --workload NAME [--job JOB]`: any managed workload's job can be smoke-run, and two teams with
different workloads deploy side by side (every external call faked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from infra.lifecycle.databricks import RunProgress
from tests.lifecycle.test_cli_lifecycle import assert_refused

ROOT = Path(__file__).resolve().parents[2]
UPSELL = "tests/fixtures/workloads/upsell"


def managed(name: str, jobs: list[str]) -> dict:
    return {
        "kind": "managed",
        "name": name,
        "package": UPSELL,
        "models": [name],
        "jobs": [{"name": job, "tasks": [{"key": "train", "entry_point": "upsell-train"}]} for job in jobs],
    }


@pytest.fixture
def config_path(tmp_path) -> Path:
    """The committed config; churn also runs `upsell` (two jobs), pricing its bundle and a managed `forecast`."""
    raw = yaml.safe_load((ROOT / "platform.yaml").read_text())
    teams = {team["name"]: team for team in raw["teams"]}
    teams["churn"]["workloads"].append(managed("upsell", ["nightly", "weekly"]))
    teams["pricing"]["workloads"].append(managed("forecast", ["daily"]))
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def succeeded(fakes, job: str) -> None:
    fakes.workspace.jobs = {job: [7]}
    fakes.workspace.progress = [
        RunProgress(run_id=907, state="TERMINATED", result="SUCCESS", url="https://adb/run/907")
    ]


def test_smoke_runs_a_named_job_of_another_workload_and_its_success_is_the_verdict(cli, fakes):
    succeeded(fakes, "dbp-churn-dev-upsell-weekly")
    result = cli("smoke", "churn/dev", "--workload", "upsell", "--job", "weekly", "--json")
    assert result.code == 0, result.err
    passed = json.loads(result.out)
    assert (passed["job"], passed["model_name"], passed["version"]) == (
        "dbp-churn-dev-upsell-weekly",
        None,
        None,
    )
    assert result.err.splitlines()[-1] == "passed: run 907 succeeded in <1m"
    assert fakes.workspace.started  # the run was started


def test_without_workload_a_team_with_churn_smokes_churns_training_and_a_team_with_one_job_that_job(
    cli, fakes
):
    assert (
        "find job dbp-churn-dev-training; note the version 'challenger' of dbp_churn_dev.ml.churn"
        in cli("smoke", "churn/dev", "--dry-run").out
    )
    dry = cli("smoke", "pricing/dev", "--dry-run")
    assert dry.code == 0, dry.err
    assert "  1. find job dbp-pricing-dev-forecast-daily" in dry.out.splitlines()
    assert "  3. pass when the run succeeded" in dry.out.splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("pricing/dev", "--workload", "pricing"),
            "--workload: 'pricing' is a bundle workload: the team deploys and runs its jobs itself "
            "(databricks bundle run)",
        ),
        (
            ("churn/dev", "--workload", "nope"),
            "--workload: team 'churn' has no workload 'nope' (managed: churn, upsell)",
        ),
        (
            ("churn/dev", "--job", "retrain"),
            "--job: workload 'churn' has no job 'retrain' (jobs: training, scoring, monitoring)",
        ),
    ],
    ids=["bundle", "unknown-workload", "unknown-job"],
)
def test_a_job_smoke_cannot_run_is_refused_in_one_line(cli, fakes, args, message):
    assert_refused(cli("smoke", *args), fakes, message)


def test_two_teams_with_different_workloads_deploy_side_by_side(cli, fakes):
    for key in ("churn/dev", "pricing/dev"):
        result = cli("deploy", key, "--auto-approve")
        assert result.code == 0, result.err
    assert [event for event in fakes.events if event.startswith("deploy")] == [
        "deploy churn-dev-platform",
        "deploy churn-dev-workspace",
        "deploy pricing-dev-platform",
        "deploy pricing-dev-workspace",
    ]


def test_a_team_with_only_bundle_workloads_has_nothing_to_smoke_and_passes(cli, fakes, tmp_path, capsys):
    # CI smokes every team after its staging apply; a bundle-only team must not fail that job.
    raw = yaml.safe_load((ROOT / "platform.yaml").read_text())  # pricing: one bundle workload
    path = tmp_path / "bundle-only.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    from infra.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["smoke", "pricing/staging", "--json", "--config", str(path)])
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out) == {
        "target": "pricing/staging",
        "job": None,
        "skipped": "team 'pricing' runs no managed workload (its bundle workloads run from the team's own CI): "
        "nothing to smoke",
    }
    assert fakes.workspace.started == []


def test_without_workload_or_job_a_team_of_several_managed_workloads_smokes_the_first_job_of_the_first(
    cli, fakes, config_path
):
    """CI runs `platform smoke TEAM/staging` after every staging apply with neither option: refusing a team
    with several managed workloads (or a workload with several jobs) failed the deploy of a config validate
    accepted. Config order decides, as a workload's first model is the one its jobs get."""
    raw = yaml.safe_load(config_path.read_text())
    pricing = next(team for team in raw["teams"] if team["name"] == "pricing")
    pricing["workloads"] = [
        *pricing["workloads"][:1],  # its bundle
        managed("forecast", ["weekly", "daily"]),
        managed("elasticity", ["nightly"]),
    ]
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    dry = cli("smoke", "pricing/staging", "--dry-run")
    assert dry.code == 0, dry.err
    assert "  1. find job dbp-pricing-staging-forecast-weekly" in dry.out.splitlines()
    upsell = cli("smoke", "churn/dev", "--workload", "upsell", "--dry-run")
    assert "  1. find job dbp-churn-dev-upsell-nightly" in upsell.out.splitlines(), upsell.err
