"""The ephemeral env's pull-request comment, built by the workflow's own script from `platform env up --json` and
`platform smoke --json` (docs/operations.md has both shapes), with a stand-in `gh` that keeps the body."""

import json
import os
import subprocess
from pathlib import Path

from tests.ci.test_workflows import workflow

ENV_UP = {
    "action": "create",
    "dry_run": False,
    "key": "churn/pr7",
    "team": "churn",
    "name": "pr7",
    "base_env": "dev",
    "cloud": "azure",
    "network": "10.10.65.0/24",
    "network_slot": 1,
    "expires_at": "2026-11-22T20:00:00Z",
    "owner": "1+ana@users.noreply.github.com",
    "stacks": ["churn-pr7-platform", "churn-pr7-workspace"],
    "workspace_url": "https://adb-1234567890123456.7.azuredatabricks.net",
}


def post_comment(tmp_path: Path, *, up: str, smoke: str, files: dict[str, str]) -> str:
    """Run the `up` job's last step (the comment) in ``tmp_path`` holding ``files``; return the posted body."""
    job = workflow("ephemeral.yml")["jobs"]["up"]
    step = job["steps"][-1]
    assert "gh pr comment" in step["run"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text('#!/bin/sh\nwhile [ "$1" != "--body-file" ]; do shift; done\ncp "$2" "$COMMENT_OUT"\n')
    gh.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "COMMENT_OUT": str(tmp_path / "posted.md"),
        "UP": up,
        "SMOKE": smoke,
        "PR": "7",
        "NAME": "pr7",
        "FROM": "churn/dev",
        "TARGET": "churn/pr7",
        "SHA": "0123456789abcdef",
        "RUN_URL": "https://github.com/o/r/actions/runs/1",
    }
    subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path, env=env, check=True)
    return (tmp_path / "posted.md").read_text()


def test_the_comment_shows_the_workspace_url_from_env_up_json_even_when_smoke_failed(tmp_path):
    body = post_comment(
        tmp_path,
        up="success",
        smoke="failure",
        files={"env-up.json": json.dumps(ENV_UP), "smoke.log": "boom\n"},
    )
    assert "`platform smoke` did not pass" in body
    assert (
        "Workspace: https://adb-1234567890123456.7.azuredatabricks.net. Network 10.10.65.0/24 (slot 1), "
        "owner 1+ana@users.noreply.github.com, expires 2026-11-22T20:00:00Z."
    ) in body


def test_the_comment_says_when_the_url_could_not_be_read_at_all(tmp_path):
    body = post_comment(
        tmp_path,
        up="success",
        smoke="failure",
        files={"env-up.json": json.dumps(ENV_UP | {"workspace_url": None})},
    )
    assert "Workspace: not readable from the state (see env-up.log). Network 10.10.65.0/24" in body


def test_an_unreadable_url_falls_back_to_the_training_runs_workspace(tmp_path):
    smoke = {
        "run_url": "https://adb-1.7.azuredatabricks.net/#job/1/run/2",
        "model_name": "dbp_churn_pr7.ml.churn",
        "version": "3",
    }
    body = post_comment(
        tmp_path,
        up="success",
        smoke="success",
        files={"env-up.json": json.dumps(ENV_UP | {"workspace_url": None}), "smoke.json": json.dumps(smoke)},
    )
    assert "Workspace: https://adb-1.7.azuredatabricks.net. Network 10.10.65.0/24 (slot 1)" in body
    assert (
        "Training run: https://adb-1.7.azuredatabricks.net/#job/1/run/2 "
        "(dbp_churn_pr7.ml.churn version 3 is the challenger)."
    ) in body


def test_the_env_up_step_keeps_json_apart_from_the_log():
    step = next(s for s in workflow("ephemeral.yml")["jobs"]["up"]["steps"] if s.get("id") == "env-up")
    assert "--json > env-up.json 2> env-up.log" in step["run"]
