"""Workspace customer-managed keys on AWS (`customer_managed_key: {}` on an AWS env): two keys with SRA's policies
in the platform stack (aws/tf/modules/sra/cmk.tf), registered by the account stack with
databricks_mws_customer_managed_keys and used by the workspace on the Enterprise tier."""

import json

import pytest

from tests.aws_policy_checks import ACCEPTED, documents, kms_root_problems, parliament_findings

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def cmk_stacks(platform_config, fake_wheel, tmp_path_factory):
    from infra.app import build_app

    prod = next(te for te in platform_config.team_envs if te.key == "risk/prod")
    settings = prod.settings.model_copy(update={"customer_managed_key": {}})
    outdir = tmp_path_factory.mktemp("cmk")
    build_app(
        platform_config,
        outdir=outdir,
        wheel=fake_wheel,
        team_envs=[prod.model_copy(update={"settings": settings})],
    ).synth()

    def stack(name):
        return json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())

    return stack("risk-prod-platform"), stack("risk-prod-account")


def test_the_committed_aws_envs_have_no_workspace_keys_and_are_enterprise_only_where_a_control_needs_it(
    synthesized, isolated_synthesized
):
    # Enterprise is for back-end PrivateLink (an isolated risk/prod, test_aws_egress.py) and for prod's hardening
    # (the compliance security profile, test_hardening_stacks.py), never for keys here; dev stays premium
    for synth, stack, tier in (
        (synthesized, "risk-dev-account", "PREMIUM"),
        (synthesized, "risk-prod-account", "ENTERPRISE"),
        (isolated_synthesized, "risk-prod-account", "ENTERPRISE"),
    ):
        workspace = synth.only(stack, "databricks_mws_workspaces")
        assert workspace["pricing_tier"] == tier and "storage_customer_managed_key_id" not in workspace
        assert "databricks_mws_customer_managed_keys" not in synth.json(stack)["resource"]


def test_workspace_uses_both_keys_on_the_enterprise_tier(cmk_stacks):
    platform, account = cmk_stacks
    registered = account["resource"]["databricks_mws_customer_managed_keys"]
    by_use = {tuple(k["use_cases"]): (name, k) for name, k in registered.items()}
    assert set(by_use) == {("STORAGE",), ("MANAGED_SERVICES",)}
    (workspace,) = account["resource"]["databricks_mws_workspaces"].values()
    assert workspace["pricing_tier"] == "ENTERPRISE"
    for use, argument in (
        (("STORAGE",), "storage_customer_managed_key_id"),
        (
            ("MANAGED_SERVICES",),
            "managed_services_customer_managed_key_id",
        ),
    ):
        name, key = by_use[use]
        assert (
            workspace[argument] == f"${{databricks_mws_customer_managed_keys.{name}.customer_managed_key_id}}"
        )
        assert key["aws_key_info"]["key_arn"].startswith("${data.terraform_remote_state.")
    assert len(platform["resource"]["aws_kms_key"]) == 3  # the env's key plus the two workspace keys


@pytest.mark.parametrize("keys", [False, True], ids=["premium", "enterprise"])
def test_the_pricing_tier_is_set_when_the_workspace_is_created_and_never_planned_again(
    cmk_stacks, synthesized, keys
):
    # databricks provider v1.99.0, mws/resource_mws_workspaces.go: pricing_tier is Optional+Computed, so not
    # ForceNew, and Update sends only workspaceRunningUpdatesAllowed (credentials, network, both key IDs, private
    # access settings, custom tags) through UpdateRunning. Turning customer_managed_key on for a live workspace
    # planned PREMIUM -> ENTERPRISE in place, which the apply never sent, and every later plan (and the nightly
    # drift check) showed it again. The keys themselves are updatable and stay planned.
    if keys:
        (workspace,) = cmk_stacks[1]["resource"]["databricks_mws_workspaces"].values()
    else:
        workspace = synthesized.only("risk-prod-account", "databricks_mws_workspaces")
    assert workspace["lifecycle"]["ignore_changes"] == ["pricing_tier"]
    assert ("storage_customer_managed_key_id" in workspace) is keys


def test_key_policies_are_the_documented_ones_and_keep_the_account_root(cmk_stacks):
    platform, _ = cmk_stacks
    assert kms_root_problems(platform, account=ACCOUNT) == []
    policies = {
        key["description"]: {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
        for key in platform["resource"]["aws_kms_key"].values()
    }
    storage = policies["Databricks workspace storage"]
    assert storage["DatabricksWorkspaceStorage"]["Principal"] == {"AWS": "arn:aws:iam::414351767826:root"}
    assert (
        "aws:PrincipalTag/DatabricksAccountId"
        in storage["DatabricksWorkspaceStorage"]["Condition"]["StringEquals"]
    )
    volumes = storage["ClusterVolumes"]
    assert volumes["Principal"]["AWS"].startswith("${aws_iam_role.")  # the cross-account role, created first
    assert volumes["Condition"] == {"ForAnyValue:StringLike": {"kms:ViaService": "ec2.*.amazonaws.com"}}
    managed = policies["Databricks workspace managed services"]["DatabricksManagedServices"]
    assert managed["Action"] == ["kms:Encrypt", "kms:Decrypt"]
    found = parliament_findings(list(documents(platform, account=ACCOUNT, region="eu-west-1")))
    assert [f for f in found if not any(a.matches(f) for a in ACCEPTED)] == []


@pytest.mark.parametrize(("stack", "protected"), [("risk-prod-platform", True), ("risk-dev-platform", False)])
def test_prod_keys_refuse_destroy_like_the_buckets_they_encrypt(synthesized, cmk_stacks, stack, protected):
    # Destroying a KMS key schedules its deletion; after the window, what it encrypted (the prod buckets, which
    # carry prevent_destroy, the workspace's root storage and managed services) is unreadable for good. The keys
    # now refuse at plan where the buckets do (as the Azure key does in prod).
    keys = list(synthesized.resources(stack, "aws_kms_key").values())
    if protected:
        keys += list(cmk_stacks[0]["resource"]["aws_kms_key"].values())  # prod with its two workspace keys
        buckets = synthesized.resources(stack, "aws_s3_bucket").values()
        assert all(b["lifecycle"]["prevent_destroy"] for b in buckets)
    assert keys and all(k.get("lifecycle", {}).get("prevent_destroy", False) is protected for k in keys)


def test_policy_aspect_refuses_an_unprotected_prod_key(synthesized):
    import copy

    (aspect_stack,) = [s for s in synthesized.app._aspect_stacks if s.stack_name == "risk-prod-platform"]
    document = synthesized.json("risk-prod-platform")
    assert aspect_stack.apply_aspects(copy.deepcopy(document)) is not None  # compliant as synthesized
    next(iter(document["resource"]["aws_kms_key"].values())).pop("lifecycle")
    with pytest.raises(RuntimeError, match="PLAT-DATA-1: data resource of an env with prevent_destroy"):
        aspect_stack.apply_aspects(document)
