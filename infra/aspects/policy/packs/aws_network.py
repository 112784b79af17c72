"""The VPC of an AWS team-env: flow logs on, no inbound from anywhere, egress to anywhere only on the ports
Databricks documents, a default security group without rules."""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, reference

OPEN = ("0.0.0.0/0", "::/0")
# Databricks docs, "Configure a customer-managed VPC", security groups (AWS).
DATABRICKS_EGRESS = {(443, 443), (3306, 3306), (6666, 6666), (2443, 2443), (8443, 8451)}


def _flow_logged(config: dict[str, Any], ctx: RuleContext) -> str | None:
    vpc = reference(ctx.address)
    if any(b.config.get("vpc_id") == vpc for b in ctx.stack.resources("aws_flow_log")):
        return None
    return "VPC has no aws_flow_log"


def _no_open_ingress(config: dict[str, Any], _: RuleContext) -> str | None:
    if config.get("cidr_ipv4") in OPEN or config.get("cidr_ipv6") in OPEN:
        return "security group admits traffic from anywhere; clusters take no inbound traffic from outside"
    return None


def _stays_in_its_zone(config: dict[str, Any], _: RuleContext) -> str | None:
    # aws_availability_zones lists what is available now: a zone briefly unavailable, or a new one, changes the
    # list, and a subnet taking its zone from it must not be replaced for that (docs/aws.md).
    zone = str(config.get("availability_zone", ""))
    ignored = (config.get("lifecycle") or {}).get("ignore_changes") or []
    if "aws_availability_zones" in zone and "availability_zone" not in ignored:
        return (
            "subnet takes its zone from aws_availability_zones without ignore_changes = [availability_zone]"
        )
    return None


def _documented_egress(config: dict[str, Any], _: RuleContext) -> str | None:
    if config.get("cidr_ipv4") not in OPEN and config.get("cidr_ipv6") not in OPEN:
        return None
    ports = (config.get("from_port"), config.get("to_port"))
    if config.get("ip_protocol") == "tcp" and ports in DATABRICKS_EGRESS:
        return None
    return f"egress to anywhere on {config.get('ip_protocol')} {ports} is not one Databricks documents"


def _default_group_empty(config: dict[str, Any], _: RuleContext) -> str | None:
    if config.get("ingress") or config.get("egress"):
        return "the VPC's default security group must have no rules (nothing should use it)"
    return None


def _inline_rules_refused(config: dict[str, Any], _: RuleContext) -> str | None:
    if config.get("ingress") or config.get("egress"):
        return (
            "security group rules go in aws_vpc_security_group_*_rule resources, where the policy checks them"
        )
    return None


AWS_NETWORK = RulePack(
    "aws_network",
    (
        Rule("PLAT-AWS-VPC-1", ("aws_vpc",), "VPC flow logs on", _flow_logged),
        Rule(
            "PLAT-AWS-VPC-2",
            ("aws_vpc_security_group_ingress_rule",),
            "no inbound traffic from anywhere",
            _no_open_ingress,
        ),
        Rule(
            "PLAT-AWS-VPC-3",
            ("aws_vpc_security_group_egress_rule",),
            "egress to anywhere only on the ports Databricks documents",
            _documented_egress,
        ),
        Rule(
            "PLAT-AWS-VPC-4",
            ("aws_default_security_group",),
            "default security group without rules",
            _default_group_empty,
        ),
        Rule(
            "PLAT-AWS-VPC-5", ("aws_security_group",), "no inline security group rules", _inline_rules_refused
        ),
        Rule(
            "PLAT-AWS-VPC-6",
            ("aws_subnet",),
            "a subnet placed from the zone list keeps its zone when the list changes",
            _stays_in_its_zone,
        ),
    ),
)
