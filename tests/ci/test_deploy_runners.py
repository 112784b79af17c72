"""Which runner each env-changing CI job lands on: .github/scripts/deploy_runners.py and the workflows that use it.

A private env (public_network_access false) is reachable only from the runner its config names in
`deploy_runner` (issue 12, point 4). The routing tests run the workflows' own `run:` scripts with bash, as the
runner would, and resolve each job's `runs-on` expression from the outputs those scripts write.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.onboarding import committed_config, onboarded_config
from tests.onboarding import write_config as write_config_to

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".github" / "scripts" / "deploy_runners.py"
WORKFLOWS = ROOT / ".github" / "workflows"
HOSTED = ["ubuntu-latest"]
# Command lines that reach into an env (plan reads its state and cloud resources) or change it.
ENV_CHANGING = re.compile(
    r"^\s*platform (plan|apply|deploy|destroy|smoke|env (up|down|reap))\b", re.MULTILINE
)


CONFIGS = {"committed": committed_config, "onboarded": onboarded_config}


def expected_runners(config: dict[str, Any], env: str) -> dict[str, list[str]]:
    """Team -> the runner its ENV names in the config (GitHub-hosted without one), for the Azure teams CI deploys."""
    return {
        team["name"]: team["environments"][env].get("deploy_runner") or HOSTED
        for team in config["teams"]
        if team.get("cloud", "azure") == "azure" and env in team["environments"]
    }


@pytest.fixture(scope="module")
def private_runner() -> list[str]:
    runner = committed_config()["teams"][0]["environments"]["prod"]["deploy_runner"]
    assert runner and runner != HOSTED
    return runner


def script(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("GITHUB_OUTPUT", None)
    if config is not None:
        env["PLATFORM_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    return write_config_to(tmp_path / "platform.yaml", config)


@pytest.mark.parametrize("which", CONFIGS)
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_each_azure_team_env_runs_on_the_runner_its_config_names(which, env, private_runner, tmp_path):
    config = CONFIGS[which]()
    result = script("matrix", env, config=write_config(tmp_path, config))
    assert result.returncode == 0, result.stderr
    matrix = {row["team"]: json.loads(row["runner"]) for row in json.loads(result.stdout)}
    assert matrix == expected_runners(config, env)
    # pricing/prod's front end is public, but its lake and vault are private (prod's default)
    if env == "prod":
        assert matrix["churn"] == matrix["pricing"] == private_runner


def test_an_ephemeral_env_runs_where_its_template_env_runs(private_runner):
    assert json.loads(script("runner", "churn/prod").stdout) == private_runner
    assert json.loads(script("runner", "churn/dev").stdout) == HOSTED


def test_an_ephemeral_env_from_an_aws_team_is_refused_while_ci_cannot_log_in_to_aws():
    refused = script("runner", "risk/dev")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "deploy_runners: TEAM/ENV: risk/dev runs on aws, which CI does not log in to yet (CI_CLOUDS, docs/aws.md)"
    ]


def test_the_reaper_runs_where_private_ephemeral_envs_can_be_reached(private_runner, tmp_path):
    assert json.loads(script("reaper").stdout) == private_runner
    # Without an ephemeral template no private ephemeral env can exist: GitHub-hosted is enough.
    config = committed_config()
    for team in config["teams"]:
        del team["ephemeral"]
    assert json.loads(script("reaper", config=write_config(tmp_path, config)).stdout) == HOSTED


def test_a_reaper_that_would_need_two_runners_is_refused_in_one_line(tmp_path):
    config = committed_config()
    pricing_prod = config["teams"][1]["environments"]["prod"]
    pricing_prod |= {"public_network_access": False, "deploy_runner": ["self-hosted", "pricing-prod"]}
    del pricing_prod["hardening"]  # no IP access list on a private front end
    result = script("reaper", config=write_config(tmp_path, config))
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("deploy_runners: deploy_runner: the nightly reaper runs on one runner")
    assert "churn/prod" in line and "pricing/prod" in line


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    unknown = script("runner", "churn/qa")
    assert unknown.returncode == 2
    known = ", ".join(
        f"{team['name']}/{env}" for team in committed_config()["teams"] for env in team["environments"]
    )
    assert unknown.stderr.strip() == (
        f"deploy_runners: TEAM/ENV: 'churn/qa' is not a permanent env of the config (known: {known})"
    )
    config = committed_config()
    del config["teams"][0]["environments"]["prod"]["deploy_runner"]
    broken = script("matrix", "prod", config=write_config(tmp_path, config))
    assert broken.returncode == 2
    assert len(broken.stderr.strip().splitlines()) == 1
    assert "teams.churn.environments.prod.deploy_runner: required" in broken.stderr
    assert "Traceback" not in broken.stderr


@pytest.mark.parametrize("which", CONFIGS)
def test_the_pull_request_diff_knows_which_stacks_only_a_private_runner_can_plan(which, tmp_path):
    config = CONFIGS[which]()
    private = json.loads(script("private-stacks", config=write_config(tmp_path, config)).stdout)
    # churn/prod: private front end, lake and vault; pricing/prod: public front end, private lake and vault
    assert {"churn-prod-platform", "churn-prod-workspace", "pricing-prod-platform"} <= set(private)
    assert "pricing-prod-workspace" not in private
    # every private stack belongs to an env that names the runner inside its network
    with_runner = {
        f"{team['name']}-{env}"
        for team in config["teams"]
        for env, settings in team["environments"].items()
        if settings.get("deploy_runner")
    }
    assert {stack.rsplit("-", 1)[0] for stack in private} <= with_runner


def test_an_env_whose_only_changed_stack_is_its_account_stack_is_still_planned(private_runner):
    """Its plan (`--skip account`) lists the account stack as not planned, so the pull request's summary says the
    change is there and why no plan of it is shown."""
    shown = script("plan-matrix", "churn-prod-account")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == [
        {"team": "churn", "env": "prod", "target": "churn/prod", "runner": json.dumps(private_runner)}
    ]


# --- the workflows, run as a runner would run them ---------------------------------------------------------


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def run_step(
    step: dict[str, Any], tmp_path: Path, *, env: dict[str, str] | None = None, config: Path | None = None
) -> dict[str, str]:
    """Run one `run:` step with bash in a checkout-like directory; return what it wrote to $GITHUB_OUTPUT."""
    output = tmp_path / f"output-{step.get('id', 'step')}"
    output.write_text("")
    # The step sees the repository's config and scripts; whatever it writes stays in tmp_path.
    workspace = tmp_path / "workspace"
    if not workspace.exists():
        workspace.mkdir()
        (workspace / ".github").symlink_to(ROOT / ".github")
        (workspace / "platform.yaml").symlink_to(config or ROOT / "platform.yaml")
    fake_bin = tmp_path / "bin"
    path = os.pathsep.join([str(fake_bin), str(Path(sys.executable).parent), os.environ["PATH"]])
    step_env = {**os.environ, "PATH": path, "GITHUB_OUTPUT": str(output), **(env or {})}
    step_env.pop("PLATFORM_CONFIG", None)
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        cwd=workspace,
        env=step_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def step_by_id(job: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if step.get("id") == step_id)


def job_outputs(job: dict[str, Any], steps: dict[str, dict[str, str]]) -> dict[str, str]:
    resolved = {}
    for name, expression in job.get("outputs", {}).items():
        match = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", expression)
        assert match, expression
        step_outputs = steps.get(match[1], {})
        if match[2] in step_outputs:
            resolved[name] = step_outputs[match[2]]
    return resolved


def from_json(expression: str, context: dict[str, Any]) -> Any:
    """Evaluate the one expression shape the workflows route with: ${{ fromJSON(a.b.c) }}."""
    match = re.fullmatch(r"\$\{\{ fromJSON\(([\w.-]+)\) \}\}", expression)
    assert match, f"not routed through fromJSON: {expression}"
    value: Any = context
    for part in match[1].split("."):
        value = value[part]
    return json.loads(value)


def runs_on_per_matrix_entry(job: dict[str, Any], needs: dict[str, Any]) -> dict[str, list[str]]:
    entries = from_json(job["strategy"]["matrix"]["include"], {"needs": needs})
    return {entry["team"]: from_json(job["runs-on"], {"matrix": entry}) for entry in entries}


@pytest.mark.parametrize("which", CONFIGS)
def test_deploy_yml_routes_each_team_env_to_the_runner_its_config_names(which, tmp_path):
    config = CONFIGS[which]()
    path = write_config_to(tmp_path / f"{which}.yaml", config)
    doc = workflow("deploy.yml")
    targets = doc["jobs"]["targets"]
    steps = {"envs": run_step(step_by_id(targets, "envs"), tmp_path, config=path)}
    needs = {"targets": {"outputs": job_outputs(targets, steps)}}
    assert runs_on_per_matrix_entry(doc["jobs"]["production"], needs) == expected_runners(config, "prod")
    assert runs_on_per_matrix_entry(doc["jobs"]["staging"], needs) == expected_runners(config, "staging")


def test_nightly_reaps_and_retrains_on_runners_that_reach_the_envs(tmp_path, private_runner):
    doc = workflow("nightly.yml")
    azure = doc["jobs"]["azure"]
    steps = {"envs": run_step(step_by_id(azure, "envs"), tmp_path)}
    needs = {"azure": {"outputs": job_outputs(azure, steps)}}
    assert from_json(doc["jobs"]["reap"]["runs-on"], {"needs": needs}) == private_runner
    expected = expected_runners(committed_config(), "staging")
    assert runs_on_per_matrix_entry(doc["jobs"]["retrain-staging"], needs) == expected


@pytest.mark.parametrize(("template", "expected"), [("churn/prod", "private"), ("churn/dev", "hosted")])
def test_ephemeral_env_up_runs_on_the_runner_of_its_template_env(
    tmp_path, private_runner, template, expected
):
    doc = workflow("ephemeral.yml")
    request = doc["jobs"]["request"]
    step = step_by_id(request, "runner")
    assert step["env"]["FROM"] == "${{ steps.request.outputs.from }}"
    steps = {"runner": run_step(step, tmp_path, env={"FROM": template})}
    needs = {"request": {"outputs": job_outputs(request, steps)}}
    up = doc["jobs"]["up"]
    assert up["needs"] == "request"
    assert from_json(up["runs-on"], {"needs": needs}) == (private_runner if expected == "private" else HOSTED)


def test_ephemeral_env_down_runs_on_the_runner_of_the_env_its_tags_name(tmp_path, private_runner):
    doc = workflow("ephemeral.yml")
    find = doc["jobs"]["find"]
    # `platform env list --json` reads the resource groups' tags in Azure; a stand-in prints what it would.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    listed = [
        {"name": "pr7", "team": "churn", "base_env": "prod"},
        {"name": "pr8", "team": "churn", "base_env": "dev"},
    ]
    fake = fake_bin / "platform"
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(listed)}\nEOF\n")
    fake.chmod(0o755)
    for name, expected in (("pr7", private_runner), ("pr8", HOSTED)):
        steps = {"exists": run_step(step_by_id(find, "exists"), tmp_path, env={"NAME": name})}
        needs = {"find": {"outputs": job_outputs(find, steps)}}
        assert needs["find"]["outputs"]["found"] == "true"
        assert from_json(doc["jobs"]["down"]["runs-on"], {"needs": needs}) == expected
    steps = {"exists": run_step(step_by_id(find, "exists"), tmp_path, env={"NAME": "pr9"})}
    assert steps["exists"] == {"found": "false"}


def test_every_job_that_changes_an_env_runs_on_a_runner_from_the_config():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in yaml.safe_load(path.read_text())["jobs"].items():
            scripts = "\n".join(step.get("run", "") for step in job.get("steps", []))
            if ENV_CHANGING.search(scripts):
                assert re.fullmatch(r"\$\{\{ fromJSON\([\w.-]+\) \}\}", job["runs-on"]), (
                    f"{path.name}:{job_id}"
                )
