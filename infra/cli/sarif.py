"""`platform scan --sarif FILE`: the scan's findings as SARIF 2.1.0, the format GitHub code scanning ingests.

Two runs, one per tool: checkov's failed checks (and, marked suppressed with the skip list's reason, the failures
its reviewed skips hide), and the policy aspect's suppressions (PLAT-* rules, suppressed in source with their
reason; a violation that is not suppressed fails the synth, so it never reaches a scan). Locations point at the
scanned cdk.tf.json, relative to the project root (`%SRCROOT%`) when it is inside it: the stacks are generated
in CI, so GitHub shows the path and lines but cannot show the code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.cli.errors import UsageProblem
from infra.project import project_root

if TYPE_CHECKING:
    from infra.cli.scan import CheckovSkip, RecordedSuppression, StackResult

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"


def check_writable(path: Path) -> None:
    """Refuse a --sarif path that cannot be written, before anything is synthesized or scanned."""
    if path.is_dir():
        raise UsageProblem(f"--sarif: {path} is a directory; name a file")
    if not path.parent.is_dir():
        raise UsageProblem(f"--sarif: {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise UsageProblem(f"--sarif: cannot write into {path.parent}")


def write_sarif(
    path: Path,
    results: list[StackResult],
    skips: list[CheckovSkip],
    suppressions: list[RecordedSuppression],
    *,
    out: Path,
) -> None:
    """Write the SARIF log whole (a temporary file renamed over ``path``): never a half-written file."""
    document = sarif_log(results, skips, suppressions, out=out)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as written:
            json.dump(document, written, indent=2)
            written.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sarif_log(
    results: list[StackResult],
    skips: list[CheckovSkip],
    suppressions: list[RecordedSuppression],
    *,
    out: Path,
) -> dict[str, Any]:
    reasons = {skip.check_id: skip.reason for skip in skips}
    checkov_results = [(result.name, finding, None) for result in results for finding in result.failed] + [
        (result.name, finding, reasons.get(finding.check_id, "skipped in policy/checkov.yaml"))
        for result in results
        for finding in result.skipped_failing
    ]
    checkov_rules = _rules({finding.check_id: finding.check_name for _, finding, _ in checkov_results})
    checkov_run = {
        "tool": {
            "driver": {"name": "checkov", "informationUri": "https://www.checkov.io", "rules": checkov_rules}
        },
        "results": [
            _result(
                rule_id=finding.check_id,
                rules=checkov_rules,
                message=f"{finding.check_name or finding.check_id} ({stack}: {finding.resource})",
                uri=_uri(Path(finding.file) if finding.file else _stack_file(out, stack)),
                lines=finding.lines,
                logical=f"{stack}/{finding.resource}",
                suppressed_because=reason,
                suppression_kind="external",  # the skip list lives beside the config, not in the stack
            )
            for stack, finding, reason in checkov_results
        ],
    }
    policy_rules = _rules({s.rule_id: f"platform policy rule {s.rule_id}" for s in suppressions})
    policy_run = {
        "tool": {"driver": {"name": "platform-policy", "rules": policy_rules}},
        "results": [
            _result(
                rule_id=s.rule_id,
                rules=policy_rules,
                message=f"{s.rule_id} suppressed on {s.stack}: {s.resource}",
                uri=_uri(_stack_file(out, s.stack)),
                lines=_resource_lines(_stack_file(out, s.stack), s.resource),
                logical=f"{s.stack}/{s.resource}",
                suppressed_because=s.reason,
                suppression_kind="inSource",  # suppress(...) in the construct, written into the stack
            )
            for s in suppressions
        ],
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [checkov_run, policy_run]}


def _rules(names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"id": rule_id, "shortDescription": {"text": names[rule_id] or rule_id}} for rule_id in sorted(names)
    ]


def _result(
    *,
    rule_id: str,
    rules: list[dict[str, Any]],
    message: str,
    uri: dict[str, str],
    lines: tuple[int, int],
    logical: str,
    suppressed_because: str | None,
    suppression_kind: str,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": next(index for index, rule in enumerate(rules) if rule["id"] == rule_id),
        "level": "error",
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": uri,
                    "region": {"startLine": lines[0], "endLine": lines[1]},
                },
                "logicalLocations": [{"fullyQualifiedName": logical, "kind": "resource"}],
            }
        ],
        # Stable across line moves: the same rule on the same resource of the same stack is the same alert.
        "partialFingerprints": {
            "platformScan/v1": hashlib.sha256(f"{rule_id}|{logical}".encode()).hexdigest()[:32]
        },
    }
    if suppressed_because is not None:
        result["suppressions"] = [
            {"kind": suppression_kind, "status": "accepted", "justification": suppressed_because}
        ]
    return result


def _stack_file(out: Path, stack: str) -> Path:
    return out / "stacks" / stack / "cdk.tf.json"


def _uri(path: Path) -> dict[str, str]:
    resolved = path.resolve()
    try:
        return {"uri": resolved.relative_to(project_root().resolve()).as_posix(), "uriBaseId": SRCROOT}
    except ValueError:
        return {"uri": resolved.as_uri()}


def _resource_lines(path: Path, resource: str) -> tuple[int, int]:
    """The line of the resource's block in the stack file (cdktf writes one key per line), else line 1."""
    resource_type, _, name = resource.partition(".")
    try:
        text = path.read_text().splitlines()
    except OSError:
        return (1, 1)
    in_type = False
    for number, line in enumerate(text, start=1):
        stripped = line.strip()
        if stripped.startswith(f'"{resource_type}": {{'):
            in_type = True
        elif in_type and stripped.startswith(f'"{name}": {{'):
            return (number, number)
    return (1, 1)
