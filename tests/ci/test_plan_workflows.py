"""Every change reviewed as a plan: the pull-request plan, plan-then-apply deploys and the nightly drift check,
run as a runner would run their `run:` scripts (bash, with stand-ins for `platform` and `gh` on PATH)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.ci.test_deploy_runners import (
    HOSTED,
    ROOT,
    from_json,
    job_outputs,
    run_step,
    step_by_id,
    workflow,
)
from tests.onboarding import committed_config

PLAN = {
    "version": 1,
    "target": "churn/prod",
    "has_changes": True,
    "stacks": [
        {
            "stack": "churn-prod-platform",
            "status": "planned",
            "deployed": True,
            "waits_for": None,
            "has_changes": True,
            "flagged": [
                {"address": "azurerm_key_vault.kv", "type": "azurerm_key_vault", "action": "replace"}
            ],
            "add": {},
            "change": {"azurerm_subnet": 2},
            "replace": {"azurerm_key_vault": 1},
            "destroy": {},
            "plan_file": "cdktf.out/stacks/churn-prod-platform/tfplan",
            "stack_sha256": "ab",
        },
        {
            "stack": "churn-prod-workspace",
            "status": "waiting",
            "deployed": False,
            "waits_for": "churn-prod-platform",
            "has_changes": False,
            "flagged": [],
            "add": {},
            "change": {},
            "replace": {},
            "destroy": {},
            "plan_file": None,
            "stack_sha256": None,
        },
    ],
}


def checkout(tmp_path: Path) -> Path:
    """The directory run_step runs a step in: the repository's .github and config, and what the test adds."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / ".github").symlink_to(ROOT / ".github")
    (workspace / "platform.yaml").symlink_to(ROOT / "platform.yaml")
    return workspace


def stand_in(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text("#!/bin/bash\n" + script)
    (bin_dir / name).chmod(0o755)


def fake_gh(tmp_path: Path, *, answers: dict[str, str]) -> Path:
    """A `gh` that appends each call's arguments (one JSON list per line) to a log and prints the answer of the
    first `answers` key found in its arguments; given `--jq` and a JSON answer, filtered by jq as gh would."""
    log = tmp_path / "gh.log"
    program = tmp_path / "fake_gh.py"
    program.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"with open({str(log)!r}, 'a') as out:\n"
        "    out.write(json.dumps(args) + '\\n')\n"
        f"for key, answer in {answers!r}.items():\n"
        "    if key in ' '.join(args):\n"
        "        if '--jq' in args and answer.startswith('['):\n"
        "            import subprocess\n"
        "            answer = subprocess.run(['jq', '-r', args[args.index('--jq') + 1]], input=answer,\n"
        "                                    capture_output=True, text=True, check=True).stdout.rstrip()\n"
        "        print(answer)\n"
        "        break\n"
    )
    stand_in(tmp_path / "bin", "gh", f'exec python3 {program} "$@"\n')
    return log


def gh_calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# --- pull requests: every changed team-env planned on the runner that reaches it ---------------------------


def test_the_pull_request_plans_changed_private_envs_on_their_runner(tmp_path):
    doc = workflow("checks.yml")
    targets_job = doc["jobs"]["plan-targets"]
    changed = "churn-prod-platform churn-prod-workspace pricing-dev-workspace risk-dev-platform"
    steps = {"targets": run_step(step_by_id(targets_job, "targets"), tmp_path, env={"CHANGED": changed})}
    needs = {"plan-targets": {"outputs": job_outputs(targets_job, steps)}}
    plan = doc["jobs"]["plan"]
    entries = from_json(plan["strategy"]["matrix"]["include"], {"needs": needs})
    runners = {entry["target"]: from_json(plan["runs-on"], {"matrix": entry}) for entry in entries}
    churn_prod = committed_config()["teams"][0]["environments"]["prod"]["deploy_runner"]
    # churn/prod is private: planned on its runner, not skipped; risk is AWS, which CI does not log in to yet
    assert runners == {"churn/prod": churn_prod, "pricing/dev": HOSTED}


def test_pull_request_code_never_gets_the_deploying_apps_identity(tmp_path):
    # The plan job runs the pull request's code (on a private env's runner, too): with the deploying app's client
    # ID its token would carry deploy rights on every env. It logs in as its own read-only app, or not at all.
    jobs = workflow("checks.yml")["jobs"]
    gate = step_by_id(jobs["plan-targets"], "oidc")
    # the gate alone reads the deploying app's ID, to refuse a plan app that is the same app
    assert gate["env"]["DEPLOY_CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID }}"
    text = json.dumps([jobs["plan-targets"], jobs["plan"]])
    assert text.count("vars.AZURE_CLIENT_ID") == 1
    login = next(s for s in jobs["plan"]["steps"] if s.get("uses", "").startswith("azure/login@"))
    assert (
        login["with"]["client-id"]
        == jobs["plan"]["env"]["ARM_CLIENT_ID"]
        == "${{ vars.AZURE_PLAN_CLIENT_ID }}"
    )
    ids = {
        "ARM_TENANT_ID": "t",
        "ARM_SUBSCRIPTION_ID": "s",
        "FROM_FORK": "false",
        "GITHUB_STEP_SUMMARY": "/dev/null",
    }
    assert run_step(gate, tmp_path, env=ids | {"ARM_CLIENT_ID": "plan", "DEPLOY_CLIENT_ID": "deploy"}) == {
        "enabled": "true"
    }
    for plan_id in ("", "deploy"):  # not configured, or the deploying app itself
        shown = run_step(gate, tmp_path, env=ids | {"ARM_CLIENT_ID": plan_id, "DEPLOY_CLIENT_ID": "deploy"})
        assert shown == {"enabled": "false"}


def test_the_pull_request_plan_takes_no_state_lock():
    # Never applied, it must not hold the lock a deploy's apply needs, nor need write access to the state.
    plan = workflow("checks.yml")["jobs"]["plan"]
    (step,) = [s for s in plan["steps"] if "platform plan" in s.get("run", "")]
    assert 'platform plan "$TARGET" --json --no-lock' in step["run"]


def test_the_pull_request_plan_skips_account_stacks_but_deploys_and_drift_checks_do_not():
    """The read-only plan app is no Databricks account admin: the pull request leaves account stacks out (the
    summary names them as not planned); the deploy's plan and the nightly drift check run as the deploying app
    and plan every stack."""
    plan = workflow("checks.yml")["jobs"]["plan"]
    (step,) = [s for s in plan["steps"] if "platform plan" in s.get("run", "")]
    assert (
        "--skip account" in step["run"] and plan["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_PLAN_CLIENT_ID }}"
    )
    for name in ("deploy.yml", "nightly.yml"):
        for job in workflow(name)["jobs"].values():
            for job_step in job.get("steps", []):
                assert "--skip" not in job_step.get("run", ""), name


def test_the_plan_comment_updates_only_its_own_comment(tmp_path):
    # Someone's comment that starts with the marker must not receive the plan: its author could edit it later
    # into a plan that was never made.
    step = next(s for s in workflow("checks.yml")["jobs"]["plan-comment"]["steps"] if "run" in s)
    workspace = checkout(tmp_path)
    (workspace / "planned").mkdir()
    (workspace / "planned" / "plan-churn-prod.json").write_text(json.dumps(PLAN))
    comments = [
        {"id": 5, "user": {"login": "mallory"}, "body": "<!-- platform-plan -->\nno changes, approve"},
        {
            "id": 9,
            "user": {"login": "github-actions[bot]"},
            "body": "<!-- platform-plan -->\n## platform plan",
        },
    ]
    log = fake_gh(tmp_path, answers={"issues/7/comments": json.dumps(comments)})
    run_step(step, tmp_path, env={"PR": "7", "REPO": "org/platform", "PLAN_RESULT": "success"})
    assert gh_calls(log)[-1][:4] == ["api", "-X", "PATCH", "repos/org/platform/issues/comments/9"]
    log.unlink()
    fake_gh(tmp_path, answers={"issues/7/comments": json.dumps(comments[:1])})
    run_step(step, tmp_path, env={"PR": "7", "REPO": "org/platform", "PLAN_RESULT": "success"})
    assert gh_calls(log)[-1][:3] == ["pr", "comment", "7"]


def test_the_plan_comment_is_updated_not_duplicated(tmp_path):
    step = next(s for s in workflow("checks.yml")["jobs"]["plan-comment"]["steps"] if "run" in s)
    workspace = checkout(tmp_path)
    (workspace / "planned").mkdir()
    (workspace / "planned" / "plan-churn-prod.json").write_text(json.dumps(PLAN))
    env = {"PR": "7", "REPO": "org/platform", "PLAN_RESULT": "success"}
    log = fake_gh(tmp_path, answers={"issues/7/comments": ""})
    run_step(step, tmp_path, env=env)
    assert gh_calls(log)[-1] == ["pr", "comment", "7", "--repo", "org/platform", "--body-file", "comment.md"]
    comment = (workspace / "comment.md").read_text()
    assert comment.startswith("<!-- platform-plan -->") and "replace** `azurerm_key_vault.kv`" in comment
    log.unlink()
    fake_gh(tmp_path, answers={"issues/7/comments": "4242"})  # our comment from the last push
    run_step(step, tmp_path, env=env)
    assert gh_calls(log)[-1] == [
        "api",
        "-X",
        "PATCH",
        "repos/org/platform/issues/comments/4242",
        "-F",
        "body=@comment.md",
    ]


# --- deploys: the plan job keeps exactly what the apply job applies -----------------------------------------


def emits(document: dict[str, Any], *, exit_code: int = 0) -> str:
    """A stand-in `platform` that prints ``document`` as JSON and exits with ``exit_code``."""
    return f"cat <<'JSON'\n{json.dumps(document)}\nJSON\nexit {exit_code}\n"


def test_the_deploy_plan_job_keeps_the_saved_plans_of_the_planned_stacks(tmp_path):
    jobs = workflow("deploy.yml")["jobs"]
    step = next(s for s in jobs["plan-prod"]["steps"] if "platform plan" in s.get("run", ""))
    workspace = checkout(tmp_path)
    stack_dir = workspace / "cdktf.out" / "stacks" / "churn-prod-platform"
    stack_dir.mkdir(parents=True)
    # `platform plan` saves tfplan and init's lock file in each planned stack's directory and prints the JSON
    stand_in(tmp_path / "bin", "platform", emits(PLAN))
    (stack_dir / "tfplan").write_text("saved plan")
    (stack_dir / ".terraform.lock.hcl").write_text("provider locks")
    summary = tmp_path / "summary.md"
    run_step(step, tmp_path, env={"TARGET": "churn/prod", "GITHUB_STEP_SUMMARY": str(summary)})
    kept = workspace / "planned"
    assert json.loads((kept / "plan.json").read_text()) == PLAN
    assert sorted(p.name for p in (kept / "stacks").iterdir()) == [
        "churn-prod-platform"
    ]  # not the waiting one
    assert (kept / "stacks" / "churn-prod-platform" / "tfplan").read_text() == "saved plan"
    assert (kept / "stacks" / "churn-prod-platform" / ".terraform.lock.hcl").exists()
    assert "`churn-prod-workspace`: not planned yet" in summary.read_text()


# --- nightly drift ------------------------------------------------------------------------------------------


def test_nightly_plans_every_permanent_env_on_its_runner(tmp_path):
    doc = workflow("nightly.yml")
    azure = doc["jobs"]["azure"]
    steps = {"envs": run_step(step_by_id(azure, "envs"), tmp_path)}
    needs = {"azure": {"outputs": job_outputs(azure, steps)}}
    drift = doc["jobs"]["drift"]
    entries = from_json(drift["strategy"]["matrix"]["include"], {"needs": needs})
    runners = {entry["target"]: from_json(drift["runs-on"], {"matrix": entry}) for entry in entries}
    config = committed_config()
    assert runners == {
        f"{team['name']}/{env}": settings.get("deploy_runner") or HOSTED
        for team in config["teams"]
        if team.get("cloud", "azure") == "azure"
        for env, settings in team["environments"].items()
    }


@pytest.mark.parametrize("platform_exit", [1, 0])
def test_the_drift_step_shows_the_summary_and_fails_with_the_plans_verdict(tmp_path, platform_exit):
    drift = workflow("nightly.yml")["jobs"]["drift"]
    step = next(s for s in drift["steps"] if "platform plan" in s.get("run", ""))
    assert 'platform plan "$TARGET" --json --fail-on-changes' in step["run"]
    stand_in(tmp_path / "bin", "platform", emits(PLAN, exit_code=platform_exit))
    summary = tmp_path / "summary.md"
    env = {"TARGET": "churn/prod", "GITHUB_STEP_SUMMARY": str(summary)}
    if platform_exit:
        with pytest.raises(AssertionError):  # run_step asserts a zero exit: the job fails
            run_step(step, tmp_path, env=env)
    else:
        run_step(step, tmp_path, env=env)
    assert "1 to replace" in summary.read_text()  # the per-stack summary is on the run's page either way
    assert (tmp_path / "workspace" / "drift" / "plan-churn-prod.json").exists()


def drift_plan(target: str, stacks: dict[str, bool]) -> dict[str, Any]:
    template = PLAN["stacks"][0]
    return {
        **PLAN,
        "target": target,
        "stacks": [
            {
                **template,
                "stack": stack,
                "has_changes": changed,
                **({} if changed else {"change": {}, "replace": {}}),
            }
            for stack, changed in stacks.items()
        ],
    }


def test_drift_opens_one_issue_per_stack_updates_it_and_closes_it_when_gone(tmp_path):
    step = step_by_id(workflow("nightly.yml")["jobs"]["drift-report"], "report")
    drift_dir = checkout(tmp_path) / "drift"
    drift_dir.mkdir()
    plan = drift_plan(
        "churn/prod",
        {"churn-prod-platform": True, "churn-prod-workspace": True, "pricing-prod-platform": False},
    )
    (drift_dir / "plan-churn-prod.json").write_text(json.dumps(plan))
    # open issues: churn-prod-platform (still drifting) and pricing-prod-platform (drift gone)
    log = fake_gh(
        tmp_path,
        answers={"issue list": open_issues({11: "churn-prod-platform", 12: "pricing-prod-platform"})},
    )
    run_step(step, tmp_path, env={"REPO": "org/platform"})
    changes = [call for call in gh_calls(log) if call[1] != "list"]
    assert changes == [
        [
            "issue",
            "edit",
            "11",
            "--repo",
            "org/platform",
            "--body-file",
            "drift/issues/churn-prod-platform.md",
        ],
        [
            "issue",
            "create",
            "--repo",
            "org/platform",
            "--title",
            "Drift: churn-prod-workspace",
            "--body-file",
            "drift/issues/churn-prod-workspace.md",
        ],
        [
            "issue",
            "close",
            "12",
            "--repo",
            "org/platform",
            "--comment",
            "The nightly plan of pricing-prod-platform shows no changes any more.",
        ],
    ]
    body = (drift_dir / "issues" / "churn-prod-platform.md").read_text()
    assert "platform plan churn/prod" in body and "2 to change" in body
    (listing,) = [call for call in gh_calls(log) if call[1] == "list"]
    assert listing[listing.index("--state") + 1] == "open" and "--search" not in listing


def open_issues(titled: dict[int, str]) -> str:
    """What `gh issue list --json number,title,author` prints: the open drift issues this workflow opened, by
    number, and people's issues: one about a stack, one with a drift issue's exact title."""
    bot = {"login": "app/github-actions", "is_bot": True}
    person = {"login": "mallory", "is_bot": False}
    issues = [{"number": n, "title": f"Drift: {stack}", "author": bot} for n, stack in titled.items()]
    return json.dumps(
        [
            *issues,
            {"number": 3, "title": "Drift: churn-prod-platform is odd, see logs", "author": person},
            {"number": 2, "title": "Drift: churn-prod-platform", "author": person},
        ]
    )


def test_an_issue_created_moments_ago_is_updated_not_duplicated(tmp_path):
    # GitHub's search index lags behind a just-created issue: a search would miss it and open a second one.
    # The listing of open issues does not lag; when a title repeats anyway, the oldest issue is the one kept.
    step = step_by_id(workflow("nightly.yml")["jobs"]["drift-report"], "report")
    drift_dir = checkout(tmp_path) / "drift"
    drift_dir.mkdir()
    plan = drift_plan("churn/prod", {"churn-prod-platform": True})
    (drift_dir / "plan-churn-prod.json").write_text(json.dumps(plan))
    log = fake_gh(
        tmp_path, answers={"issue list": open_issues({31: "churn-prod-platform", 30: "churn-prod-platform"})}
    )
    run_step(step, tmp_path, env={"REPO": "org/platform"})
    assert [call[:3] for call in gh_calls(log) if call[1] != "list"] == [["issue", "edit", "30"]]


def test_a_drift_check_never_cancels_a_deploy_waiting_for_its_env():
    # GitHub keeps one pending job per concurrency group and cancels the one already waiting when another queues
    # (docs.github.com, "Control the concurrency of workflows and jobs"): in the env's group, the nightly drift
    # check would cancel a deploy's pending plan or apply of that env.
    deploy_groups = {
        job["concurrency"]["group"] for job in workflow("deploy.yml")["jobs"].values() if "concurrency" in job
    }
    drift_group = workflow("nightly.yml")["jobs"]["drift"]["concurrency"]["group"]
    assert deploy_groups and all(group.startswith("platform-env-") for group in deploy_groups)
    assert not drift_group.startswith("platform-env-") and "matrix.env" in drift_group


def test_two_drift_reports_never_run_at_once():
    job = workflow("nightly.yml")["jobs"]["drift-report"]
    assert job["concurrency"] == {"group": "drift-report", "cancel-in-progress": False}


def test_a_failed_plan_of_one_env_does_not_hide_the_drift_of_the_others(tmp_path):
    # The drift job uploads its JSON even when `platform plan` failed and wrote nothing to it.
    step = step_by_id(workflow("nightly.yml")["jobs"]["drift-report"], "report")
    drift_dir = checkout(tmp_path) / "drift"
    drift_dir.mkdir()
    (drift_dir / "plan-churn-prod.json").write_text("")
    plan = drift_plan("pricing/prod", {"pricing-prod-platform": True})
    (drift_dir / "plan-pricing-prod.json").write_text(json.dumps(plan))
    log = fake_gh(tmp_path, answers={"issue list": "[]"})
    run_step(step, tmp_path, env={"REPO": "org/platform"})
    assert [call[:2] + call[-4:-2] for call in gh_calls(log) if call[1] != "list"] == [
        ["issue", "create", "--title", "Drift: pricing-prod-platform"]
    ]


# --- the ephemeral env's pull-request comment ---------------------------------------------------------------


def test_the_ephemeral_env_comment_links_its_workspace_and_training_run(tmp_path):
    up = workflow("ephemeral.yml")["jobs"]["up"]
    smoke = step_by_id(up, "smoke")
    report = up["steps"][-1]
    smoked = {
        "target": "churn/pr7",
        "run_id": 907,
        "run_url": "https://adb-1234.5.azuredatabricks.net/?o=1234#job/11/run/907",
        "workspace_url": None,
        "model_name": "dbp_churn_pr7.ml.churn",
        "version": 2,
    }
    stand_in(tmp_path / "bin", "platform", f"echo 'run 907: RUNNING' >&2\n{emits(smoked)}")
    env = {"PR": "7", "NAME": "pr7", "FROM": "churn/dev", "TARGET": "churn/pr7", "SHA": "0123456789abcdef"}
    run_step(smoke, tmp_path, env=env)
    log = fake_gh(tmp_path, answers={})
    run_step(report, tmp_path, env=env | {"UP": "success", "SMOKE": "success", "RUN_URL": "https://gh/run/1"})
    comment = (tmp_path / "workspace" / "comment.md").read_text()
    # without env-up.json (`env up --json`, test_ephemeral_comment.py) the URL is the training run's origin
    assert "Workspace: https://adb-1234.5.azuredatabricks.net." in comment
    assert "Training run: https://adb-1234.5.azuredatabricks.net/?o=1234#job/11/run/907" in comment
    assert "dbp_churn_pr7.ml.churn version 2 is the challenger" in comment
    assert "run 907: RUNNING" in comment  # the progress is still the log shown below
    assert gh_calls(log) == [["pr", "comment", "7", "--body-file", "comment.md"]]


def test_the_saved_plans_are_deleted_once_every_apply_is_done(tmp_path):
    # A saved plan holds the state it was made from, secrets included (azurerm reads the Log Analytics
    # workspace's shared keys into state: internal/services/loganalytics/log_analytics_workspace_resource.go):
    # an artifact anyone who reads the repository can download for as long as it is kept.
    jobs = workflow("deploy.yml")["jobs"]
    forget = jobs["forget-plans"]
    assert set(forget["needs"]) == {"targets", "staging", "production"}
    assert "always()" in forget["if"]  # also after a failed, cancelled or rejected apply
    assert forget["permissions"] == {"actions": "write"}
    uploads = [
        step["with"]["retention-days"]
        for job in ("plan-staging", "plan-prod")
        for step in jobs[job]["steps"]
        if step.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert uploads == [1, 7]  # staging applies at once; prod waits for its reviewers at most a week
    (step,) = forget["steps"]
    log = fake_gh(tmp_path, answers={"actions/runs/77/artifacts": "101\n102"})
    run_step(step, tmp_path, env={"REPO": "org/platform", "RUN_ID": "77"})
    listing, *deletes = gh_calls(log)
    assert 'select(.name | startswith("plan-"))' in listing[listing.index("--jq") + 1]
    assert deletes == [
        ["api", "-X", "DELETE", "repos/org/platform/actions/artifacts/101"],
        ["api", "-X", "DELETE", "repos/org/platform/actions/artifacts/102"],
    ]


def test_a_removed_account_stack_is_told_to_go_alone_not_with_its_env(tmp_path):
    """A pull request that turns an Azure env's serverless.restricted_egress off removes only `<team>-<env>-account`
    (TeamEnv.stacks); the warning must not send the reviewer to `platform destroy TEAM/ENV`, which takes the whole
    env (prod's workspace and data) with it, but to `--only account` (docs/security.md, "Turning it off")."""
    checks = workflow("checks.yml")
    (step,) = [
        s
        for job in checks["jobs"].values()
        for s in job.get("steps", [])
        if "stacks left the config" in s.get("run", "")
    ]
    (workspace := tmp_path / "workspace").mkdir()
    shown = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=workspace,
        env={"PATH": "/usr/bin:/bin", "REMOVED": "churn-prod-account"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "churn-prod-account" in shown and "platform destroy TEAM/ENV --only account" in shown
