"""The cross-account role's policy is Databricks' restrictive policy for a customer-managed VPC.

What `data "databricks_aws_crossaccount_policy"` with `policy_type = "restricted"` produces
(databricks/terraform-provider-databricks v1.99.0, aws/data_aws_crossaccount_policy.go; the expected JSON below is
transcribed from that tag's aws/data_aws_crossaccount_policy_test.go, TestDataAwsCrossAccountRestrictedPolicyRoles,
into tests/data/databricks_restricted_crossaccount_policy.json). SRA scopes its role the same way
(databricks/terraform-databricks-sra aws/tf/credential.tf). The platform stack may use the aws provider only, so
infra/constructs/aws/cross_account_role.py writes the statements out; these tests hold it to the data source.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.constructs.aws.cross_account_role import restricted_statements

DATA_SOURCE = json.loads(
    (
        Path(__file__).resolve().parents[1] / "data" / "databricks_restricted_crossaccount_policy.json"
    ).read_text()
)
SPOT_ROLE = "role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"
ENVS = {"risk-dev-platform": "nat", "risk-prod-platform": "isolated"}


def _expected(account_id: str) -> list[dict]:
    """The data source's statements, with the one deviation the construct makes: the spot service-linked role in
    this account instead of any account (narrower)."""
    statements = json.loads(json.dumps(DATA_SOURCE["policy"]["Statement"]))
    spot = next(s for s in statements if s["Action"] == ["iam:CreateServiceLinkedRole", "iam:PutRolePolicy"])
    assert spot["Resource"] == f"arn:aws:iam::*:{SPOT_ROLE}"
    spot["Resource"] = f"arn:aws:iam::{account_id}:{SPOT_ROLE}"
    return statements


def _ours_for_the_data_sources_inputs() -> list[dict]:
    inputs = DATA_SOURCE["inputs"]
    return restricted_statements(
        account_id=inputs["aws_account_id"],
        region=inputs["region"],
        vpc_id=inputs["vpc_id"],
        security_group_id=inputs["security_group_id"],
    )


def test_statements_are_the_data_sources_restricted_policy():
    assert _ours_for_the_data_sources_inputs() == _expected(DATA_SOURCE["inputs"]["aws_account_id"])


def _policy(synthesized, stack: str) -> dict:
    policies = synthesized.resources(stack, "aws_iam_role_policy")
    (policy,) = (p for p in policies.values() if p["name"] == "databricks-clusters")
    return json.loads(policy["policy"])


@pytest.mark.parametrize("stack", sorted(ENVS), ids=lambda s: ENVS[s])
def test_clusters_launch_only_in_the_envs_vpc_and_security_group(synthesized, stack):
    document = _policy(synthesized, stack)
    vpc = next(iter(synthesized.resources(stack, "aws_vpc")))
    groups = synthesized.resources(stack, "aws_security_group")
    (workspace_group,) = (name for name, g in groups.items() if g["name"].endswith("-workspace"))
    by_sid = {s.get("Sid"): s for s in document["Statement"]}
    region = next(iter(synthesized.json(stack)["provider"]["aws"]))["region"]
    in_vpc = f"arn:aws:ec2:{region}:"
    # ec2:vpc names this stack's VPC, the security group rules only the workspace's group (the one
    # databricks_mws_networks gives the workspace; the endpoints' group of isolated egress is not Databricks')
    for sid in ("AllowEc2RunInstancePerVPCid", "VpcNonresourceSpecificActions"):
        (condition,) = by_sid[sid]["Condition"]["StringEquals"].values()
        assert condition.startswith(in_vpc) and condition.endswith(f":vpc/${{aws_vpc.{vpc}.id}}")
    assert by_sid["VpcNonresourceSpecificActions"]["Resource"].endswith(
        f":security-group/${{aws_security_group.{workspace_group}.id}}"
    )
    # nothing launches or terminates instances on "*"
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if {"ec2:RunInstances", "ec2:TerminateInstances"} & set(actions):
            resources = statement.get("Resource", [])
            assert "*" not in ([resources] if isinstance(resources, str) else resources)


def test_the_unscoped_policy_this_replaced_is_refused():
    """The old statement: Databricks' customer-managed VPC action list on Resource "*" (the data source's
    policy_type "customer"); PLAT-AWS-IAM-3 refuses it."""
    from infra.aspects.policy.packs.aws_iam import AWS_IAM

    (rule,) = (r for r in AWS_IAM.rules if r.id == "PLAT-AWS-IAM-3")
    old = {
        "Effect": "Allow",
        "Action": ["ec2:CreateTags", "ec2:RunInstances", "ec2:TerminateInstances"],
        "Resource": "*",
    }
    message = rule.check({"policy": json.dumps({"Statement": [old]})}, None)
    assert message is not None and "ec2:RunInstances on Resource '*'" in message
    scoped = _ours_for_the_data_sources_inputs()
    assert rule.check({"policy": json.dumps({"Statement": scoped})}, None) is None


def test_an_ephemeral_env_scopes_its_role_to_its_own_vpc(platform_config, fake_wheel, tmp_path):
    """An ephemeral env cut from risk/dev (`platform env up`) gets its own VPC, and its role names that one."""
    from datetime import UTC, datetime, timedelta

    from infra.app import build_app
    from infra.lifecycle.ephemeral import cut
    from tests.infra.conftest import SYNTH_TODAY, Synthesized

    base = next(te for te in platform_config.team_envs if te.key == "risk/dev")
    team_env = cut(
        base, name="pr7", slot=0, owner="dev@example.com", expires_at=datetime.now(UTC) + timedelta(hours=8)
    )
    app = build_app(
        platform_config, outdir=tmp_path, wheel=fake_wheel, team_envs=[team_env], today=SYNTH_TODAY
    )
    app.synth()
    synthesized = Synthesized(outdir=tmp_path, app=app)
    (stack,) = (s for s in synthesized.stack_names if s.endswith("-platform"))
    document = _policy(synthesized, stack)
    (vpc,) = synthesized.resources(stack, "aws_vpc")
    (scoped,) = (s for s in document["Statement"] if s.get("Sid") == "AllowEc2RunInstancePerVPCid")
    assert scoped["Condition"]["StringEquals"]["ec2:vpc"].endswith(f":vpc/${{aws_vpc.{vpc}.id}}")
