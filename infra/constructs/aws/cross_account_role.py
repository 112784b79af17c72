"""The cross-account IAM role Databricks assumes to launch clusters in the env's VPC.

Its policy is Databricks' restrictive policy for a customer-managed VPC: what the databricks provider's data source
`databricks_aws_crossaccount_policy` produces with `policy_type = "restricted"` (databricks/terraform-provider-databricks
v1.99.0, aws/data_aws_crossaccount_policy.go), written out here because the platform stack uses the aws provider
only. SRA scopes its role the same way (databricks/terraform-databricks-sra aws/tf/credential.tf): instances, volumes
and their network interfaces only in the env's VPC, subnets and security group, and only on resources tagged
Vendor=Databricks.
"""

from __future__ import annotations

from typing import Any

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws import DATABRICKS_AWS_ACCOUNT
from infra.config.aws_names import aws_names
from infra.constructs.aws.policy_document import account_root, policy_document

# data_aws_crossaccount_policy.go: the actions EC2 cannot scope to a VPC (or that the data source leaves on "*"),
# in its order. With policy_type "restricted" the data source leaves out RunInstances, TerminateInstances, the
# volume, instance profile and security group rule actions: the resource-scoped statements below grant them.
NON_RESOURCE_ACTIONS = [
    f"ec2:{action}"
    for action in [
        "AssignPrivateIpAddresses",
        "CancelSpotInstanceRequests",
        "DescribeAvailabilityZones",
        "DescribeIamInstanceProfileAssociations",
        "DescribeInstanceStatus",
        "DescribeInstances",
        "DescribeInternetGateways",
        "DescribeNatGateways",
        "DescribeNetworkAcls",
        "DescribePrefixLists",
        "DescribeReservedInstancesOfferings",
        "DescribeRouteTables",
        "DescribeSecurityGroups",
        "DescribeSpotInstanceRequests",
        "DescribeSpotPriceHistory",
        "DescribeSubnets",
        "DescribeVolumes",
        "DescribeVpcAttribute",
        "DescribeVpcs",
        "CreateTags",
        "DeleteTags",
        "GetSpotPlacementScores",
        "RequestSpotInstances",
        "DescribeFleetHistory",
        "ModifyFleet",
        "DeleteFleets",
        "DescribeFleetInstances",
        "DescribeFleets",
        "CreateFleet",
        "DeleteLaunchTemplate",
        "GetLaunchTemplateData",
        "CreateLaunchTemplate",
        "DescribeLaunchTemplates",
        "DescribeLaunchTemplateVersions",
        "ModifyLaunchTemplate",
        "DeleteLaunchTemplateVersions",
        "CreateLaunchTemplateVersion",
    ]
]

DATABRICKS_TAG = {"StringEquals": {"ec2:ResourceTag/Vendor": "Databricks"}}
"""Resources Databricks created: its clusters tag every instance and volume Vendor=Databricks."""


def restricted_statements(
    *, account_id: str, region: str, vpc_id: str, security_group_id: str
) -> list[dict[str, Any]]:
    """The statements of the data source's restricted policy for these values, in its order.

    One deviation, narrower: the spot service-linked role statement names this account where the data source
    writes `arn:aws:iam::*:...` (the role can only be created in the account that holds it anyway).
    """

    def arn(kind: str) -> str:
        return f"arn:aws:ec2:{region}:{account_id}:{kind}"

    in_vpc = {"StringEquals": {"ec2:vpc": arn(f"vpc/{vpc_id}")}}
    return [
        {"Effect": "Allow", "Action": NON_RESOURCE_ACTIONS, "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole", "iam:PutRolePolicy"],
            "Resource": f"arn:aws:iam::{account_id}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot",
            "Condition": {"StringLike": {"iam:AWSServiceName": "spot.amazonaws.com"}},
        },
        {
            "Sid": "InstancePoolsSupport",
            "Effect": "Allow",
            "Action": [
                "ec2:AssociateIamInstanceProfile",
                "ec2:DisassociateIamInstanceProfile",
                "ec2:ReplaceIamInstanceProfileAssociation",
            ],
            "Resource": arn("instance/*"),
            "Condition": DATABRICKS_TAG,
        },
        {
            "Sid": "AllowEc2RunInstancePerTag",
            "Effect": "Allow",
            "Action": "ec2:RunInstances",
            "Resource": [arn("volume/*"), arn("instance/*")],
            "Condition": {"StringEquals": {"aws:RequestTag/Vendor": "Databricks"}},
        },
        {
            "Sid": "AllowEc2RunInstanceImagePerTag",
            "Effect": "Allow",
            "Action": "ec2:RunInstances",
            "Resource": arn("image/*"),
            "Condition": {"StringEquals": {"aws:ResourceTag/Vendor": "Databricks"}},
        },
        {
            "Sid": "AllowEc2RunInstancePerVPCid",
            "Effect": "Allow",
            "Action": "ec2:RunInstances",
            "Resource": [arn("network-interface/*"), arn("subnet/*"), arn("security-group/*")],
            "Condition": in_vpc,
        },
        {
            "Sid": "AllowEc2RunInstanceOtherResources",
            "Effect": "Allow",
            "Action": "ec2:RunInstances",
            "NotResource": [
                arn(f"{kind}/*")
                for kind in ("image", "network-interface", "subnet", "security-group", "volume", "instance")
            ],
        },
        {
            "Sid": "EC2TerminateInstancesTag",
            "Effect": "Allow",
            "Action": "ec2:TerminateInstances",
            "Resource": arn("instance/*"),
            "Condition": DATABRICKS_TAG,
        },
        {
            "Sid": "EC2AttachDetachVolumeTag",
            "Effect": "Allow",
            "Action": ["ec2:AttachVolume", "ec2:DetachVolume"],
            "Resource": [arn("instance/*"), arn("volume/*")],
            "Condition": DATABRICKS_TAG,
        },
        {
            "Sid": "EC2CreateVolumeByTag",
            "Effect": "Allow",
            "Action": "ec2:CreateVolume",
            "Resource": arn("volume/*"),
            "Condition": {"StringEquals": {"aws:RequestTag/Vendor": "Databricks"}},
        },
        {
            "Sid": "EC2DeleteVolumeByTag",
            "Effect": "Allow",
            "Action": "ec2:DeleteVolume",
            "Resource": [arn("volume/*")],
            "Condition": DATABRICKS_TAG,
        },
        {
            "Sid": "VpcNonresourceSpecificActions",
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
            ],
            "Resource": arn(f"security-group/{security_group_id}"),
            "Condition": in_vpc,
        },
    ]


def databricks_trust(databricks_account_id: str) -> str:
    """Databricks' AWS account may assume the role, with this Databricks account as the external ID."""
    return policy_document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": account_root(DATABRICKS_AWS_ACCOUNT)},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": databricks_account_id}},
        }
    )


class CrossAccountRole(Construct):
    """The role and its restricted policy; `vpc_id` and `security_group_id` are the env's network (the ones the
    workspace's `databricks_mws_networks` names: clusters launch nowhere else)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        account_id: str,
        vpc_id: str,
        security_group_id: str,
    ) -> None:
        super().__init__(scope, id)
        self.role = IamRole(
            self,
            "role",
            name=aws_names(team_env).cross_account_role,
            description="Databricks control plane: launches the env's clusters in its VPC",
            assume_role_policy=databricks_trust(str(team_env.platform.account_id)),
        )
        statements = restricted_statements(
            account_id=account_id,
            region=team_env.team.region,
            vpc_id=vpc_id,
            security_group_id=security_group_id,
        )
        IamRolePolicy(
            self, "policy", name="databricks-clusters", role=self.role.id, policy=policy_document(*statements)
        )
