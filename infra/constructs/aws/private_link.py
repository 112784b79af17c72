"""Back-end PrivateLink of an isolated AWS team-env, on the Databricks account side: the platform stack's endpoints to
the region's workspace (REST API) and relay services registered with Databricks, and the private access settings
the workspace then needs, as SRA's workspace module does (github.com/databricks/terraform-databricks-sra,
aws/tf/modules/databricks_account/workspace/main.tf)."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_databricks.mws_networks import MwsNetworksVpcEndpoints
from cdktf_cdktf_provider_databricks.mws_private_access_settings import MwsPrivateAccessSettings
from cdktf_cdktf_provider_databricks.mws_vpc_endpoint import MwsVpcEndpoint
from constructs import Construct

from infra.config import TeamEnv
from infra.constructs.aws.contracts import AwsPlatformOutputs


@dataclass(frozen=True)
class BackEndPrivateLink:
    vpc_endpoints: MwsNetworksVpcEndpoints
    """The network's `vpc_endpoints` block: the registered endpoints, by use."""
    private_access_settings_id: str


def back_end_private_link(
    scope: Construct,
    *,
    team_env: TeamEnv,
    platform: AwsPlatformOutputs,
    lifecycle: TerraformResourceLifecycle | None,
) -> BackEndPrivateLink | None:
    """Registers the env's Databricks endpoints (isolated egress only; None otherwise).

    Order: each registration references its AWS endpoint (platform stack, applied first) and the network references
    the registrations, so Terraform registers them before it creates the network and deletes the network (after
    the workspace that uses it) before them: Databricks refuses to delete a registration a network still lists.
    Every argument of both resources forces a replacement (databricks v1.99.0 mws/resource_mws_vpc_endpoint.go has
    no Update; mws/mws.go marks the network's vpc_endpoints force_new): they share the network's prevent_destroy.
    """
    if platform.workspace_endpoint_id is None or platform.relay_endpoint_id is None:
        return None
    account_id = str(team_env.platform.account_id)
    region = team_env.team.region
    stem = team_env.names.stem
    registered = {
        use: MwsVpcEndpoint(
            scope,
            f"vpc-endpoint-{use}",
            account_id=account_id,
            aws_vpc_endpoint_id=endpoint_id,
            vpc_endpoint_name=f"{stem}-{use}",
            region=region,
            lifecycle=lifecycle,
        )
        for use, endpoint_id in (
            ("rest-api", platform.workspace_endpoint_id),
            ("relay", platform.relay_endpoint_id),
        )
    }
    # SRA's private access settings: the front end stays public (public_network_access: true is what AWS teams
    # get; front-end PrivateLink is refused at validate), at the ACCOUNT level (the provider's default).
    settings = MwsPrivateAccessSettings(
        scope,
        "private-access-settings",
        account_id=account_id,
        private_access_settings_name=stem,
        region=region,
        public_access_enabled=True,
        private_access_level="ACCOUNT",
    )
    return BackEndPrivateLink(
        vpc_endpoints=MwsNetworksVpcEndpoints(
            rest_api=[registered["rest-api"].vpc_endpoint_id],
            dataplane_relay=[registered["relay"].vpc_endpoint_id],
        ),
        private_access_settings_id=settings.private_access_settings_id,
    )
