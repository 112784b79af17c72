"""`<team>-<env>-account` of an AWS team: the databricks_mws_* resources, built from the platform stack's outputs
through cross-stack references, and deployable only after it."""

import json
import re

import pytest

ACCOUNT, PLATFORM = "risk-dev-account", "risk-dev-platform"


def remote_outputs(stack: dict) -> set[str]:
    return set(re.findall(r"outputs\.(cross-stack-output-[\w.-]+?)[}\s\]]", json.dumps(stack)))


def test_account_stack_comes_after_its_platform_stack(synthesized):
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    assert manifest["stacks"][ACCOUNT]["dependencies"] == [PLATFORM]


def test_account_resources_read_the_platform_stack_outputs(synthesized):
    account = synthesized.json(ACCOUNT)
    # every cross-stack value the account stack reads is an output of its own platform stack
    referenced = remote_outputs(account)
    assert referenced and referenced <= set(synthesized.json(PLATFORM)["output"])
    remote = next(iter(account["data"]["terraform_remote_state"].values()))
    assert remote["config"]["path"] == "../../../terraform.dbp-risk-dev-platform.tfstate"
    credentials = synthesized.resources(ACCOUNT, "databricks_mws_credentials")["credentials"]
    network = synthesized.only(ACCOUNT, "databricks_mws_networks")
    for value in (credentials["role_arn"], network["vpc_id"], network["security_group_ids"][0]):
        assert "terraform_remote_state" in value
    storage = synthesized.resources(ACCOUNT, "databricks_mws_storage_configurations")["storage"]
    assert storage["bucket_name"].startswith("dbp-risk-dev-root-")


def test_workspace_is_premium_in_the_team_region_on_the_customer_managed_vpc(synthesized):
    workspace = synthesized.only(ACCOUNT, "databricks_mws_workspaces")
    assert workspace["aws_region"] == "eu-west-1" and workspace["pricing_tier"] == "PREMIUM"
    for key, resource in (
        ("credentials_id", "databricks_mws_credentials"),
        ("storage_configuration_id", "databricks_mws_storage_configurations"),
        ("network_id", "databricks_mws_networks"),
    ):
        assert workspace[key].startswith("${" + resource + ".")


def test_account_provider_has_no_credentials(synthesized):
    provider = synthesized.json(ACCOUNT)["provider"]["databricks"][0]
    assert provider == {
        "account_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "host": "https://accounts.cloud.databricks.com",
    }


@pytest.mark.parametrize(("group", "role"), [("risk-owners", "ADMIN"), ("risk-analysts", "USER")])
def test_team_groups_are_assigned_to_the_workspace(synthesized, group, role):
    assignments = synthesized.resources(ACCOUNT, "databricks_mws_permission_assignment")
    groups = synthesized.json(ACCOUNT)["data"]["databricks_group"]
    group_address = next(name for name, g in groups.items() if g["display_name"] == group)
    mine = [
        a for a in assignments.values() if f"data.databricks_group.{group_address}.id" in a["principal_id"]
    ]
    assert [a["permissions"] for a in mine] == [[role]]


@pytest.mark.parametrize(("stack", "protected"), [("risk-prod-account", True), ("risk-dev-account", False)])
def test_prod_refuses_at_plan_to_replace_what_its_live_workspace_uses(synthesized, stack, protected):
    # Replacing the network, credentials or storage configuration of a live workspace plans a delete Databricks
    # refuses (docs/aws.md); where the env protects its data, prevent_destroy makes Terraform refuse the plan instead.
    for rtype in (
        "databricks_mws_networks",
        "databricks_mws_credentials",
        "databricks_mws_storage_configurations",
    ):
        for resource in synthesized.resources(stack, rtype).values():  # the audit log delivery's ones too
            assert resource.get("lifecycle", {}).get("prevent_destroy", False) is protected


@pytest.mark.parametrize("stack", [ACCOUNT, "risk-prod-account"])
def test_credentials_wait_for_the_cross_account_role_to_propagate(synthesized, stack):
    # Databricks validates the cross-account role when databricks_mws_credentials is created, and the platform
    # stack's apply that created the role ends seconds before this one. SRA waits 30 s there (aws/tf/modules/
    # databricks_account/workspace/main.tf, time_sleep.wait_30_seconds, citing the Databricks KB "failed credential
    # validation checks error with Terraform"); without the wait the first apply could stop at the credentials.
    credentials = synthesized.resources(stack, "databricks_mws_credentials")["credentials"]
    (address,) = credentials["depends_on"]
    kind, name = address.split(".")
    assert kind == "terraform_data"
    wait = synthesized.resources(stack, "terraform_data")[name]
    (provisioner,) = wait["provisioner"]
    assert int(provisioner["local-exec"]["command"].removeprefix("sleep ")) >= 30
    # it waits again only when the role is another one (the credentials are then replaced with it)
    assert wait["triggers_replace"] == {"role": credentials["role_arn"]}
