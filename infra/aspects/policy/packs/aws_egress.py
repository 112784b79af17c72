"""Egress of an AWS team-env's VPC (SRA's isolated network): a prod VPC has no path to the internet unless the config
states why, and every VPC endpoint to an AWS service carries a policy narrower than "everything"."""

from __future__ import annotations

import json
from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack

ANYWHERE = ("0.0.0.0/0", "::/0")
# Interface endpoints to a PrivateLink service of another account (Databricks' workspace and relay services) take
# no endpoint policy: only AWS services evaluate one.
PRIVATE_LINK_SERVICE = "com.amazonaws.vpce."


def _internet_path(config: dict[str, Any], ctx: RuleContext, kind: str) -> str | None:
    if ctx.team_env.kind != "prod":
        return None
    return f"prod VPC has {kind}: open egress needs a stated reason (egress.open_reason) or egress.mode: isolated"


def _internet_egress(config: dict[str, Any], ctx: RuleContext) -> str | None:
    if not ctx.address.startswith("aws_route."):
        return _internet_path(config, ctx, f"an internet or NAT gateway ({ctx.address.split('.')[0]})")
    to_anywhere = (
        config.get("destination_cidr_block") in ANYWHERE
        or config.get("destination_ipv6_cidr_block") in ANYWHERE
    )
    through = [key for key in ("nat_gateway_id", "gateway_id", "egress_only_gateway_id") if config.get(key)]
    if not (to_anywhere and through):
        return None
    return _internet_path(config, ctx, f"a default route through {through[0]}")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _restricted_endpoint_policy(config: dict[str, Any], _: RuleContext) -> str | None:
    if str(config.get("service_name", "")).startswith(PRIVATE_LINK_SERVICE):
        return None
    policy = config.get("policy")
    if not policy:
        return "VPC endpoint without a policy: the default one allows every action on every resource"
    try:
        statements = _listed(json.loads(policy).get("Statement", []))
    except (ValueError, AttributeError):
        return "VPC endpoint policy is not a JSON document the policy can read"
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _listed(statement.get("Action", []))]
        if any(a == "*" or a.endswith(":*") for a in actions):
            return f"VPC endpoint policy allows every action ({statement.get('Sid') or actions})"
        anyone = statement.get("Principal") in ("*", {"AWS": "*"}) and not statement.get("Condition")
        if anyone and "*" in _listed(statement.get("Resource", [])):
            return f"VPC endpoint policy allows anyone on every resource ({statement.get('Sid') or actions})"
    return None


AWS_EGRESS = RulePack(
    "aws_egress",
    (
        Rule(
            "PLAT-AWS-EGRESS-1",
            ("aws_internet_gateway", "aws_nat_gateway", "aws_egress_only_internet_gateway", "aws_route"),
            "no internet or NAT gateway, nor a default route through one, in a prod VPC without a stated reason",
            _internet_egress,
        ),
        Rule(
            "PLAT-AWS-EGRESS-2",
            ("aws_vpc_endpoint",),
            "VPC endpoints to AWS services carry a policy narrower than everything",
            _restricted_endpoint_policy,
        ),
    ),
)
