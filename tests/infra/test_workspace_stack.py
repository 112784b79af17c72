"""The workspace stack: what lands inside each team-env's Databricks workspace, read from the synthesized JSON."""

import json
import re
import tempfile
from pathlib import Path

import pytest
from cdktf import Testing as CdktfTesting
from cdktf_cdktf_provider_databricks.catalog import Catalog
from cdktf_cdktf_provider_databricks.job import Job
from cdktf_cdktf_provider_databricks.provider import DatabricksProvider
from cdktf_cdktf_provider_databricks.secret_scope import SecretScope

from infra.aspects.stack_aspects import AspectApp
from infra.config.environment import EnvironmentConfig
from infra.config.model import TeamEnv
from infra.constructs.azure.workspace_access import azure_workspace_access
from infra.constructs.contracts import LAKE_CONTAINERS, PlatformOutputs, WheelArtifact
from infra.stacks.workspace_stack import WorkspaceStack
from tests.infra.conftest import churn_workspace_stacks

try:  # typer vendors click in newer releases
    from typer._click.exceptions import UsageError
except ImportError:
    from click.exceptions import UsageError

DEV = "churn-dev-workspace"
STAGING = "churn-staging-workspace"
PROD = "churn-prod-workspace"
JOB_SP = "${databricks_service_principal.job-identity_service-principal_79FB08E3.application_id}"


@pytest.fixture(scope="session")
def workspace_stacks(synthesized, platform_config) -> list[str]:
    stacks = [s for s in synthesized.stack_names if s.endswith("-workspace")]
    # the Azure teams and the AWS team share the Databricks constructs: every team-env has a workspace stack
    assert len(stacks) == len(platform_config.team_envs)
    return stacks


def team_env_of(config, stack: str) -> TeamEnv:
    return next(t for t in config.team_envs if t.names.workspace_stack == stack)


def wheel_tasks(job: dict) -> list[dict]:
    """The tasks that run the churn wheel (not the monitoring job's condition and run-job tasks)."""
    return [t for t in job["task"] if "python_wheel_task" in t]


def jobs_by_name(synthesized, stack: str) -> dict[str, dict]:
    return {
        job["name"].rsplit("-", 1)[1]: job for job in synthesized.resources(stack, "databricks_job").values()
    }


def policy_of(synthesized, stack: str) -> dict:
    return json.loads(synthesized.only(stack, "databricks_cluster_policy")["definition"])


def grants_on(synthesized, stack: str, securable: str, reference: str) -> dict[str, list[str]]:
    """principal -> privileges of the one `databricks_grants` whose `securable` refers to `reference`."""
    found = [
        g
        for g in synthesized.resources(stack, "databricks_grants").values()
        if reference in str(g.get(securable, ""))
    ]
    assert len(found) == 1, f"{stack}: expected one grants resource on {securable} {reference}"
    return {grant["principal"]: grant["privileges"] for grant in found[0]["grant"]}


# --- provider and auth ---------------------------------------------------------------------------------------


def test_provider_is_configured_from_the_platform_stack_outputs(
    synthesized, platform_config, workspace_stacks
):
    # Azure teams; an AWS team's provider reads the account stack (test_aws_workspace_stack.py)
    for stack in (s for s in workspace_stacks if team_env_of(platform_config, s).team.cloud == "azure"):
        platform = stack.replace("-workspace", "-platform")
        remote_state = f"data.terraform_remote_state.cross-stack-reference-input-{platform}.outputs."
        assert CdktfTesting.to_have_provider_with_properties(
            synthesized.text(stack), DatabricksProvider.TF_RESOURCE_TYPE, {}
        )
        provider = synthesized.json(stack)["provider"]["databricks"][0]
        assert remote_state in provider["host"] and provider["host"].startswith("https://")
        assert remote_state in provider["azure_workspace_resource_id"]
        assert (
            platform
            in synthesized.json(stack)["data"]["terraform_remote_state"][
                f"cross-stack-reference-input-{platform}"
            ]["config"]["path"]
        )


def test_personal_access_tokens_are_switched_off_in_every_workspace(synthesized, workspace_stacks):
    for stack in workspace_stacks:
        conf = synthesized.only(stack, "databricks_workspace_conf")
        assert conf["custom_config"]["enableTokensConfig"] == "false"


def test_no_token_or_secret_reaches_the_workspace_stacks(synthesized, workspace_stacks):
    for stack in workspace_stacks:
        resources = synthesized.json(stack)["resource"]
        assert not {"databricks_token", "databricks_obo_token"} & set(resources)
        provider = synthesized.json(stack)["provider"]["databricks"][0]
        assert not {"token", "password", "client_secret", "azure_client_secret"} & set(provider)


# --- jobs ----------------------------------------------------------------------------------------------------


def test_jobs_pass_catalog_schema_model_and_experiment_to_the_wheel_cli(synthesized):
    jobs = jobs_by_name(synthesized, DEV)
    assert {name: [t["task_key"] for t in job["task"]] for name, job in jobs.items()} == {
        "training": ["ingest", "train", "validate"],
        "scoring": ["monitor", "score"],  # task_key order (PLAT-DBX-8); depends_on runs score first
        "monitoring": ["drift_confirmed", "monitor", "retrain"],  # task_key order (see test_retraining.py)
    }
    for job in jobs.values():
        for task in wheel_tasks(job):
            parameters = task["python_wheel_task"]["parameters"]
            if task["task_key"] == "ingest":
                # raw drops come from the landing container of this env's own lake (platform stack output)
                assert parameters[1] == "--input"
                remote = r"\$\{data\.terraform_remote_state\.[^}]+\}"
                assert re.fullmatch(rf"abfss://landing@{remote}/telco/", parameters[2]), parameters[2]
                assert parameters[3:5] == ["--max-quarantined-share", "0.1"]  # see the test below
                del parameters[1:5]
            if task["task_key"] in ("validate", "monitor"):  # their thresholds: see the tests below
                del parameters[1 : parameters.index("--catalog")]
            assert task["python_wheel_task"] == {
                "package_name": "churn",
                "entry_point": "churn",
                "parameters": [
                    task["task_key"],
                    "--catalog",
                    "dbp_churn_dev",
                    "--schema",
                    "ml",
                    "--model-name",
                    "dbp_churn_dev.ml.churn",
                    "--experiment-path",
                    "/Teams/churn/dev/churn",
                ],
            }
    train, validate = jobs["training"]["task"][1:]
    assert train["depends_on"] == [{"task_key": "ingest"}]
    assert validate["depends_on"] == [{"task_key": "train"}]
    # each scored batch (only the customers new since the last run) is checked for drift right after scoring
    (monitor_scored_batch,) = [t for t in jobs["scoring"]["task"] if t["task_key"] == "monitor"]
    assert monitor_scored_batch["depends_on"] == [{"task_key": "score"}]
    assert monitor_scored_batch["max_retries"] == 0  # exit 1 is a verdict (drift found): no retry


def _task(synthesized, stack: str, key: str, job: str | None = None) -> dict:
    tasks = [t for name, spec in jobs_by_name(synthesized, stack).items() if job in (None, name)
             for t in spec["task"]]  # fmt: skip
    (task,) = [t for t in tasks if t["task_key"] == key]
    return task


def _options(task: dict) -> list[str]:
    parameters = task["python_wheel_task"]["parameters"]
    return parameters[1 : parameters.index("--catalog")]


def test_the_gate_is_a_dry_run_in_dev_and_enforced_elsewhere_with_the_configured_thresholds(synthesized):
    # The gate's options first; the serving options that follow are tested in test_serving.py.
    assert _options(_task(synthesized, DEV, "validate"))[:8] == [
        "--mode", "dry-run", "--min-roc-auc", "0.8", "--max-roc-auc-drop", "0.01", "--max-fairness-gap", "0.4",
    ]  # fmt: skip
    for stack in (STAGING, PROD):
        assert _options(_task(synthesized, stack, "validate"))[:2] == ["--mode", "enforce"]


def test_ingest_refuses_batches_above_the_envs_configured_quarantine_ceiling(platform_config):
    from infra.constructs.databricks.model_jobs import wheel_task_parameters

    base = next(te for te in platform_config.team_envs if te.key == "churn/prod").settings
    strict = EnvironmentConfig.model_validate(
        base.model_dump() | {"data_quality": {"max_quarantined_share": 0.02}}
    )
    parameters = wheel_task_parameters(
        "ingest", catalog="c", model_name="m", experiment_path="/e", raw_input="s3://in/", settings=strict
    )
    assert parameters[:5] == ["ingest", "--input", "s3://in/", "--max-quarantined-share", "0.02"]


def test_scoring_fails_its_run_on_drift_so_the_team_is_mailed_and_monitoring_decides_on_retraining(
    synthesized,
):
    thresholds = ["--psi-threshold", "0.2", "--alpha", "0.01", "--max-roc-auc-decay", "0.05"]
    assert _options(_task(synthesized, PROD, "monitor", "scoring")) == [*thresholds, "--fail-on-drift"]
    # The monitoring job's monitor sets the `retrain` task value instead of failing (test_retraining.py).
    assert _options(_task(synthesized, PROD, "monitor", "monitoring")) == [
        *thresholds, "--retrain-cooldown-days", "7",
    ]  # fmt: skip


def test_gate_and_drift_config_defaults_are_the_churn_packages_defaults():
    thresholds = pytest.importorskip("churn.thresholds")
    from infra.config.environment import DriftMonitoring, ModelGate

    gate, drift = ModelGate(), DriftMonitoring()
    package_gate, package_drift = thresholds.GateThresholds(), thresholds.DriftThresholds()
    assert (gate.min_roc_auc, gate.max_roc_auc_drop, gate.max_fairness_gap) == (
        package_gate.min_roc_auc, package_gate.max_roc_auc_drop, package_gate.max_fairness_gap,
    )  # fmt: skip
    assert (drift.psi_threshold, drift.alpha, drift.max_roc_auc_decay) == (
        package_drift.psi, package_drift.alpha, package_drift.max_roc_auc_decay,
    )  # fmt: skip


def test_the_quarantine_ceiling_default_is_the_churn_contracts():
    contract = pytest.importorskip("churn.contract")
    from infra.config.environment import DataQuality

    assert DataQuality().max_quarantined_share == contract.Contract.load().max_quarantined_share


def test_jobs_install_the_wheel_uploaded_under_its_content_hash(synthesized, fake_wheel, platform_config):
    """Where the clusters reach PyPI: the wheel is the one library (isolated envs add their wheelhouse before it,
    test_wheelhouse_jobs.py)."""
    digest = WheelArtifact(fake_wheel).sha256[:12]
    isolated = {
        te.stacks["workspace"] for te in platform_config.team_envs if te.settings.egress.mode == "isolated"
    }
    assert isolated == {"risk-prod-workspace"}
    for stack in churn_workspace_stacks(synthesized):
        if stack in isolated:
            continue
        upload = synthesized.only(stack, "databricks_file")
        catalog = synthesized.only(stack, "databricks_catalog")["name"]
        assert upload["path"] == f"/Volumes/{catalog}/ml/artifacts/wheels/{digest}/{fake_wheel.name}"
        # Copied next to the stack: a relative path, never this machine's.
        assert upload["source"].startswith("assets/") and upload["source"].endswith(fake_wheel.name)
        assert upload["lifecycle"] == {"create_before_destroy": True}
        for job in synthesized.resources(stack, "databricks_job").values():
            assert all(task["library"] == [{"whl": upload["path"]}] for task in wheel_tasks(job))
            assert any(dep.startswith("databricks_file.") for dep in job["depends_on"])


def test_a_new_wheel_gets_a_new_volume_path_and_an_unchanged_one_keeps_it(tmp_path, fake_wheel):
    same = tmp_path / fake_wheel.name
    same.write_bytes(fake_wheel.read_bytes())
    rebuilt = tmp_path / "rebuilt" / fake_wheel.name
    rebuilt.parent.mkdir()
    rebuilt.write_bytes(fake_wheel.read_bytes() + b"changed")
    paths = [WheelArtifact(p).sha256[:12] for p in (fake_wheel, same, rebuilt)]
    assert paths[0] == paths[1] != paths[2]


def test_schedules_follow_the_env_config_and_dev_is_paused(synthesized, platform_config):
    for stack in (DEV, STAGING, PROD):
        schedules = team_env_of(platform_config, stack).settings.schedules
        jobs = jobs_by_name(synthesized, stack)
        expected = {
            "training": schedules.training,
            "scoring": schedules.scoring,
            "monitoring": schedules.monitoring,
        }
        for name, job in jobs.items():
            assert job["schedule"] == {
                "quartz_cron_expression": expected[name],
                "timezone_id": schedules.timezone,
                "pause_status": "PAUSED" if stack == DEV else "UNPAUSED",
            }
    assert (
        jobs_by_name(synthesized, PROD)["training"]["schedule"]["quartz_cron_expression"] == "0 0 2 ? * SUN"
    )


def test_jobs_run_as_the_job_principal_one_run_at_a_time_and_mail_failures(synthesized, workspace_stacks):
    for stack in workspace_stacks:
        for job in synthesized.resources(stack, "databricks_job").values():
            assert job["run_as"] == {"service_principal_name": JOB_SP}
            assert job["max_concurrent_runs"] == 1 and job["queue"] == {"enabled": True}
            assert job["email_notifications"]["on_failure"]
            assert job["timeout_seconds"] > 0
            for task in wheel_tasks(job):
                # a refused challenger or detected drift is a verdict: retrying gives the same answer
                verdict = task["task_key"] in ("validate", "monitor")
                assert task["max_retries"] == (0 if verdict else 2) and task["timeout_seconds"] > 0
                assert task["retry_on_timeout"] is False
    assert CdktfTesting.to_have_resource_with_properties(
        synthesized.text(DEV),
        Job.TF_RESOURCE_TYPE,
        {"name": "dbp-churn-dev-training", "email_notifications": {"on_failure": ["churn-team@example.com"]}},
    )


def test_job_clusters_are_governed_by_the_policy_and_dedicated_to_the_job_principal(
    synthesized, workspace_stacks
):
    for stack in workspace_stacks:
        policy = next(iter(synthesized.resources(stack, "databricks_cluster_policy")))
        for job in synthesized.resources(stack, "databricks_job").values():
            (cluster,) = job["job_cluster"]
            spec = cluster["new_cluster"]
            assert spec["policy_id"] == f"${{databricks_cluster_policy.{policy}.id}}"
            assert spec["apply_policy_default_values"] is True
            assert spec["data_security_mode"] == "SINGLE_USER" and spec["single_user_name"] == JOB_SP
            assert all(task["job_cluster_key"] == cluster["job_cluster_key"] for task in wheel_tasks(job))


# --- compute policy, pool, interactive cluster ------------------------------------------------------------------


def test_policy_pins_runtime_sizes_access_mode_spot_and_tags_without_a_pool(synthesized, platform_config):
    team_env = team_env_of(platform_config, DEV)
    policy = policy_of(synthesized, DEV)
    assert policy["spark_version"] == {"type": "fixed", "value": "18.x-cpu-ml-scala2.13"}
    assert policy["node_type_id"]["values"] == ["Standard_D4ds_v5"]
    assert policy["autoscale.max_workers"]["maxValue"] == policy["num_workers"]["maxValue"] == 2
    assert policy["autotermination_minutes"]["maxValue"] == 30
    # job clusters do not support autotermination: no default may be pushed into their specs
    assert policy["autotermination_minutes"]["isOptional"] is True
    assert "defaultValue" not in policy["autotermination_minutes"]
    for job in jobs_by_name(synthesized, DEV).values():
        assert "autotermination_minutes" not in job["job_cluster"][0]["new_cluster"]
    assert policy["azure_attributes.availability"]["value"] == "SPOT_WITH_FALLBACK_AZURE"
    assert policy["azure_attributes.first_on_demand"]["value"] == 1
    assert set(policy["data_security_mode"]["values"]) == {"SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED"}
    assert {k: v["value"] for k, v in policy.items() if k.startswith("custom_tags.")} == {
        f"custom_tags.{k}": v for k, v in team_env.tags.items()
    }
    assert {"team", "env", "cost-center"} <= {k.removeprefix("custom_tags.") for k in policy}
    assert policy["instance_pool_id"]["type"] == "forbidden"


def test_policy_pins_the_pool_where_the_env_has_one(synthesized):
    policy = policy_of(synthesized, PROD)
    pool_name = next(iter(synthesized.resources(PROD, "databricks_instance_pool")))
    pinned = {"type": "fixed", "value": f"${{databricks_instance_pool.{pool_name}.id}}", "hidden": True}
    assert policy["instance_pool_id"] == policy["driver_instance_pool_id"] == pinned
    assert policy["autoscale.max_workers"]["maxValue"] == 8
    pool = synthesized.only(PROD, "databricks_instance_pool")
    assert pool["node_type_id"] == "Standard_D8ds_v5"
    assert pool["azure_attributes"] == {"availability": "ON_DEMAND_AZURE"}
    assert pool["preloaded_spark_versions"] == ["18.x-cpu-ml-scala2.13"]
    assert (
        synthesized.only(STAGING, "databricks_instance_pool")["azure_attributes"]["availability"]
        == "SPOT_AZURE"
    )
    assert not synthesized.resources(DEV, "databricks_instance_pool")


def _flatten(spec: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in spec.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def policy_violations(policy: dict, cluster: dict) -> list[str]:
    """What a cluster spec breaks of a policy (fixed, allowlist, range, forbidden rules)."""
    attributes = _flatten(cluster)
    problems = []
    for path, rule in policy.items():
        value = attributes.get(path)
        kind = rule["type"]
        if value is None:
            if (
                kind not in ("forbidden", "fixed")
                and not rule.get("isOptional")
                and "defaultValue" not in rule
            ):
                problems.append(f"{path} missing")
        elif kind == "forbidden":
            problems.append(f"{path} is forbidden")
        elif kind == "fixed" and value != rule["value"]:
            problems.append(f"{path}={value!r}, fixed {rule['value']!r}")
        elif kind == "allowlist" and value not in rule["values"]:
            problems.append(f"{path}={value!r} not in {rule['values']}")
        elif kind == "range" and not rule.get("minValue", value) <= value <= rule.get("maxValue", value):
            problems.append(f"{path}={value!r} outside {rule.get('minValue')}..{rule.get('maxValue')}")
    return problems


def test_every_cluster_of_the_stack_satisfies_its_policy(synthesized, workspace_stacks):
    for stack in workspace_stacks:
        policy = policy_of(synthesized, stack)
        clusters = [
            c["new_cluster"]
            for job in synthesized.resources(stack, "databricks_job").values()
            for c in job["job_cluster"]
        ] + list(synthesized.resources(stack, "databricks_cluster").values())
        for cluster in clusters:
            assert policy_violations(policy, cluster) == [], stack


def test_policy_checker_rejects_a_cluster_outside_the_policy(synthesized):
    policy = policy_of(synthesized, DEV)
    too_big = {"spark_version": "15.4.x-scala2.12", "autoscale": {"min_workers": 1, "max_workers": 20}}
    assert len(policy_violations(policy, too_big)) == 2


def test_pool_backed_clusters_do_not_repeat_the_pools_tags(synthesized):
    for stack in (STAGING, PROD):
        pool_tags = set(synthesized.only(stack, "databricks_instance_pool")["custom_tags"])
        assert {"team", "env", "cost-center"} <= pool_tags
        for job in synthesized.resources(stack, "databricks_job").values():
            for cluster in job["job_cluster"]:
                assert not pool_tags & set(cluster["new_cluster"].get("custom_tags", {})), stack


def test_interactive_cluster_only_where_configured_dedicated_to_the_team_with_ml_runtime(synthesized):
    cluster = synthesized.only(DEV, "databricks_cluster")
    assert cluster["data_security_mode"] == "DATA_SECURITY_MODE_DEDICATED"
    assert cluster["kind"] == "CLASSIC_PREVIEW" and cluster["use_ml_runtime"] is True
    assert cluster["single_user_name"] == "churn-owners"
    assert cluster["autotermination_minutes"] == 30
    assert cluster["policy_id"].startswith("${databricks_cluster_policy.")
    assert not synthesized.resources(PROD, "databricks_cluster")
    assert not synthesized.resources(STAGING, "databricks_cluster")


# --- permissions and grants ---------------------------------------------------------------------------------


def test_every_permissions_resource_keeps_the_deployer(synthesized, platform_config, workspace_stacks):
    deployer = platform_config.platform.deployer_principal
    for stack in workspace_stacks:
        for name, permissions in synthesized.resources(stack, "databricks_permissions").items():
            levels = {
                a.get("service_principal_name"): a["permission_level"] for a in permissions["access_control"]
            }
            # CAN_USE is the only level a cluster policy has; the deployer owns the jobs.
            wanted = {"cluster_policy_id": "CAN_USE", "job_id": "IS_OWNER"}
            wanted = next((lv for key, lv in wanted.items() if key in permissions), "CAN_MANAGE")
            assert levels.get(deployer) == wanted, f"{stack} {name}"


def test_job_permissions_let_owners_run_and_readers_view(synthesized):
    for job_permissions in (
        p for p in synthesized.resources(DEV, "databricks_permissions").values() if "job_id" in p
    ):
        by_group = {a.get("group_name"): a["permission_level"] for a in job_permissions["access_control"]}
        assert by_group["churn-owners"] == "CAN_MANAGE_RUN"
        assert by_group["churn-analysts"] == "CAN_VIEW"


def test_every_job_has_exactly_one_owner_and_each_principal_once(
    synthesized, platform_config, workspace_stacks
):
    """databricks 1.99 permissions/permission_definitions.go (addOwnerPermissionIfNeeded): a job ACL without an
    IS_OWNER entry gets the caller appended as IS_OWNER; the backend keeps one level per principal, so listing
    the deployer at CAN_MANAGE as well clashes with it. The deployer is the one owner: IS_OWNER is a management
    level for jobs there, so the deployer is never locked out of its own jobs."""
    deployer = platform_config.platform.deployer_principal
    for stack in workspace_stacks:
        for name, permissions in synthesized.resources(stack, "databricks_permissions").items():
            principals = [
                a.get("service_principal_name") or a.get("user_name") or a.get("group_name")
                for a in permissions["access_control"]
            ]
            assert len(principals) == len(set(principals)), f"{stack} {name}"
            if "job_id" in permissions:
                owners = [
                    p
                    for p, a in zip(principals, permissions["access_control"], strict=True)
                    if a["permission_level"] == "IS_OWNER"
                ]
                assert owners == [deployer], f"{stack} {name}"


def test_grants_are_least_privilege(synthesized):
    catalog = grants_on(synthesized, DEV, "catalog", "databricks_catalog.")
    assert catalog == {
        "churn-owners": ["USE_CATALOG"],
        "churn-analysts": ["USE_CATALOG"],
        JOB_SP: ["USE_CATALOG"],
    }
    schema = grants_on(synthesized, DEV, "schema", "databricks_schema.")
    assert set(schema[JOB_SP]) == {"USE_SCHEMA", "SELECT", "MODIFY", "CREATE_TABLE"}
    assert set(schema["churn-analysts"]) == {"USE_SCHEMA", "SELECT"}
    assert "MODIFY" in schema["churn-owners"] and "ALL_PRIVILEGES" not in schema["churn-owners"]
    # Nobody but the owning deployer may replace the wheels the jobs run.
    volume = grants_on(synthesized, DEV, "volume", "databricks_volume.")
    assert volume == {"churn-owners": ["READ_VOLUME"], JOB_SP: ["READ_VOLUME"]}
    model = grants_on(synthesized, DEV, "model", "databricks_registered_model.")
    assert model == {"churn-owners": ["EXECUTE", "APPLY_TAG"], "churn-analysts": ["EXECUTE"]}
    landing = grants_on(synthesized, DEV, "external_location", "location-landing")
    assert landing[JOB_SP] == ["READ_FILES"] and "churn-analysts" not in landing
    for stack_grants in synthesized.resources(DEV, "databricks_grants").values():
        assert "location-catalog" not in str(stack_grants.get("external_location")), (
            "managed storage: no file grants"
        )


def test_storage_credential_and_one_isolated_external_location_per_lake_container(synthesized):
    credential = synthesized.only(DEV, "databricks_storage_credential")
    assert "cross-stack-output" in credential["azure_managed_identity"]["access_connector_id"]
    assert credential["isolation_mode"] == "ISOLATION_MODE_ISOLATED"
    locations = synthesized.resources(DEV, "databricks_external_location")
    assert sorted(loc["name"] for loc in locations.values()) == sorted(
        f"dbp_churn_dev_{c}" for c in LAKE_CONTAINERS
    )
    assert all(loc["isolation_mode"] == "ISOLATION_MODE_ISOLATED" for loc in locations.values())


def test_catalog_is_isolated_bound_rooted_in_the_lake_and_protected_in_prod(synthesized):
    for stack, protected in ((DEV, False), (STAGING, False), (PROD, True)):
        catalog = synthesized.only(stack, "databricks_catalog")
        assert catalog["isolation_mode"] == "ISOLATED" and catalog["force_destroy"] is False
        assert catalog.get("lifecycle", {}).get("prevent_destroy", False) is protected
        assert "cross-stack-output" in catalog["storage_root"]
        assert any("location-catalog" in dep for dep in catalog["depends_on"])
        binding = synthesized.only(stack, "databricks_workspace_binding")
        assert binding["securable_type"] == "catalog" and binding["binding_type"] == "BINDING_TYPE_READ_WRITE"
        assert "cross-stack-output" in str(binding["workspace_id"])
    assert CdktfTesting.to_have_resource_with_properties(
        synthesized.text(PROD),
        Catalog.TF_RESOURCE_TYPE,
        {"name": "dbp_churn_prod", "lifecycle": {"prevent_destroy": True}},
    )


# --- MLflow, secrets, identity ------------------------------------------------------------------------------


def test_registered_model_is_owned_by_the_job_principal_which_sets_its_aliases(synthesized):
    model = synthesized.only(PROD, "databricks_registered_model")
    assert model["name"] == "churn" and model["owner"] == JOB_SP
    assert model["lifecycle"] == {"ignore_changes": ["aliases"], "prevent_destroy": True}


def test_experiment_lives_in_the_team_folder_and_the_job_principal_can_log_to_it(synthesized):
    experiment = synthesized.only(DEV, "databricks_mlflow_experiment")
    assert experiment["name"] == "/Teams/churn/dev/churn"
    assert synthesized.only(DEV, "databricks_directory")["path"] == "/Teams/churn/dev"
    permissions = next(
        p for p in synthesized.resources(DEV, "databricks_permissions").values() if "experiment_id" in p
    )
    levels = {
        a.get("service_principal_name") or a.get("group_name"): a["permission_level"]
        for a in permissions["access_control"]
    }
    assert levels[JOB_SP] == "CAN_EDIT" and levels["churn-analysts"] == "CAN_READ"


def test_no_secret_scope_without_the_azuredatabricks_object_id(platform_config, fake_wheel):
    """The vault authorizes with Azure RBAC, so a Key Vault-backed scope reads nothing until the AzureDatabricks
    application holds Key Vault Secrets User on it; the platform stack grants that only to a configured object id.
    Without one: no scope at all rather than one that fails every read."""
    base = team_env_of(platform_config, DEV)
    team_env = base.model_copy(
        update={"platform": base.platform.model_copy(update={"azure_databricks_sp_object_id": None})}
    )
    resources = json.loads(CdktfTesting.synth(build_workspace(team_env, fake_wheel))).get("resource", {})
    assert "databricks_secret_scope" not in resources
    assert "databricks_secret_acl" not in resources


def test_secret_scope_is_backed_by_the_env_key_vault_with_acls(platform_config, fake_wheel):
    base = team_env_of(platform_config, DEV)
    object_id = "0f0e0d0c-0b0a-4998-8776-655443322110"
    team_env = base.model_copy(
        update={"platform": base.platform.model_copy(update={"azure_databricks_sp_object_id": object_id})}
    )
    stack = build_workspace(team_env, fake_wheel)
    text = CdktfTesting.synth(stack)
    assert CdktfTesting.to_have_resource_with_properties(
        text, SecretScope.TF_RESOURCE_TYPE, {"name": "dbp-churn-dev", "backend_type": "AZURE_KEYVAULT"}
    )
    resources = json.loads(text)["resource"]
    (scope,) = resources["databricks_secret_scope"].values()
    assert scope["keyvault_metadata"] == {
        "resource_id": FAKE_PLATFORM.key_vault_id,
        "dns_name": FAKE_PLATFORM.key_vault_uri,
    }
    # Secret ACLs name workspace principals: the team's groups must be assigned to the workspace first.
    assert all(
        any(d.startswith("databricks_permission_assignment.") for d in a["depends_on"])
        for a in resources["databricks_secret_acl"].values()
    )
    acls = {a["principal"]: a["permission"] for a in resources["databricks_secret_acl"].values()}
    job_sp = next(a for a in acls if a.startswith("${databricks_service_principal."))
    assert acls == {"churn-owners": "READ", job_sp: "READ", "3f2b6c1e-8d4a-4b7e-9c0d-2a1b3c4d5e6f": "MANAGE"}


def test_job_principal_is_databricks_managed_and_cannot_create_compute(synthesized):
    principal = synthesized.only(DEV, "databricks_service_principal")
    assert principal["display_name"] == "dbp-churn-dev-jobs"
    assert "application_id" not in principal
    assert principal["allow_cluster_create"] is False and principal["allow_instance_pool_create"] is False


# --- stacks built on their own: ephemeral envs, account ID, notebook -------------------------------------------

FAKE_PLATFORM = PlatformOutputs(
    workspace_url="https://adb-1.1.azuredatabricks.net",
    workspace_resource_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w",
    workspace_id="1234567890123456",
    access_connector_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/accessConnectors/a",
    lake_urls={c: f"abfss://{c}@stfake.dfs.core.windows.net/" for c in LAKE_CONTAINERS},
    key_vault_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
    key_vault_uri="https://kv.vault.azure.net/",
)


def build_workspace(team_env: TeamEnv, wheel: Path, **kwargs) -> WorkspaceStack:
    """Just the workspace stack, on literal platform outputs (no cross-stack references)."""
    return WorkspaceStack(
        AspectApp(outdir=tempfile.mkdtemp(prefix="workspace-stack-")),
        team_env.names.workspace_stack,
        team_env=team_env,
        access=azure_workspace_access(team_env, FAKE_PLATFORM),
        wheel=WheelArtifact(wheel),
        **kwargs,
    )


def synth_workspace(team_env: TeamEnv, wheel: Path, **kwargs) -> dict:
    return json.loads(CdktfTesting.synth(build_workspace(team_env, wheel, **kwargs)))


@pytest.fixture(scope="module")
def ephemeral_env(platform_config) -> TeamEnv:
    team = platform_config.team("churn")
    return TeamEnv(
        platform=platform_config.platform,
        team=team,
        env="pr42",
        kind="ephemeral",
        settings=EnvironmentConfig(
            network="10.10.64.0/24", budget=team.ephemeral.budget, compute=team.ephemeral.compute
        ),
        owner="dev@example.com",
        expires_at="2026-12-01T08:00:00Z",
        base_env="dev",
    )


def test_ephemeral_env_can_be_torn_down_without_manual_steps(ephemeral_env, fake_wheel):
    resources = synth_workspace(ephemeral_env, fake_wheel)["resource"]
    for kind in (
        "databricks_catalog",
        "databricks_schema",
        "databricks_storage_credential",
        "databricks_external_location",
    ):
        for resource in resources[kind].values():
            assert resource["force_destroy"] is True, kind
            assert not resource.get("lifecycle", {}).get("prevent_destroy")
    assert next(iter(resources["databricks_directory"].values()))["delete_recursive"] is True
    # min_workers 0 cannot autoscale: the smallest env runs one fixed worker.
    job = next(iter(resources["databricks_job"].values()))
    assert job["job_cluster"][0]["new_cluster"]["num_workers"] == 1
    assert "autoscale" not in job["job_cluster"][0]["new_cluster"]
    assert job["job_cluster"][0]["new_cluster"]["custom_tags"]["ephemeral"] == "true"


def test_deployer_gets_the_service_principal_user_role_when_the_account_is_known(platform_config, fake_wheel):
    team_env = team_env_of(platform_config, DEV)
    without_account = team_env.model_copy(
        update={"platform": team_env.platform.model_copy(update={"account_id": None})}
    )
    assert (
        "databricks_access_control_rule_set" not in synth_workspace(without_account, fake_wheel)["resource"]
    )
    account = "7d4f8d2a-0c5b-4b51-9a53-3d1f0e8f2b11"
    with_account = team_env.model_copy(
        update={"platform": team_env.platform.model_copy(update={"account_id": account})}
    )
    resources = synth_workspace(with_account, fake_wheel)["resource"]
    (rule_set,) = resources["databricks_access_control_rule_set"].values()
    assert rule_set["name"] == f"accounts/{account}/servicePrincipals/{JOB_SP}/ruleSets/default"
    deployer = f"servicePrincipals/{team_env.platform.deployer_principal}"
    assert {r["role"]: r["principals"] for r in rule_set["grant_rules"]} == {
        "roles/servicePrincipal.manager": [deployer],
        "roles/servicePrincipal.user": [deployer],
    }
    dependents = [*resources["databricks_job"].values(), *resources["databricks_registered_model"].values()]
    assert all(
        any(d.startswith("databricks_access_control_rule_set.") for d in r["depends_on"]) for r in dependents
    )


def test_metastore_is_assigned_only_when_configured(platform_config, fake_wheel):
    team_env = team_env_of(platform_config, DEV)
    metastore = "0b6e7c3a-1f2d-4e5f-8a9b-0c1d2e3f4a5b"
    assigned = team_env.model_copy(
        update={"platform": team_env.platform.model_copy(update={"metastore_id": metastore})}
    )
    resources = synth_workspace(assigned, fake_wheel)["resource"]
    (assignment,) = resources["databricks_metastore_assignment"].values()
    assert assignment["metastore_id"] == metastore
    assert str(assignment["workspace_id"]) == FAKE_PLATFORM.workspace_id
    catalog = next(iter(resources["databricks_catalog"].values()))
    assert any(d.startswith("databricks_metastore_assignment.") for d in catalog["depends_on"])


def test_notebook_is_deployed_into_the_team_folder_when_the_file_exists(
    platform_config, fake_wheel, tmp_path
):
    team_env = team_env_of(platform_config, DEV)
    notebook = tmp_path / "churn_explore.py"
    notebook.write_text("# Databricks notebook source\nprint('churn')\n")
    (deployed,) = synth_workspace(team_env, fake_wheel, notebook_source=notebook)["resource"][
        "databricks_notebook"
    ].values()
    assert deployed["path"] == "/Teams/churn/dev/churn_explore"
    assert deployed["language"] == "PYTHON"
    assert re.fullmatch(r"assets/.+/churn_explore\.py", deployed["source"])


def test_missing_notebook_is_skipped_with_a_synth_warning(platform_config, fake_wheel, tmp_path):
    team_env = team_env_of(platform_config, DEV)
    stack = build_workspace(team_env, fake_wheel, notebook_source=tmp_path / "absent.py")
    assert "databricks_notebook" not in json.loads(CdktfTesting.synth(stack))["resource"]
    warnings = [m.data for n in stack.node.find_all() for m in n.node.metadata if m.type == "@cdktf/warn"]
    assert any("absent.py" in w and "not deployed" in w for w in warnings)


# --- the job contract with the churn wheel ------------------------------------------------------------------


def _parse_with_churn_cli(parameters: list[str]) -> None:
    """Parse (not run) a task's command line with the wheel's own CLI; raises UsageError on a mismatch."""
    import typer
    from churn.cli import app

    group = typer.main.get_command(app)
    context = group.make_context("churn", parameters[:1])
    name, command, _ = group.resolve_command(context, parameters[:1])
    command.make_context(name, parameters[1:], parent=context)


@pytest.mark.parametrize(
    "subcommand",
    [
        pytest.param("train"),
        pytest.param("ingest"),
        pytest.param("score"),
        pytest.param("validate"),
        pytest.param("monitor"),
    ],
)
@pytest.mark.parametrize("stack", [DEV, PROD])
def test_the_churn_cli_accepts_what_each_task_passes(synthesized, subcommand, stack):
    pytest.importorskip("churn.cli")
    for job in jobs_by_name(synthesized, stack):
        if any(t["task_key"] == subcommand for t in jobs_by_name(synthesized, stack)[job]["task"]):
            _parse_with_churn_cli(
                _task(synthesized, stack, subcommand, job)["python_wheel_task"]["parameters"]
            )


def test_the_cli_parse_check_catches_an_option_the_cli_does_not_know():
    pytest.importorskip("churn.cli")
    with pytest.raises(UsageError):
        _parse_with_churn_cli(["monitor", "--no-such-option", "1"])


def test_team_groups_are_assigned_to_the_workspace_as_users(synthesized, platform_config, workspace_stacks):
    """databricks 1.99 access/resource_permission_assignment.go: the workspace-level assignment takes the account
    group by `group_name` (the account-level mws variant needs the account provider and a numeric principal id).
    Azure teams: an AWS team's account stack assigns them (test_aws_workspace_stack.py)."""
    for stack in workspace_stacks:
        team = team_env_of(platform_config, stack).team
        if team.cloud == "aws":
            continue
        assignments = synthesized.resources(stack, "databricks_permission_assignment").values()
        assert sorted((a["group_name"], tuple(a["permissions"])) for a in assignments) == sorted(
            (g, ("USER",)) for g in (*team.owner_groups, *team.reader_groups)
        ), stack


def test_the_scope_and_the_vault_grant_it_reads_through_come_together(platform_config, fake_wheel, tmp_path):
    """No half-feature: with the AzureDatabricks object id the platform stack grants Key Vault Secrets User on
    the vault and the workspace stack creates the scope on that same vault; without it neither exists."""
    from infra.app import build_app

    base = team_env_of(platform_config, DEV)
    object_id = "0f0e0d0c-0b0a-4998-8776-655443322110"
    team_env = base.model_copy(
        update={"platform": base.platform.model_copy(update={"azure_databricks_sp_object_id": object_id})}
    )
    build_app(platform_config, outdir=tmp_path, wheel=fake_wheel, team_envs=[team_env]).synth()
    stacks = {
        name: json.loads((tmp_path / "stacks" / name / "cdk.tf.json").read_text())
        for name in (team_env.names.platform_stack, team_env.names.workspace_stack)
    }
    platform, workspace = stacks[team_env.names.platform_stack], stacks[team_env.names.workspace_stack]
    (grant,) = [
        a
        for a in platform["resource"]["azurerm_role_assignment"].values()
        if a["role_definition_name"] == "Key Vault Secrets User"
    ]
    assert grant["principal_id"] == object_id and grant["scope"].startswith("${azurerm_key_vault.")
    (scope,) = workspace["resource"]["databricks_secret_scope"].values()
    output = scope["keyvault_metadata"]["resource_id"].split(".outputs.")[1].rstrip("}")
    assert platform["output"][output]["value"] == grant["scope"]
