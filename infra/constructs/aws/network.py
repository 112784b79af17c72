"""The env's customer-managed VPC: what a Databricks on AWS workspace needs to run clusters without public IPs."""

from __future__ import annotations

from cdktf import Fn, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_availability_zones import (
    DataAwsAvailabilityZones,
    DataAwsAvailabilityZonesFilter,
)
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws_names import aws_names, aws_subnets
from infra.constructs.aws.policy_document import policy_document

ANYWHERE = "0.0.0.0/0"
# Databricks docs, "Configure a customer-managed VPC", security groups (AWS): egress the clusters need besides
# their own group. 443: control plane, AWS APIs, data; 3306: legacy Hive metastore; 6666: secure cluster
# connectivity relay; 2443: FIPS endpoints; 8443-8451: control plane API, Unity Catalog logging and lineage.
DATABRICKS_EGRESS_PORTS: tuple[tuple[int, int, str], ...] = (
    (443, 443, "https"),
    (3306, 3306, "metastore"),
    (6666, 6666, "relay"),
    (2443, 2443, "fips"),
    (8443, 8451, "control-plane"),
)
# A zone that is briefly not "available" drops out of the data source's list and shifts the others: a subnet in
# use must never be replaced for that, so once created it stays in its zone.
STAY_IN_ZONE = TerraformResourceLifecycle(ignore_changes=["availability_zone"])
# Interface endpoints Databricks recommends so cluster traffic to STS and Kinesis stays inside the VPC.
INTERFACE_ENDPOINTS = ("sts", "kinesis-streams")


class Network(Construct):
    """VPC with two private cluster subnets in two zones, a NAT gateway in a public subnet as their egress
    (when configured), the workspace security group with exactly the rules Databricks documents, an S3 gateway
    endpoint and STS / Kinesis interface endpoints, flow logs to an encrypted log group, and a default security
    group stripped of every rule."""

    def __init__(
        self, scope: Construct, id: str, *, team_env: TeamEnv, account_id: str, kms_key_arn: str
    ) -> None:
        super().__init__(scope, id)
        names = aws_names(team_env)
        subnets = aws_subnets(team_env)
        region = team_env.team.region
        self.vpc = Vpc(
            self,
            "vpc",
            cidr_block=team_env.settings.network,
            enable_dns_hostnames=True,
            enable_dns_support=True,
        )
        vpc_id = self.vpc.id
        DefaultSecurityGroup(self, "default-security-group", vpc_id=vpc_id)
        # Zone letters map to different zones per account and some do not exist: take the region's first two
        # available zones, leaving out Local and Wavelength Zones (opt-in), where Databricks does not run.
        zones = DataAwsAvailabilityZones(
            self,
            "zones",
            state="available",
            filter=[DataAwsAvailabilityZonesFilter(name="opt-in-status", values=["opt-in-not-required"])],
        )
        self.zones = [Fn.element(zones.names, index) for index in range(len(subnets.private))]
        self.private_subnets = [
            Subnet(
                self,
                f"private-{index}",
                vpc_id=vpc_id,
                cidr_block=cidr,
                availability_zone=zone,
                lifecycle=STAY_IN_ZONE,
            )
            for index, (cidr, zone) in enumerate(zip(subnets.private, self.zones, strict=True))
        ]
        self.private_subnet_ids = [subnet.id for subnet in self.private_subnets]
        private_routes = RouteTable(self, "private-routes", vpc_id=vpc_id)
        for index, subnet_id in enumerate(self.private_subnet_ids):
            RouteTableAssociation(
                self, f"private-{index}-routes", subnet_id=subnet_id, route_table_id=private_routes.id
            )
        if team_env.team.aws is not None and team_env.team.aws.nat_gateway:
            self._nat_egress(
                vpc_id=vpc_id, public_cidr=subnets.public, zone=self.zones[0], routes=private_routes
            )

        self.security_group = SecurityGroup(
            self,
            "workspace-security-group",
            name=f"{names.stem}-workspace",
            description="Databricks clusters of the workspace",
            vpc_id=vpc_id,
        )
        group_id = self.security_group.id
        for protocol in ("tcp", "udp"):
            for direction, rule in (
                ("ingress", VpcSecurityGroupIngressRule),
                ("egress", VpcSecurityGroupEgressRule),
            ):
                rule(
                    self,
                    f"{direction}-self-{protocol}",
                    security_group_id=group_id,
                    description=f"{protocol.upper()} between the workspace's cluster nodes",
                    ip_protocol=protocol,
                    from_port=0,
                    to_port=65535,
                    referenced_security_group_id=group_id,
                )
        for low, high, purpose in DATABRICKS_EGRESS_PORTS:
            VpcSecurityGroupEgressRule(
                self,
                f"egress-{purpose}",
                security_group_id=group_id,
                description=f"Databricks {purpose} ({low}-{high})",
                ip_protocol="tcp",
                from_port=low,
                to_port=high,
                cidr_ipv4=ANYWHERE,
            )

        VpcEndpoint(
            self,
            "s3-endpoint",
            vpc_id=vpc_id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[private_routes.id],
        )
        for service in INTERFACE_ENDPOINTS:
            VpcEndpoint(
                self,
                f"{service}-endpoint",
                vpc_id=vpc_id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[group_id],
                private_dns_enabled=True,
            )
        self._flow_logs(team_env=team_env, account_id=account_id, kms_key_arn=kms_key_arn)

    def _nat_egress(self, *, vpc_id: str, public_cidr: str, zone: str, routes: RouteTable) -> None:
        gateway = InternetGateway(self, "internet-gateway", vpc_id=vpc_id)
        public = Subnet(
            self,
            "public",
            vpc_id=vpc_id,
            cidr_block=public_cidr,
            availability_zone=zone,
            lifecycle=STAY_IN_ZONE,
        )
        public_routes = RouteTable(self, "public-routes", vpc_id=vpc_id)
        RouteTableAssociation(
            self, "public-subnet-routes", subnet_id=public.id, route_table_id=public_routes.id
        )
        Route(
            self,
            "public-default-route",
            route_table_id=public_routes.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=gateway.id,
        )
        address = Eip(self, "nat-address", domain="vpc", depends_on=[gateway])
        nat = NatGateway(self, "nat-gateway", allocation_id=address.allocation_id, subnet_id=public.id)
        Route(
            self,
            "private-default-route",
            route_table_id=routes.id,
            destination_cidr_block=ANYWHERE,
            nat_gateway_id=nat.id,
        )

    def _flow_logs(self, *, team_env: TeamEnv, account_id: str, kms_key_arn: str) -> None:
        names = aws_names(team_env)
        settings = team_env.team.aws
        group = CloudwatchLogGroup(
            self,
            "flow-log-group",
            name=names.flow_log_group,
            retention_in_days=settings.flow_log_retention_days if settings else 365,
            kms_key_id=kms_key_arn,
        )
        role = IamRole(
            self,
            "flow-log-role",
            name=names.flow_log_role,
            assume_role_policy=policy_document(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ),
        )
        IamRolePolicy(
            self,
            "flow-log-policy",
            name="write-flow-logs",
            role=role.id,
            policy=policy_document(
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [f"{group.arn}:*"],
                }
            ),
        )
        FlowLog(
            self,
            "flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
        )
