"""AWS teams: their settings, regions, node types, derived names and the cross-cloud checks.

Kept apart so Azure-only code never reads it; the team model calls in here for the places where the team's cloud
decides (which regions are valid, which node type a fresh env gets; node_types.py checks the node types). Names derived for an AWS
team-env live in aws_names.py, the checks across teams in cross_checks.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from infra.config.base import StrictModel
from infra.config.regions import DATABRICKS_REGIONS

# AWS regions where Databricks offers E2 workspaces with customer-managed VPCs (Databricks docs, "Databricks
# clouds and regions", AWS).
AWS_DATABRICKS_REGIONS: frozenset[str] = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-north-1",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-northeast-1",
        "ap-northeast-2",
    }
)

# Databricks' own AWS account: the cross-account role and the root bucket policy trust it (Databricks docs,
# "Create a cross-account IAM role" and "Create an S3 bucket for workspace deployment").
DATABRICKS_AWS_ACCOUNT = "414351767826"
# The Unity Catalog master role that assumes each storage credential's role (Databricks docs, "Create a storage
# credential for connecting to AWS S3").
UNITY_CATALOG_MASTER_ROLE = (
    f"arn:aws:iam::{DATABRICKS_AWS_ACCOUNT}:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
)

DEFAULT_AWS_NODE_TYPE = "m6id.xlarge"
"""Node type of AWS envs that set none: 4 vCPU, 16 GiB, local NVMe for Spark's disk cache."""
EPHEMERAL_AWS_NODE_TYPE = "m6id.large"


# The retention values CloudWatch Logs accepts: the aws provider v5.100.0 validates retention_in_days against
# exactly this list (internal/service/logs/group.go, validation.IntInSlice); `terraform validate` with 366 says
# "expected retention_in_days to be one of [0 1 3 5 7 ... 3288 3653], got 366".
CLOUDWATCH_RETENTION_DAYS = [0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]  # fmt: skip
FLOW_LOG_RETENTION_DAYS = [days for days in CLOUDWATCH_RETENTION_DAYS if days >= 365]


def check_cloudwatch_retention(value: int) -> int:
    if value not in FLOW_LOG_RETENTION_DAYS:
        raise ValueError(
            f"{value} is not a CloudWatch Logs retention of at least a year; use one of {FLOW_LOG_RETENTION_DAYS}"
        )
    return value


class AwsSettings(StrictModel):
    """Where an AWS team's resources live (`cloud: aws` only)."""

    account_id: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    """12-digit AWS account that holds the team's VPCs, buckets and roles. The aws provider refuses to run
    against any other account (allowed_account_ids), so a wrong profile can never deploy elsewhere."""
    nat_gateway: bool = True
    """Egress of the cluster subnets through a NAT gateway in a public subnet (Databricks' default customer-managed
    VPC design). Off: no internet egress; clusters reach AWS through the VPC endpoints only, and the workspace
    needs back-end PrivateLink, which this platform does not set up."""
    flow_log_retention_days: Annotated[
        int,
        AfterValidator(check_cloudwatch_retention),
        Field(json_schema_extra={"enum": FLOW_LOG_RETENTION_DAYS}),
    ] = 365
    """Days the VPC flow logs stay in CloudWatch Logs: one of CloudWatch's retention values of at least a year
    (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."""


def region_problem(cloud: str, region: str) -> str | None:
    """Why ``region`` is wrong for a team of ``cloud``, or None."""
    if cloud == "aws":
        if region in AWS_DATABRICKS_REGIONS:
            return None
        if region in DATABRICKS_REGIONS:
            return f"{region!r} is an Azure region; an AWS team needs an AWS region with Databricks (e.g. 'eu-west-1')"
        return f"{region!r} is not an AWS region with Databricks (one of {', '.join(sorted(AWS_DATABRICKS_REGIONS))})"
    if region in AWS_DATABRICKS_REGIONS:
        return f"{region!r} is an AWS region; an Azure team needs an Azure region (or set cloud: aws)"
    return None


def with_aws_defaults(data: Any) -> Any:
    """A raw team mapping with AWS node types filled in where an AWS team set none (Azure teams unchanged)."""
    if not isinstance(data, dict) or data.get("cloud") != "aws":
        return data
    data = dict(data)
    if isinstance(data.get("environments"), dict):
        data["environments"] = {
            env: _with_node_type(settings, DEFAULT_AWS_NODE_TYPE)
            for env, settings in data["environments"].items()
        }
    if isinstance(data.get("ephemeral"), dict):
        ephemeral = dict(data["ephemeral"])
        compute = ephemeral.get(
            "compute", {"min_workers": 0, "max_workers": 1, "spot": True, "autotermination_minutes": 15}
        )
        ephemeral["compute"] = compute
        data["ephemeral"] = _with_node_type(ephemeral, EPHEMERAL_AWS_NODE_TYPE)
    return data


def _with_node_type(settings: Any, node_type: str) -> Any:
    if not isinstance(settings, dict):
        return settings
    compute = settings.get("compute", {})
    if not isinstance(compute, dict) or "node_type" in compute:
        return settings
    return {**settings, "compute": {**compute, "node_type": node_type}}
