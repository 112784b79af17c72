"""A fake Databricks account client for the network options of its workspaces: the real adapter
(infra/lifecycle/network_release.py SdkAccountNetwork) runs over it, and it fails the way databricks-sdk fails
(its own exception classes; ValueError when no credentials are usable, raised when the client is made)."""

from __future__ import annotations

from types import SimpleNamespace

from infra.lifecycle.account_network import SdkAccountNetwork


class FakeAccount:
    def __init__(self, events: list[str]):
        self.events = events
        self.opened: list[str] = []
        """The account IDs a client was made for."""
        self.clouds: list[str] = []
        """The cloud of each (whose account console it talks to)."""
        self.auth_error: ValueError | None = None
        """Raised when the client is made, as AccountClient raises for unusable credentials."""
        self.error: Exception | None = None
        """Raised by the update, e.g. databricks.sdk.errors.PermissionDenied."""
        self.options: dict[int, str] = {}
        """Workspace ID -> the network policy it is attached to (what the account holds)."""

    def client(self, cloud: str, account_id: str) -> SdkAccountNetwork:
        if self.auth_error is not None:
            raise self.auth_error
        self.clouds.append(cloud)
        self.opened.append(account_id)
        return SdkAccountNetwork(SimpleNamespace(workspace_network_configuration=self))

    def update_workspace_network_option_rpc(self, workspace_id, workspace_network_option):
        self.events.append(f"attach workspace {workspace_id} to {workspace_network_option.network_policy_id}")
        if self.error is not None:
            raise self.error
        self.options[workspace_id] = workspace_network_option.network_policy_id
        return workspace_network_option
