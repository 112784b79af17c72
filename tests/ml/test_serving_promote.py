"""After the gate, the env's serving endpoint is pointed at the champion (churn.serving), through a fake of the
small ServingEndpoints interface and a recording stand-in for the databricks-sdk client."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from churn.errors import ChurnError
from churn.serving import SERVED_ENTITY, SdkServingEndpoints, ServedModel, ServingTarget, serve_champion

from tests.ml.test_cli import fails_with

MODEL = "dbp_churn_dev.ml.churn"


class FakeEndpoints:
    def __init__(self, served: ServedModel | None = None, error: Exception | None = None) -> None:
        self.now = served
        self.error = error
        self.calls: list[tuple[str, ServedModel, ServingTarget]] = []

    def served(self, endpoint: str) -> ServedModel | None:
        return self.now

    def serve(self, endpoint: str, model: ServedModel, target: ServingTarget) -> None:
        if self.error:
            raise self.error
        self.calls.append((endpoint, model, target))
        self.now = model


def test_a_promoted_champion_replaces_the_served_version():
    endpoints = FakeEndpoints(served=ServedModel(MODEL, "3"))
    target = ServingTarget("dbp-churn-dev-champion", "Small", scale_to_zero=True)
    message = serve_champion(target, MODEL, "4", endpoints)
    assert endpoints.calls == [("dbp-churn-dev-champion", ServedModel(MODEL, "4"), target)]
    assert message == f"endpoint dbp-churn-dev-champion is updating to {MODEL} version 4"


def test_an_empty_endpoint_gets_the_champion_that_existed_before_it():
    endpoints = FakeEndpoints(served=None)
    serve_champion(ServingTarget("e"), MODEL, "7", endpoints)
    assert [call[1] for call in endpoints.calls] == [ServedModel(MODEL, "7")]


def test_an_endpoint_already_serving_the_champion_is_left_alone():
    endpoints = FakeEndpoints(served=ServedModel(MODEL, "4"))
    assert "already serves" in serve_champion(ServingTarget("e"), MODEL, "4", endpoints)
    assert endpoints.calls == []


@pytest.mark.parametrize(("target", "champion"), [(None, "4"), (ServingTarget("e"), None)])
def test_nothing_happens_locally_or_before_the_first_champion(target, champion):
    endpoints = FakeEndpoints()
    assert serve_champion(target, MODEL, champion, endpoints) is None
    assert endpoints.calls == []


def test_a_refused_update_is_one_line_naming_the_option_and_the_retry():
    endpoints = FakeEndpoints(error=RuntimeError("Endpoint is currently updating\nstack..."))
    with pytest.raises(ChurnError) as raised:
        serve_champion(ServingTarget("e"), MODEL, "4", endpoints)
    message = str(raised.value)
    assert message.startswith("--serving-endpoint: could not serve") and "\n" not in message
    assert "Endpoint is currently updating" in message and "re-run validate" in message


def test_the_sdk_call_serves_one_entity_with_all_traffic():
    recorded = {}

    def update_config(name, **kwargs):
        recorded.update(name=name, **kwargs)

    current = SimpleNamespace(
        config=SimpleNamespace(
            served_entities=[SimpleNamespace(name=SERVED_ENTITY, entity_name=MODEL, entity_version="2")]
        )
    )
    client = SimpleNamespace(
        serving_endpoints=SimpleNamespace(get=lambda name: current, update_config=update_config)
    )
    endpoints = SdkServingEndpoints(client)
    assert endpoints.served("e") == ServedModel(MODEL, "2")
    serve_champion(ServingTarget("e", "Medium", scale_to_zero=False), MODEL, "3", endpoints)
    (entity,) = recorded["served_entities"]
    assert (recorded["name"], entity.name, entity.entity_name, entity.entity_version) == (
        "e",
        "champion",
        MODEL,
        "3",
    )
    assert (entity.workload_size, entity.scale_to_zero_enabled) == ("Medium", False)
    (route,) = recorded["traffic_config"].routes
    assert (route.served_entity_name, route.traffic_percentage) == ("champion", 100)


def test_an_endpoint_created_by_terraform_without_config_serves_nothing():
    client = SimpleNamespace(serving_endpoints=SimpleNamespace(get=lambda name: SimpleNamespace(config=None)))
    assert SdkServingEndpoints(client).served("e") is None


def test_validate_refuses_an_unknown_workload_size_before_anything_runs(capsys, tmp_path):
    workdir = tmp_path / "work"
    error = fails_with(
        capsys,
        "validate",
        "--workdir",
        str(workdir),
        "--serving-endpoint",
        "e",
        "--serving-workload-size",
        "Huge",
    )
    assert "--serving-workload-size" in error and "Small, Medium, Large" in error
    assert not workdir.exists()
