"""The AWS platform stack through real Terraform against moto: init from the local provider mirror, validate,
plan, apply, a re-plan without changes, destroy, and then nothing tagged left (tests/terraform_moto.py says
where Terraform and the mirror are found)."""

import json
import os

import boto3
import pytest

from tests.terraform_moto import MotoServer, TerraformDir, locate_tools

STACK = "risk-dev-platform"
ENV_TAGS = {"team": "risk", "env": "dev", "managed-by": "cdktf-platform"}


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


@pytest.fixture
def inventory(moto, monkeypatch):
    from infra.lifecycle.aws import AwsTaggedResources

    for name, value in moto.client_environ().items():
        monkeypatch.setenv(name, value)
    return AwsTaggedResources.for_region("eu-west-1")


def test_platform_stack_applies_replans_clean_and_destroys_without_leftovers(
    synthesized, moto, inventory, tmp_path
):
    stack = TerraformDir(locate_tools(), synthesized.outdir / "stacks" / STACK, tmp_path, moto)
    stack.write_override()
    stack.run("init", "-input=false")
    stack.run("validate")
    stack.run("plan", "-input=false", "-out=tfplan")
    stack.run("apply", "-input=false", "tfplan")

    # Tags really landed, on resources the tagging API lists and on the ones only IAM and EC2 list.
    arns = [r.arn for r in inventory.list(ENV_TAGS)]
    for kind in (
        ":vpc/",
        ":subnet/",
        ":security-group/",
        ":natgateway/",
        ":s3:::",
        ":key/",
        ":role/",
        "vpc-endpoint/",
    ):
        assert any(kind in arn for arn in arns), f"no {kind} resource tagged {ENV_TAGS}: {arns}"
    # cross-account, flow logs and audit log delivery (risk/dev delivers its audit logs); the Unity Catalog role
    # lives in the workspace stack, beside its credential
    assert sum(":role/" in arn for arn in arns) == 3

    # Subnets sit in two distinct zones the account really has (aws_availability_zones, state available), not in
    # letters derived from the region name.
    ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=moto.url)
    available = {z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:env", "Values": ["dev"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    private = [s["AvailabilityZone"] for s in subnets if s["CidrBlock"] in ("10.30.0.0/24", "10.30.1.0/24")]
    assert len(set(private)) == 2 and set(private) <= available

    # The cross-account role is Databricks' restricted policy bound to this VPC and its workspace security group
    # (tests/infra/test_cross_account_role.py holds the statements to the data source).
    iam = boto3.client("iam", region_name="eu-west-1", endpoint_url=moto.url)
    (role,) = (r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].endswith("-cross-account"))
    document = iam.get_role_policy(RoleName=role, PolicyName="databricks-clusters")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    by_sid = {statement.get("Sid"): statement for statement in document["Statement"]}
    scoped = by_sid["VpcNonresourceSpecificActions"]
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["*-workspace"]}]
    )["SecurityGroups"]
    assert scoped["Resource"].endswith(f":security-group/{group['GroupId']}")
    assert scoped["Condition"]["StringEquals"]["ec2:vpc"].endswith(f":vpc/{vpc}")

    replan = stack.run("plan", "-input=false", "-detailed-exitcode", check=False)
    assert replan.returncode == 0, f"re-plan after apply is not clean:\n{replan.stdout[-3000:]}"

    stack.run("destroy", "-auto-approve", "-input=false")
    assert inventory.list(ENV_TAGS) == []


PROD = "risk-prod-platform"
PROD_TAGS = {"team": "risk", "env": "prod", "managed-by": "cdktf-platform"}


def test_isolated_prod_stack_applies_without_internet_path_and_destroys(
    isolated_synthesized, moto, inventory, tmp_path
):
    """risk/prod with isolated egress (conftest.isolated_synthesized) (SRA's isolated network): the stack goes through Terraform against moto with
    no NAT or internet gateway, a VPC whose route tables have no default route, and interface endpoints to the
    region's Databricks workspace and relay PrivateLink services (moto 5.2 accepts any service name, so the names
    are checked offline against SRA's table in test_aws_policy_lint.py). prod protects its data
    (prevent_destroy); only this test's override lifts it, so the stack can be destroyed here."""
    stack = TerraformDir(locate_tools(), isolated_synthesized.outdir / "stacks" / PROD, tmp_path, moto)
    stack.write_override()
    _lift_prevent_destroy(stack)
    stack.run("init", "-input=false")
    stack.run("plan", "-input=false", "-out=tfplan")
    stack.run("apply", "-input=false", "tfplan")

    ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=moto.url)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:env", "Values": ["prod"]}])["Vpcs"][0]["VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    assert ec2.describe_nat_gateways(Filters=in_vpc)["NatGateways"] == []
    assert (
        ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])[
            "InternetGateways"
        ]
        == []
    )
    routes = [r for t in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"] for r in t["Routes"]]
    assert not [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"], routes
    endpoints = ec2.describe_vpc_endpoints(Filters=in_vpc)["VpcEndpoints"]
    services = {e["ServiceName"]: e for e in endpoints}
    assert {
        "com.amazonaws.vpce.eu-west-1.vpce-svc-0da6ebf1461278016",
        "com.amazonaws.vpce.eu-west-1.vpce-svc-09b4eb2bc775f4e8c",
        "com.amazonaws.eu-west-1.s3",
        "com.amazonaws.eu-west-1.sts",
        "com.amazonaws.eu-west-1.kinesis-streams",
    } <= set(services)
    assert "DatabricksArtifacts" in services["com.amazonaws.eu-west-1.s3"]["PolicyDocument"]
    # What a teardown (`env down` / the reaper destroy the same stacks) must remove, and what the reaper's
    # inventory (infra/lifecycle/aws.py) would report if it stayed: every endpoint, the two endpoint subnets
    # beside the two cluster subnets, and the endpoint subnets' own route table.
    tagged = " ".join(resource.arn for resource in inventory.list(PROD_TAGS))
    subnets = ec2.describe_subnets(Filters=in_vpc)["Subnets"]
    tables = ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]
    assert len(endpoints) == 5 and len(subnets) == 4
    for resource_id in [
        *(e["VpcEndpointId"] for e in endpoints),
        *(s["SubnetId"] for s in subnets),
        *(t["RouteTableId"] for t in tables if not any(a.get("Main") for a in t["Associations"])),
    ]:
        assert resource_id in tagged, f"{resource_id} is not in the reaper's inventory of risk/prod"

    replan = stack.run("plan", "-input=false", "-detailed-exitcode", check=False)
    assert replan.returncode == 0, f"re-plan after apply is not clean:\n{replan.stdout[-3000:]}"
    stack.run("destroy", "-auto-approve", "-input=false")
    assert inventory.list(PROD_TAGS) == []


def _lift_prevent_destroy(stack: TerraformDir) -> None:
    """Test-only: Terraform merges an override's lifecycle argument by argument, so prevent_destroy is lifted here
    and nowhere else."""
    override_file = stack.dir / "test_override.tf.json"
    override = json.loads(override_file.read_text())
    resources = json.loads((stack.dir / "cdk.tf.json").read_text())["resource"]
    for kind, named in resources.items():
        for name, config in named.items():
            if (config.get("lifecycle") or {}).get("prevent_destroy"):
                entry = override.setdefault("resource", {}).setdefault(kind, {}).setdefault(name, {})
                entry["lifecycle"] = {"prevent_destroy": False}
    override_file.write_text(json.dumps(override, indent=2))


def test_missing_mirror_fails_in_one_line_and_ci_never_skips(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_TF_PROVIDER_MIRROR", str(tmp_path))
    monkeypatch.setenv("PLATFORM_SKIP_TERRAFORM", "1")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        locate_tools()
    message = str(failed.value)
    assert "\n" not in message and "hashicorp/aws 5.100.0" in message and str(tmp_path) in message
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        locate_tools()
    assert os.environ["PLATFORM_SKIP_TERRAFORM"] == "1"
