"""`<team>-<env>-platform` of an AWS team: every AWS resource of one team-env, and nothing but the aws provider.

One provider only is what lets the test suite take this stack through real Terraform from a local provider mirror
(tests/infra/test_aws_terraform.py). The Databricks account resources that use these outputs live in the
`<team>-<env>-account` stack.
"""

from __future__ import annotations

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.provider import AwsProvider

import infra.aspects.policy.packs.aws_egress  # noqa: F401 (defines the rules suppressed here)
from infra.aspects.policy.engine import suppress
from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.config import TeamEnv
from infra.config.audit import delivers_audit_logs
from infra.constructs.aws.audit_log_delivery import AuditLogBucket
from infra.constructs.aws.budget import EnvBudget
from infra.constructs.aws.contracts import AwsPlatformOutputs
from infra.constructs.aws.cross_account_role import CrossAccountRole
from infra.constructs.aws.kms import EncryptionKey
from infra.constructs.aws.network import Network
from infra.constructs.aws.root_bucket import WorkspaceRootBucket
from infra.constructs.aws.unity_catalog_storage import UnityCatalogStorage
from infra.constructs.aws.workspace_keys import WorkspaceKeys
from infra.stacks.base import configure_backend


class AwsPlatformStack(AspectStack):
    """KMS key, VPC, workspace root bucket, cross-account role, lake bucket and the env's budget (the Unity Catalog role lives in the
    workspace stack, beside the credential it trusts)."""

    def __init__(self, scope: AspectApp, id: str, *, team_env: TeamEnv) -> None:
        super().__init__(scope, id)
        if team_env.team.aws is None:
            raise ValueError(f"team {team_env.team.name!r} has no aws settings")
        account_id = team_env.team.aws.account_id
        configure_backend(self, team_env=team_env, component="platform")
        # Credentials come from the environment (AWS_PROFILE, OIDC in CI); allowed_account_ids makes a wrong
        # profile fail at plan instead of deploying into another account.
        AwsProvider(self, "aws", region=team_env.team.region, allowed_account_ids=[account_id])

        key = EncryptionKey(self, "key", team_env=team_env, account_id=account_id)
        key_arn = key.key.arn
        network = Network(self, "network", team_env=team_env, account_id=account_id, kms_key_arn=key_arn)
        root = WorkspaceRootBucket(self, "root-bucket", team_env=team_env, kms_key_arn=key_arn)
        cross_account = CrossAccountRole(
            self,
            "cross-account",
            team_env=team_env,
            account_id=account_id,
            vpc_id=network.vpc.id,
            security_group_id=network.security_group.id,
        )
        storage = UnityCatalogStorage(self, "unity-catalog-storage", team_env=team_env, kms_key_arn=key_arn)
        EnvBudget(self, "budget", team_env=team_env)
        keys = None
        if team_env.customer_managed_key is not None:
            keys = WorkspaceKeys(
                self,
                "workspace-keys",
                team_env=team_env,
                account_id=account_id,
                cross_account_role_arn=cross_account.role.arn,
            )
        audit_logs = (
            AuditLogBucket(self, "audit-logs", team_env=team_env, kms_key_arn=key_arn)
            if delivers_audit_logs(team_env)
            else None
        )
        self.outputs = AwsPlatformOutputs(
            vpc_id=network.vpc.id,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.security_group.id,
            root_bucket=root.bucket_name,
            cross_account_role_arn=cross_account.role.arn,
            lake_bucket=storage.bucket_name,
            kms_key_arn=key_arn,
            nat_public_ip=network.egress_ip_address,
            workspace_storage_key_arn=keys.storage.arn if keys else None,
            workspace_storage_key_alias=keys.storage_alias if keys else None,
            managed_services_key_arn=keys.managed_services.arn if keys else None,
            managed_services_key_alias=keys.managed_services_alias if keys else None,
            workspace_endpoint_id=network.endpoints.workspace.id if network.endpoints.workspace else None,
            relay_endpoint_id=network.endpoints.relay.id if network.endpoints.relay else None,
            audit_log_bucket=audit_logs.bucket_name if audit_logs else None,
            audit_log_role_arn=audit_logs.role_arn if audit_logs else None,
        )
        self._stated_egress_exceptions(team_env, network)
        # For operators (`cdktf output`); the account stack gets its values through cross-stack references.
        for name, value in self.outputs.as_dict().items():
            if value is not None:
                TerraformOutput(self, name, value=value)

    @staticmethod
    def _stated_egress_exceptions(team_env: TeamEnv, network: Network) -> None:
        """The egress exceptions the config states, recorded where the policy reads them (docs/security.md)."""
        egress = team_env.settings.egress
        if egress.mode == "open" and egress.open_reason:
            suppress(network, rule_id="PLAT-AWS-EGRESS-1", reason=egress.open_reason)
        if network.endpoints.s3_unrestricted:
            suppress(
                network.endpoints.s3,
                rule_id="PLAT-AWS-EGRESS-2",
                reason=f"SRA lists no Databricks buckets for {team_env.team.region}: a restricted S3 endpoint "
                "policy would cut the clusters off Databricks' artifacts (validate refuses isolated egress there)",
            )
