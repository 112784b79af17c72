"""The cross-account IAM role Databricks assumes to launch clusters in the env's VPC."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws import DATABRICKS_AWS_ACCOUNT
from infra.config.aws_names import aws_names
from infra.constructs.aws.policy_document import account_root, policy_document

# Databricks docs, "Create a cross-account IAM role", policy for a customer-managed VPC (AWS): what the control
# plane calls to run clusters. EC2 scopes most of these by resource type only, so the resource stays "*".
CLUSTER_ACTIONS = sorted(
    f"ec2:{action}"
    for action in [
        "AssignPrivateIpAddresses",
        "AssociateIamInstanceProfile",
        "AttachVolume",
        "AuthorizeSecurityGroupEgress",
        "AuthorizeSecurityGroupIngress",
        "CancelSpotInstanceRequests",
        "CreateFleet",
        "CreateLaunchTemplate",
        "CreateLaunchTemplateVersion",
        "CreateTags",
        "CreateVolume",
        "DeleteFleets",
        "DeleteLaunchTemplate",
        "DeleteLaunchTemplateVersions",
        "DeleteTags",
        "DeleteVolume",
        "DescribeAvailabilityZones",
        "DescribeFleetHistory",
        "DescribeFleetInstances",
        "DescribeFleets",
        "DescribeIamInstanceProfileAssociations",
        "DescribeInstanceStatus",
        "DescribeInstances",
        "DescribeInternetGateways",
        "DescribeLaunchTemplateVersions",
        "DescribeLaunchTemplates",
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
        "DetachVolume",
        "DisassociateIamInstanceProfile",
        "GetLaunchTemplateData",
        "GetSpotPlacementScores",
        "ModifyFleet",
        "ModifyLaunchTemplate",
        "ReplaceIamInstanceProfileAssociation",
        "RequestSpotInstances",
        "RevokeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RunInstances",
        "TerminateInstances",
    ]
)


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
    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv, account_id: str) -> None:
        super().__init__(scope, id)
        spot_role = (
            f"arn:aws:iam::{account_id}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"
        )
        self.role = IamRole(
            self,
            "role",
            name=aws_names(team_env).cross_account_role,
            description="Databricks control plane: launches the env's clusters in its VPC",
            assume_role_policy=databricks_trust(str(team_env.platform.account_id)),
        )
        IamRolePolicy(
            self,
            "policy",
            name="databricks-clusters",
            role=self.role.id,
            policy=policy_document(
                {"Sid": "Clusters", "Effect": "Allow", "Action": CLUSTER_ACTIONS, "Resource": "*"},
                {
                    "Sid": "SpotServiceLinkedRole",
                    "Effect": "Allow",
                    "Action": ["iam:CreateServiceLinkedRole", "iam:PutRolePolicy"],
                    "Resource": spot_role,
                    "Condition": {"StringLike": {"iam:AWSServiceName": "spot.amazonaws.com"}},
                },
            ),
        )
