"""The policy scan's SARIF reaches GitHub code scanning: written by `make scan SARIF=...`, uploaded by
github/codeql-action/upload-sarif pinned by commit, with `security-events: write` on that job only."""

import subprocess

from tests.ci.test_workflows import ROOT, WORKFLOW_FILES, jobs_of, load, permissions, workflow

UPLOAD = "github/codeql-action/upload-sarif@"
# `git rev-parse v4.36.2^{commit}` in github/codeql-action
UPLOAD_SHA = "8aad20d150bbac5944a9f9d289da16a4b0d87c1e"


def test_the_policy_scan_writes_sarif_and_uploads_it_even_when_checks_failed():
    steps = workflow("checks.yml")["jobs"]["policy-scan"]["steps"]
    scan = next(step for step in steps if "make scan" in step.get("run", ""))
    upload = next(step for step in steps if step.get("uses", "").startswith(UPLOAD))
    assert scan["run"].strip() == "make scan SARIF=policy-scan.sarif"
    assert upload["uses"] == f"{UPLOAD}{UPLOAD_SHA}"
    assert upload["with"]["sarif_file"] == "policy-scan.sarif"
    assert "failure()" in upload["if"]  # a failed scan is exactly what must be uploaded
    assert "head.repo.full_name == github.repository" in upload["if"]  # a fork's token cannot upload


def test_security_events_write_only_where_sarif_is_uploaded():
    writers = set()
    for path in WORKFLOW_FILES:
        doc = load(path)
        assert doc.get("permissions", {}).get("security-events") is None, path.name
        for job_id, job in jobs_of(doc):
            if permissions(doc, job).get("security-events") == "write":
                writers.add((path.name, job_id))
    # deploy.yml's `checks` job calls checks.yml, and a called workflow gets at most what its caller grants
    assert writers == {("checks.yml", "policy-scan"), ("deploy.yml", "checks")}


def test_make_scan_passes_sarif_to_platform_scan():
    shown = subprocess.run(
        ["make", "-n", "scan", "SARIF=out dir/scan.sarif"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert 'platform scan --out cdktf.out --sarif "out dir/scan.sarif"' in shown.stdout
    plain = subprocess.run(["make", "-n", "scan"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "--sarif" not in plain.stdout
