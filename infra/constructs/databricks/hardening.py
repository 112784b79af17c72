"""The workspace-level hardening settings of an env (config `hardening`, infra/config/hardening.py).

Each is a workspace setting resource of the databricks provider v1.99.0 (settings/resource_*_setting.go): an
update with ``allow_missing`` on create, and on destroy the setting goes back to the workspace default, except the
compliance security profile, whose delete only logs "couldn't be disabled". On Azure the compliance profile,
enhanced security monitoring and automatic cluster update are properties of the workspace resource (the platform
stack's ``enhanced_security_compliance`` block), so they are created here only for AWS workspaces.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_databricks.automatic_cluster_update_workspace_setting import (
    AutomaticClusterUpdateWorkspaceSetting,
)
from cdktf_cdktf_provider_databricks.compliance_security_profile_workspace_setting import (
    ComplianceSecurityProfileWorkspaceSetting,
)
from cdktf_cdktf_provider_databricks.disable_legacy_access_setting import DisableLegacyAccessSetting
from cdktf_cdktf_provider_databricks.disable_legacy_dbfs_setting import DisableLegacyDbfsSetting
from cdktf_cdktf_provider_databricks.enhanced_security_monitoring_workspace_setting import (
    EnhancedSecurityMonitoringWorkspaceSetting,
)
from cdktf_cdktf_provider_databricks.ip_access_list import IpAccessList
from cdktf_cdktf_provider_databricks.restrict_workspace_admins_setting import RestrictWorkspaceAdminsSetting
from constructs import Construct

from infra.config import TeamEnv

# Workspace admins may hand job run_as and tokens only to service principals they hold the Service Principal User
# role on (Databricks API RestrictWorkspaceAdminsMessage.status).
RESTRICTED_ADMINS = "RESTRICT_TOKENS_AND_JOB_RUN_AS"
# databricks v1.99.0: compliance_standards is Required on the AWS setting; NONE is the profile without a named
# standard (settings/resource_compliance_security_profile_setting_test.go sends ["NONE"]). Enabling is permanent
# (docs/resources/compliance_security_profile_setting.md: "can NOT be disabled once it is enabled"; on Azure the
# workspace resource carries it instead).
NO_STANDARD = "NONE"
IP_ACCESS_LIST_LABEL = "platform-allow"


class WorkspaceHardening(Construct):
    """Legacy access and DBFS off, workspace admins restricted, the AWS enhanced security settings, and the front
    end's IP access list (after ``enableIpAccessLists`` is on: ``ip_lists_enabled``, the env's workspace_conf)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        ip_lists_enabled: ITerraformDependable,
        compute_egress: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        hardening = team_env.settings.hardening
        if team_env.team.cloud == "aws":
            if hardening.compliance_security_profile:
                ComplianceSecurityProfileWorkspaceSetting(
                    self,
                    "compliance-security-profile",
                    compliance_security_profile_workspace={
                        "is_enabled": True,
                        "compliance_standards": list(hardening.compliance_standards) or [NO_STANDARD],
                    },
                )
            # The profile turns monitoring and cluster update on and keeps them on (docs/resources/
            # enhanced_security_monitoring_setting.md; SRA aws/tf/main.tf declares them only without it). Declared
            # beside the profile, their destroy would send is_enabled/enabled false (deleteFunc) under it.
            separate = not hardening.compliance_security_profile
            if hardening.enhanced_security_monitoring and separate:
                EnhancedSecurityMonitoringWorkspaceSetting(
                    self,
                    "enhanced-security-monitoring",
                    enhanced_security_monitoring_workspace={"is_enabled": True},
                )
            if hardening.automatic_cluster_update and separate:
                AutomaticClusterUpdateWorkspaceSetting(
                    self, "automatic-cluster-update", automatic_cluster_update_workspace={"enabled": True}
                )
        if hardening.disable_legacy_access:
            DisableLegacyAccessSetting(self, "disable-legacy-access", disable_legacy_access={"value": True})
        if hardening.disable_legacy_dbfs:
            DisableLegacyDbfsSetting(self, "disable-legacy-dbfs", disable_legacy_dbfs={"value": True})
        if hardening.restrict_workspace_admins:
            RestrictWorkspaceAdminsSetting(
                self, "restrict-workspace-admins", restrict_workspace_admins={"status": RESTRICTED_ADMINS}
            )
        self.ip_access_list: IpAccessList | None = None
        if hardening.ip_access_list and team_env.settings.public_network_access:
            # The API refuses a list that would lock out the caller; `platform deploy` checks the runner's public
            # address is on it before applying (infra/lifecycle/runner_address.py).
            self.ip_access_list = IpAccessList(
                self,
                "ip-access-list",
                label=IP_ACCESS_LIST_LABEL,
                list_type="ALLOW",
                # The clusters' own NAT address too: Databricks requires the compute plane's public IPs on an allow
                # list, or no classic cluster launches ("Configure IP access lists for workspaces").
                ip_addresses=[*hardening.ip_access_list, *compute_egress],
                depends_on=[ip_lists_enabled],
            )
