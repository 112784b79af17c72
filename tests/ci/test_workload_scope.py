"""A push that changes only managed workloads' packages deploys only the workspace stacks of the teams that run
them (.github/scripts/workload_scope.py and deploy.yml's targets job); anything else deploys everything."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import load_config
from tests.ci.test_deploy_runners import job_outputs, run_step, step_by_id
from tests.ci.test_workflows import workflow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".github" / "scripts" / "workload_scope.py"
_spec = importlib.util.spec_from_file_location("workload_scope", SCRIPT)
workload_scope = importlib.util.module_from_spec(_spec)
sys.modules["workload_scope"] = workload_scope
_spec.loader.exec_module(workload_scope)


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "platform.yaml")


@pytest.mark.parametrize(
    ("changed", "only", "teams"),
    [
        (["ml/src/churn/jobs/train.py", "ml/pyproject.toml"], "workspace", ["churn", "risk"]),
        (
            ["ml/notebooks/churn_explore.py"],
            "workspace",
            ["churn", "pricing", "risk"],
        ),  # every team's workspace stack deploys it, bundle-only pricing's too
        (["ml/src/churn/jobs/train.py", "infra/app.py"], "", None),
        (["platform.yaml"], "", None),
        (["mlops/readme.txt"], "", None),  # a sibling folder whose name starts like ml is not ml/
        ([], "", None),  # no base to compare with: everything
    ],
    ids=["ml-only", "notebook", "ml-and-infra", "config", "not-a-package", "unknown"],
)
def test_only_a_change_inside_workload_packages_narrows_the_deploy(config, changed, only, teams):
    scope = workload_scope.scope(config, changed)
    assert (scope.only, scope.teams) == (only, teams)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_deploy_yml_plans_and_applies_only_churns_workspace_stacks_after_an_ml_only_push(tmp_path):
    # The targets job's own steps, in a checkout whose last push changed a file under ml/ only.
    repo = tmp_path / "workspace"
    repo.mkdir()
    (repo / ".github").symlink_to(ROOT / ".github")
    (repo / "platform.yaml").symlink_to(ROOT / "platform.yaml")
    (repo / "ml").mkdir()
    (repo / "ml" / "model.py").write_text("v1\n")
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=ci@example.com", "-c", "user.name=ci", "add", ".")
    git(repo, "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-qm", "base")
    before = git(repo, "rev-parse", "HEAD").strip()
    (repo / "ml" / "model.py").write_text("v2\n")
    git(repo, "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-qam", "model change")

    doc = workflow("deploy.yml")
    targets = doc["jobs"]["targets"]
    scope = run_step(step_by_id(targets, "scope"), tmp_path, env={"BEFORE": before})
    envs = run_step(step_by_id(targets, "envs"), tmp_path, env={"TEAMS": scope["teams"]})
    outputs = job_outputs(targets, {"scope": scope, "envs": envs})
    assert outputs["only"] == "workspace"
    # Azure teams CI deploys that run churn: churn (risk runs it too, on AWS, which CI does not log in to yet).
    assert [row["team"] for row in json.loads(outputs["staging"])] == ["churn"]
    assert [row["team"] for row in json.loads(outputs["prod"])] == ["churn"]
    # Every plan and apply of an env gets the choice, so plan and apply agree on the stacks.
    for job in ("plan-staging", "staging", "plan-prod", "production"):
        (step,) = [
            s
            for s in doc["jobs"][job]["steps"]
            if "platform plan" in s.get("run", "") or "platform apply" in s.get("run", "")
        ]
        assert step["env"]["PLATFORM_ONLY"] == "${{ needs.targets.outputs.only }}", job

    # A manual run (no commit replaced) deploys every stack of every team.
    everything = run_step(step_by_id(targets, "scope"), tmp_path, env={"BEFORE": ""})
    assert everything == {"only": "", "teams": ""}


def test_the_notebook_every_workspace_stack_deploys_is_the_one_the_scope_sends_to_every_team():
    from infra.stacks.workspace_stack import EXPLORE_NOTEBOOK

    assert {EXPLORE_NOTEBOOK.relative_to(ROOT).as_posix()} == workload_scope.EVERY_TEAM


def test_a_file_moved_into_a_package_deploys_everything(tmp_path):
    """`git diff --name-only` follows renames and lists only the new path: infra/ moved under ml/ would read as
    an ml/-only change and skip the platform stacks that still hold what the moved file made."""
    repo = tmp_path / "workspace"
    repo.mkdir()
    (repo / ".github").symlink_to(ROOT / ".github")
    (repo / "platform.yaml").symlink_to(ROOT / "platform.yaml")
    (repo / "ml").mkdir()
    (repo / "infra").mkdir()
    (repo / "infra" / "naming.py").write_text("".join(f"line {n}\n" for n in range(40)))
    commit = ("-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-q")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, *commit, "-m", "base")
    before = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "mv", "infra/naming.py", "ml/naming.py")
    git(repo, *commit, "-m", "move")

    scope = run_step(
        step_by_id(workflow("deploy.yml")["jobs"]["targets"], "scope"), tmp_path, env={"BEFORE": before}
    )
    assert scope == {"only": "", "teams": ""}
