"""The env VPC's endpoints, as SRA's AWS network builds them (github.com/databricks/terraform-databricks-sra,
aws/tf/privatelink.tf): an S3 gateway endpoint and STS / Kinesis interface endpoints whose policies admit only the
env's buckets and what Databricks needs in the region, in their own subnets behind their own security group; with
isolated egress also the back-end PrivateLink endpoints to the region's Databricks workspace (REST API) and secure
cluster connectivity relay services, which the account stack registers with Databricks."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws import DATABRICKS_AWS_ACCOUNT
from infra.config.aws_names import aws_names, aws_subnets
from infra.config.aws_private_link import RegionPrivateLink, region_private_link
from infra.constructs.aws.policy_document import policy_document

# SRA privatelink.tf, aws_security_group.privatelink: what the endpoints admit from the workspace security group
# (its 5432 Lakebase port is left out: the clusters' group has no egress on it).
ENDPOINT_PORTS: tuple[tuple[int, int, str], ...] = (
    (443, 443, "https"),
    (6666, 6666, "relay"),
    (2443, 2443, "fips"),
    (8443, 8451, "control-plane"),
)
# SRA: the read-only user Databricks reads its sample datasets with (sts_vpc_endpoint_policy).
DATASETS_USER = f"arn:aws:iam::{DATABRICKS_AWS_ACCOUNT}:user/databricks-datasets-readonly-user-prod"
READ = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation"]
READ_WRITE = [*READ, "s3:PutObject", "s3:DeleteObject"]


def _bucket_arns(*buckets: str) -> list[str]:
    return [arn for bucket in buckets for arn in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*")]


def _statement(sid: str, actions: list[str], buckets: tuple[str, ...], condition: dict) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": "*",
        "Action": actions,
        "Resource": _bucket_arns(*buckets),
        "Condition": {"StringEquals": condition},
    }


def s3_endpoint_policy(
    *, root_bucket: str, lake_bucket: str, account_id: str, region: RegionPrivateLink
) -> str:
    """SRA's s3_vpc_endpoint_policy for this env: its root bucket (written by Databricks' account), its lake bucket
    (written with the Unity Catalog role of the env's account), and what Databricks reads and writes in the region:
    artifacts, sample datasets, system tables, logs. Every other bucket is out of reach from the VPC."""
    databricks = {"aws:PrincipalAccount": DATABRICKS_AWS_ACCOUNT}
    return policy_document(
        _statement("WorkspaceRootBucket", READ_WRITE, (root_bucket,), databricks),
        _statement(
            "LakeBucket",
            READ_WRITE,
            (lake_bucket,),
            {"aws:PrincipalAccount": account_id, "s3:ResourceAccount": account_id},
        ),
        _statement(
            "DatabricksArtifacts",
            READ,
            region.artifact_buckets,
            {"aws:ResourceAccount": DATABRICKS_AWS_ACCOUNT},
        ),
        _statement("DatabricksSystemTables", READ, (region.system_tables_bucket,), databricks),
        _statement("DatabricksDatasets", READ, (region.datasets_bucket,), databricks),
        _statement(
            "DatabricksLogs",
            ["s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
            (region.log_bucket,),
            databricks,
        ),
    )


def sts_endpoint_policy(account_id: str) -> str:
    """SRA's sts_vpc_endpoint_policy: only principals of the env's account and of Databricks."""
    return policy_document(
        {
            "Sid": "EnvAccount",
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{account_id}:root"]},
            "Action": [
                "sts:AssumeRole",
                "sts:GetAccessKeyInfo",
                "sts:GetSessionToken",
                "sts:DecodeAuthorizationMessage",
                "sts:TagSession",
            ],
            "Resource": "*",
        },
        {
            "Sid": "Databricks",
            "Effect": "Allow",
            "Principal": {"AWS": [DATASETS_USER, f"arn:aws:iam::{DATABRICKS_AWS_ACCOUNT}:root"]},
            "Action": ["sts:AssumeRole", "sts:GetSessionToken", "sts:TagSession"],
            "Resource": "*",
        },
    )


def kinesis_endpoint_policy(region: str) -> str:
    """SRA's kinesis_vpc_endpoint_policy: only Databricks' streams (cluster logs and metrics to the control plane)."""
    return policy_document(
        {
            "Sid": "DatabricksStreams",
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{DATABRICKS_AWS_ACCOUNT}:root"]},
            "Action": ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStream"],
            "Resource": [f"arn:aws:kinesis:{region}:{DATABRICKS_AWS_ACCOUNT}:stream/*"],
        }
    )


class VpcEndpoints(Construct):
    """Endpoint subnets (one per cluster zone), the endpoints' security group, the S3 / STS / Kinesis endpoints with
    restricted policies and, with isolated egress, the Databricks workspace and relay endpoints."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        account_id: str,
        vpc_id: str,
        zones: list[str],
        cluster_routes: RouteTable,
        cluster_security_group_id: str,
        stay_in_zone,
    ) -> None:
        super().__init__(scope, id)
        names = aws_names(team_env)
        region = team_env.team.region
        tables = region_private_link(region)
        isolated = team_env.settings.egress.mode == "isolated"
        self._vpc_id = vpc_id
        self.subnets = [
            Subnet(
                self,
                f"subnet-{index}",
                vpc_id=vpc_id,
                cidr_block=cidr,
                availability_zone=zone,
                lifecycle=stay_in_zone,
            )
            for index, (cidr, zone) in enumerate(zip(aws_subnets(team_env).endpoints, zones, strict=True))
        ]
        subnet_ids = [subnet.id for subnet in self.subnets]
        # Interface endpoints need no routes: the endpoint subnets get a route table of their own with only the
        # VPC's local route (SRA's intra subnets), never the clusters' default route.
        routes = RouteTable(self, "routes", vpc_id=vpc_id)
        for index, subnet_id in enumerate(subnet_ids):
            RouteTableAssociation(
                self, f"subnet-{index}-routes", subnet_id=subnet_id, route_table_id=routes.id
            )
        self.security_group = SecurityGroup(
            self,
            "security-group",
            name=f"{names.stem}-endpoints",
            description="VPC endpoints of the workspace: reached from its clusters only",
            vpc_id=vpc_id,
        )
        for low, high, purpose in ENDPOINT_PORTS:
            VpcSecurityGroupIngressRule(
                self,
                f"ingress-{purpose}",
                security_group_id=self.security_group.id,
                description=f"Databricks clusters to the endpoints, {purpose} ({low}-{high})",
                ip_protocol="tcp",
                from_port=low,
                to_port=high,
                referenced_security_group_id=cluster_security_group_id,
            )
        self.s3 = VpcEndpoint(
            self,
            "s3",
            vpc_id=vpc_id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[cluster_routes.id],
            policy=s3_endpoint_policy(
                root_bucket=names.root_bucket,
                lake_bucket=names.lake_bucket,
                account_id=account_id,
                region=tables,
            )
            if tables
            else None,
        )
        # SRA lists no Databricks buckets for the region (validate refuses isolated egress there): a restricted
        # policy would cut the clusters off Databricks' artifacts, so the open env keeps the default one.
        self.s3_unrestricted = tables is None
        for service, policy in (
            ("sts", sts_endpoint_policy(account_id)),
            ("kinesis-streams", kinesis_endpoint_policy(region)),
        ):
            self._interface(service, f"com.amazonaws.{region}.{service}", subnet_ids, policy=policy)
        self.workspace = self.relay = None
        if isolated and tables:
            self.workspace = self._interface("databricks-workspace", tables.workspace_service, subnet_ids)
            self.relay = self._interface("databricks-relay", tables.relay_service, subnet_ids)

    def _interface(
        self, id: str, service: str, subnet_ids: list[str], *, policy: str | None = None
    ) -> VpcEndpoint:
        return VpcEndpoint(
            self,
            id,
            vpc_id=self._vpc_id,
            service_name=service,
            vpc_endpoint_type="Interface",
            subnet_ids=subnet_ids,
            security_group_ids=[self.security_group.id],
            private_dns_enabled=True,
            policy=policy,
        )
