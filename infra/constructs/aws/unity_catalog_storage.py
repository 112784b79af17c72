"""The lake bucket and the IAM role a Unity Catalog storage credential uses to read and write it."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws import UNITY_CATALOG_MASTER_ROLE
from infra.config.aws_names import aws_names
from infra.constructs.aws.bucket import SecureBucket
from infra.constructs.aws.policy_document import account_root, policy_document
from infra.constructs.contracts import LAKE_CONTAINERS


class UnityCatalogStorage(Construct):
    """One lake bucket with a prefix per lake layer (the Azure containers), and a role that Unity Catalog's master
    role assumes with this Databricks account as external ID. Unity Catalog also requires the role to trust
    itself; naming the role's own ARN as a principal fails while the role does not exist yet, so the trust goes
    to the account with a PrincipalArn condition (the shape of the databricks provider's
    ``databricks_aws_unity_catalog_assume_role_policy``)."""

    def __init__(
        self, scope: Construct, id: str, *, team_env: TeamEnv, account_id: str, kms_key_arn: str
    ) -> None:
        super().__init__(scope, id)
        names = aws_names(team_env)
        external_id = str(team_env.platform.account_id)
        role_arn = f"arn:aws:iam::{account_id}:role/{names.unity_catalog_role}"
        self.lake = SecureBucket(
            self, "lake", team_env=team_env, name=names.lake_bucket, kms_key_arn=kms_key_arn
        )
        self.bucket_name = names.lake_bucket
        self.lake_urls = {layer: f"s3://{names.lake_bucket}/{layer}/" for layer in LAKE_CONTAINERS}
        self.role = IamRole(
            self,
            "role",
            name=names.unity_catalog_role,
            description="Unity Catalog storage credential of the env's lake",
            assume_role_policy=policy_document(
                {
                    "Sid": "UnityCatalogMasterRole",
                    "Effect": "Allow",
                    "Principal": {"AWS": UNITY_CATALOG_MASTER_ROLE},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                },
                {
                    "Sid": "ExplicitSelfRoleAssumption",
                    "Effect": "Allow",
                    "Principal": {"AWS": account_root(account_id)},
                    "Action": "sts:AssumeRole",
                    "Condition": {"ArnLike": {"aws:PrincipalArn": role_arn}},
                },
            ),
        )
        lake_arn = f"arn:aws:s3:::{names.lake_bucket}"
        IamRolePolicy(
            self,
            "policy",
            name="unity-catalog-lake",
            role=self.role.id,
            policy=policy_document(
                {
                    "Sid": "Lake",
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:DeleteObject",
                        "s3:ListBucket",
                        "s3:GetBucketLocation",
                    ],
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
        self.role_arn = role_arn
