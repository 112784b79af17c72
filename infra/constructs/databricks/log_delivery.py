"""Audit log delivery of one AWS workspace (account level): the delivery role and bucket registered with the
account, and a `databricks_mws_log_delivery` of AUDIT_LOGS as JSON filtered to the workspace.

Per workspace, not one per account: Databricks allows two enabled delivery configurations per log type for each
workspace (a workspace in `workspace_ids_filter`) and, separately, two account-wide ones without a filter. One
configuration per env uses one of its workspace's two, keeps each team's logs in the team's AWS account and state,
and leaves the account-wide slots to a central security team. The provider's Delete only disables a configuration
(databricks v1.99.0 mws/resource_mws_log_delivery.go), so ephemeral envs get none (infra/config/audit.py).
"""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.mws_credentials import MwsCredentials
from cdktf_cdktf_provider_databricks.mws_log_delivery import MwsLogDelivery
from cdktf_cdktf_provider_databricks.mws_storage_configurations import MwsStorageConfigurations
from constructs import Construct

from infra.constructs.aws.iam_propagation import iam_propagation_wait

DELIVERY_PATH_PREFIX = "audit-logs"
# SRA waits 10 s for the log delivery role (audit_log_delivery/main.tf, time_sleep.wait) before the credential.
ROLE_WAIT_SECONDS = 10


class AuditLogDelivery(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        account_id: str,
        name: str,
        role_arn: str,
        bucket: str,
        workspace_id: float,
        protect: bool,
    ) -> None:
        super().__init__(scope, id)
        # As the workspace's own configurations (account_stack.py): where the env protects its data, a plan that
        # would replace what a live delivery uses is refused up front.
        in_use = TerraformResourceLifecycle(prevent_destroy=True) if protect else None
        propagated = iam_propagation_wait(
            self, "role-propagation", seconds=ROLE_WAIT_SECONDS, triggers={"role": role_arn}
        )
        credentials = MwsCredentials(
            self,
            "credentials",
            credentials_name=f"{name}-audit-log-delivery",
            role_arn=role_arn,
            depends_on=[propagated],
            lifecycle=in_use,
        )
        storage = MwsStorageConfigurations(
            self,
            "storage",
            account_id=account_id,
            storage_configuration_name=f"{name}-audit-log-delivery",
            bucket_name=bucket,
            lifecycle=in_use,
        )
        self.delivery = MwsLogDelivery(
            self,
            "audit-logs",
            account_id=account_id,
            config_name=f"{name} audit logs",
            credentials_id=credentials.credentials_id,
            storage_configuration_id=storage.storage_configuration_id,
            log_type="AUDIT_LOGS",
            output_format="JSON",
            delivery_path_prefix=DELIVERY_PATH_PREFIX,
            workspace_ids_filter=[workspace_id],
            lifecycle=in_use,
        )
