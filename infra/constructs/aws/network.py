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
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws_names import aws_names, aws_subnets
from infra.constructs.aws.endpoints import VpcEndpoints
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


class Network(Construct):
    """VPC with two private cluster subnets in two zones, a NAT gateway in a public subnet as their egress
    (open egress) or none at all (isolated egress: SRA's isolated network, back-end PrivateLink), the workspace
    security group with exactly the rules Databricks documents, the VPC endpoints (endpoints.py), flow logs to an
    encrypted log group, and a default security group stripped of every rule."""

    def __init__(
        self, scope: Construct, id: str, *, team_env: TeamEnv, account_id: str, kms_key_arn: str
    ) -> None:
        super().__init__(scope, id)
        names = aws_names(team_env)
        subnets = aws_subnets(team_env)
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
        isolated = team_env.settings.egress.mode == "isolated"
        self.egress_ip_address: str | None = None
        """The NAT gateway's public address (open egress): the IP access list must let the clusters in from it."""
        if not isolated:
            self.egress_ip_address = self._nat_egress(
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
        # Isolated egress: the Databricks ports only towards the VPC's own endpoints (SRA network.tf, workspace
        # security group), and S3 through its gateway endpoint's prefix list; open egress: to anywhere.
        destination = team_env.settings.network if isolated else ANYWHERE
        for low, high, purpose in DATABRICKS_EGRESS_PORTS:
            VpcSecurityGroupEgressRule(
                self,
                f"egress-{purpose}",
                security_group_id=group_id,
                description=f"Databricks {purpose} ({low}-{high})",
                ip_protocol="tcp",
                from_port=low,
                to_port=high,
                cidr_ipv4=destination,
            )
        self.endpoints = VpcEndpoints(
            self,
            "endpoints",
            team_env=team_env,
            account_id=account_id,
            vpc_id=vpc_id,
            zones=self.zones,
            cluster_routes=private_routes,
            cluster_security_group_id=group_id,
            stay_in_zone=STAY_IN_ZONE,
        )
        if isolated:
            VpcSecurityGroupEgressRule(
                self,
                "egress-s3",
                security_group_id=group_id,
                description="S3 through the gateway endpoint (443)",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                prefix_list_id=self.endpoints.s3.prefix_list_id,
            )
        self._flow_logs(team_env=team_env, account_id=account_id, kms_key_arn=kms_key_arn)

    def _nat_egress(self, *, vpc_id: str, public_cidr: str, zone: str, routes: RouteTable) -> str:
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
        return address.public_ip

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
