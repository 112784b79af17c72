"""The node type catalogue is a snapshot: a type Databricks supports that it lacks must not be refused (that would
refuse a config that deploys), only flagged. Malformed types and the other cloud's types stay errors
(tests/infra/test_config_cloud_values.py)."""

import pytest
import yaml

from infra.cli.main import main
from infra.config import parse_config
from infra.config.deployability import deploy_warnings
from tests.infra.test_config import mutated

# Standard_D4ds_v6 / Standard_D4ads_v6: listed for Azure Databricks on
# https://learn.microsoft.com/en-us/azure/databricks/compute/flexible-node-type-instances (D family table).
LISTED_BY_DATABRICKS = [
    ("teams.0.environments.dev.compute.node_type", "Standard_D4ds_v6"),
    ("teams.0.environments.prod.compute.node_type", "Standard_D4ads_v6"),
]
# Well-formed and not in the catalogue: a newer family (Dsv6 8-core, Graviton 4, AWS fleet types) or a typo in
# the version; validate cannot tell which, so it accepts and warns with the nearest known type.
WELL_FORMED_UNKNOWN = [
    (
        "teams.0.environments.dev.compute.node_type",
        "Standard_D8ds_v6",
        "teams.churn.environments.dev.compute",
    ),
    ("teams.0.ephemeral.compute", {"node_type": "Standard_E8ds_v6"}, "teams.churn.ephemeral.compute"),
    ("teams.2.environments.dev.compute", {"node_type": "r8gd.xlarge"}, "teams.risk.environments.dev.compute"),
    (
        "teams.2.environments.prod.compute.node_type",
        "md-fleet.xlarge",
        "teams.risk.environments.prod.compute",
    ),
]


@pytest.mark.parametrize(("path", "node_type"), LISTED_BY_DATABRICKS)
def test_a_node_type_databricks_lists_validates_without_a_warning(path, node_type):
    config = parse_config(yaml.safe_dump(mutated(path, node_type)))
    assert not [w for w in deploy_warnings(config) if node_type in w]


@pytest.mark.parametrize(("path", "value", "where"), WELL_FORMED_UNKNOWN)
def test_a_well_formed_node_type_missing_from_the_catalogue_is_a_warning_naming_the_field(
    path, value, where, tmp_path, capsys
):
    file = tmp_path / "platform.yaml"
    file.write_text(yaml.safe_dump(mutated(path, value)))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    assert exited.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("valid:") and err == ""
    warned = [line for line in out.splitlines() if line.startswith(f"warning: {where}.node_type:")]
    assert len(warned) == 1 and "not in the catalogue" in warned[0]


def test_the_warning_suggests_the_same_size_in_a_known_version_not_a_look_alike():
    config = parse_config(
        yaml.safe_dump(mutated("teams.0.environments.dev.compute.node_type", "Standard_D8ds_v6"))
    )
    [warning] = [w for w in deploy_warnings(config) if "Standard_D8ds_v6" in w]
    assert "did you mean 'Standard_D8ds_v5'?" in warning


# Databricks: "For node types with no instance store, at least one EBS volume needs to be specified; otherwise,
# cluster creation will fail" (AwsAttributes.EbsVolumeCount, terraform-provider-databricks
# internal/service/compute_tf/model.go); the AWS stacks attach no EBS volume (docs/aws.md).
EBS_ONLY = [
    ("teams.2.environments.dev.compute", {"node_type": "m5.large"}, "teams.risk.environments.dev.compute", "'m5d.large'"),
    ("teams.2.environments.prod.compute.node_type", "r6i.2xlarge", "teams.risk.environments.prod.compute", "'r6id.2xlarge'"),
    ("teams.2.ephemeral.compute", {"node_type": "m6in.xlarge"}, "teams.risk.ephemeral.compute", "'m6idn.xlarge'"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "where", "instead"), EBS_ONLY)
def test_an_ebs_only_ec2_type_is_refused_with_its_local_disk_variant(
    path, value, where, instead, tmp_path, capsys
):
    file = tmp_path / "platform.yaml"
    file.write_text(yaml.safe_dump(mutated(path, value)))
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(file)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {file}: {where}.node_type: ") and "no local disk (EBS only)" in err
    assert f"such as {instead}" in err
