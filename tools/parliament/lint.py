"""Lint IAM policy documents with parliament (run with .venv-parliament/bin/python; its pins stay out of the app).

stdin: a JSON list of {"where": ..., "document": ...}; stdout: a JSON list of {"where", "issue", "detail"}, one per
parliament finding. Offline: parliament ships the IAM action catalogue it checks against.
"""

import json
import sys

from parliament import analyze_policy_string


def main() -> None:
    findings = []
    for item in json.load(sys.stdin):
        policy = analyze_policy_string(item["document"], include_community_auditors=False)
        for finding in policy.findings:
            findings.append({"where": item["where"], "issue": finding.issue, "detail": str(finding.detail)})
    json.dump(findings, sys.stdout)


if __name__ == "__main__":
    main()
