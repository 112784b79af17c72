"""The IAM role behind an AWS team-env's Unity Catalog storage credential, trusting that credential.

Databricks issues every storage credential its own external ID when the credential is created (the computed
`aws_iam_role[0].external_id`, catalog/resource_storage_credential.go, databricks provider v1.99.0), so the role
can only be trusted correctly after the credential exists. The references do it in this order: the credential is
created first with the ARN the role will have (its name is known in advance), the role's trust is built from the
credential's external ID, IAM is given time to propagate, then the external locations are created (SRA
aws/tf/modules/databricks_workspace/unity_catalog_catalog_creation/main.tf; the trust statements are those of the
provider's `databricks_aws_unity_catalog_assume_role_policy`, aws/data_aws_unity_catalog_assume_role_policy.go).
"""

from __future__ import annotations

from typing import Any

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws import UNITY_CATALOG_MASTER_ROLE
from infra.config.aws_names import aws_names
from infra.constructs.aws.iam_propagation import iam_propagation_wait
from infra.constructs.aws.policy_document import account_root, policy_document

# SRA waits 60 s (time_sleep) before the first external location: Databricks validates the location by assuming
# the role (unity_catalog_catalog_creation/main.tf).
IAM_PROPAGATION_SECONDS = 60
# The bucket actions of the provider's databricks_aws_unity_catalog_policy (aws/data_aws_unity_catalog_policy.go,
# v1.99.0), multipart uploads included so a failed large write can be cleaned up.
LAKE_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:ListBucketMultipartUploads",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
]


def unity_catalog_role_arn(team_env: TeamEnv) -> str:
    """The role's ARN, known before the role exists: the storage credential is created with it first."""
    aws = team_env.team.aws
    if aws is None:
        raise ValueError(f"team {team_env.team.name!r} has no aws settings")
    return f"arn:aws:iam::{aws.account_id}:role/{aws_names(team_env).unity_catalog_role}"


def credential_trust(*, role_arn: str, account_id: str, external_id: str) -> str:
    """Unity Catalog's master role and the role itself may assume it, both only with the credential's external ID."""
    only_this_credential = {"StringEquals": {"sts:ExternalId": external_id}}
    return policy_document(
        {
            "Sid": "UnityCatalogAssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": UNITY_CATALOG_MASTER_ROLE},
            "Action": "sts:AssumeRole",
            "Condition": only_this_credential,
        },
        {
            # Naming the role's own ARN as principal fails while the role does not exist yet: trust the account
            # root narrowed to the role's ARN, as the provider's data source does.
            "Sid": "ExplicitSelfRoleAssumption",
            "Effect": "Allow",
            "Principal": {"AWS": account_root(account_id)},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:PrincipalArn": role_arn}, **only_this_credential},
        },
    )


class CatalogRole(Construct):
    """The role (trusting ``credential``), its lake and key policy, and the IAM propagation wait that the external
    locations depend on (``ready``)."""

    def __init__(
        self, scope: Construct, id: str, *, team_env: TeamEnv, credential: Any, kms_key_arn: str
    ) -> None:
        super().__init__(scope, id)
        names = aws_names(team_env)
        role_arn = unity_catalog_role_arn(team_env)
        account_id = role_arn.split(":")[4]
        self.role = IamRole(
            self,
            "role",
            name=names.unity_catalog_role,
            description="Unity Catalog storage credential of the env's lake",
            assume_role_policy=credential_trust(
                role_arn=role_arn, account_id=account_id, external_id=credential.aws_iam_role.external_id
            ),
        )
        lake_arn = f"arn:aws:s3:::{names.lake_bucket}"
        policy = IamRolePolicy(
            self,
            "policy",
            name="unity-catalog-lake",
            role=self.role.id,
            policy=policy_document(
                {
                    "Sid": "Lake",
                    "Effect": "Allow",
                    "Action": LAKE_ACTIONS,
                    "Resource": [lake_arn, f"{lake_arn}/*"],
                },
                {
                    "Sid": "LakeKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
                    "Resource": [kms_key_arn],
                },
                {"Sid": "AssumeSelf", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [role_arn]},
            ),
        )
        wait = iam_propagation_wait(
            self,
            "iam-propagation",
            seconds=IAM_PROPAGATION_SECONDS,
            # A new trust or policy (a replaced credential, a new key) waits again before locations are touched.
            triggers={"trust": self.role.assume_role_policy, "policy": policy.policy},
        )
        self.ready: list[ITerraformDependable] = [self.role, policy, wait]
