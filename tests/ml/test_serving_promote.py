"""After the gate, the env's serving endpoint is pointed at the champion (churn.serving), through a fake of the
small ServingEndpoints interface and a recording stand-in for the databricks-sdk client."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from churn.errors import ChurnError
from churn.serving import SERVED_ENTITY, SdkServingEndpoints, ServedModel, ServingTarget, serve_champion
from databricks.sdk.errors import ResourceConflict
from databricks.sdk.service.serving import (
    EndpointCoreConfigOutput,
    EndpointPendingConfig,
    EndpointState,
    EndpointStateConfigUpdate,
    ServedEntityOutput,
    ServingEndpointDetailed,
)

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

    def wait_until_idle(self, endpoint: str) -> None:
        self.waited = True


def test_a_promoted_champion_replaces_the_served_version():
    endpoints = FakeEndpoints(served=ServedModel(MODEL, "3", "Small", True))
    target = ServingTarget("dbp-churn-dev-champion", "Small", scale_to_zero=True)
    message = serve_champion(target, MODEL, "4", endpoints)
    assert endpoints.calls == [("dbp-churn-dev-champion", ServedModel(MODEL, "4", "Small", True), target)]
    assert message == f"endpoint dbp-churn-dev-champion is updating to {MODEL} version 4"


def test_an_empty_endpoint_gets_the_champion_that_existed_before_it():
    endpoints = FakeEndpoints(served=None)
    serve_champion(ServingTarget("e"), MODEL, "7", endpoints)
    assert [call[1] for call in endpoints.calls] == [ServedModel(MODEL, "7", "Small", False)]


def test_an_endpoint_already_serving_the_champion_is_left_alone():
    endpoints = FakeEndpoints(served=ServedModel(MODEL, "4", "Small", False))
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


def _config(version, size, scale_to_zero):
    """The served part of a databricks-sdk ServingEndpointDetailed (config or pending_config)."""
    entity = ServedEntityOutput(
        name=SERVED_ENTITY,
        entity_name=MODEL,
        entity_version=version,
        workload_size=size,
        scale_to_zero_enabled=scale_to_zero,
    )
    return EndpointCoreConfigOutput(served_entities=[entity])


def _detail(config, *, pending=None, update=EndpointStateConfigUpdate.NOT_UPDATING):
    return ServingEndpointDetailed(
        name="e", config=config, pending_config=pending, state=EndpointState(config_update=update)
    )


def test_the_sdk_call_serves_one_entity_with_all_traffic():
    recorded = {}

    def update_config(name, **kwargs):
        recorded.update(name=name, **kwargs)

    current = _detail(_config("2", "Small", True))
    client = SimpleNamespace(
        serving_endpoints=SimpleNamespace(get=lambda name: current, update_config=update_config)
    )
    endpoints = SdkServingEndpoints(client)
    assert endpoints.served("e") == ServedModel(MODEL, "2", "Small", True)
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
    client = SimpleNamespace(serving_endpoints=SimpleNamespace(get=lambda name: _detail(None)))
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


def test_a_changed_workload_size_reaches_an_endpoint_already_serving_the_champion():
    """platform.yaml's serving.workload_size / scale_to_zero must deploy as configured, not wait for the next
    champion: the same version served with other capacity is an update too."""
    endpoints = FakeEndpoints(served=ServedModel(MODEL, "4", "Small", True))
    target = ServingTarget("e", "Medium", scale_to_zero=False)
    assert "is updating" in serve_champion(target, MODEL, "4", endpoints)
    assert endpoints.calls == [("e", ServedModel(MODEL, "4", "Medium", False), target)]


def test_an_update_refused_because_another_runs_is_retried_once_that_one_ends():
    """The API answers 409 RESOURCE_CONFLICT while an endpoint updates: validate waits for it and retries rather
    than failing the training run after the gate already promoted."""

    class BusyOnce(FakeEndpoints):
        def serve(self, endpoint, model, target):
            if not getattr(self, "waited", False):
                raise ResourceConflict("Endpoint is currently updating")
            super().serve(endpoint, model, target)

    endpoints = BusyOnce(served=ServedModel(MODEL, "3", "Small", False))
    assert "is updating" in serve_champion(ServingTarget("e"), MODEL, "4", endpoints)
    assert endpoints.waited and [c[1].version for c in endpoints.calls] == ["4"]


def test_a_conflict_that_outlasts_the_wait_is_still_one_line():
    endpoints = FakeEndpoints(error=ResourceConflict("Endpoint is currently updating"))
    with pytest.raises(ChurnError, match="currently updating; the champion alias is set"):
        serve_champion(ServingTarget("e"), MODEL, "4", endpoints)
    assert endpoints.waited


def test_an_update_already_running_towards_the_champion_is_not_sent_again(monkeypatch):
    """The previous validate started the update to version 4 and it still runs: its pending config counts, so
    nothing is sent (a second update_config would be refused with 409)."""
    sent = []
    current = _detail(
        _config("3", "Small", False),
        pending=EndpointPendingConfig(served_entities=_config("4", "Small", False).served_entities),
        update=EndpointStateConfigUpdate.IN_PROGRESS,
    )
    client = SimpleNamespace(
        serving_endpoints=SimpleNamespace(
            get=lambda name: current, update_config=lambda *a, **k: sent.append(k)
        )
    )
    assert "already serves" in serve_champion(ServingTarget("e"), MODEL, "4", SdkServingEndpoints(client))
    assert sent == []


def test_the_sdk_endpoints_wait_while_an_update_is_in_progress(monkeypatch):
    import churn.serving as serving

    monkeypatch.setattr(serving, "POLL_SECONDS", 0)
    states = iter([EndpointStateConfigUpdate.IN_PROGRESS, EndpointStateConfigUpdate.IN_PROGRESS])
    polls = []

    def get(name):
        polls.append(name)
        return _detail(None, update=next(states, EndpointStateConfigUpdate.NOT_UPDATING))

    SdkServingEndpoints(SimpleNamespace(serving_endpoints=SimpleNamespace(get=get))).wait_until_idle("e")
    assert len(polls) == 3
