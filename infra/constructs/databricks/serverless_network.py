"""The network of an env's serverless compute (config `serverless.restricted_egress`): a restricted account network
policy attached to the workspace, and on AWS a network connectivity configuration (NCC) bound to it.

Account-level resources, built in the env's account stack in two steps: `ServerlessNetwork`, then `attach` with the
workspace ID. On AWS that stack creates the workspace, which depends on them; on Azure (azure_account_stack.py) the
ID is the platform stack's output, and the account stack is destroyed before the platform stack. Neither
attachment can be undone (databricks v1.99.0: mws/resource_mws_ncc_binding.go Delete only logs "Cannot remove network
connectivity config binding"; internal/providers/pluginfw/products/workspace_network_option/
resource_workspace_network_option.go Delete is empty). On AWS the NCC and the policy outlive the workspace: with the
workspace depending on them, Terraform destroys the workspace first. On Azure the policy is deleted while the
workspace still stands, a moment before the platform stack goes (docs/security.md, "Serverless"). Same resources as SRA
(aws/tf/modules/databricks_account/network_connectivity_configuration, network_policy, workspace/main.tf).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import ITerraformDependable, TerraformProvider
from cdktf_cdktf_provider_databricks.account_network_policy import (
    AccountNetworkPolicy,
    AccountNetworkPolicyEgress,
    AccountNetworkPolicyEgressNetworkAccess,
    AccountNetworkPolicyEgressNetworkAccessAllowedInternetDestinations,
    AccountNetworkPolicyEgressNetworkAccessAllowedStorageDestinations,
    AccountNetworkPolicyEgressNetworkAccessPolicyEnforcement,
)
from cdktf_cdktf_provider_databricks.mws_ncc_binding import MwsNccBinding
from cdktf_cdktf_provider_databricks.mws_network_connectivity_config import MwsNetworkConnectivityConfig
from cdktf_cdktf_provider_databricks.workspace_network_option import WorkspaceNetworkOption
from constructs import Construct

from infra.config import TeamEnv
from infra.config.serverless import has_ncc, internet_destinations, ncc_name, network_policy_id


@dataclass(frozen=True, kw_only=True)
class StorageDestination:
    """One bucket (AWS, `region` set) or storage account (Azure, `service` set) serverless compute may reach."""

    name: str
    region: str | None = None
    service: str | None = None

    def block(self) -> AccountNetworkPolicyEgressNetworkAccessAllowedStorageDestinations:
        if self.service is not None:
            return AccountNetworkPolicyEgressNetworkAccessAllowedStorageDestinations(
                storage_destination_type="AZURE_STORAGE",
                azure_storage_account=self.name,
                azure_storage_service=self.service,
            )
        return AccountNetworkPolicyEgressNetworkAccessAllowedStorageDestinations(
            storage_destination_type="AWS_S3", bucket_name=self.name, region=self.region
        )


def wants_serverless_network(team_env: TeamEnv) -> bool:
    settings = team_env.settings
    return settings.serverless.restricted_egress or has_ncc(team_env.team.cloud, settings)


class ServerlessNetwork(Construct):
    """The env's NCC (AWS) and restricted network policy; `attach` binds both to the workspace."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        provider: TerraformProvider | None,
        storage: list[StorageDestination],
    ) -> None:
        super().__init__(scope, id)
        self._provider = provider
        settings = team_env.settings
        account_id = str(team_env.platform.account_id)
        stem = team_env.names.stem
        self.ncc: MwsNetworkConnectivityConfig | None = None
        if has_ncc(team_env.team.cloud, settings):
            # name and region force a replacement (mws/resource_mws_network_connectivity_config.go v1.99.0).
            self.ncc = MwsNetworkConnectivityConfig(
                self, "ncc", provider=provider, name=ncc_name(stem), region=team_env.team.region
            )
        self.policy: AccountNetworkPolicy | None = None
        if settings.serverless.restricted_egress:
            self.policy = AccountNetworkPolicy(
                self,
                "policy",
                provider=provider,
                account_id=account_id,
                network_policy_id=network_policy_id(stem),
                egress=AccountNetworkPolicyEgress(
                    network_access=AccountNetworkPolicyEgressNetworkAccess(
                        restriction_mode="RESTRICTED_ACCESS",
                        allowed_internet_destinations=[
                            AccountNetworkPolicyEgressNetworkAccessAllowedInternetDestinations(
                                destination=name, internet_destination_type="DNS_NAME"
                            )
                            for name in internet_destinations(team_env.team.cloud, settings)
                        ],
                        allowed_storage_destinations=[destination.block() for destination in storage],
                        policy_enforcement=AccountNetworkPolicyEgressNetworkAccessPolicyEnforcement(
                            enforcement_mode="ENFORCED"
                        ),
                    )
                ),
            )

    @property
    def before_workspace(self) -> list[ITerraformDependable]:
        """What the workspace depends on, so that it is destroyed before them."""
        return [resource for resource in (self.ncc, self.policy) if resource is not None]

    def attach(self, workspace_id: float) -> None:
        """Binds the NCC and the policy to the workspace (`workspace_id`: the numeric ID)."""
        if self.ncc is not None:
            MwsNccBinding(
                self,
                "ncc-binding",
                provider=self._provider,
                network_connectivity_config_id=self.ncc.network_connectivity_config_id,
                workspace_id=workspace_id,
            )
        if self.policy is not None:
            WorkspaceNetworkOption(
                self,
                "network-option",
                provider=self._provider,
                network_policy_id=self.policy.network_policy_id,
                workspace_id=workspace_id,
            )
