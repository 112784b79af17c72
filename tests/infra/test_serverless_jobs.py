"""`serverless.jobs`: the model jobs on serverless compute where it can work, refused in one line where not
(infra/config/serverless.py), and the synthesized jobs carry the wheel as their environment's dependency."""

import json

import pytest
import yaml

from infra.app import build_app
from infra.config import parse_config
from tests.infra.test_config_deploy_runner import committed
from tests.infra.test_config_hardening import team, validate


def test_serverless_jobs_are_refused_on_azure(tmp_path, capsys):
    config = committed()
    team(config, "churn")["environments"]["dev"]["serverless"] = {"jobs": True}
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1
    assert "teams.churn.environments.dev.serverless.jobs: serverless compute reaches" in lines[0]
    assert "network connectivity configuration" in lines[0]


def test_serverless_jobs_are_refused_with_the_compliance_profile(tmp_path, capsys):
    """Databricks docs, "Cache DataFrames on serverless compute": not available with the compliance security
    profile; ml/src/churn/jobs/ingest.py caches."""
    config = committed()
    team(config, "risk")["environments"]["prod"]["serverless"] = {"jobs": True}
    code, lines = validate(config, tmp_path, capsys)
    assert code == 2 and len(lines) == 1
    assert (
        "teams.risk.environments.prod.serverless.jobs: with hardening.compliance_security_profile" in lines[0]
    )


@pytest.fixture(scope="module")
def serverless_dev(fake_wheel, tmp_path_factory) -> dict:
    """risk/dev (AWS, no compliance profile) with serverless jobs, synthesized."""
    config = committed()
    team(config, "risk")["environments"]["dev"]["serverless"] = {"jobs": True}
    parsed = parse_config(yaml.safe_dump(config))
    team_env = next(te for te in parsed.team_envs if te.key == "risk/dev")
    out = tmp_path_factory.mktemp("serverless")
    app = build_app(parsed, outdir=out, wheel=fake_wheel, team_envs=[team_env])
    app.synth()
    return json.loads((out / "stacks" / "risk-dev-workspace" / "cdk.tf.json").read_text())


def test_serverless_jobs_install_the_wheel_through_their_environment(serverless_dev):
    """databricks v1.99.0 docs/resources/job.md: no cluster key means serverless; a python_wheel_task there needs
    an environment_key whose environment spec installs the wheel; serverless tasks take no library."""
    jobs = serverless_dev["resource"]["databricks_job"]
    assert len(jobs) == 3
    for job in jobs.values():
        assert "job_cluster" not in job
        (environment,) = job["environment"]
        assert environment["spec"]["environment_version"] == "4"
        (wheel,) = environment["spec"]["dependencies"]
        assert wheel.startswith("/Volumes/") and wheel.endswith(".whl")
        for task in job["task"]:
            if "python_wheel_task" in task:
                assert task["environment_key"] == environment["environment_key"]
                assert "job_cluster_key" not in task and "library" not in task


def test_job_clusters_stay_the_default(synthesized):
    for job in synthesized.resources("risk-dev-workspace", "databricks_job").values():
        assert "environment" not in job and job["job_cluster"][0]["new_cluster"]["policy_id"]


def test_every_managed_workloads_jobs_follow_the_envs_serverless_choice(fake_wheel, tmp_path):
    """`serverless.jobs` is the env's choice of compute: a second managed workload's jobs (workload_jobs.py) ran on
    job clusters while churn's went serverless, so the env was half configured as written."""
    from tests.infra.test_workload_stacks import upsell

    config = committed()
    risk = team(config, "risk")
    risk["workloads"] = [*risk["workloads"], upsell("upsell")]
    risk["environments"]["dev"]["serverless"] = {"jobs": True}
    parsed = parse_config(yaml.safe_dump(config))
    team_env = next(te for te in parsed.team_envs if te.key == "risk/dev")
    build_app(parsed, outdir=tmp_path, wheel=fake_wheel, team_envs=[team_env]).synth()
    stack = json.loads((tmp_path / "stacks" / "risk-dev-workspace" / "cdk.tf.json").read_text())
    jobs = {k: v for k, v in stack["resource"]["databricks_job"].items() if "upsell" in k}
    assert jobs
    for job in jobs.values():
        assert "job_cluster" not in job
        (environment,) = job["environment"]
        (wheel,) = environment["spec"]["dependencies"]
        assert "upsell" in wheel and wheel.endswith(".whl")
        for task in job["task"]:
            assert task["environment_key"] == environment["environment_key"]
            assert "job_cluster_key" not in task and "library" not in task
