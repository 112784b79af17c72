"""The AWS side of a workspace stack: the account stack's workspace, the Unity Catalog role, the s3:// lake.

Imports only the databricks bindings: the workspace stack of an AWS team-env uses no aws provider.
"""

from cdktf import Postcondition, TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.storage_credential import StorageCredentialAwsIamRole

from infra.config import TeamEnv
from infra.constructs.aws.contracts import AwsPlatformOutputs
from infra.constructs.contracts import LAKE_CONTAINERS, WorkspaceAccess


def external_id_matches_trust(team_env: TeamEnv) -> TerraformResourceLifecycle:
    """Stop right after the credential is created when Databricks issued it an external ID other than the one the
    platform stack's role trusts (the Databricks account ID).

    `aws_iam_role.external_id` is computed: Databricks issues it per credential (catalog/resource_storage_credential
    .go and docs/resources/storage_credential.md, databricks provider v1.99.0). The role is created before the
    credential, in the aws-only platform stack, so it can only trust a value known in advance; if the two differ,
    every external location would fail validation with an opaque AccessDenied. The error names the issued ID.
    """
    account_id = str(team_env.platform.account_id)
    return TerraformResourceLifecycle(
        postcondition=[
            Postcondition(
                condition=f'${{self.aws_iam_role[0].external_id == "{account_id}"}}',
                error_message=(
                    "Databricks issued this storage credential the external ID ${self.aws_iam_role[0].external_id}, "
                    f"but the Unity Catalog role of {team_env.key} trusts only {account_id} "
                    "(platform.account_id): see docs/aws.md, 'External ID of the storage credential'."
                ),
            )
        ]
    )


def aws_workspace_access(
    team_env: TeamEnv, platform: AwsPlatformOutputs, *, workspace_url: str, workspace_id: str
) -> WorkspaceAccess:
    """The workspace comes from the account stack (URL and ID), the role and lake from the platform stack.

    No token and no cloud hint: the provider authenticates with an OAuth service principal
    (DATABRICKS_CLIENT_ID / _SECRET) or OIDC in CI. The account stack assigns the metastore and the groups.
    """
    return WorkspaceAccess(
        provider={"host": workspace_url},
        workspace_id=workspace_id,
        lake_urls={layer: f"s3://{platform.lake_bucket}/{layer}/" for layer in LAKE_CONTAINERS},
        credential={"aws_iam_role": StorageCredentialAwsIamRole(role_arn=platform.unity_catalog_role_arn)},
        credential_comment=f"Unity Catalog role of {team_env.key}: the lake bucket of this env only",
        credential_lifecycle=external_id_matches_trust(team_env),
        account_stack_assigns=True,
    )
