"""The AWS side of a workspace stack: the account stack's workspace, the s3:// lake, and the Unity Catalog role
that trusts the storage credential the stack creates.

The role cannot live in the aws-only platform stack: its trust needs the credential's external ID, which
Databricks issues only when the workspace stack creates the credential, and the external locations of the same
stack must wait for that trust (docs/aws.md, "Storage credential and its role"). So the workspace stack of an AWS
team-env carries the aws provider for this one role.
"""

from __future__ import annotations

from typing import Any

from cdktf_cdktf_provider_aws.provider import AwsProvider
from cdktf_cdktf_provider_databricks.storage_credential import StorageCredentialAwsIamRole
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.aws.catalog_role import CatalogRole, unity_catalog_role_arn
from infra.constructs.aws.contracts import AwsPlatformOutputs
from infra.constructs.contracts import LAKE_CONTAINERS, WorkspaceAccess


def aws_provider(scope: Construct, team_env: TeamEnv) -> AwsProvider:
    """The team's region and account only: a wrong profile fails at plan instead of touching another account."""
    assert team_env.team.aws is not None
    return AwsProvider(
        scope, "aws", region=team_env.team.region, allowed_account_ids=[team_env.team.aws.account_id]
    )


def aws_workspace_access(
    team_env: TeamEnv, platform: AwsPlatformOutputs, *, workspace_url: str, workspace_id: str
) -> WorkspaceAccess:
    """The workspace comes from the account stack (URL and ID), the lake and key from the platform stack.

    No token and no cloud hint: the provider authenticates with an OAuth service principal
    (DATABRICKS_CLIENT_ID / _SECRET) or OIDC in CI. The account stack assigns the metastore and the groups.
    """

    def trust(scope: Construct, credential: Any) -> list[Any]:
        role = CatalogRole(
            scope, "catalog-role", team_env=team_env, credential=credential, kms_key_arn=platform.kms_key_arn
        )
        return role.ready

    return WorkspaceAccess(
        provider={"host": workspace_url},
        workspace_id=workspace_id,
        lake_urls={layer: f"s3://{platform.lake_bucket}/{layer}/" for layer in LAKE_CONTAINERS},
        credential={"aws_iam_role": StorageCredentialAwsIamRole(role_arn=unity_catalog_role_arn(team_env))},
        credential_comment=f"Unity Catalog role of {team_env.key}: the lake bucket of this env only",
        cloud_provider=lambda stack: aws_provider(stack, team_env),
        credential_trust=trust,
        account_stack_assigns=True,
        compute_egress_addresses=[platform.nat_public_ip] if platform.nat_public_ip else [],
    )
