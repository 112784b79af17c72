"""`platform scan --sarif FILE`: a SARIF 2.1.0 log GitHub code scanning accepts, with checkov's failures, the
failures its reviewed skips hide (suppressed, with the reason) and the policy aspect's suppressions.

The schema in tests/data is the one github/codeql-action's upload-sarif validates uploads against
(src/sarif-schema-2.1.0.json at tag v4.36.2, the release the workflow pins)."""

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from infra.cli.main import main
from infra.cli.scan import load_skips

ROOT = Path(__file__).resolve().parents[2]
CHECKOV_CONFIG = ROOT / "policy" / "checkov.yaml"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
SKIPPED = load_skips(CHECKOV_CONFIG)[0]
VAULT_REASON = "the vault is reached from the runner's network only"

FAKE_CHECKOV = """\
import json, sys
args = sys.argv[1:]
files = [args[i + 1] for i, a in enumerate(args) if a == "--file"]
def check(check_id, name, path):
    return {"check_id": check_id, "check_name": name, "resource": "azurerm_key_vault.vault",
            "file_abs_path": path, "file_line_range": [7, 19]}
if "--check" in args:  # the second run: only the skipped checks, to count what the skips hide
    failed = [check(args[args.index("--check") + 1].split(",")[0], "skipped check", path) for path in files]
else:
    failed = [check("CKV_AZURE_109", "Ensure that key vault allows firewall rules settings", path) for path in files]
print(json.dumps({"check_type": "terraform_json",
                  "results": {"passed_checks": [], "failed_checks": failed, "parsing_errors": []}}))
"""


def stack_with_a_suppression(out: Path) -> Path:
    stack = out / "stacks" / "churn-dev-platform"
    stack.mkdir(parents=True)
    document = {
        "resource": {
            "azurerm_key_vault": {
                "vault": {"//": {"policy_suppressions": [{"rule": "PLAT-KV-3", "reason": VAULT_REASON}]}}
            }
        }
    }
    (stack / "cdk.tf.json").write_text(json.dumps(document, indent=2))
    return stack / "cdk.tf.json"


@pytest.fixture
def fake_checkov(tmp_path) -> Path:
    script = tmp_path / "checkov"
    script.write_text(f"#!{sys.executable}\n{FAKE_CHECKOV}")
    script.chmod(0o755)
    return script


def scan_to_sarif(out: Path, checkov: Path, sarif: Path, capsys) -> tuple[int, str]:
    argv = [
        *("scan", "--skip-synth", "--out", str(out), "--checkov-config", str(CHECKOV_CONFIG)),
        *("--checkov", str(checkov), "--sarif", str(sarif)),
    ]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code, capsys.readouterr().err


def test_sarif_is_valid_against_the_schema_upload_sarif_uses(tmp_path, fake_checkov, capsys):
    stack_with_a_suppression(tmp_path / "out")
    code, err = scan_to_sarif(tmp_path / "out", fake_checkov, tmp_path / "scan.sarif", capsys)
    assert code == 1, err  # a failed check still fails the scan; the SARIF is written all the same
    log = json.loads((tmp_path / "scan.sarif").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    # upload-sarif refuses two runs of one tool and category in a file (validateUniqueCategory)
    tools = [run["tool"]["driver"]["name"] for run in log["runs"]]
    assert tools == ["checkov", "platform-policy"]


def test_sarif_has_each_failure_at_its_lines_and_the_hidden_ones_suppressed_with_the_reason(
    tmp_path, fake_checkov, capsys
):
    stack_file = stack_with_a_suppression(tmp_path / "out")
    scan_to_sarif(tmp_path / "out", fake_checkov, tmp_path / "scan.sarif", capsys)
    checkov, policy = json.loads((tmp_path / "scan.sarif").read_text())["runs"]
    by_rule = {result["ruleId"]: result for result in checkov["results"]}
    assert set(by_rule) == {"CKV_AZURE_109", SKIPPED.check_id}
    failed = by_rule["CKV_AZURE_109"]
    assert "suppressions" not in failed and failed["level"] == "error"
    location = failed["locations"][0]
    assert location["physicalLocation"]["region"] == {"startLine": 7, "endLine": 19}
    assert location["physicalLocation"]["artifactLocation"] == {"uri": stack_file.resolve().as_uri()}
    assert (
        location["logicalLocations"][0]["fullyQualifiedName"] == "churn-dev-platform/azurerm_key_vault.vault"
    )
    assert checkov["tool"]["driver"]["rules"][failed["ruleIndex"]]["id"] == "CKV_AZURE_109"
    hidden = by_rule[SKIPPED.check_id]
    assert hidden["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": SKIPPED.reason}
    ]
    [suppressed] = policy["results"]
    assert suppressed["ruleId"] == "PLAT-KV-3"
    assert suppressed["suppressions"][0]["justification"] == VAULT_REASON
    assert suppressed["suppressions"][0]["kind"] == "inSource"
    assert suppressed["locations"][0]["physicalLocation"]["region"]["startLine"] == 4  # the vault's block


def test_sarif_paths_inside_the_project_are_relative_to_its_root(fake_checkov, capsys, tmp_path):
    import shutil
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="sarif-test-", dir=ROOT))
    try:
        stack_with_a_suppression(out)
        scan_to_sarif(out, fake_checkov, tmp_path / "scan.sarif", capsys)
        log = json.loads((tmp_path / "scan.sarif").read_text())
    finally:
        shutil.rmtree(out)
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": f"{out.name}/stacks/churn-dev-platform/cdk.tf.json", "uriBaseId": "%SRCROOT%"}


def test_sarif_into_a_missing_directory_is_one_line_before_anything_runs(tmp_path, capsys):
    stack_with_a_suppression(tmp_path / "out")
    never = tmp_path / "never-run"
    never.write_text(f"#!/bin/sh\ntouch {tmp_path}/ran\n")
    never.chmod(0o755)
    code, err = scan_to_sarif(tmp_path / "out", never, tmp_path / "no-such-dir" / "scan.sarif", capsys)
    assert code == 2
    assert err.splitlines() == [f"error: --sarif: {tmp_path / 'no-such-dir'} does not exist"]
    assert not (tmp_path / "ran").exists()
