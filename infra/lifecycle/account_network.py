"""The account API call that puts a workspace back on Databricks' `default-policy` (network_release.py says when
and why), behind a small interface so the lifecycle's fakes can stand in for it. Its own module: services builds
the client, and network_release, which runs the step, takes services."""

from __future__ import annotations

import logging
from typing import Any, Protocol

DEFAULT_POLICY = "default-policy"
OPTION_TYPE = "databricks_workspace_network_option"
# The account consoles (infra/constructs/databricks/bundle_workload.py ACCOUNT_HOSTS; not imported: the lifecycle
# reads names without loading the provider bindings).
ACCOUNT_HOSTS = {
    "azure": "https://accounts.azuredatabricks.net",
    "aws": "https://accounts.cloud.databricks.com",
}


class WorkspaceGone(Exception):
    """The account does not know the workspace (any more): nothing is attached to the policy through it."""


class AccountNetwork(Protocol):
    def attach_default_policy(self, workspace_id: int) -> None:
        """Attach the workspace to `default-policy`; WorkspaceGone when the account does not know it. Other
        failures raise what the SDK raises (ValueError for unusable auth, DatabricksError / OSError otherwise)."""


class SdkAccountNetwork:
    """The real AccountNetwork on a databricks-sdk AccountClient."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def for_account(cls, cloud: str, account_id: str) -> SdkAccountNetwork:
        """Authenticates like the account stack's provider: the cloud's account console and platform.account_id,
        credentials from the environment (Azure: CLI / ARM_* / OIDC; AWS: DATABRICKS_CLIENT_ID / _SECRET), the
        deploying identity, an account admin."""
        from databricks.sdk import AccountClient

        # Without a login the SDK logs a warning before it raises; the CLI's one-line error says it all.
        logging.getLogger("databricks.sdk").setLevel(logging.ERROR)
        return cls(AccountClient(host=ACCOUNT_HOSTS[cloud], account_id=account_id))

    def attach_default_policy(self, workspace_id: int) -> None:
        from databricks.sdk.errors import NotFound
        from databricks.sdk.service.settings import WorkspaceNetworkOption

        try:
            self._client.workspace_network_configuration.update_workspace_network_option_rpc(
                workspace_id,
                WorkspaceNetworkOption(network_policy_id=DEFAULT_POLICY, workspace_id=workspace_id),
            )
        except NotFound as exc:
            raise WorkspaceGone(str(exc)) from None
