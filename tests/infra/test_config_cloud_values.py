"""Values that validate in a model but that the cloud refuses at apply time: reserved address ranges, budgets
too far ahead, non-finite numbers, CloudWatch retentions outside its list, node types Databricks does not offer,
state backend names that break the cloud's naming rules, a group named twice. Each is one line naming the field,
in the model and through `platform validate` (exit 2, no traceback)."""

from datetime import UTC, date, datetime

import pytest
import yaml

from infra.cli.main import main
from infra.config import parse_config
from tests.infra.test_config import assert_problem_at, mutated


def in_months(months: int) -> str:
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 + months
    return date(index // 12, index % 12 + 1, 1).isoformat()


BAD = [
    # not RFC 1918: Python's is_private holds for these, Databricks' VNets and VPCs cannot use them
    ("carrier-grade-nat", mutated("teams.0.environments.dev.network", "100.64.0.0/22"), "teams.churn.environments.dev.network", "private IPv4 range"),
    ("benchmarking", mutated("teams.0.environments.dev.network", "198.18.0.0/22"), "teams.churn.environments.dev.network", "private IPv4 range"),
    ("link-local", mutated("teams.0.environments.dev.network", "169.254.0.0/22"), "teams.churn.environments.dev.network", "private IPv4 range"),
    ("loopback", mutated("teams.0.environments.dev.network", "127.0.0.0/22"), "teams.churn.environments.dev.network", "private IPv4 range"),
    ("this-network", mutated("teams.0.environments.dev.network", "0.0.0.0/22"), "teams.churn.environments.dev.network", "private IPv4 range"),
    ("pool-carrier-grade-nat", mutated("teams.0.ephemeral.network_pool", "100.64.0.0/18"), "teams.churn.ephemeral.network_pool", "private IPv4 range"),
    ("budget-start-two-years-ahead", mutated("platform.budget_start", in_months(24)), "platform.budget_start", "more than a year ahead"),
    ("budget-infinite", mutated("teams.0.environments.dev.budget.amount", float("inf")), "teams.churn.environments.dev.budget.amount", "finite"),
    ("budget-nan", mutated("teams.0.environments.dev.budget.amount", float("nan")), "teams.churn.environments.dev.budget.amount", "finite"),
    ("ephemeral-budget-infinite", mutated("teams.0.ephemeral.budget", {"amount": float("inf")}), "teams.churn.ephemeral.budget.amount", "finite"),
    ("retention-366", mutated("teams.2.aws.flow_log_retention_days", 366), "teams.risk.aws.flow_log_retention_days", "use one of [365, 400, 545"),
    ("retention-1000", mutated("teams.2.aws.flow_log_retention_days", 1000), "teams.risk.aws.flow_log_retention_days", "not a CloudWatch Logs retention"),
    ("node-type-unknown-series", mutated("teams.0.environments.dev.compute.node_type", "Standard_D4ds_v9"), "teams.churn.environments.dev.compute.node_type", "did you mean 'Standard_D4ds_v5'"),
    ("node-type-wrong-case", mutated("teams.0.environments.dev.compute.node_type", "standard_d4ds_v5"), "teams.churn.environments.dev.compute.node_type", "did you mean 'Standard_D4ds_v5'"),
    ("node-type-made-up", mutated("teams.0.environments.dev.compute.node_type", "Standard_Huge"), "teams.churn.environments.dev.compute.node_type", "not an azure vm size azure databricks supports"),
    ("ec2-type-typo", mutated("teams.2.environments.dev.compute", {"node_type": "m6id.xlarg"}), "teams.risk.environments.dev.compute.node_type", "did you mean 'm6id.xlarge'"),
    ("ec2-type-size-that-does-not-exist", mutated("teams.2.environments.dev.compute", {"node_type": "m5.huge"}), "teams.risk.environments.dev.compute.node_type", "not an ec2 instance type databricks supports"),
    ("ephemeral-node-type", mutated("teams.0.ephemeral.compute", {"node_type": "Standard_D4ds_v9"}), "teams.churn.ephemeral.compute.node_type", "did you mean"),
    ("state-account-uppercase", mutated("platform.state_backend", {"kind": "azurerm", "resource_group_name": "rg-state", "storage_account_name": "StateAccount"}), "platform.state_backend.storage_account_name", "3-24 lowercase letters and digits"),
    ("state-container-double-hyphen", mutated("platform.state_backend", {"kind": "azurerm", "resource_group_name": "rg-state", "storage_account_name": "dbpstate", "container_name": "tf--state"}), "platform.state_backend.container_name", "single hyphens"),
    ("state-resource-group-dot", mutated("platform.state_backend", {"kind": "azurerm", "resource_group_name": "rg-state.", "storage_account_name": "dbpstate"}), "platform.state_backend.resource_group_name", "not ending in '.'"),
    ("state-bucket-reserved", mutated("platform.state_backend", {"kind": "s3", "bucket": "xn--state", "region": "eu-west-1"}), "platform.state_backend.bucket", "'xn--' is reserved by S3"),
    ("state-bucket-uppercase", mutated("platform.state_backend", {"kind": "s3", "bucket": "TfState", "region": "eu-west-1"}), "platform.state_backend.bucket", "lowercase"),
    ("state-region", mutated("platform.state_backend", {"kind": "s3", "bucket": "dbp-state", "region": "Europe"}), "platform.state_backend.region", "aws region"),
    ("owner-group-twice", mutated("teams.0.owner_groups", ["churn-owners", "churn-owners"]), "teams.churn.owner_groups", "'churn-owners' listed more than once"),
    ("reader-group-twice", mutated("teams.1.reader_groups", ["pricing-readers", "finance", "pricing-readers"]), "teams.pricing.reader_groups", "'pricing-readers' listed more than once"),
]  # fmt: skip


@pytest.mark.parametrize(("config", "path", "words"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_value_the_cloud_refuses_is_a_config_error_at_its_field(config, path, words):
    assert_problem_at(config, path, words)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("teams.0.environments.dev.network", "172.16.0.0/22"),
        ("teams.0.environments.dev.network", "192.168.0.0/22"),
        ("platform.budget_start", in_months(1)),
        ("platform.budget_start", in_months(12)),
        ("teams.2.aws.flow_log_retention_days", 400),
        ("teams.2.aws.flow_log_retention_days", 3653),
        ("teams.0.environments.dev.compute.node_type", "Standard_E16ads_v5"),
        ("teams.2.environments.prod.compute.node_type", "i3.xlarge"),
        ("platform.state_backend", {"kind": "s3", "bucket": "dbp-terraform-state", "region": "us-gov-west-1"}),
        ("platform.state_backend", {"kind": "azurerm", "resource_group_name": "rg-tf_state(1)", "storage_account_name": "dbptfstate", "container_name": "tf-state"}),
    ],
)  # fmt: skip
def test_values_the_cloud_accepts_still_validate(path, value):
    parse_config(yaml.safe_dump(mutated(path, value)))


@pytest.mark.parametrize("case", ["benchmarking", "budget-nan", "retention-366", "node-type-wrong-case", "state-bucket-reserved", "owner-group-twice"])  # fmt: skip
def test_platform_validate_refuses_each_in_one_line_with_exit_2(case, tmp_path, capsys):
    (config, path, words) = next(c[1:] for c in BAD if c[0] == case)
    file = tmp_path / "platform.yaml"
    file.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {file}: {path}")
    assert words.lower() in err.lower() and "Traceback" not in err
