"""IAM roles of an AWS team-env: a role another account assumes demands an external ID."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
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


# Databricks' restrictive cross-account policy (databricks_aws_crossaccount_policy, policy_type "restricted") grants
# these only on the env's VPC, subnets and security group or on instances tagged Vendor=Databricks, never on "*".
CLUSTER_LIFECYCLE_ACTIONS = ("ec2:RunInstances", "ec2:TerminateInstances")


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def _no_unscoped_instances(config: dict[str, Any], _: RuleContext) -> str | None:
    for statement in json.loads(config.get("policy") or "{}").get("Statement", []):
        if statement.get("Effect") != "Allow" or "*" not in _as_list(statement.get("Resource")):
            continue
        # a bare "*" is PLAT-AWS-IAM-2's; "ec2:*" or "ec2:Run*" are this rule's
        patterns = [str(action).lower() for action in _as_list(statement.get("Action")) if action != "*"]
        for action in CLUSTER_LIFECYCLE_ACTIONS:
            if any(fnmatchcase(action.lower(), pattern) for pattern in patterns):
                return (
                    f"{action} on Resource '*': scope it to the env's VPC, subnets and security group and to "
                    "instances tagged Vendor=Databricks (Databricks' restricted cross-account policy)"
                )
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
        Rule(
            "PLAT-AWS-IAM-3",
            ("aws_iam_role_policy",),
            "no ec2:RunInstances or ec2:TerminateInstances on every resource",
            _no_unscoped_instances,
        ),
    ),
)
