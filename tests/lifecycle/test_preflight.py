"""Unity Catalog preconditions of the workspace stack, checked by `platform deploy` before it is applied."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from databricks.sdk.errors import NotFound, PermissionDenied
from databricks.sdk.service.catalog import EffectivePermissionsList

from infra.lifecycle.preflight import REQUIRED_METASTORE_PRIVILEGES, SdkMetastoreView, precondition_problems
from tests.lifecycle.fakes import FakeMetastoreView

DEPLOYER = "3f2b6c1e-8d4a-4b7e-9c0d-2a1b3c4d5e6f"
METASTORE = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def dev(config):
    return next(te for te in config.team_envs if te.key == "churn/dev")


def with_metastore_id(team_env, metastore_id):
    platform = team_env.platform.model_copy(update={"metastore_id": metastore_id})
    return team_env.model_copy(update={"platform": platform})


def not_owner(view: FakeMetastoreView) -> FakeMetastoreView:
    view.owner = "metastore-admins"
    return view


def test_the_metastore_owner_may_deploy(dev):
    assert precondition_problems(dev, FakeMetastoreView()) == []


def test_each_missing_metastore_privilege_is_one_line_naming_the_grant(dev):
    view = not_owner(FakeMetastoreView())
    view.privileges = {DEPLOYER: {"CREATE_CATALOG"}, "someone-else": {"CREATE_STORAGE_CREDENTIAL"}}
    assert precondition_problems(dev, view) == [
        f"{DEPLOYER} lacks CREATE STORAGE CREDENTIAL on metastore {METASTORE}: a metastore admin runs "
        f"GRANT CREATE STORAGE CREDENTIAL ON METASTORE TO `{DEPLOYER}`",
        f"{DEPLOYER} lacks CREATE EXTERNAL LOCATION on metastore {METASTORE}: a metastore admin runs "
        f"GRANT CREATE EXTERNAL LOCATION ON METASTORE TO `{DEPLOYER}`",
    ]


def test_privileges_held_through_a_group_or_ownership_by_a_group_count(dev):
    view = not_owner(FakeMetastoreView())
    view.groups = frozenset({"platform-deployers"})
    view.privileges = {"platform-deployers": set(REQUIRED_METASTORE_PRIVILEGES)}
    assert precondition_problems(dev, view) == []
    view = FakeMetastoreView()
    view.groups = frozenset({"metastore-admins"})
    view.owner = "metastore-admins"
    assert precondition_problems(dev, view) == []
    assert "privileges" not in view.reads


def test_no_metastore_assigned_and_none_configured(dev):
    view = FakeMetastoreView()
    view.assigned = None
    assert precondition_problems(dev, view) == [
        "no Unity Catalog metastore is assigned to the workspace of churn/dev: an account admin assigns the "
        "region's metastore, or set platform.metastore_id"
    ]


def test_a_configured_metastore_is_assigned_by_the_stack_itself(dev):
    view = FakeMetastoreView()
    view.assigned = None
    assert precondition_problems(with_metastore_id(dev, METASTORE), view) == []
    other = "99999999-2222-4333-8444-555555555555"
    view.assigned = METASTORE
    assert precondition_problems(with_metastore_id(dev, other), view) == [
        f"the workspace of churn/dev is assigned to metastore {METASTORE}, platform.metastore_id is {other}"
    ]


def test_privileges_are_those_of_whoever_runs_the_deploy(dev):
    view = not_owner(FakeMetastoreView(caller="ana@example.com"))
    view.privileges = {"ana@example.com": set(REQUIRED_METASTORE_PRIVILEGES), DEPLOYER: set()}
    assert precondition_problems(dev, view) == []


# --- the real view on databricks-sdk, with a client that fails the way the API does ---------------------------


class _Metastores:
    def __init__(self, error=None):
        self.error = error

    def current(self):
        if self.error:
            raise self.error
        return SimpleNamespace(metastore_id=METASTORE)


def test_sdk_view_reads_no_assignment_as_none():
    # GET /api/2.1/unity-catalog/current-metastore-assignment answers 404 METASTORE_DOES_NOT_EXIST, which the
    # SDK raises as NotFound.
    missing = NotFound(
        "No metastore assigned for the current workspace.", error_code="METASTORE_DOES_NOT_EXIST"
    )
    view = SdkMetastoreView(SimpleNamespace(metastores=_Metastores(missing)))
    assert view.assigned_metastore() is None
    assert SdkMetastoreView(SimpleNamespace(metastores=_Metastores())).assigned_metastore() == METASTORE
    denied = SdkMetastoreView(SimpleNamespace(metastores=_Metastores(PermissionDenied("no"))))
    with pytest.raises(PermissionDenied):
        denied.assigned_metastore()


def test_sdk_view_reads_effective_privileges_from_the_api_shape():
    answer = EffectivePermissionsList.from_dict(
        {
            "privilege_assignments": [
                {
                    "principal": DEPLOYER,
                    "privileges": [
                        {"privilege": "CREATE_CATALOG"},
                        {"privilege": "CREATE_EXTERNAL_LOCATION"},
                    ],
                },
                {"principal": "account users", "privileges": [{"privilege": "USE_CATALOG"}]},
            ]
        }
    )
    client = SimpleNamespace(grants=SimpleNamespace(get_effective=lambda kind, name: answer))
    assert SdkMetastoreView(client).effective_privileges(METASTORE) == {
        DEPLOYER: {"CREATE_CATALOG", "CREATE_EXTERNAL_LOCATION"},
        "account users": {"USE_CATALOG"},
    }


# --- wired into platform deploy -----------------------------------------------------------------------------


def test_deploy_stops_before_the_workspace_stack_when_privileges_are_missing(cli, fakes):
    not_owner(fakes.metastore)
    result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 1
    assert result.err_lines[0] == "error: workspace stack of churn/dev not applied:"
    assert [line.split(" lacks ")[1].split(" on ")[0] for line in result.err_lines[1:]] == [
        "CREATE STORAGE CREDENTIAL",
        "CREATE EXTERNAL LOCATION",
        "CREATE CATALOG",
    ]
    assert "Traceback" not in result.err
    assert fakes.events[-1] == "deploy churn-dev-platform"
    assert "deploy churn-dev-workspace" not in fakes.events


def test_an_unreadable_workspace_is_one_line(cli, fakes):
    fakes.metastore.error = PermissionDenied("User is not authorized to access this workspace.")
    result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 1
    assert result.err_lines == [
        "error: preflight of churn/dev could not read the workspace: User is not authorized to access this "
        "workspace."
    ]
    assert "deploy churn-dev-workspace" not in fakes.events


def test_a_healthy_deploy_checks_once_and_destroy_never(cli, fakes):
    assert cli("deploy", "churn/dev", "--auto-approve").code == 0
    assert fakes.metastore.reads == ["caller", "assigned", "owner"]
    fakes.metastore.reads.clear()
    assert cli("destroy", "churn/dev", "--auto-approve").code == 0
    assert fakes.metastore.reads == []


def test_real_services_point_the_sdk_at_the_env_workspace(config, dev, monkeypatch):
    from infra.lifecycle import services

    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", "00000000-0000-4000-8000-000000000001")
    monkeypatch.setattr(SdkMetastoreView, "for_azure_workspace", classmethod(lambda cls, rid: rid))
    assert services.real_services().metastore_view(config, dev) == (
        "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-dbp-churn-dev"
        "/providers/Microsoft.Databricks/workspaces/dbw-dbp-churn-dev"
    )
