"""What `platform bundle-targets` emits is a bundle configuration the databricks CLI accepts: it passes the bundle
JSON schema vendored from databricks/cli v1.13.0 (infra/bundle/schema/README.md), alone and included from an
mlops-stacks-shaped bundle, and follows the CLI's rules for development and production targets."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from infra.config import load_config
from infra.lifecycle.bundle_targets import Deployed, permanent_envs, render, select, targets_document
from tests.bundle_schema import load_bundle, schema_errors

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "mlops_stacks_bundle"
APP_ID = "0f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910"


def deployed(team_envs):
    return {
        te.key: Deployed(
            host=f"https://adb-{index}00000000000000.0.azuredatabricks.net",
            run_as=APP_ID,
            cluster_policy_id=f"E0631F5C0D00000{index}",
        )
        for index, te in enumerate(team_envs)
    }


@pytest.fixture(scope="module")
def pricing():
    config = load_config(ROOT / "platform.yaml")
    workload = select(config, "pricing", workload=None)
    return workload, permanent_envs(config, "pricing", None)


@pytest.fixture(scope="module")
def document(pricing):
    workload, team_envs = pricing
    return targets_document(team_envs, workload, deployed(team_envs))


def test_the_targets_file_alone_passes_the_bundle_schema(document):
    assert schema_errors(document) == []
    assert list(document["targets"]) == ["dev", "staging", "prod"]


def test_the_rendered_file_is_yaml_of_the_same_document(document):
    text = render(document, team="pricing")
    assert text.startswith("# Written by `platform bundle-targets`")
    assert yaml.safe_load(text) == document


def test_an_mlops_stacks_bundle_including_the_targets_passes_the_schema(document, tmp_path):
    bundle = tmp_path / "pricing"
    shutil.copytree(SAMPLE, bundle)
    (bundle / "platform-targets.yml").write_text(render(document, team="pricing"))
    merged = load_bundle(bundle)
    assert schema_errors(merged) == []
    # the targets came in through the include, with the jobs of the sample's own resource files
    assert set(merged["targets"]) == {"dev", "staging", "prod"}
    assert {"model_training_job", "batch_inference_job"} <= set(merged["resources"]["jobs"])
    # Root.MergeTargetOverrides refuses a target variable the root does not declare (bundle/config/root.go,
    # validateVariableOverrides, v1.13.0): every variable the targets set is declared once merged, and every
    # variable the sample's jobs use has a value in every target or a default.
    declared = set(merged["variables"])
    for name, target in merged["targets"].items():
        assert set(target["variables"]) <= declared, name
        valued = {v for v, d in merged["variables"].items() if "default" in d} | set(target["variables"])
        used = set(_variables_used(merged["resources"]))
        assert used <= valued, (name, used - valued)


def _variables_used(node) -> list[str]:
    import re

    text = yaml.safe_dump(node)
    return re.findall(r"\$\{var\.([a-z_]+)\}", text)


def test_the_schema_catches_a_wrong_target(document):
    """The check can fail: a run_as with a misspelt key, a permission without its level, a workspace key the CLI
    does not know are each refused with the place named."""
    wrong = copy.deepcopy(document)
    prod = wrong["targets"]["prod"]
    prod["run_as"] = {"service_principal": APP_ID}
    del prod["permissions"][0]["level"]
    prod["workspace"]["hostname"] = prod["workspace"].pop("host")
    errors = schema_errors(wrong)
    assert any(e.startswith("targets.prod.run_as:") and "'service_principal'" in e for e in errors), errors
    assert any(
        e.startswith("targets.prod.permissions.0:") and "'level' is a required" in e for e in errors
    ), errors
    assert any(e.startswith("targets.prod.workspace:") and "'hostname'" in e for e in errors), errors


def test_development_targets_keep_per_user_paths_and_never_unpause(document):
    """validate_target_mode.go (databricks/cli v1.13.0): in development mode root_path must start with ~/ or
    contain the user, a /Volumes artifact_path must contain the user's short name, and trigger_pause_status may
    not be UNPAUSED. The dev target deploys as the developer: no run_as."""
    dev = document["targets"]["dev"]
    assert dev["mode"] == "development"
    assert dev["workspace"]["root_path"].startswith("~/")
    assert "${workspace.current_user.short_name}" in dev["workspace"]["artifact_path"]
    assert dev.get("presets", {}).get("trigger_pause_status") != "UNPAUSED"
    assert "run_as" not in dev


def test_production_targets_run_as_the_workload_principal_with_an_explicit_root(document, pricing):
    """validate_target_mode.go: a production target must set workspace.root_path (one copy deployed)."""
    workload, team_envs = pricing
    for env in ("staging", "prod"):
        target = document["targets"][env]
        assert target["mode"] == "production"
        assert target["run_as"] == {"service_principal_name": APP_ID}
        assert (
            target["workspace"]["root_path"]
            == f"/Workspace/Users/{APP_ID}/.bundle/${{bundle.name}}/${{bundle.target}}"
        )
        team_env = next(te for te in team_envs if te.env == env)
        volume = f"/Volumes/{team_env.names.catalog}/{workload.schema}/artifacts"
        assert target["workspace"]["artifact_path"].startswith(volume + "/")
        assert target["variables"] == {
            "catalog_name": team_env.names.catalog,
            "schema_name": "pricing",
            "cluster_policy_id": target["variables"]["cluster_policy_id"],
            "artifact_volume": volume,
        }
        # the team's groups: owners may run, readers view; only the deploying principal manages
        levels = {
            (p.get("group_name") or p.get("service_principal_name")): p["level"]
            for p in target["permissions"]
        }
        assert levels == {
            APP_ID: "CAN_MANAGE",
            "pricing-owners": "CAN_RUN",
            "pricing-readers": "CAN_VIEW",
            "finance-analysts": "CAN_VIEW",
        }


def test_a_file_two_include_patterns_match_is_merged_once_as_the_cli_does(document, tmp_path):
    """process_root_includes.go (databricks/cli v1.13.0) loads a file matched by several patterns once, and never
    the root file again. Merged twice, every target's permissions would be listed twice and the root's include
    list doubled, and the schema check would still pass: the merge itself must be the CLI's."""
    bundle = tmp_path / "pricing"
    shutil.copytree(SAMPLE, bundle)
    (bundle / "platform-targets.yml").write_text(render(document, team="pricing"))
    root = yaml.safe_load((bundle / "databricks.yml").read_text())
    root["include"] = ["./*.yml", *root["include"]]  # matches databricks.yml and platform-targets.yml too
    (bundle / "databricks.yml").write_text(yaml.safe_dump(root, sort_keys=False))
    merged = load_bundle(bundle)
    assert merged["include"] == root["include"]
    for env, target in merged["targets"].items():
        assert target["permissions"] == document["targets"][env]["permissions"], env
    assert schema_errors(merged) == []


def test_an_ephemeral_envs_targets_file_beside_the_permanent_one_merges_into_four_targets(document, tmp_path):
    """docs/bundles.md: `--env pr7 --out platform-targets-pr7.yml` beside platform-targets.yml, both included by
    `./platform-targets*.yml`. The variable declarations of the two files merge (same descriptions); the targets
    add up, and the result passes the schema."""
    bundle = tmp_path / "pricing"
    shutil.copytree(SAMPLE, bundle)
    (bundle / "platform-targets.yml").write_text(render(document, team="pricing"))
    ephemeral = copy.deepcopy(document)
    ephemeral["targets"] = {"pr7": copy.deepcopy(document["targets"]["dev"])}
    (bundle / "platform-targets-pr7.yml").write_text(render(ephemeral, team="pricing"))
    root = yaml.safe_load((bundle / "databricks.yml").read_text())
    root["include"] = [
        p.replace("./platform-targets.yml", "./platform-targets*.yml") for p in root["include"]
    ]
    (bundle / "databricks.yml").write_text(yaml.safe_dump(root, sort_keys=False))
    merged = load_bundle(bundle)
    assert set(merged["targets"]) == {"dev", "staging", "prod", "pr7"}
    assert (
        merged["variables"]["catalog_name"]["description"]
        == document["variables"]["catalog_name"]["description"]
    )
    assert schema_errors(merged) == []
