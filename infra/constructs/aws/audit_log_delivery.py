"""The AWS side of audit log delivery: a protected bucket and the role Databricks' log delivery assumes to write it.

Follows SRA (terraform-databricks-sra aws/tf/modules/databricks_account/audit_log_delivery/main.tf), with the
bucket kept like every other here (SecureBucket: versioned, SSE-KMS, public access blocked, TLS only) instead of
SRA's unversioned one. The trust is what `databricks_aws_assume_role_policy` with `for_log_delivery = true` writes
(databricks v1.99.0 aws/data_aws_assume_role_policy.go: Databricks' production usage delivery role, external ID =
the Databricks account ID); the bucket grant is `databricks_aws_bucket_policy` with `full_access_role` set
(aws/data_aws_bucket_policy.go). Both are written out here because this stack uses the aws provider only. The
account stack registers the role and the bucket and creates the delivery (`databricks_mws_log_delivery`).
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws_names import audit_log_bucket_name
from infra.constructs.aws.bucket import DATABRICKS_BUCKET_ACTIONS, SecureBucket
from infra.constructs.aws.policy_document import policy_document

# databricks v1.99.0 aws/data_aws_assume_role_policy.go: "production UsageDelivery IAM role, that is considered a
# constant".
LOG_DELIVERY_PRINCIPAL = "arn:aws:iam::414351767826:role/SaasUsageDeliveryRole-prod-IAMRole-3PLHICCRR1TK"


def log_delivery_trust(databricks_account_id: str) -> str:
    return policy_document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": LOG_DELIVERY_PRINCIPAL},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": databricks_account_id}},
        }
    )


class AuditLogBucket(Construct):
    """Bucket, delivery role (trusted by Databricks' log delivery, may use the env key to write) and the bucket
    policy that grants only that role. Where the env protects its data, nobody may delete an object version:
    with versioning on, a delete by the role (or anyone) leaves the delivered log behind as a prior version."""

    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv, kms_key_arn: str) -> None:
        super().__init__(scope, id)
        stem = team_env.names.stem
        self.bucket_name = audit_log_bucket_name(
            prefix=team_env.platform.prefix, team=team_env.team.name, env=team_env.env
        )
        arn = f"arn:aws:s3:::{self.bucket_name}"
        self.role = IamRole(
            self,
            "role",
            name=f"{stem}-audit-log-delivery",
            description="Databricks audit log delivery: writes the workspace's audit logs to the env's log bucket",
            assume_role_policy=log_delivery_trust(str(team_env.platform.account_id)),
        )
        IamRolePolicy(
            self,
            "key-use",
            name="audit-log-encryption",
            role=self.role.id,
            # SSE-KMS: writing an object needs a data key from the env key; multipart uploads read it back.
            policy=policy_document(
                {
                    "Sid": "EncryptAuditLogs",
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": kms_key_arn,
                }
            ),
        )
        statements = [
            {
                "Sid": "DatabricksLogDelivery",
                "Effect": "Allow",
                "Principal": {"AWS": self.role.arn},
                "Action": DATABRICKS_BUCKET_ACTIONS,
                "Resource": [arn, f"{arn}/*"],
            }
        ]
        if team_env.settings.prevent_destroy and not team_env.is_ephemeral:
            statements.append(
                {
                    "Sid": "KeepDeliveredLogs",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:DeleteObjectVersion",
                    "Resource": f"{arn}/*",
                }
            )
        self.storage = SecureBucket(
            self,
            "storage",
            team_env=team_env,
            name=self.bucket_name,
            kms_key_arn=kms_key_arn,
            statements=statements,
        )
        self.role_arn = self.role.arn
