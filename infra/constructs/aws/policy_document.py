"""IAM policy documents as JSON text: cdktf tokens inside survive json.dumps and resolve at synth."""

import json
from typing import Any


def policy_document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, separators=(",", ":"))


def account_root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"
