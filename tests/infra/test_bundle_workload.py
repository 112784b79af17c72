"""A bundle workload gets, in each of its team's workspace stacks, what its bundle needs and nothing else: its
schema and registered models with grants for the team's groups, an artifact volume, a run_as service principal
that may use the team's cluster policy, the CI's federated credential, and the outputs its bundle targets read."""

from __future__ import annotations

import json

import pytest
import yaml

from infra.config import ConfigError, load_config
from infra.constructs.bundle_contract import (
    BUNDLE_CLUSTER_POLICY_OUTPUT,
    BUNDLE_HOST_OUTPUT,
    artifact_volume_output,
    run_as_output,
)
from tests.infra.conftest import ROOT

PRICING_MODELS = {"price_elasticity", "demand_forecast"}


def workspace(platform_config, key):
    return next(te for te in platform_config.team_envs if te.key == key)


def by_name(resources: dict, **match) -> dict:
    found = [r for r in resources.values() if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def grants_on(synthesized, stack, key, ref_part) -> dict[str, list[str]]:
    found = [
        g for g in synthesized.resources(stack, "databricks_grants").values() if ref_part in str(g.get(key))
    ]
    assert len(found) == 1, (key, ref_part, found)
    return {g["principal"]: g["privileges"] for g in found[0]["grant"]}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_pricing_gets_its_schema_models_volume_and_principal(synthesized, platform_config, env):
    team_env = workspace(platform_config, f"pricing/{env}")
    stack = team_env.names.workspace_stack
    schemas = synthesized.resources(stack, "databricks_schema")
    schema_key, schema = next((k, s) for k, s in schemas.items() if s["name"] == "pricing")
    assert schema["catalog_name"].startswith("${databricks_catalog.")
    principals = synthesized.resources(stack, "databricks_service_principal")
    run_as_key = next(
        k for k, sp in principals.items() if sp["display_name"] == f"{team_env.names.stem}-pricing-bundle"
    )
    run_as = f"${{databricks_service_principal.{run_as_key}.application_id}}"
    assert principals[run_as_key]["allow_cluster_create"] is False

    schema_grants = grants_on(synthesized, stack, "schema", f"databricks_schema.{schema_key}.id")
    assert schema_grants["pricing-owners"][:2] == ["USE_SCHEMA", "SELECT"]
    assert schema_grants["pricing-readers"] == ["USE_SCHEMA", "SELECT"]
    assert "CREATE_TABLE" in schema_grants[run_as]

    models = {
        m["name"]: m
        for m in synthesized.resources(stack, "databricks_registered_model").values()
        if m["schema_name"] == f"${{databricks_schema.{schema_key}.name}}"
    }
    assert set(models) == PRICING_MODELS
    # only the owner of a UC model creates versions: the developers in dev, the bundle's principal elsewhere
    owner = "pricing-owners" if env == "dev" else run_as
    assert {m["owner"] for m in models.values()} == {owner}

    volume = by_name(
        synthesized.resources(stack, "databricks_volume"),
        schema_name=f"${{databricks_schema.{schema_key}.name}}",
    )
    assert volume["name"] == "artifacts"
    catalog_grants = grants_on(synthesized, stack, "catalog", "databricks_catalog.")
    assert catalog_grants[run_as] == ["USE_CATALOG"]
    policy_permissions = next(
        p for p in synthesized.resources(stack, "databricks_permissions").values() if "cluster_policy_id" in p
    )
    assert {"service_principal_name": run_as, "permission_level": "CAN_USE"} in policy_permissions[
        "access_control"
    ]

    outputs = synthesized.json(stack)["output"]
    for name in (
        BUNDLE_HOST_OUTPUT,
        BUNDLE_CLUSTER_POLICY_OUTPUT,
        run_as_output("pricing"),
        artifact_volume_output("pricing"),
    ):
        assert name in outputs, name
    assert outputs[run_as_output("pricing")]["value"] == run_as
    assert (
        outputs[artifact_volume_output("pricing")]["value"]
        == f"/Volumes/{team_env.names.catalog}/pricing/artifacts"
    )


def test_the_ci_signs_in_as_the_principal_through_an_account_level_federation_policy(
    synthesized, platform_config
):
    """databricks_service_principal_federation_policy calls GetAccountClient (resource_service_principal_federation_
    policy.go, databricks v1.99.0): it needs an account-level provider, and the principal's account ID, looked up
    there by application ID (docs/data-sources/service_principal.md: account or workspace provider)."""
    team_env = workspace(platform_config, "pricing/prod")
    stack = synthesized.json(team_env.names.workspace_stack)
    providers = stack["provider"]["databricks"]
    account = next(p for p in providers if p.get("alias"))
    assert account["host"] == "https://accounts.azuredatabricks.net"
    assert account["account_id"] == str(platform_config.platform.account_id)
    policy = next(iter(stack["resource"]["databricks_service_principal_federation_policy"].values()))
    lookup_key, lookup = next(iter(stack["data"]["databricks_service_principal"].items()))
    assert policy["provider"] == lookup["provider"] == f"databricks.{account['alias']}"
    assert f"data.databricks_service_principal.{lookup_key}.id" in str(policy["service_principal_id"])
    assert "databricks_service_principal." in lookup["application_id"]
    assert policy["policy_id"] == "github-actions"
    assert policy["oidc_policy"] == {
        "issuer": "https://token.actions.githubusercontent.com",
        "audiences": [str(platform_config.platform.account_id)],
        # no GitHub environment in the config: any workflow run of the repository
        "subject_claim": "repository",
        "subject": "example-org/pricing-ml",
    }


def test_a_team_without_bundle_workloads_gets_none_of_it(synthesized, platform_config):
    stack = synthesized.json(workspace(platform_config, "churn/prod").names.workspace_stack)
    assert "databricks_service_principal_federation_policy" not in stack["resource"]
    assert all(not p.get("alias") for p in stack["provider"]["databricks"])
    assert not [name for name in stack.get("output", {}) if name.startswith("bundle_")]


def test_validate_refuses_a_ci_credential_without_the_account_id(tmp_path):
    raw = yaml.safe_load((ROOT / "platform.yaml").read_text())
    del raw["platform"]["account_id"]
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    # each line is `<file>: <field path>: <problem>`
    lines = [line.split(": ", 1)[1] for line in refused.value.lines() if ".ci:" in line]
    assert lines == [
        "teams.pricing.workloads[0].ci: needs platform.account_id (the CI's federation policy is a Databricks "
        "account-level resource); set it"
    ], json.dumps(refused.value.lines())


def test_an_aws_team_reaches_its_federation_policy_through_the_aws_account_console(tmp_path, fake_wheel):
    """The same resources on a Databricks-on-AWS team; only the account host differs."""
    from infra.app import build_app

    raw = yaml.safe_load((ROOT / "platform.yaml").read_text())
    risk = next(team for team in raw["teams"] if team["name"] == "risk")
    risk["workloads"] = [
        {"kind": "bundle", "name": "scoring", "models": ["risk_score"], "ci": {"github_repository": "o/risk"}}
    ]
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(path)
    team_env = workspace(config, "risk/dev")
    outdir = tmp_path / "out"
    build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=[team_env]).synth()
    stack = json.loads((outdir / "stacks" / team_env.names.workspace_stack / "cdk.tf.json").read_text())
    account = next(p for p in stack["provider"]["databricks"] if p.get("alias"))
    assert account["host"] == "https://accounts.cloud.databricks.com"
    policy = next(iter(stack["resource"]["databricks_service_principal_federation_policy"].values()))
    assert policy["oidc_policy"]["subject"] == "o/risk"
    assert {m["name"] for m in stack["resource"]["databricks_registered_model"].values()} >= {"risk_score"}
