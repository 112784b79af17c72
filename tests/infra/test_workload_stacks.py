"""Two teams with different managed workloads synthesize side by side, and churn's stack does not move.

Team churn runs the churn preset and a second workload (`upsell`, the test package in
tests/fixtures/workloads/upsell); team pricing runs only `upsell`-shaped `forecast`. Each non-churn workload gets
its own schema, job principal, experiment, registered models and jobs; churn's resources keep their Terraform
addresses and settings (only the grant lists that now also name the new workload's principal grow).
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

from infra.config import parse_config
from tests.infra.conftest import ROOT, SYNTH_TODAY

UPSELL_PACKAGE = "tests/fixtures/workloads/upsell"
SNAPSHOT = (
    ROOT
    / "tests/infra/__snapshots__/test_snapshots/test_synthesized_stack_matches_its_snapshot[churn-dev-workspace].json"
)


def upsell(name: str, **extra) -> dict:
    return {
        "kind": "managed",
        "name": name,
        "package": UPSELL_PACKAGE,
        "models": [f"{name}_propensity", f"{name}_uplift"],
        "jobs": [
            {
                "name": "nightly",
                "schedule": "0 0 3 * * ?",
                "tasks": [
                    {"key": "train", "entry_point": "upsell-train", "parameters": ["--days", "30"]},
                    {
                        "key": "score",
                        "entry_point": "upsell-score",
                        "depends_on": ["train"],
                        "max_retries": 0,
                    },
                ],
            }
        ],
        **extra,
    }


@pytest.fixture(scope="module")
def config():
    raw = yaml.safe_load((ROOT / "platform.yaml").read_text())
    raw = copy.deepcopy(raw)
    churn, pricing = raw["teams"][0], raw["teams"][1]
    churn["workloads"] = [*churn["workloads"], upsell("upsell")]
    pricing["workloads"] = [upsell("forecast")]
    return parse_config(yaml.safe_dump(raw, sort_keys=False))


@pytest.fixture(scope="module")
def stacks(config, fake_wheel, tmp_path_factory) -> dict[str, dict]:
    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("cdktf.out")
    chosen = [te for te in config.team_envs if te.key in ("churn/dev", "pricing/dev")]
    build_app(config, outdir=outdir, wheel=fake_wheel, team_envs=chosen, today=SYNTH_TODAY).synth()
    return {
        name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())
        for name in ("churn-dev-workspace", "pricing-dev-workspace")
    }


def resources(stack: dict, kind: str) -> dict[str, dict]:
    return stack["resource"].get(kind, {})


def named(stack: dict, kind: str, pattern: str) -> dict[str, dict]:
    return {k: v for k, v in resources(stack, kind).items() if re.search(pattern, k)}


def sp_ref(stack: dict, construct: str) -> str:
    (address,) = [k for k in resources(stack, "databricks_service_principal") if k.startswith(construct)]
    return f"${{databricks_service_principal.{address}.application_id}}"


# Grant and ACL lists that name every job principal of the env: they grow by the new workload's principal.
SHARED_GRANTS = re.compile(
    r"^(unity-catalog_(catalog-grants|location-landing-grants|artifacts-volume-grants)|"
    r"compute_(policy|pool)-permissions)"
)


def test_churn_keeps_every_address_and_setting_beside_a_second_workload(stacks):
    before = json.loads(SNAPSHOT.read_text())["resource"]
    after = stacks["churn-dev-workspace"]["resource"]
    for kind, items in before.items():
        for address, config in items.items():
            assert address in after.get(kind, {}), (
                f"{kind}.{address} moved: a deployed resource would be replaced"
            )
            if not SHARED_GRANTS.match(address):
                assert after[kind][address] == config, f"{kind}.{address} changed"


def test_the_second_workload_gets_its_own_schema_principal_models_and_jobs(stacks):
    stack = stacks["churn-dev-workspace"]
    upsell_sp = sp_ref(stack, "workload-upsell-identity")
    (schema,) = named(stack, "databricks_schema", "^workload-upsell-schema").values()
    assert schema["name"] == "upsell"
    models = {m["name"]: m for m in named(stack, "databricks_registered_model", "^workload-upsell").values()}
    assert set(models) == {"upsell_propensity", "upsell_uplift"}
    for model in models.values():
        assert model["owner"] == upsell_sp
        assert "databricks_schema.workload-upsell-schema" in model["schema_name"]
    (experiment,) = named(stack, "databricks_mlflow_experiment", "^workload-upsell").values()
    assert experiment["name"] == "/Teams/churn/dev/upsell"
    (job,) = named(stack, "databricks_job", "^workload-upsell-jobs").values()
    assert job["name"] == "dbp-churn-dev-upsell-nightly"
    assert job["run_as"] == {"service_principal_name": upsell_sp}
    assert job["schedule"]["pause_status"] == "PAUSED"  # dev pauses schedules
    # Declared in task_key order: the provider sorts a job's tasks by key when it reads them back
    # (databricks/terraform-provider-databricks v1.99.0, jobs/resource_job.go adjustTasks / sortTasksByKey).
    score, train = job["task"]
    assert (score["task_key"], train["task_key"]) == ("score", "train")
    assert score["depends_on"] == [{"task_key": "train"}] and "depends_on" not in train
    wheel_task = train["python_wheel_task"]
    assert (wheel_task["package_name"], wheel_task["entry_point"]) == ("upsell", "upsell-train")
    assert wheel_task["parameters"] == [
        "--days", "30", "--catalog", "dbp_churn_dev", "--schema", "upsell",
        "--model-name", "dbp_churn_dev.upsell.upsell_propensity", "--experiment-path", "/Teams/churn/dev/upsell",
    ]  # fmt: skip
    (upload,) = named(stack, "databricks_file", "^workload-upsell-jobs").values()
    assert re.fullmatch(
        r"/Volumes/dbp_churn_dev/ml/artifacts/wheels/upsell/[0-9a-f]{12}/upsell-0\.1\.0-py3-none-any\.whl",
        upload["path"],
    )
    assert all(t["library"] == [{"whl": upload["path"]}] for t in job["task"])
    assert (score["max_retries"], train["max_retries"]) == (0, 2)


def _grantees(stack: dict, grants_address_prefix: str) -> dict[str, list[str]]:
    (grants,) = named(stack, "databricks_grants", f"^{grants_address_prefix}").values()
    return {g["principal"]: g["privileges"] for g in grants["grant"]}


def test_neither_workloads_principal_can_touch_the_others_schema(stacks):
    stack = stacks["churn-dev-workspace"]
    churn_sp, upsell_sp = sp_ref(stack, "job-identity"), sp_ref(stack, "workload-upsell-identity")
    ml_schema = _grantees(stack, "unity-catalog_schema-grants")
    upsell_schema = _grantees(stack, "workload-upsell-schema_grants")
    assert churn_sp in ml_schema and upsell_sp not in ml_schema
    assert upsell_sp in upsell_schema and churn_sp not in upsell_schema
    assert "MODIFY" in upsell_schema[upsell_sp]
    # It reads the wheels and uses the env's catalog and policy like churn's principal.
    assert upsell_sp in _grantees(stack, "unity-catalog_artifacts-volume-grants")
    assert upsell_sp in _grantees(stack, "unity-catalog_catalog-grants")
    (policy_acl,) = named(stack, "databricks_permissions", "^compute_policy-permissions").values()
    assert {"service_principal_name": upsell_sp, "permission_level": "CAN_USE"} in policy_acl[
        "access_control"
    ]


def test_a_team_without_the_churn_preset_gets_no_churn_jobs_endpoint_or_monitor(stacks):
    stack = stacks["pricing-dev-workspace"]
    jobs = {j["name"] for j in resources(stack, "databricks_job").values()}
    assert jobs == {"dbp-pricing-dev-forecast-nightly"}
    assert not resources(stack, "databricks_model_serving")
    assert not resources(stack, "databricks_quality_monitor")
    models = {m["name"] for m in resources(stack, "databricks_registered_model").values()}
    assert models == {"forecast_propensity", "forecast_uplift"}


def test_the_second_workloads_jobs_exist_only_once_what_they_run_with_does(stacks):
    """Terraform's graph of the synthesized stack (tests/terraform_graph.py): created after, destroyed before."""
    from tests.terraform_graph import StackGraph

    stack = stacks["churn-dev-workspace"]
    graph = StackGraph(stack)
    (job,) = [n.address for n in graph.of_type("databricks_job") if "workload-upsell" in n.address]
    needs = [
        ("databricks_file", "workload-upsell-jobs"),  # its wheel
        ("databricks_grants", "workload-upsell-schema"),  # its principal's schema privileges
        ("databricks_access_control_rule_set", "workload-upsell-identity"),  # the deployer may hand it run_as
        ("databricks_registered_model", "workload-upsell-mlflow"),
        ("databricks_grants", "unity-catalog_artifacts-volume-grants"),  # its principal reads the wheel
    ]
    for kind, prefix in needs:
        found = [n.address for n in graph.of_type(kind) if n.address.split(".", 1)[1].startswith(prefix)]
        assert found, (kind, prefix)
        for address in found:  # both registered models, one of everything else
            assert graph.depends(job, address), address
    # The schema (and the models in it) come down before the catalog binding (provider issue 5300).
    (binding,) = [n.address for n in graph.of_type("databricks_workspace_binding")]
    for model in [
        n.address for n in graph.of_type("databricks_registered_model") if "workload-upsell" in n.address
    ]:
        assert graph.depends(model, binding) and graph.destroyed_before(model, binding)
