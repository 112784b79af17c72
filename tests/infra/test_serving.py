"""The champion's serving endpoint in every workspace stack (Azure and AWS share the construct), read from the
synthesized JSON, and its create/destroy order on Terraform's graph (tests/terraform_graph.py)."""

from __future__ import annotations

import re

import pytest

from infra.config.environment import EnvironmentConfig
from tests.infra.conftest import churn_workspace_stacks
from tests.infra.test_workspace_stack import jobs_by_name, synth_workspace, team_env_of, wheel_tasks
from tests.terraform_graph import StackGraph

ENDPOINT = "databricks_model_serving"


def _workspace_stacks(synthesized) -> list[str]:
    return churn_workspace_stacks(synthesized)


def _validate_parameters(job: dict) -> list[str]:
    task = next(t for t in job["task"] if t["task_key"] == "validate")
    return task["python_wheel_task"]["parameters"]


def _option(parameters: list[str], name: str) -> str:
    return parameters[parameters.index(name) + 1]


def _endpoint_permissions(resources: dict) -> dict[str, str]:
    found = [p for p in resources["databricks_permissions"].values() if "serving_endpoint_id" in p]
    assert len(found) == 1
    return {
        next(e[k] for k in ("group_name", "service_principal_name", "user_name") if e.get(k)): e[
            "permission_level"
        ]
        for e in found[0]["access_control"]
    }


def test_every_team_env_gets_one_endpoint_that_serves_nothing_until_the_gate_says_so(
    synthesized, platform_config
):
    """No `config` block: a first deploy on an empty registry has no version to name (mlops-stacks issue 217),
    and the provider never plans a change to a config it was not given (serving/resource_model_serving.go,
    v1.99.0: config SetComputed, removing it is a no-op), so a deploy never reverts what the gate served."""
    stacks = _workspace_stacks(synthesized)
    assert any(team_env_of(platform_config, s).team.cloud == "aws" for s in stacks)
    for stack in stacks:
        team_env = team_env_of(platform_config, stack)
        endpoint = synthesized.only(stack, ENDPOINT)
        assert endpoint["name"] == f"{team_env.names.stem}-champion"
        assert "config" not in endpoint, stack
        assert "served_entities" not in str(endpoint)


def test_inference_table_lands_in_the_envs_own_catalog_through_ai_gateway(synthesized):
    """AI Gateway inference tables, not `config.auto_capture_config`: legacy inference tables cannot be enabled
    on new or existing endpoints since 2026-02-20 (Databricks docs, model serving inference tables)."""
    for stack in _workspace_stacks(synthesized):
        gateway = synthesized.only(stack, ENDPOINT)["ai_gateway"]
        table = gateway["inference_table_config"]
        assert table["enabled"] is True
        assert re.fullmatch(r"\$\{databricks_catalog\.[\w-]+\.name\}", table["catalog_name"]), stack
        assert re.fullmatch(r"\$\{databricks_schema\.[\w-]+\.name\}", table["schema_name"]), stack
        assert gateway["rate_limits"] == [{"calls": 600, "key": "endpoint", "renewal_period": "minute"}]


def test_only_the_team_queries_the_endpoint_and_the_job_principal_moves_its_version(
    synthesized, platform_config
):
    """The provider adds the caller as CAN_MANAGE to serving endpoint ACLs that lack it
    (permissions/permission_definitions.go, v1.99.0, serving-endpoints: AddCurrentUserAsManage)."""
    for stack in _workspace_stacks(synthesized):
        team = team_env_of(platform_config, stack).team
        levels = _endpoint_permissions(synthesized.json(stack)["resource"])
        job_sp = next(p for p, lv in levels.items() if p.startswith("${databricks_service_principal."))
        assert levels == {
            platform_config.platform.deployer_principal: "CAN_MANAGE",
            job_sp: "CAN_MANAGE",
            **{g: "CAN_QUERY" for g in team.owner_groups},
            **{g: "CAN_VIEW" for g in team.reader_groups},
        }


def test_the_validate_task_serves_the_champion_scaled_to_zero_in_dev_only(synthesized, platform_config):
    for stack in _workspace_stacks(synthesized):
        team_env = team_env_of(platform_config, stack)
        parameters = _validate_parameters(jobs_by_name(synthesized, stack)["training"])
        assert _option(parameters, "--serving-endpoint") == f"{team_env.names.stem}-champion"
        assert _option(parameters, "--serving-workload-size") == "Small"
        dev = team_env.env == "dev"
        assert ("--serving-scale-to-zero" in parameters) is dev, stack
        assert ("--no-serving-scale-to-zero" in parameters) is not dev, stack
        # Only validate serves: the other tasks know nothing of the endpoint.
        others = [t for job in jobs_by_name(synthesized, stack).values() for t in wheel_tasks(job)]
        assert all(
            "--serving-endpoint" not in t["python_wheel_task"]["parameters"]
            for t in others
            if t["task_key"] != "validate"
        )


def test_an_ephemeral_env_scales_to_zero_even_when_cut_from_prod(platform_config, fake_wheel):
    from datetime import UTC, datetime, timedelta

    from infra.lifecycle.ephemeral import cut

    prod = next(te for te in platform_config.team_envs if te.key == "churn/prod")
    assert prod.settings.serving.scale_to_zero is False
    team_env = cut(
        prod, name="pr7", slot=1, owner="a@example.com", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    job = next(j for j in synth_workspace(team_env, fake_wheel)["resource"]["databricks_job"].values()
               if j["name"].endswith("-training"))  # fmt: skip
    assert "--serving-scale-to-zero" in _validate_parameters(job)


def test_serving_disabled_means_no_endpoint_and_no_serving_in_the_gate(platform_config, fake_wheel):
    base = next(te for te in platform_config.team_envs if te.key == "churn/staging")
    settings = EnvironmentConfig.model_validate(base.settings.model_dump() | {"serving": {"enabled": False}})
    resources = synth_workspace(base.model_copy(update={"settings": settings}), fake_wheel)["resource"]
    assert ENDPOINT not in resources
    assert not [p for p in resources["databricks_permissions"].values() if "serving_endpoint_id" in p]
    training = next(j for j in resources["databricks_job"].values() if j["name"].endswith("-training"))
    assert "--serving-endpoint" not in _validate_parameters(training)


def test_serving_settings_default_per_env_kind(platform_config):
    by_env = {te.env: te.settings.serving for te in platform_config.team_envs if te.team.name == "churn"}
    assert by_env["dev"].scale_to_zero is True
    assert by_env["staging"].scale_to_zero is False and by_env["prod"].scale_to_zero is False
    with pytest.raises(ValueError, match="workload_size"):
        EnvironmentConfig.model_validate(
            by_env_settings(platform_config, "churn/dev") | {"serving": {"workload_size": "Huge"}}
        )


def by_env_settings(platform_config, key: str) -> dict:
    return next(te for te in platform_config.team_envs if te.key == key).settings.model_dump()


# --- create and destroy order ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graphs(synthesized, synthesized_ephemeral) -> dict[str, StackGraph]:
    stacks = {n: synthesized.json(n) for n in _workspace_stacks(synthesized)}
    stacks |= {n: synthesized_ephemeral.json(n) for n in _workspace_stacks(synthesized_ephemeral)}
    return {name: StackGraph(stack) for name, stack in stacks.items()}


def _one(graph: StackGraph, rtype: str) -> str:
    nodes = graph.of_type(rtype)
    assert len(nodes) == 1, rtype
    return nodes[0].address


def _grants_on(graph: StackGraph, key: str) -> str:
    return next(n.address for n in graph.of_type("databricks_grants") if key in n.config)


def test_endpoint_is_created_after_the_model_and_its_grants_and_destroyed_before_them(graphs):
    for name, graph in graphs.items():
        endpoint = _one(graph, ENDPOINT)
        for dependency in (
            _one(graph, "databricks_registered_model"),
            _grants_on(graph, "model"),
            _grants_on(graph, "schema"),
            _one(graph, "databricks_schema"),
            _one(graph, "databricks_workspace_binding"),
        ):
            assert graph.depends(endpoint, dependency), f"{name}: {endpoint} before {dependency}"
            assert graph.destroyed_before(endpoint, dependency), name


def test_the_training_job_exists_only_once_its_principal_may_move_the_served_version(graphs):
    for name, graph in graphs.items():
        permissions = next(
            n.address for n in graph.of_type("databricks_permissions") if "serving_endpoint_id" in n.config
        )
        assert graph.depends(permissions, _one(graph, ENDPOINT)), name
        training = next(
            n.address for n in graph.of_type("databricks_job") if n.config["name"].endswith("-training")
        )
        assert graph.depends(training, permissions), name
