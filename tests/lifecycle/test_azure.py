"""The azure-mgmt-resource adapter over a fake client, and which subscription the lifecycle uses."""

from types import SimpleNamespace
from uuid import UUID

import pytest
from azure.core.exceptions import ClientAuthenticationError, ResourceExistsError, ResourceNotFoundError
from azure.identity._constants import EnvironmentVariables

from infra.lifecycle.azure import LOGIN_HINT, AzureResourceGroups, ResourceGroupInfo, subscription_id
from infra.lifecycle.errors import InputProblem, OperationFailed
from tests.lifecycle.fakes import arm_error


class FakeResourceGroupsOperations:
    def __init__(self, groups, error=None):
        self.groups, self.error, self.deleted = groups, error, []

    def list(self):
        if self.error:
            raise self.error
        return iter(self.groups)

    def begin_delete(self, name):
        if self.error:
            raise self.error
        return SimpleNamespace(result=lambda: self.deleted.append(name))


class FakeResourcesOperations:
    """The slice of `client.resources` the adapter calls: a generic delete by ID, with an API version."""

    def __init__(self, error=None):
        self.error, self.deleted = error, []

    def begin_delete_by_id(self, resource_id, *, api_version):
        if self.error:
            raise self.error
        return SimpleNamespace(result=lambda: self.deleted.append((resource_id, api_version)))


SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"


def client(groups=(), error=None):
    return SimpleNamespace(
        resource_groups=FakeResourceGroupsOperations(list(groups), error),
        resources=FakeResourcesOperations(error),
    )


def adapter(fake):
    return AzureResourceGroups(fake, subscription_id=SUBSCRIPTION)


def sdk_group(name, tags=None, managed_by=None, state="Succeeded"):
    return SimpleNamespace(
        name=name, tags=tags, managed_by=managed_by, properties=SimpleNamespace(provisioning_state=state)
    )


def test_groups_come_back_with_tags_owner_and_state():
    fake = client(
        [
            sdk_group("rg-dbp-churn-pr1", {"ephemeral": "true"}),
            sdk_group("rg-untagged", None),
            sdk_group(
                "rg-dbp-churn-pr1-dbw-managed", {"ephemeral": "true"}, managed_by="/ws", state="Deleting"
            ),
        ]
    )
    assert adapter(fake).list() == [
        ResourceGroupInfo("rg-dbp-churn-pr1", {"ephemeral": "true"}, None, "Succeeded"),
        ResourceGroupInfo("rg-untagged", {}, None, "Succeeded"),
        ResourceGroupInfo("rg-dbp-churn-pr1-dbw-managed", {"ephemeral": "true"}, "/ws", "Deleting"),
    ]


def test_delete_waits_for_azure_to_finish():
    fake = client()
    adapter(fake).delete("rg-dbp-churn-pr1")
    assert fake.resource_groups.deleted == ["rg-dbp-churn-pr1"]


def test_an_envs_budget_is_deleted_on_the_subscription_with_azurerms_api_version():
    fake = client()
    adapter(fake).delete_budget("budget-dbp-churn-pr1")
    assert fake.resources.deleted == [
        (
            f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Consumption/budgets/budget-dbp-churn-pr1",
            "2019-10-01",
        )
    ]


def test_a_budget_already_gone_counts_as_deleted():
    gone = arm_error(404, "NotFound", "Budget not found.", ResourceNotFoundError)
    adapter(client(error=gone)).delete_budget("budget-dbp-churn-pr1")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token\nmore detail"),
            "Azure, listing resource groups: DefaultAzureCredential failed to retrieve a token" + LOGIN_HINT,
        ),
        (
            arm_error(
                403, "AuthorizationFailed", "The client 'ci' does not have authorization to perform action"
            ),
            "Azure, listing resource groups: (AuthorizationFailed) The client 'ci' does not have authorization to "
            "perform action (the signed-in identity lacks the role: listing needs Reader on the subscription, "
            "deleting a resource group Contributor, a budget Cost Management Contributor, the hub side network "
            "roles in the hub)",
        ),
        (
            arm_error(500, "InternalServerError", "Encountered internal server error"),
            "Azure, listing resource groups: (InternalServerError) Encountered internal server error",
        ),
    ],
)
def test_azure_errors_become_one_line_failures(error, message):
    with pytest.raises(OperationFailed) as failed:
        adapter(client(error=error)).list()
    assert str(failed.value) == message


def test_a_group_already_gone_counts_as_deleted():
    # azure-mgmt-resource's ResourceGroupsOperations._delete_initial maps a 404 to ResourceNotFoundError
    gone = arm_error(
        404,
        "ResourceGroupNotFound",
        "Resource group 'rg-dbp-churn-pr1' could not be found.",
        ResourceNotFoundError,
    )
    adapter(client(error=gone)).delete("rg-dbp-churn-pr1")


def test_a_locked_group_is_one_line_naming_the_lock():
    # ... and a 409 to ResourceExistsError, whatever the conflict is (here a delete lock on the group)
    locked = arm_error(
        409,
        "ScopeLocked",
        "The scope '/subscriptions/s/resourceGroups/rg-dbp-churn-pr1' cannot perform delete operation because "
        "following scope(s) are locked: '/subscriptions/s/resourceGroups/rg-dbp-churn-pr1'.",
        ResourceExistsError,
    )
    with pytest.raises(OperationFailed) as failed:
        adapter(client(error=locked)).delete("rg-dbp-churn-pr1")
    assert str(failed.value).startswith(
        "Azure, deleting resource group rg-dbp-churn-pr1: (ScopeLocked) The scope '/subscriptions/s/"
    )
    assert "\n" not in str(failed.value)


@pytest.mark.parametrize(
    "way_in",
    [EnvironmentVariables.CLIENT_SECRET_VARS, EnvironmentVariables.CERT_VARS],
    ids=["client secret", "certificate"],
)
def test_the_login_hint_names_every_variable_azure_identity_needs(way_in):
    # azure-identity's EnvironmentCredential needs all of these; the IDs alone are not enough
    assert all(name in LOGIN_HINT for name in way_in), way_in


def test_subscription_comes_from_the_config_first(config):
    pinned = config.model_copy(
        update={"platform": config.platform.model_copy(update={"subscription_id": UUID(int=1)})}
    )
    assert subscription_id(pinned, {"ARM_SUBSCRIPTION_ID": "other"}) == "00000000-0000-0000-0000-000000000001"


def test_subscription_falls_back_to_the_azurerm_environment(config):
    assert subscription_id(config, {"ARM_SUBSCRIPTION_ID": "sub-arm"}) == "sub-arm"
    assert subscription_id(config, {"AZURE_SUBSCRIPTION_ID": "sub-az"}) == "sub-az"
    with pytest.raises(InputProblem) as problem:
        subscription_id(config, {})
    assert str(problem.value) == (
        "platform.subscription_id: unset, and neither ARM_SUBSCRIPTION_ID nor AZURE_SUBSCRIPTION_ID is set"
    )
