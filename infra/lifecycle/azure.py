"""Azure resource groups and their tags: the record of which ephemeral envs exist, and the last-resort delete
(the group, and the env's budget, which lives on the subscription outside it)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.config import PlatformConfig
from infra.lifecycle.errors import InputProblem, OperationFailed

SUBSCRIPTION_ENV_VARS = ("ARM_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID")
# What DefaultAzureCredential accepts (azure-identity's EnvironmentCredential needs a secret or a certificate
# besides the IDs; WorkloadIdentityCredential a federated token file).
LOGIN_HINT = (
    " (log in with `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or "
    "AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE, "
    "or use a managed identity)"
)
FORBIDDEN_HINT = (
    " (the signed-in identity lacks the role: listing needs Reader on the subscription, deleting a resource "
    "group Contributor, a budget Cost Management Contributor, the hub side network roles in the hub)"
)
# API version per resource type deleted by ID, each the one azurerm v4.55.0 manages it with (go-azure-sdk imports
# of internal/services/consumption/consumption_budget_base.go, network/virtual_network_peering_resource.go,
# privatedns/private_dns_zone_virtual_network_link_resource.go).
API_VERSIONS = {
    "budgets": "2019-10-01",
    "virtualNetworkPeerings": "2025-01-01",
    "virtualNetworkLinks": "2024-06-01",
    # What azurerm v4.55.0 writes firewall rule collection groups with (firewall_policy_rule_collection_group_resource.go)
    "ruleCollectionGroups": "2025-01-01",
}


@dataclass(frozen=True)
class ResourceGroupInfo:
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    managed_by: str | None = None
    """Set on groups another resource owns, e.g. a Databricks workspace's managed resource group."""
    provisioning_state: str | None = None
    """`Succeeded`, `Deleting`, ..."""


class ResourceGroups(Protocol):
    def list(self) -> list[ResourceGroupInfo]:
        """Every resource group of the subscription, with its tags."""

    def delete(self, name: str) -> None:
        """Delete the group and everything in it; returns when Azure has finished."""

    def delete_budget(self, name: str) -> None:
        """Delete the subscription's budget ``name``: an env's budget is not in its group."""

    def delete_by_id(self, resource_id: str) -> None:
        """Delete one resource outside the group (of a type in API_VERSIONS); gone already is fine."""


class AzureResourceGroups:
    """The real ResourceGroups: azure-mgmt-resource with whatever credential DefaultAzureCredential finds
    (Azure CLI login locally, OIDC or managed identity in CI)."""

    def __init__(self, client: Any, *, subscription_id: str) -> None:
        self._groups, self._resources = client.resource_groups, client.resources
        self._subscription_id = subscription_id

    @classmethod
    def for_subscription(cls, subscription_id: str) -> AzureResourceGroups:
        from azure.identity import DefaultAzureCredential
        from azure.mgmt.resource.resources import ResourceManagementClient

        # On failure azure-identity logs every credential it tried, over a dozen lines; the one-line error
        # below says what failed and how to log in.
        logging.getLogger("azure.identity").setLevel(logging.ERROR)
        client = ResourceManagementClient(DefaultAzureCredential(), subscription_id)
        return cls(client, subscription_id=subscription_id)

    def list(self) -> list[ResourceGroupInfo]:
        with _azure_errors("listing resource groups"):
            return [
                ResourceGroupInfo(
                    name=group.name,
                    tags=dict(group.tags or {}),
                    managed_by=group.managed_by,
                    provisioning_state=getattr(group.properties, "provisioning_state", None),
                )
                for group in self._groups.list()
            ]

    def delete(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with _azure_errors(f"deleting resource group {name}"):
            try:
                self._groups.begin_delete(name).result()
            except ResourceNotFoundError:  # 404: gone already (deleted by hand, or by an earlier reap)
                return

    def delete_budget(self, name: str) -> None:
        self.delete_by_id(
            f"/subscriptions/{self._subscription_id}/providers/Microsoft.Consumption/budgets/{name}"
        )

    def delete_by_id(self, resource_id: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        api_version = API_VERSIONS[resource_id.split("/")[-2]]
        with _azure_errors(f"deleting {resource_id}"):
            try:
                self._resources.begin_delete_by_id(resource_id, api_version=api_version).result()
            except ResourceNotFoundError:  # 404: gone already, or never created
                return


@contextmanager
def _azure_errors(doing: str) -> Iterator[None]:
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    try:
        yield
    except AzureError as exc:  # includes credential problems, which surface on the first call
        message = (getattr(exc, "message", None) or str(exc)).strip().splitlines()
        if isinstance(exc, ClientAuthenticationError):
            hint = LOGIN_HINT
        elif getattr(exc, "status_code", None) == 403:
            hint = FORBIDDEN_HINT
        else:
            hint = ""
        raise OperationFailed(
            f"Azure, {doing}: {message[0] if message else type(exc).__name__}{hint}"
        ) from None


def subscription_id(config: PlatformConfig, environ: Mapping[str, str] = os.environ) -> str:
    """platform.subscription_id, else the subscription azurerm itself would use (ARM_SUBSCRIPTION_ID)."""
    if config.platform.subscription_id:
        return str(config.platform.subscription_id)
    for name in SUBSCRIPTION_ENV_VARS:
        if environ.get(name):
            return environ[name]
    raise InputProblem(
        "platform.subscription_id", "unset, and neither ARM_SUBSCRIPTION_ID nor AZURE_SUBSCRIPTION_ID is set"
    )
