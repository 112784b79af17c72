"""AWS audit log delivery: a protected bucket and the role Databricks' delivery assumes (platform stack), and one
AUDIT_LOGS configuration per workspace (account stack), as SRA's aws/tf/modules/databricks_account/audit_log_delivery
does it."""

import json
from datetime import UTC, datetime, timedelta

from infra.config.audit import delivers_audit_logs
from infra.config.aws_names import audit_log_bucket_name
from infra.config.unique_names import EnvIdentity, global_names

DELIVERY_ROLE = "arn:aws:iam::414351767826:role/SaasUsageDeliveryRole-prod-IAMRole-3PLHICCRR1TK"


def _audit_resources(synthesized, stack, rtype):
    return {k: v for k, v in synthesized.resources(stack, rtype).items() if k.startswith("audit-logs_")}


def test_the_delivery_role_trusts_only_databricks_log_delivery_for_this_account(synthesized, platform_config):
    """databricks v1.99.0 aws/data_aws_assume_role_policy.go (for_log_delivery = true): the production usage delivery
    role, with the Databricks account ID as external ID."""
    (role,) = _audit_resources(synthesized, "risk-prod-platform", "aws_iam_role").values()
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]
    assert statement["Principal"] == {"AWS": DELIVERY_ROLE}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"sts:ExternalId": str(platform_config.platform.account_id)}
    }


def test_the_log_bucket_is_versioned_encrypted_private_and_granted_only_to_the_delivery_role(synthesized):
    stack = "risk-prod-platform"
    (bucket_address,) = _audit_resources(synthesized, stack, "aws_s3_bucket")
    ref = f"${{aws_s3_bucket.{bucket_address}.id}}"
    for rtype in (
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
    ):
        assert [r for r in synthesized.resources(stack, rtype).values() if r["bucket"] == ref], rtype
    (policy,) = [
        r for r in synthesized.resources(stack, "aws_s3_bucket_policy").values() if r["bucket"] == ref
    ]
    statements = json.loads(policy["policy"])["Statement"]
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    (role_address,) = _audit_resources(synthesized, stack, "aws_iam_role")
    assert [s["Principal"] for s in allowed] == [{"AWS": f"${{aws_iam_role.{role_address}.arn}}"}]
    # prod keeps what was delivered: no principal may delete an object version
    assert any(s["Effect"] == "Deny" and s["Action"] == "s3:DeleteObjectVersion" for s in statements)


def test_dev_may_empty_its_log_bucket_on_destroy(synthesized):
    stack = "risk-dev-platform"
    (policy,) = _audit_resources(synthesized, stack, "aws_s3_bucket_policy").values()
    assert "DeleteObjectVersion" not in policy["policy"]


def test_each_workspace_delivers_its_own_audit_logs_as_json(synthesized):
    stack = "risk-prod-account"
    delivery = synthesized.only(stack, "databricks_mws_log_delivery")
    assert (delivery["log_type"], delivery["output_format"]) == ("AUDIT_LOGS", "JSON")
    assert delivery["workspace_ids_filter"] == ["${databricks_mws_workspaces.workspace.workspace_id}"]
    assert delivery["lifecycle"]["prevent_destroy"] is True
    credentials_ref = delivery["credentials_id"].split(".")[1]
    credentials = synthesized.resources(stack, "databricks_mws_credentials")[credentials_ref]
    assert "outputs.cross-stack-output-aws_iam_roleaudit-logs_role" in credentials["role_arn"]
    # SRA waits for the role before the credential (time_sleep.wait, 10 s)
    (wait,) = credentials["depends_on"]
    assert wait.startswith("terraform_data.")
    storage_ref = delivery["storage_configuration_id"].split(".")[1]
    storage = synthesized.resources(stack, "databricks_mws_storage_configurations")[storage_ref]
    assert storage["bucket_name"] == audit_log_bucket_name(prefix="dbp", team="risk", env="prod")


def test_ephemeral_and_azure_envs_deliver_no_audit_logs(platform_config):
    """mws/resource_mws_log_delivery.go v1.99.0: Delete only PATCHes status DISABLED, so every throwaway env would
    leave a configuration behind in the account."""
    from infra.lifecycle.ephemeral import cut

    risk_prod = next(te for te in platform_config.team_envs if te.key == "risk/prod")
    assert delivers_audit_logs(risk_prod)
    ephemeral = cut(
        risk_prod,
        name="pr1",
        slot=0,
        owner="dev@example.com",
        expires_at=datetime.now(UTC) + timedelta(hours=8),
    )
    assert ephemeral.settings.audit.log_delivery and not delivers_audit_logs(ephemeral)
    churn_prod = next(te for te in platform_config.team_envs if te.key == "churn/prod")
    assert not delivers_audit_logs(churn_prod)


def test_the_log_bucket_name_is_checked_for_global_uniqueness():
    names = global_names(EnvIdentity(prefix="dbp", team="risk", env="prod", cloud="aws"), holder="x")
    assert audit_log_bucket_name(prefix="dbp", team="risk", env="prod") in [n.name for n in names]


def test_the_delivery_goes_before_its_credentials_and_storage_configuration_on_destroy(synthesized):
    from tests.terraform_graph import StackGraph

    graph = StackGraph(synthesized.json("risk-dev-account"))
    (delivery,) = graph.of_type("databricks_mws_log_delivery")
    for key in ("credentials_id", "storage_configuration_id"):
        dependency = delivery.config[key].removeprefix("${").rsplit(".", 1)[0]
        assert graph.destroyed_before(delivery.address, dependency), dependency
    (workspace,) = graph.of_type("databricks_mws_workspaces")
    assert graph.depends(delivery.address, workspace.address)
