"""An S3 bucket the way every bucket of the platform is kept: private, versioned, SSE-KMS, TLS only."""

from __future__ import annotations

from typing import Any

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.aws.policy_document import policy_document

# What Databricks may do on a bucket it writes (databricks v1.99.0 aws/data_aws_bucket_policy.go, the statement of
# `databricks_aws_bucket_policy`): the workspace root bucket and the audit log bucket grant these.
DATABRICKS_BUCKET_ACTIONS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:GetBucketLocation",
]


class SecureBucket(Construct):
    """Bucket plus its public access block, ownership, versioning, default SSE-KMS encryption and a policy that
    refuses plain HTTP. ``statements`` are added to that policy.

    No lifecycle rule yet: how long old versions of lake data stay is a retention decision per team, and a rule
    that expires them would be one more thing to get wrong silently."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        name: str,
        kms_key_arn: str,
        statements: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(scope, id)
        protect = team_env.settings.prevent_destroy and not team_env.is_ephemeral
        self.bucket = S3Bucket(
            self,
            "bucket",
            bucket=name,
            # Ephemeral envs must go away in one destroy, data included; others keep a non-empty bucket.
            force_destroy=team_env.is_ephemeral,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if protect else None,
        )
        bucket_id, self.arn = self.bucket.id, self.bucket.arn
        block = S3BucketPublicAccessBlock(
            self,
            "public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket_id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketVersioningA(
            self,
            "versioning",
            bucket=bucket_id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket_id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
                        )
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )
        deny_plain_http = {
            "Sid": "DenyPlainHttp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [self.arn, f"{self.arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        S3BucketPolicy(
            self,
            "policy",
            bucket=bucket_id,
            policy=policy_document(deny_plain_http, *(statements or [])),
            # S3 refuses a policy while the public access block is being written.
            depends_on=[block],
        )
