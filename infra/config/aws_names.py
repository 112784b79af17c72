"""Names and subnets derived for one AWS team-env."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.config.naming import stable_hash

if TYPE_CHECKING:
    from infra.config.model import TeamEnv


@dataclass(frozen=True, kw_only=True)
class AwsNames:
    """Names of one AWS team-env's resources; bucket names are global, so they carry a stable hash."""

    stem: str
    root_bucket: str
    lake_bucket: str
    cross_account_role: str
    unity_catalog_role: str
    flow_log_role: str
    flow_log_group: str
    kms_alias: str


def bucket_names(*, prefix: str, team: str, env: str) -> tuple[str, str]:
    """The (root, lake) S3 bucket names of one identity; unique_names.py checks them without a TeamEnv."""
    stem = f"{prefix}-{team}-{env}"
    digest = stable_hash(prefix, team, env)
    # S3: 3-63 lowercase letters, digits and '-'; the stem is at most 6+1+12+1+10 = 30 characters.
    return f"{stem}-root-{digest}", f"{stem}-lake-{digest}"


def audit_log_bucket_name(*, prefix: str, team: str, env: str) -> str:
    """The env's audit log delivery bucket (global, like the others; unique_names.py checks it)."""
    return f"{prefix}-{team}-{env}-audit-{stable_hash(prefix, team, env)}"


def aws_names(team_env: TeamEnv) -> AwsNames:
    stem = team_env.names.stem
    root_bucket, lake_bucket = bucket_names(
        prefix=team_env.platform.prefix, team=team_env.team.name, env=team_env.env
    )
    return AwsNames(
        stem=stem,
        root_bucket=root_bucket,
        lake_bucket=lake_bucket,
        cross_account_role=f"{stem}-databricks-cross-account",
        unity_catalog_role=f"{stem}-unity-catalog",
        flow_log_role=f"{stem}-flow-logs",
        flow_log_group=f"/databricks/{stem}/vpc-flow-logs",
        kms_alias=f"alias/{stem}",
    )


@dataclass(frozen=True, kw_only=True)
class AwsSubnets:
    """The VPC quartered: two private cluster subnets in two zones, one public subnet for the NAT gateway (open
    egress only), and the last quarter halved into the two endpoint subnets (SRA's privatelink subnets). The zones are not derived here: zone
    letters map to different zones in each account and not every letter exists, so the network reads the
    region's available zones from the aws provider."""

    private: tuple[str, str]
    public: str
    endpoints: tuple[str, str]


def aws_subnets(team_env: TeamEnv) -> AwsSubnets:
    quarters = list(ipaddress.IPv4Network(team_env.settings.network).subnets(prefixlen_diff=2))
    endpoints = [str(half) for half in quarters[3].subnets(prefixlen_diff=1)]
    return AwsSubnets(
        private=(str(quarters[0]), str(quarters[1])),
        public=str(quarters[2]),
        endpoints=(endpoints[0], endpoints[1]),
    )
