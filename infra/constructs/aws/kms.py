"""The env's customer-managed KMS key: the root bucket, the lake and the flow logs are encrypted with it."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws import DATABRICKS_AWS_ACCOUNT
from infra.config.aws_names import aws_names
from infra.constructs.aws.policy_document import account_root, policy_document

# Seven days is the shortest wait KMS allows; ephemeral envs are destroyed often and should not keep keys for 30.
EPHEMERAL_DELETION_WINDOW_DAYS = 7
DELETION_WINDOW_DAYS = 30


def protect_key(team_env: TeamEnv) -> TerraformResourceLifecycle | None:
    """prevent_destroy where the env protects its data (prod, never ephemeral), as its buckets have: destroying the
    key schedules its deletion, after which what it encrypts (the protected buckets' objects, the workspace's root
    storage and managed services) can never be read again."""
    if team_env.settings.prevent_destroy and not team_env.is_ephemeral:
        return TerraformResourceLifecycle(prevent_destroy=True)
    return None


DATA_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


class EncryptionKey(Construct):
    """A rotating symmetric key whose policy lets the account administer it, Databricks (for this Databricks
    account only) use it for workspace storage, and CloudWatch Logs use it for this env's log groups."""

    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv, account_id: str) -> None:
        super().__init__(scope, id)
        names = aws_names(team_env)
        region = team_env.team.region
        databricks_account = str(team_env.platform.account_id)
        policy = policy_document(
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": account_root(account_id)},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                # Databricks docs, "Configure customer-managed keys for workspace storage" (AWS).
                "Sid": "DatabricksWorkspaceStorage",
                "Effect": "Allow",
                "Principal": {"AWS": account_root(DATABRICKS_AWS_ACCOUNT)},
                "Action": DATA_KEY_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/DatabricksAccountId": [databricks_account]}},
            },
            {
                "Sid": "FlowLogGroup",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": DATA_KEY_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:aws:logs:{region}:{account_id}:log-group:{names.flow_log_group}"
                        )
                    }
                },
            },
        )
        self.key = KmsKey(
            self,
            "key",
            description=f"Workspace storage, lake and logs of {names.stem}",
            enable_key_rotation=True,
            deletion_window_in_days=(
                EPHEMERAL_DELETION_WINDOW_DAYS if team_env.is_ephemeral else DELETION_WINDOW_DAYS
            ),
            policy=policy,
            lifecycle=protect_key(team_env),
        )
        KmsAlias(self, "alias", name=names.kms_alias, target_key_id=self.key.key_id)
