"""IAM roles of an AWS team-env: a role another account assumes demands an external ID."""

from __future__ import annotations

import json
from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack


def _foreign_account(principal: Any, own_account: str | None) -> bool:
    arns = principal.get("AWS", []) if isinstance(principal, dict) else []
    arns = [arns] if isinstance(arns, str) else arns
    return any(arn.split(":")[4:5] != [own_account] for arn in arns if arn.startswith("arn:aws:iam::"))


def _external_id_for_other_accounts(config: dict[str, Any], ctx: RuleContext) -> str | None:
    aws = ctx.team_env.team.aws
    own = aws.account_id if aws else None
    for statement in json.loads(config.get("assume_role_policy") or "{}").get("Statement", []):
        if not _foreign_account(statement.get("Principal"), own):
            continue
        if "sts:ExternalId" not in statement.get("Condition", {}).get("StringEquals", {}):
            return "a role another AWS account may assume needs an sts:ExternalId condition (confused deputy)"
    return None


def _no_admin_policy(config: dict[str, Any], _: RuleContext) -> str | None:
    for statement in json.loads(config.get("policy") or "{}").get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") == "Allow" and ("*" in actions or "iam:*" in actions):
            return f"inline role policy grants {'*' if '*' in actions else 'iam:*'}; grant the actions needed"
    return None


AWS_IAM = RulePack(
    "aws_iam",
    (
        Rule(
            "PLAT-AWS-IAM-1",
            ("aws_iam_role",),
            "roles trusted by another account require an external ID",
            _external_id_for_other_accounts,
        ),
        Rule("PLAT-AWS-IAM-2", ("aws_iam_role_policy",), "no wildcard or iam:* grants", _no_admin_policy),
    ),
)
