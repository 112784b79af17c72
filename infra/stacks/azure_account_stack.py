"""`<team>-<env>-account` of an Azure team-env: its Databricks account-level resources, today the restricted
serverless network policy and its attachment to the workspace (config `serverless.restricted_egress`).

As on AWS (account_stack.py), account-level resources live apart from the platform stack: only a Databricks account
admin can read them, and every plan of a stack refreshes what it holds. In the platform stack they made each
pull-request plan, made with a read-only identity, fail or need an account admin; here only the deploying identity
plans and applies them (docs/architecture.md, CI/CD). The workspace ID comes from the platform stack's outputs
(a cross-stack reference, as the AWS account stack reads its platform stack's), so the stack is deployed after the
platform stack and destroyed before it (`TeamEnv.stacks`). Present only where the env needs it
(infra/config/serverless.py, needs_azure_account_stack).
"""

from __future__ import annotations

from cdktf import Token
from cdktf_cdktf_provider_databricks.provider import DatabricksProvider

from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.config import TeamEnv
from infra.constructs.contracts import PlatformOutputs
from infra.constructs.databricks.bundle_workload import ACCOUNT_HOSTS
from infra.constructs.databricks.serverless_network import ServerlessNetwork, StorageDestination
from infra.stacks.base import configure_backend


class AzureAccountStack(AspectStack):
    """The restricted network policy of the env's serverless compute, attached to the platform stack's workspace."""

    def __init__(self, scope: AspectApp, id: str, *, team_env: TeamEnv, platform: PlatformOutputs) -> None:
        super().__init__(scope, id)
        configure_backend(self, team_env=team_env, component="account")
        account_id = team_env.platform.account_id
        if account_id is None:  # validate refuses restricted_egress without it; not an assert (python -O)
            raise ValueError(f"{team_env.key}: an account stack needs platform.account_id")
        # No token: the provider authenticates as the deploying identity (Azure CLI, or ARM_* / OIDC in CI), which
        # must be a Databricks account admin.
        DatabricksProvider(self, "databricks", host=ACCOUNT_HOSTS["azure"], account_id=str(account_id))
        self.serverless = ServerlessNetwork(
            self,
            "serverless-network",
            team_env=team_env,
            provider=None,
            storage=[StorageDestination(name=team_env.names.storage_account, service="dfs")],
        )
        self.serverless.attach(Token.as_number(platform.workspace_id))
