"""Customer-managed keys of a Databricks on AWS workspace: one for workspace storage (root bucket and cluster EBS
volumes), one for managed services (notebooks, secrets, queries in the control plane).

The key policies are SRA's (aws/tf/modules/sra/cmk.tf) and Databricks' ("Configure customer-managed keys for
encryption", AWS): the account root administers each key; Databricks' account uses them only on behalf of this
Databricks account (aws:PrincipalTag/DatabricksAccountId); the cross-account role uses the storage key for EBS only
through EC2 (kms:ViaService). The account stack registers both (databricks_mws_customer_managed_keys).
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws import DATABRICKS_AWS_ACCOUNT
from infra.config.aws_names import aws_names
from infra.constructs.aws.kms import DELETION_WINDOW_DAYS, protect_key
from infra.constructs.aws.policy_document import account_root, policy_document


class WorkspaceKeys(Construct):
    def __init__(
        self, scope: Construct, id: str, *, team_env: TeamEnv, account_id: str, cross_account_role_arn: str
    ) -> None:
        super().__init__(scope, id)
        stem = aws_names(team_env).stem
        administers = {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": account_root(account_id)},
            "Action": "kms:*",
            "Resource": "*",
        }
        for_this_databricks_account = {
            "StringEquals": {"aws:PrincipalTag/DatabricksAccountId": [str(team_env.platform.account_id)]}
        }
        storage = policy_document(
            administers,
            {
                "Sid": "DatabricksWorkspaceStorage",
                "Effect": "Allow",
                "Principal": {"AWS": account_root(DATABRICKS_AWS_ACCOUNT)},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": for_this_databricks_account,
            },
            {
                "Sid": "ClusterVolumes",
                "Effect": "Allow",
                "Principal": {"AWS": cross_account_role_arn},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"ForAnyValue:StringLike": {"kms:ViaService": "ec2.*.amazonaws.com"}},
            },
        )
        managed_services = policy_document(
            administers,
            {
                "Sid": "DatabricksManagedServices",
                "Effect": "Allow",
                "Principal": {"AWS": account_root(DATABRICKS_AWS_ACCOUNT)},
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
                "Condition": for_this_databricks_account,
            },
        )
        self._protect = protect_key(team_env)
        self.storage, self.storage_alias = self._key("storage", f"alias/{stem}-workspace-storage", storage)
        self.managed_services, self.managed_services_alias = self._key(
            "managed-services", f"alias/{stem}-managed-services", managed_services
        )

    def _key(self, id: str, alias: str, policy: str) -> tuple[KmsKey, str]:
        key = KmsKey(
            self,
            id,
            description=f"Databricks workspace {id.replace('-', ' ')}",
            enable_key_rotation=True,
            deletion_window_in_days=DELETION_WINDOW_DAYS,  # never on ephemeral envs (TeamEnv.customer_managed_key)
            policy=policy,
            lifecycle=self._protect,
        )
        KmsAlias(self, f"{id}-alias", name=alias, target_key_id=key.key_id)
        return key, alias
