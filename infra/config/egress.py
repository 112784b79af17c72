"""Egress control (data exfiltration): where an env's clusters may connect to, and the Azure hub's firewall.

One `egress` setting on both clouds. `open`: a NAT gateway, any destination (prod needs `open_reason`).
`firewall` (Azure only, the prod default there): the workspace subnets route 0.0.0.0/0 to the hub's Azure Firewall, whose policy gets one rule
collection group per env allowing the Databricks control plane and the region's metastore, artifact, log and
event hub endpoints, plus the env's `allowed_fqdns`; everything else is dropped. `isolated` (AWS only, the prod
default there): no NAT or internet gateway, back-end PrivateLink (infra/config/aws_private_link.py). Pure config, no cdktf: the stacks and the policy rules read it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from infra.config.aws_private_link import isolated_problem
from infra.config.base import StrictModel, repeated, team_paths
from infra.config.hardening import check_public_address

if TYPE_CHECKING:
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

FIREWALL_POLICY_ID = r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/firewallPolicies/[^/]+$"
# A DNS name of two labels or more, lowercase, each label 1-63 letters, digits or inner hyphens; `*.` in front is
# the one wildcard an Azure Firewall application rule accepts (any subdomain).
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
FQDN = re.compile(rf"^(?:\*\.)?(?:{_LABEL}\.)+[a-z][a-z0-9-]{{0,61}}[a-z0-9]$")
# Rule collection group priorities the platform derives for envs (see firewall_priority); below them the hub's
# owner keeps their own groups (100-999), processed first.
FIRST_ENV_PRIORITY, ENV_PRIORITIES = 1000, 64000


# Regions whose workspaces use Databricks endpoints in another region (Microsoft Learn, "IP addresses and domains for
# Azure Databricks services and assets", the per-region table of metastore, artifact Blob storage primary and secondary,
# log Blob storage and Event Hubs endpoint; read here through public firewall templates that copy it, not the page):
# service -> the other regions whose tag the firewall must allow too. North Europe's log Blob storage
# (dblogprodwesteurope) and Event Hubs endpoint (prod-westeurope-observabilityeventhubs) are in West Europe; artifact
# Blob storage secondary lives in another region almost everywhere (eastus2's West US event hub has one source only).
# Regions not listed get their own region's tags only, and validate warns (remote_endpoint_warnings).
ENDPOINTS_IN_OTHER_REGIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "northeurope": {"Storage": ("westeurope",), "EventHub": ("westeurope",)},
    "westeurope": {"Storage": ("northeurope",)},
    "eastus2": {"EventHub": ("westus",)},
    "southeastasia": {"Storage": ("eastasia",)},
    "uaenorth": {"Storage": ("southafricanorth",)},
}


def check_fqdn(value: str) -> str:
    if len(value) > 253 or not FQDN.match(value):
        raise ValueError(
            f"{value!r} is not a fully qualified domain name (lowercase labels of letters, digits and inner "
            "hyphens, at least two, optionally starting with '*.', e.g. pypi.org or *.blob.core.windows.net)"
        )
    return value


Fqdn = Annotated[str, AfterValidator(check_fqdn)]


class HubFirewall(StrictModel):
    """The Azure Firewall in the hub VNet that firewall-egress envs route their internet traffic through. The hub's
    owner creates it (as they create the shared zones): SKU Standard or Premium (FQDN application rules), in the
    hub's `AzureFirewallSubnet`, with the firewall policy named here attached. Each env adds one rule collection
    group to that policy (`rcg-<prefix>-<team>-<env>`, priority 1000-64999 derived from its network; keep the
    owner's own groups below 1000): the deployer needs Network Contributor on the policy."""

    private_ip_address: ipaddress.IPv4Address
    """The firewall's private IP in the hub VNet: the next hop of each env's 0.0.0.0/0 route."""
    policy_id: Annotated[str, Field(pattern=FIREWALL_POLICY_ID)]
    """ARM ID of the firewall policy attached to the firewall, where the envs' rule collection groups go."""
    public_ip_addresses: list[Annotated[str, AfterValidator(check_public_address)]] = []  # noqa: RUF012
    """The firewall's public (SNAT) addresses: the clusters of a firewall-egress env reach the control plane from
    them, so a workspace with an IP access list adds them to its list (Databricks, "Configure IP access lists for
    workspaces": otherwise no cluster can launch). Unset with a list: validate warns."""

    @staticmethod
    def rule_collection_group_name(stem: str) -> str:
        """The env's group in the policy (``stem``: `<prefix>-<team>-<env>`): unique per env in a shared policy."""
        return f"rcg-{stem}"

    def rule_collection_group_id(self, stem: str) -> str:
        """ARM ID of the env's group: outside the env's resource group, so the reaper deletes it by this ID."""
        return f"{self.policy_id}/ruleCollectionGroups/{self.rule_collection_group_name(stem)}"

    @field_validator("private_ip_address")
    @classmethod
    def _private(cls, value: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
        if not value.is_private or value.is_loopback or value.is_link_local or value.is_unspecified:
            raise ValueError(
                f"{value} is not a private address; give the firewall's private IP in the hub VNet"
            )
        return value


# The prod default of `egress.mode` per cloud (team.py applies it under what the config sets); elsewhere `open`.
PROD_EGRESS_MODE = {"azure": "firewall", "aws": "isolated"}
# The mode only one cloud implements, and what that cloud calls it in a refusal.
CLOUD_OF_MODE = {
    "firewall": ("azure", "the Azure hub's firewall"),
    "isolated": ("aws", "AWS back-end PrivateLink"),
}
CLOUD_NAME = {"azure": "Azure", "aws": "AWS"}


class Egress(StrictModel):
    """Where the env's clusters may connect to. Default `open` (NAT gateway); in prod `firewall` on Azure,
    `isolated` on AWS."""

    mode: Literal["firewall", "isolated", "open"] = "open"
    """`open` (default outside prod, both clouds): a NAT gateway, any destination (prod needs `open_reason`).
    `firewall` (Azure only, default in prod there): route the workspace subnets' internet traffic through the hub's
    Azure Firewall (`platform.hub_network.firewall`), which allows only the Databricks control plane, the region's
    Storage, Sql and EventHub endpoints and `allowed_fqdns`. Needs an env peered with the hub (`network_isolation:
    private` or `public_network_access: false`). `isolated` (AWS only, default in prod there): the security
    reference architecture's isolated network, with no NAT or internet gateway: back-end PrivateLink to the
    Databricks workspace and relay services of the region, an S3 gateway endpoint and STS / Kinesis interface
    endpoints whose policies admit only the env's buckets and the buckets Databricks needs in the region (docs/aws.md).
    Clusters then cannot reach PyPI: each managed workload's requirements the ML runtime does not ship are uploaded
    beside its wheel as a wheelhouse pinned by Pipfile.lock (fetched at synth from PyPI or `platform.package_index`);
    refused where that wheelhouse cannot be pinned (infra/config/offline_packages.py)."""
    allowed_fqdns: list[Fqdn] = []  # noqa: RUF012 (pydantic copies defaults)
    """Extra destinations (HTTPS, port 443) the firewall allows for this env, e.g. `login.microsoftonline.com` for
    clusters that sign in to Entra ID themselves; `*.example.com` allows any subdomain. PyPI (`pypi.org`,
    `files.pythonhosted.org`) is always allowed: the jobs' wheel fetches its dependencies from it. Only with
    `mode: firewall`."""
    open_reason: Annotated[str, Field(min_length=15, max_length=500)] | None = None
    """Why a prod env may reach any destination (at least 15 characters): required for `mode: open` in prod,
    refused with the other modes."""

    @field_validator("open_reason", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        """Stripped before its length is checked: twenty spaces are no reason."""
        return value.strip() if isinstance(value, str) else value

    @field_validator("allowed_fqdns")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        twice = repeated(value)
        if twice:
            raise ValueError(
                f"{', '.join(repr(n) for n in twice)} listed more than once; list each name once"
            )
        return value

    @model_validator(mode="after")
    def _fields_of_the_mode(self) -> Egress:
        if self.mode != "firewall" and self.allowed_fqdns:
            allows = "every destination" if self.mode == "open" else "no internet destination"
            raise ValueError(
                f"allowed_fqdns applies only with mode: firewall ({self.mode} egress allows {allows})"
            )
        if self.mode != "open" and self.open_reason is not None:
            raise ValueError("open_reason applies only with mode: open; remove it")
        return self


def firewall_priority(network: str) -> int:
    """The priority of an env's rule collection group in the hub's policy: from the first /24 of its network, so
    envs and ephemeral slots (whose networks never overlap) get distinct ones; validate checks the rare wrap."""
    first_slot = int(ipaddress.IPv4Network(network).network_address) >> 8
    return FIRST_ENV_PRIORITY + first_slot % ENV_PRIORITIES


def firewall_address_warnings(platform: PlatformSettings) -> list[str]:
    """An address no Azure Firewall in a VNet has: it takes the first usable address of its AzureFirewallSubnet
    (Azure reserves the first four of a subnet; that subnet is a /26 or larger), 4 past a multiple of 64. Another
    address deploys and then black-holes the envs' egress; only a warning, as the hub is outside the config."""
    hub = platform.hub_network
    if hub is None or hub.firewall is None:
        return []
    address = hub.firewall.private_ip_address
    if int(address) % 64 == 4:
        return []
    first = ipaddress.IPv4Address((int(address) & ~63) + 4)
    return [
        f"platform.hub_network.firewall.private_ip_address: {address} cannot be an Azure Firewall's (it takes the "
        f"first usable address of its AzureFirewallSubnet, a /26 or larger: 4 past a multiple of 64, e.g. {first}); "
        "the envs' 0.0.0.0/0 route sends everything to it, so check it"
    ]


def remote_endpoint_warnings(teams: list[TeamConfig]) -> list[str]:
    """Firewall egress in a region ENDPOINTS_IN_OTHER_REGIONS does not list: only the region's own tags are allowed,
    and whatever Databricks serves that region from elsewhere would be dropped at the firewall."""
    warnings = []
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        if team.cloud != "azure" or team.region in ENDPOINTS_IN_OTHER_REGIONS:
            continue
        warnings += [
            f"{team_path}.environments.{env}.egress.mode: the firewall allows Databricks' Storage, Sql and EventHub "
            f"endpoints of {team.region} only; the platform does not know which of them Databricks keeps in other "
            "regions for it (artifact storage secondary, sometimes log storage and Event Hubs): check Microsoft's "
            f"'IP addresses and domains for Azure Databricks' table for {team.region} and add it to "
            "ENDPOINTS_IN_OTHER_REGIONS (infra/config/egress.py)"
            for env, settings in team.environments.items()
            if settings.egress.mode == "firewall"
        ]
    return warnings


def egress_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """What validate refuses about egress, one line per problem starting with its field path."""
    hub = platform.hub_network
    firewall = hub.firewall if hub is not None else None
    problems: list[str] = []
    priorities: dict[int, str] = {}
    for team_path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        firewalled = False
        for env, settings in team.environments.items():
            path = f"{team_path}.environments.{env}.egress"
            egress = settings.egress
            if egress.mode in CLOUD_OF_MODE and CLOUD_OF_MODE[egress.mode][0] != team.cloud:
                cloud, what = CLOUD_OF_MODE[egress.mode]
                problems.append(
                    f"{path}.mode: {egress.mode} is {what}, for {CLOUD_NAME[cloud]} teams only; an "
                    f"{CLOUD_NAME[team.cloud]} team uses mode: {PROD_EGRESS_MODE[team.cloud]} or open"
                )
                continue
            if egress.mode == "open":
                if env == "prod" and egress.open_reason is None:
                    problems.append(
                        f"{path}: prod egress is open (NAT gateway, any destination) without open_reason; "
                        f"set mode: {PROD_EGRESS_MODE[team.cloud]}, or say why in open_reason"
                    )
                continue
            if egress.mode == "isolated":
                problems += [p for p in [isolated_problem(path, team.region)] if p]
                continue
            if hub is None or firewall is None:
                where = "platform.hub_network" if hub is None else "platform.hub_network.firewall"
                problems.append(
                    f"{path}.mode: firewall egress routes through the hub's Azure Firewall, and {where} is unset; "
                    "set it, or use mode: open with an open_reason"
                )
                continue
            if not settings.reachable_only_from_its_network:
                problems.append(
                    f"{path}.mode: firewall egress goes through the hub peering, which only a private env has; set "
                    "network_isolation: private (or public_network_access: false), or use mode: open (in prod "
                    "with an open_reason)"
                )
                continue
            firewalled = True
            problems += _priority_clashes(
                priorities, f"{team_path}.environments.{env}.network", [settings.network]
            )
        if firewalled and team.ephemeral is not None:
            slots = [
                str(s) for s in ipaddress.IPv4Network(team.ephemeral.network_pool).subnets(new_prefix=24)
            ]
            problems += _priority_clashes(priorities, f"{team_path}.ephemeral.network_pool", slots)
    if firewall is not None:
        problems += _firewall_inside_an_env(firewall, teams)
    return problems


def _priority_clashes(seen: dict[int, str], path: str, networks: list[str]) -> list[str]:
    problems = []
    for network in networks:
        priority = firewall_priority(network)
        other = seen.setdefault(priority, path)
        if other != path:
            problems.append(
                f"{path}: its rule collection group priority in the hub's firewall policy ({priority}, from the "
                f"network's first /24) is also {other}'s; move one of the networks"
            )
    return problems


def _firewall_inside_an_env(firewall: HubFirewall, teams: list[TeamConfig]) -> list[str]:
    """The firewall's address inside an Azure env's network (those peer with the hub); AWS VPCs are not peered."""
    for team in teams:
        if team.cloud != "azure":
            continue
        ranges = [settings.network for settings in team.environments.values()]
        ranges += [team.ephemeral.network_pool] if team.ephemeral else []
        for network in ranges:
            if firewall.private_ip_address in ipaddress.IPv4Network(network):
                return [
                    f"platform.hub_network.firewall.private_ip_address: {firewall.private_ip_address} lies in "
                    f"{network}, an env's network; give the firewall's address in the hub VNet"
                ]
    return []
