"""Workspace hardening of one environment (issue 25, item 3): the enhanced security and compliance controls, the
legacy features turned off, workspace admins restricted, `workspace_conf` hardening and the front end's IP access
list. Prod is hardened by default (ENV_DEFAULTS), dev stays cheap.

What the providers do with each control, at the pinned versions:
- Azure: `enhanced_security_compliance` of azurerm_databricks_workspace (azurerm v4.55.0
  internal/services/databricks/databricks_workspace_resource.go) needs a premium SKU; the compliance security
  profile needs automatic cluster update and enhanced security monitoring on (plan error otherwise); standards
  (HIPAA, PCI_DSS) only with the profile; turning the profile or a standard off again forces a NEW workspace.
- AWS: databricks_compliance_security_profile_workspace_setting, ..._enhanced_security_monitoring_... and
  ..._automatic_cluster_update_... (databricks v1.99.0 settings/resource_*_setting.go). Deleting the compliance
  profile setting only logs "couldn't be disabled": the profile stays on. They need the Enterprise tier, which the
  account stack then gives the workspace (set at creation only).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, model_validator

from infra.config.base import GITHUB_HOSTED_LABEL, StrictModel, team_paths
from infra.config.workload import BundleWorkload

if TYPE_CHECKING:
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

# The provider caps all lists of a workspace at 1000 addresses and ranges (databricks v1.99.0
# docs/resources/ip_access_list.md).
MAX_IP_ACCESS_ENTRIES = 1000


# Ranges a public front end never sees as a client address: RFC 1918, loopback, link-local, carrier-grade NAT,
# "this network". (The documentation ranges of RFC 5737 stay allowed: platform.yaml's examples use them.)
NEVER_PUBLIC = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "0.0.0.0/8",
    )
)


def check_public_address(value: str) -> str:
    """A public IPv4 address or CIDR range (the provider accepts IsIPv4Address or IsCIDR,
    access/resource_ip_access_list.go v1.99.0); a private range never reaches a public front end."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 address or CIDR range ({exc})") from None
    if network.version != 4:
        raise ValueError(f"{value!r} is not IPv4")
    if any(network.subnet_of(block) for block in NEVER_PUBLIC) or network.is_multicast:
        raise ValueError(
            f"{value!r} is not a public range: the front end sees the runner's and users' public (NAT) addresses"
        )
    if network.prefixlen == 0:
        raise ValueError(f"{value!r} allows every address; list the office and runner ranges")
    return value


PublicRange = Annotated[str, AfterValidator(check_public_address)]
ComplianceStandard = Literal["HIPAA", "PCI_DSS"]


class Hardening(StrictModel):
    """Workspace security controls beyond the baseline (docs/security.md, "Workspace hardening"). All on by
    default in prod; dev and staging keep only verbose audit logs."""

    compliance_security_profile: bool = False
    """Compliance security profile (hardened images, FIPS endpoints, more monitoring agents). Cannot be turned
    off again: on Azure that replaces the workspace, on AWS the profile stays on. Needs
    enhanced_security_monitoring and automatic_cluster_update."""
    compliance_standards: list[ComplianceStandard] = []  # noqa: RUF012 (pydantic copies defaults)
    """Standards the profile enforces (HIPAA, PCI_DSS); only with compliance_security_profile. Removing one
    again replaces an Azure workspace."""
    enhanced_security_monitoring: bool = False
    """Enhanced security monitoring: antivirus and file integrity monitoring on the cluster images."""
    automatic_cluster_update: bool = False
    """Restart clusters in the monthly maintenance window to apply image updates."""
    disable_legacy_access: bool = False
    """Turn off the Hive metastore, no-isolation clusters and runtimes before 13.3 LTS: Unity Catalog only."""
    disable_legacy_dbfs: bool = False
    """Turn off access to the DBFS root and mounts (the wheel and data live in Unity Catalog volumes)."""
    restrict_workspace_admins: bool = False
    """Workspace admins may create tokens only for service principals they hold the Service Principal User role
    on, and hand a job's ownership only to themselves (RESTRICT_TOKENS_AND_JOB_RUN_AS, databricks v1.99.0
    docs/resources/restrict_workspace_admins_setting.md). The deployer already sets run_as through that role
    (granted through platform.account_id), so the jobs deploy either way. Only a Databricks account admin may change
    the setting (Databricks docs, "Restrict workspace admins"): the deployer must be one (on AWS it is, since it
    creates the workspaces), or set this false and let an account admin turn it on."""
    verbose_audit_logs: bool = True
    """Log every notebook command and SQL query to the audit log (enableVerboseAuditLogs)."""
    results_download: bool = True
    """Let users download notebook results (enableResultsDownloading); off in prod."""
    notebook_export: bool = True
    """Let users export notebooks (enableExportNotebook); off in prod."""
    notebook_table_clipboard: bool = True
    """Let users copy result tables to the clipboard (enableNotebookTableClipboard); off in prod."""
    ip_access_list: list[PublicRange] = []  # noqa: RUF012 (pydantic copies defaults)
    """Public IPv4 addresses and ranges allowed to reach a public front end (UI and API). Required in prod
    when public_network_access is true. Must include the deploy runner's public (NAT) address: `platform
    deploy` checks it before applying (docs/operations.md); the env's deploy_runner must then be a self-hosted
    runner, since a GitHub-hosted one leaves from a different address on each run."""

    @model_validator(mode="after")
    def _consistent(self) -> Hardening:
        if self.compliance_security_profile and not (
            self.enhanced_security_monitoring and self.automatic_cluster_update
        ):
            # azurerm v4.55.0 databricks_workspace_resource.go refuses this at plan time.
            raise ValueError(
                "compliance_security_profile needs enhanced_security_monitoring and automatic_cluster_update true"
            )
        if self.compliance_standards and not self.compliance_security_profile:
            raise ValueError("compliance_standards need compliance_security_profile true")
        if len(set(self.compliance_standards)) != len(self.compliance_standards):
            raise ValueError("compliance_standards lists a standard twice")
        if len(set(self.ip_access_list)) != len(self.ip_access_list):
            raise ValueError("ip_access_list lists an address twice")
        if len(self.ip_access_list) > MAX_IP_ACCESS_ENTRIES:
            raise ValueError(f"ip_access_list holds more than {MAX_IP_ACCESS_ENTRIES} entries")
        return self

    @property
    def enhanced_security(self) -> bool:
        """Any of the controls of the enhanced security and compliance add-on."""
        return (
            self.compliance_security_profile
            or self.enhanced_security_monitoring
            or self.automatic_cluster_update
        )

    def allows(self, address: str) -> bool:
        """Whether ``address`` (an IPv4 address) is on the IP access list."""
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(entry) for entry in self.ip_access_list)


PROD_HARDENING = {
    "compliance_security_profile": True,
    "enhanced_security_monitoring": True,
    "automatic_cluster_update": True,
    "disable_legacy_access": True,
    "disable_legacy_dbfs": True,
    "restrict_workspace_admins": True,
    "results_download": False,
    "notebook_export": False,
    "notebook_table_clipboard": False,
}
"""The per-kind default of prod (ENV_DEFAULTS)."""


def hardening_problems(teams: list[TeamConfig]) -> list[str]:
    """One line per hardening setting that cannot deploy as configured, each with its field path."""
    problems = []
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for env, settings in team.environments.items():
            path = f"{team_path}.environments.{env}.hardening"
            hardening = settings.hardening
            if hardening.ip_access_list and not settings.public_network_access:
                problems.append(
                    f"{path}.ip_access_list: the front end is private (public_network_access false), where IP "
                    "access lists do not apply; remove the list"
                )
            hosted = [label for label in settings.deploy_runner if GITHUB_HOSTED_LABEL.match(label)]
            if (
                hardening.ip_access_list
                and settings.public_network_access
                and (hosted or not settings.deploy_runner)
            ):
                # CI deploys, plans, smoke-tests and destroys the env from deploy_runner; a GitHub-hosted runner
                # leaves from whichever of GitHub's many Azure ranges the job lands on, which no list can hold.
                runner = (
                    f"{hosted[0]!r} is GitHub-hosted"
                    if hosted
                    else "empty: a GitHub-hosted ubuntu-latest runner"
                )
                problems.append(
                    f"{team_path}.environments.{env}.deploy_runner: {runner}, whose address changes from run to run, "
                    "so hardening.ip_access_list would refuse CI's deploys and smoke tests; name a self-hosted runner "
                    "whose public (NAT) address is on the list"
                )
            if env == "prod" and settings.public_network_access and not hardening.ip_access_list:
                problems.append(
                    f"{path}.ip_access_list: a prod workspace with a public front end needs an IP access list "
                    "(the office and deploy runner ranges), or set public_network_access false"
                )
    return problems


def _firewall_public_addresses(platform: PlatformSettings) -> list[object]:
    hub = platform.hub_network
    return hub.firewall.public_ip_addresses if hub is not None and hub.firewall is not None else []


def hardening_warnings(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """Bundle CI that an env's IP access list must let in: the team's own GitHub Actions deploy its staging and
    prod bundle targets (docs/bundles.md), and Databricks applies the list to every call to the workspace, the
    CI's federated sign-in included. Where that CI runs is outside this config, so this warns instead of refusing."""
    warnings = []
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for env, settings in team.environments.items():
            if (
                team.cloud == "azure"
                and settings.public_network_access
                and settings.hardening.ip_access_list
                and settings.egress.mode == "firewall"
                and not _firewall_public_addresses(platform)
            ):
                # The config knows only the firewall's private IP; its public (SNAT) address is the hub's.
                warnings.append(
                    f"{team_path}.environments.{env}.hardening.ip_access_list: the env's clusters reach the control "
                    "plane from the hub firewall's public address, which must be on the list or no cluster can "
                    'launch (Databricks docs, "Configure IP access lists for workspaces"); name it in '
                    "platform.hub_network.firewall.public_ip_addresses and the workspace adds it"
                )
        listed = [
            env
            for env in ("staging", "prod")
            if (settings := team.environments.get(env))
            and settings.public_network_access
            and settings.hardening.ip_access_list
        ]
        for index, workload in enumerate(team.workloads):
            if listed and isinstance(workload, BundleWorkload) and workload.ci:
                warnings.append(
                    f"{team_path}.workloads[{index}].ci: {' and '.join(f'{team.name}/{e}' for e in listed)} "
                    f"{'enforces' if len(listed) == 1 else 'enforce'} hardening.ip_access_list, so the bundle's CI ({workload.ci.github_repository}) deploys "
                    "there only from a runner whose public address is on the list; GitHub-hosted runners are not"
                )
    return warnings
