"""`<team>-<env>-account` of an AWS team: the Databricks account-level resources that turn the platform stack's
VPC, root bucket and cross-account role into a workspace, read from that stack's outputs.

Databricks on AWS creates workspaces through the account API (`databricks_mws_*`), not through a cloud resource
as on Azure; these need an account-level provider, so they live apart from both the aws-only platform stack and
the workspace stack (which needs the workspace to exist before its provider can authenticate).
"""

from __future__ import annotations

from cdktf import TerraformOutput, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_databricks.data_databricks_group import DataDatabricksGroup
from cdktf_cdktf_provider_databricks.metastore_assignment import MetastoreAssignment
from cdktf_cdktf_provider_databricks.mws_credentials import MwsCredentials
from cdktf_cdktf_provider_databricks.mws_customer_managed_keys import (
    MwsCustomerManagedKeys,
    MwsCustomerManagedKeysAwsKeyInfo,
)
from cdktf_cdktf_provider_databricks.mws_networks import MwsNetworks
from cdktf_cdktf_provider_databricks.mws_permission_assignment import MwsPermissionAssignment
from cdktf_cdktf_provider_databricks.mws_storage_configurations import MwsStorageConfigurations
from cdktf_cdktf_provider_databricks.mws_workspaces import MwsWorkspaces
from cdktf_cdktf_provider_databricks.provider import DatabricksProvider

from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.config import TeamEnv
from infra.constructs.aws.contracts import AwsPlatformOutputs
from infra.constructs.aws.iam_propagation import iam_propagation_wait
from infra.constructs.aws.private_link import back_end_private_link
from infra.constructs.contracts import WORKSPACE_URL_OUTPUT
from infra.constructs.databricks.log_delivery import AuditLogDelivery
from infra.constructs.databricks.serverless_network import (
    ServerlessNetwork,
    StorageDestination,
    wants_serverless_network,
)
from infra.stacks.base import configure_backend

ACCOUNT_HOST = "https://accounts.cloud.databricks.com"
# SRA waits 30 s before databricks_mws_credentials (aws/tf/modules/databricks_account/workspace/main.tf, citing the
# Databricks KB "failed credential validation checks error with Terraform"): Databricks validates the cross-account
# role on create, and the platform stack's apply that made the role ends only seconds before this one starts.
CREDENTIALS_WAIT_SECONDS = 30


def protect_workspace(team_env: TeamEnv) -> bool:
    return team_env.settings.prevent_destroy and not team_env.is_ephemeral


class AccountStack(AspectStack):
    """Credentials, storage configuration, network, workspace, metastore assignment, and the team's groups in the
    workspace (owners as admins, readers as users)."""

    def __init__(self, scope: AspectApp, id: str, *, team_env: TeamEnv, platform: AwsPlatformOutputs) -> None:
        super().__init__(scope, id)
        configure_backend(self, team_env=team_env, component="account")
        account_id = str(team_env.platform.account_id)
        stem = team_env.names.stem
        # No token: the provider authenticates with DATABRICKS_CLIENT_ID / _SECRET of an account service principal
        # or OIDC in CI.
        DatabricksProvider(self, "databricks", host=ACCOUNT_HOST, account_id=account_id)
        # Every argument of these three forces a replacement, and Databricks refuses to delete a configuration a
        # live workspace uses: the apply would fail halfway. Where the env protects its data (prod), Terraform
        # refuses such a plan up front instead (docs/aws.md, "Changing the network or credentials").
        in_use = TerraformResourceLifecycle(prevent_destroy=True) if protect_workspace(team_env) else None
        role_propagated = iam_propagation_wait(
            self,
            "cross-account-role-propagation",
            seconds=CREDENTIALS_WAIT_SECONDS,
            triggers={"role": platform.cross_account_role_arn},
        )
        credentials = MwsCredentials(
            self,
            "credentials",
            credentials_name=stem,
            role_arn=platform.cross_account_role_arn,
            depends_on=[role_propagated],
            lifecycle=in_use,
        )
        storage = MwsStorageConfigurations(
            self,
            "storage",
            account_id=account_id,
            storage_configuration_name=stem,
            bucket_name=platform.root_bucket,
            lifecycle=in_use,
        )
        private_link = back_end_private_link(self, team_env=team_env, platform=platform, lifecycle=in_use)
        network = MwsNetworks(
            self,
            "network",
            account_id=account_id,
            network_name=stem,
            vpc_id=platform.vpc_id,
            subnet_ids=platform.subnet_ids,
            security_group_ids=[platform.security_group_id],
            vpc_endpoints=private_link.vpc_endpoints if private_link else None,
            lifecycle=in_use,
        )
        keys = self._customer_managed_keys(account_id, platform)
        serverless = None
        if wants_serverless_network(team_env):
            serverless = ServerlessNetwork(
                self,
                "serverless-network",
                team_env=team_env,
                provider=None,
                storage=[
                    StorageDestination(name=bucket, region=team_env.team.region)
                    for bucket in (platform.lake_bucket, platform.root_bucket)
                ],
            )
        self.workspace = MwsWorkspaces(
            self,
            "workspace",
            account_id=account_id,
            workspace_name=team_env.names.databricks_workspace,
            aws_region=team_env.team.region,
            credentials_id=credentials.credentials_id,
            storage_configuration_id=storage.storage_configuration_id,
            network_id=network.network_id,
            # Customer-managed keys and PrivateLink need the Enterprise tier (Databricks docs, "Configure
            # customer-managed keys", "Enable private connectivity using AWS PrivateLink"); SRA sets it always. So
            # do the compliance profile, enhanced security monitoring and automatic cluster update (config
            # `hardening`, "Enhanced security and compliance" in the Databricks docs).
            pricing_tier="ENTERPRISE"
            if keys or private_link or team_env.settings.hardening.enhanced_security
            else "PREMIUM",
            private_access_settings_id=private_link.private_access_settings_id if private_link else None,
            **keys,
            # The tier is set at creation only: the provider plans a change in place but its update never sends
            # it (mws/resource_mws_workspaces.go v1.99.0, workspaceRunningUpdatesAllowed / UpdateRunning), so the
            # same change would show on every plan and drift check without ever happening (docs/aws.md).
            lifecycle=TerraformResourceLifecycle(ignore_changes=["pricing_tier"]),
            # Destroyed before the NCC and the network policy, which it stays bound to until it is gone.
            depends_on=serverless.before_workspace if serverless else None,
        )
        workspace_id = Token.as_number(self.workspace.workspace_id)
        if serverless is not None:
            serverless.attach(workspace_id)
        metastore = []
        if team_env.platform.metastore_id:
            metastore = [
                MetastoreAssignment(
                    self,
                    "metastore-assignment",
                    metastore_id=str(team_env.platform.metastore_id),
                    workspace_id=workspace_id,
                )
            ]
        for role, groups in (("ADMIN", team_env.team.owner_groups), ("USER", team_env.team.reader_groups)):
            for group in groups:
                found = DataDatabricksGroup(self, f"group-{group}", display_name=group)
                MwsPermissionAssignment(
                    self,
                    f"assign-{group}",
                    workspace_id=workspace_id,
                    principal_id=Token.as_number(found.id),
                    permissions=[role],
                    # Account groups can be assigned only to a workspace with Unity Catalog (identity
                    # federation), which the metastore assignment turns on.
                    depends_on=metastore or None,
                )
        if platform.audit_log_bucket and platform.audit_log_role_arn:
            AuditLogDelivery(
                self,
                "audit-log-delivery",
                account_id=account_id,
                name=stem,
                role_arn=platform.audit_log_role_arn,
                bucket=platform.audit_log_bucket,
                workspace_id=workspace_id,
                protect=protect_workspace(team_env),
            )
        self.workspace_url = self.workspace.workspace_url
        TerraformOutput(self, WORKSPACE_URL_OUTPUT, value=self.workspace_url)
        TerraformOutput(self, "workspace_id", value=self.workspace.workspace_id)

    def _customer_managed_keys(self, account_id: str, platform: AwsPlatformOutputs) -> dict[str, str]:
        """Registers the platform stack's workspace keys (envs with customer_managed_key): the workspace arguments."""
        if platform.workspace_storage_key_arn is None or platform.managed_services_key_arn is None:
            return {}
        registered = {}
        for use_case, arn, alias, argument in (
            (
                "STORAGE",
                platform.workspace_storage_key_arn,
                platform.workspace_storage_key_alias,
                "storage_customer_managed_key_id",
            ),
            (
                "MANAGED_SERVICES",
                platform.managed_services_key_arn,
                platform.managed_services_key_alias,
                "managed_services_customer_managed_key_id",
            ),
        ):
            key = MwsCustomerManagedKeys(
                self,
                f"key-{use_case.lower().replace('_', '-')}",
                account_id=account_id,
                aws_key_info=MwsCustomerManagedKeysAwsKeyInfo(key_arn=arn, key_alias=alias),
                use_cases=[use_case],
            )
            registered[argument] = key.customer_managed_key_id
        return registered
