"""`<team>-<env>-workspace` of an AWS team: the shared Databricks constructs with the AWS parts (storage credential
with the Unity Catalog role, s3:// external locations, aws_attributes, AWS node types), configured from the account
stack's workspace and the platform stack's role, both through cross-stack references."""

import copy
import json
from uuid import UUID

import pytest

DEV, PROD = "risk-dev-workspace", "risk-prod-workspace"
REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-"


def team_env(config, key):
    return next(te for te in config.team_envs if te.key == key)


def cross_stack_value(synthesized, reference: str) -> str:
    """The value behind `${data.terraform_remote_state.<input>.outputs.<name>}`: the producing stack's output."""
    stack = reference.removeprefix(REMOTE).split(".", 1)[0]
    output = reference.rsplit(".outputs.", 1)[1].rstrip("}")
    return synthesized.json(stack)["output"][output]["value"]


def test_aws_team_env_deploys_platform_then_account_then_workspace(synthesized, platform_config):
    stacks = team_env(platform_config, "risk/dev").stacks
    assert list(stacks.items()) == [
        ("platform", "risk-dev-platform"),
        ("account", "risk-dev-account"),
        ("workspace", DEV),
    ]
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    assert sorted(manifest["stacks"][DEV]["dependencies"]) == ["risk-dev-account", "risk-dev-platform"]


def test_provider_points_at_the_workspace_the_account_stack_created(synthesized):
    provider = synthesized.json(DEV)["provider"]["databricks"]
    # only the host: auth from the environment (OAuth service principal or OIDC), no Azure resource ID
    assert list(provider[0]) == ["host"]
    assert provider[0]["host"].startswith(REMOTE + "risk-dev-account.")
    assert cross_stack_value(synthesized, provider[0]["host"]).startswith("${databricks_mws_workspaces.")
    binding = synthesized.only(DEV, "databricks_workspace_binding")
    assert cross_stack_value(synthesized, binding["workspace_id"]).endswith(".workspace_id}")


def _catalog_role(synthesized, stack):
    ((name, role),) = synthesized.resources(stack, "aws_iam_role").items()
    return f"aws_iam_role.{name}", role


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_storage_credential_names_the_role_arn_before_the_role_exists(synthesized, platform_config, stack):
    # The credential comes first, with the ARN its role will have (SRA aws/tf/modules/databricks_workspace/
    # unity_catalog_catalog_creation/main.tf: "Storage Credential (created before role)"): the role name is fixed.
    account = team_env(platform_config, "risk/dev").team.aws.account_id
    credential = synthesized.only(stack, "databricks_storage_credential")
    assert "lifecycle" not in credential  # no postcondition pinning the external ID to the account ID
    _, role = _catalog_role(synthesized, stack)
    assert credential["aws_iam_role"]["role_arn"] == f"arn:aws:iam::{account}:role/{role['name']}"
    # the role is in the workspace stack, beside the credential it trusts, and no longer in the platform stack
    platform = stack.replace("-workspace", "-platform")
    assert not [
        r for r in synthesized.resources(platform, "aws_iam_role").values() if "unity-catalog" in r["name"]
    ]
    assert list(synthesized.json(stack)["provider"]) == ["aws", "databricks"]
    (aws,) = synthesized.json(stack)["provider"]["aws"]
    assert aws["allowed_account_ids"] == [account]


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_role_trusts_only_the_external_id_databricks_issued_to_the_credential(
    synthesized, platform_config, stack
):
    # Databricks issues each storage credential its own external ID (computed aws_iam_role[0].external_id,
    # catalog/resource_storage_credential.go, databricks provider v1.99.0; provider issue 2986). The trust is the
    # one the provider's databricks_aws_unity_catalog_assume_role_policy builds (aws/
    # data_aws_unity_catalog_assume_role_policy.go, v1.99.0): the UC master role and the role itself, both with
    # that external ID; SRA feeds it the credential's external_id, as here.
    from infra.config.aws import UNITY_CATALOG_MASTER_ROLE

    account = team_env(platform_config, "risk/dev").team.aws.account_id
    (credential_name,) = synthesized.resources(stack, "databricks_storage_credential")
    issued = f"${{databricks_storage_credential.{credential_name}.aws_iam_role[0].external_id}}"
    _, role = _catalog_role(synthesized, stack)
    statements = {s["Sid"]: s for s in json.loads(role["assume_role_policy"])["Statement"]}
    assert set(statements) == {"UnityCatalogAssumeRole", "ExplicitSelfRoleAssumption"}
    for statement in statements.values():
        assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": issued}
    assert statements["UnityCatalogAssumeRole"]["Principal"] == {"AWS": UNITY_CATALOG_MASTER_ROLE}
    assert statements["ExplicitSelfRoleAssumption"]["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert statements["ExplicitSelfRoleAssumption"]["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": f"arn:aws:iam::{account}:role/{role['name']}"
    }
    assert str(platform_config.platform.account_id) not in role["assume_role_policy"]


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_locations_wait_for_the_trust_and_iam_propagation_and_go_first_on_destroy(synthesized, stack):
    # SRA (same file) creates credential -> role from its external_id -> time_sleep 60s -> external location; we
    # have no hashicorp/time binding, so the wait is a terraform_data with a local-exec sleep.
    from tests.terraform_graph import StackGraph

    graph = StackGraph(synthesized.json(stack))
    (credential,) = (n.address for n in graph.of_type("databricks_storage_credential"))
    role, _ = _catalog_role(synthesized, stack)
    (policy,) = (n.address for n in graph.of_type("aws_iam_role_policy"))
    (wait,) = graph.of_type("terraform_data")
    assert wait.config["provisioner"] == [{"local-exec": {"command": "sleep 60"}}]
    assert graph.depends(role, credential)
    assert graph.depends(wait.address, role) and graph.depends(wait.address, policy)
    locations = [n.address for n in graph.of_type("databricks_external_location")]
    assert len(locations) == 5
    for location in locations:
        assert graph.depends(location, wait.address)  # created after, destroyed before the role and its trust
    (catalog,) = (n.address for n in graph.of_type("databricks_catalog"))
    assert graph.depends(catalog, wait.address)
    order = graph.destroy_order()
    assert max(order.index(loc) for loc in locations) < order.index(role) < order.index(credential)


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_external_locations_are_s3_prefixes_of_the_env_lake_bucket(synthesized, stack):
    platform = stack.replace("-workspace", "-platform")
    lake = synthesized.json(platform)["output"]["lake_bucket"]["value"]
    assert lake in {b["bucket"] for b in synthesized.resources(platform, "aws_s3_bucket").values()}
    urls = {loc["url"] for loc in synthesized.resources(stack, "databricks_external_location").values()}
    assert urls == {f"s3://{lake}/{layer}/" for layer in ("landing", "bronze", "silver", "gold", "catalog")}
    catalog = synthesized.only(stack, "databricks_catalog")
    assert catalog["storage_root"] == f"s3://{lake}/catalog/"
    ingest = [
        t
        for job in synthesized.resources(stack, "databricks_job").values()
        for t in job["task"]
        if t["task_key"] == "ingest"
    ]
    params = ingest[0]["python_wheel_task"]["parameters"]
    assert params[params.index("--input") + 1] == f"s3://{lake}/landing/telco/"


@pytest.mark.parametrize("stack", [DEV, PROD])
def test_the_catalog_role_may_do_on_the_lake_what_unity_catalog_does(synthesized, stack):
    # The bucket statement of the provider's databricks_aws_unity_catalog_policy (aws/
    # data_aws_unity_catalog_policy.go, databricks provider v1.99.0), multipart uploads included: without
    # s3:AbortMultipartUpload and the two list actions, Unity Catalog cannot clean up a large write that failed, and
    # its parts stay in the bucket, billed. (The provider's optional managed file events statement is left out: the
    # locations do not enable file events.)
    policy = json.loads(next(iter(synthesized.resources(stack, "aws_iam_role_policy").values()))["policy"])
    (lake,) = [s for s in policy["Statement"] if s.get("Sid") == "Lake"]
    assert set(lake["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    }
    assert all(resource.startswith("arn:aws:s3:::") for resource in lake["Resource"])


def job_capacity(synthesized, stack: str) -> list[tuple[str, dict]]:
    """(node type, aws_attributes) each job's cluster runs on: its own settings, or those of the pool it draws from."""
    pools = synthesized.resources(stack, "databricks_instance_pool")
    found = []
    for job in synthesized.resources(stack, "databricks_job").values():
        cluster = job["job_cluster"][0]["new_cluster"]
        if "instance_pool_id" in cluster:
            pool = pools[cluster["instance_pool_id"].split(".")[1]]
            found.append((pool["node_type_id"], pool["aws_attributes"]))
        else:
            found.append((cluster["node_type_id"], cluster["aws_attributes"]))
    return found


def test_dev_jobs_run_on_spot_workers_with_an_on_demand_driver(synthesized):
    capacity = job_capacity(synthesized, DEV)
    assert len(capacity) == 3
    expected = {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1, "zone_id": "auto"}
    assert capacity == [("m6id.xlarge", expected)] * 3
    policy = json.loads(synthesized.only(DEV, "databricks_cluster_policy")["definition"])
    assert {k: v["value"] for k, v in policy.items() if k.startswith("aws_attributes.")} == {
        f"aws_attributes.{k}": v for k, v in expected.items()
    }
    assert '"azure_attributes' not in synthesized.text(DEV)


def test_prod_jobs_run_on_demand_on_the_configured_node_type(synthesized):
    capacity = job_capacity(synthesized, PROD)
    assert capacity == [("r6id.2xlarge", {"availability": "ON_DEMAND", "zone_id": "auto"})] * 3
    assert '"azure_attributes' not in synthesized.text(PROD)
    assert "SPOT" not in synthesized.text(PROD)


def test_no_secret_scope_without_a_key_vault(synthesized):
    for stack in (DEV, PROD):
        assert "databricks_secret_scope" not in synthesized.json(stack)["resource"]


def test_the_account_stack_assigns_metastore_and_groups_not_the_workspace_stack(
    platform_config, fake_wheel, tmp_path
):
    from infra.app import build_app

    base = team_env(platform_config, "risk/dev")
    platform = base.platform.model_copy(update={"metastore_id": UUID("11111111-2222-4333-8444-555555555555")})
    app = build_app(
        platform_config,
        outdir=tmp_path,
        wheel=fake_wheel,
        team_envs=[base.model_copy(update={"platform": platform})],
    )
    app.synth()

    def resources(stack):
        return json.loads((tmp_path / "stacks" / stack / "cdk.tf.json").read_text())["resource"]

    workspace = resources(DEV)
    assert "databricks_metastore_assignment" not in workspace
    # the account stack assigns the groups too (owners ADMIN, readers USER): a second, workspace-level assignment
    # of the same group would overwrite the role and delete the assignment on destroy
    assert "databricks_permission_assignment" not in workspace
    assert len(resources("risk-dev-account")["databricks_mws_permission_assignment"]) == 2
    account = resources("risk-dev-account")
    ((name, assignment),) = account["databricks_metastore_assignment"].items()
    assert assignment["metastore_id"] == "11111111-2222-4333-8444-555555555555"
    # account groups reach a workspace only through identity federation, which the metastore assignment enables:
    # every group assignment waits for it (and goes before it on destroy)
    for group in account["databricks_mws_permission_assignment"].values():
        assert group["depends_on"] == [f"databricks_metastore_assignment.{name}"]


def _unpoliced_job(document):
    job = next(iter(document["resource"]["databricks_job"].values()))
    del job["job_cluster"][0]["new_cluster"]["policy_id"]


def _unprotected_catalog(document):
    next(iter(document["resource"]["databricks_catalog"].values())).pop("lifecycle")


@pytest.mark.parametrize(
    ("stack", "break_it", "rule"),
    [(DEV, _unpoliced_job, "PLAT-DBX-3"), (PROD, _unprotected_catalog, "PLAT-DATA-1")],
)
def test_policy_aspect_guards_the_aws_workspace_stacks(synthesized, stack, break_it, rule):
    (aspect_stack,) = [s for s in synthesized.app._aspect_stacks if s.stack_name == stack]
    document = synthesized.json(stack)
    assert aspect_stack.apply_aspects(copy.deepcopy(document)) is not None  # compliant as synthesized
    break_it(document)
    with pytest.raises(RuntimeError, match=rule):
        aspect_stack.apply_aspects(document)
