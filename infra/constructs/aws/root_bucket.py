"""The workspace root bucket (DBFS root, workspace system data) with the policy Databricks documents."""

from __future__ import annotations

from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws import DATABRICKS_AWS_ACCOUNT
from infra.config.aws_names import aws_names
from infra.constructs.aws.bucket import DATABRICKS_BUCKET_ACTIONS, SecureBucket
from infra.constructs.aws.policy_document import account_root


class WorkspaceRootBucket(Construct):
    """Databricks docs, "Create an S3 bucket for workspace deployment" (AWS): Databricks' account may read and
    write the bucket, but only on behalf of this Databricks account (the PrincipalTag condition)."""

    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv, kms_key_arn: str) -> None:
        super().__init__(scope, id)
        name = aws_names(team_env).root_bucket
        arn = f"arn:aws:s3:::{name}"
        self.storage = SecureBucket(
            self,
            "storage",
            team_env=team_env,
            name=name,
            kms_key_arn=kms_key_arn,
            statements=[
                {
                    "Sid": "GrantDatabricksAccess",
                    "Effect": "Allow",
                    "Principal": {"AWS": account_root(DATABRICKS_AWS_ACCOUNT)},
                    "Action": DATABRICKS_BUCKET_ACTIONS,
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {
                        "StringEquals": {
                            "aws:PrincipalTag/DatabricksAccountId": [str(team_env.platform.account_id)]
                        }
                    },
                }
            ],
        )
        self.bucket_name = name
