"""How an AWS team-env's clusters reach the outside: through a NAT gateway, or isolated behind back-end PrivateLink.

`isolated` is the security reference architecture's AWS "isolated" network configuration
(github.com/databricks/terraform-databricks-sra, aws/tf/network.tf and privatelink.tf): no NAT gateway, no internet
gateway; the clusters reach the Databricks control plane through interface endpoints to the region's workspace (REST
API) and secure cluster connectivity relay services, and AWS through an S3 gateway endpoint and STS / Kinesis
interface endpoints whose policies admit only the env's buckets and what Databricks needs. The region tables come
from SRA (aws_egress_regions.json names the file and commit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from infra.config.base import StrictModel

if TYPE_CHECKING:
    from infra.config.team import TeamConfig

REGIONS_FILE = Path(__file__).with_name("aws_egress_regions.json")
MIN_REASON_LENGTH = 15


class AwsEgress(StrictModel):
    """How the clusters of an AWS team-env reach the outside (AWS teams only)."""

    mode: Literal["isolated", "nat"] = "nat"
    """`nat` (default outside prod): cluster egress to the internet through a NAT gateway and an internet gateway.
    `isolated` (default in prod): SRA's isolated network, with neither: back-end PrivateLink to the Databricks
    workspace and relay services of the region (registered with databricks_mws_vpc_endpoint and attached to the
    workspace's network), an S3 gateway endpoint and STS / Kinesis interface endpoints whose policies admit only
    the env's buckets and the buckets Databricks needs in the region. Jobs then cannot install packages from the
    internet (PyPI, Maven): the platform's wheel comes from a Unity Catalog volume."""
    open_reason: Annotated[str, Field(min_length=MIN_REASON_LENGTH, max_length=500)] | None = None
    """Why a prod env keeps `nat` egress (15 to 500 characters, as the Azure `egress.open_reason`), e.g. a vendor API it must call; required for
    `mode: nat` in prod, where it is recorded as the suppression of PLAT-AWS-EGRESS-1."""


# Per-kind defaults of aws_egress, applied to AWS teams only (with_aws_egress_defaults): prod hardened, dev cheap.
AWS_EGRESS_DEFAULTS: dict[str, dict[str, Any]] = {"prod": {"mode": "isolated"}}


def with_aws_egress_defaults(environments: Any) -> Any:
    """An AWS team's raw environments with `aws_egress` defaulted per kind (prod isolated) where unset."""
    if not isinstance(environments, dict):
        return environments
    filled = {}
    for env, settings in environments.items():
        default = AWS_EGRESS_DEFAULTS.get(env)
        if isinstance(settings, dict) and default and "aws_egress" not in settings:
            settings = {**settings, "aws_egress": dict(default)}
        filled[env] = settings
    return filled


@dataclass(frozen=True, kw_only=True)
class RegionPrivateLink:
    """What isolated egress needs in one region (SRA's tables)."""

    workspace_service: str
    """PrivateLink service of the workspace REST API (SRA general_access_config)."""
    relay_service: str
    """PrivateLink service of the secure cluster connectivity relay (SRA scc_relay_config)."""
    artifact_buckets: tuple[str, ...]
    log_bucket: str
    system_tables_bucket: str
    datasets_bucket: str


@cache
def region_private_link(region: str) -> RegionPrivateLink | None:
    entry = json.loads(REGIONS_FILE.read_text())["regions"].get(region)
    if entry is None:
        return None
    return RegionPrivateLink(**{**entry, "artifact_buckets": tuple(entry["artifact_buckets"])})


def is_isolated(egress: AwsEgress | None) -> bool:
    return egress is not None and egress.mode == "isolated"


def aws_egress_problems(path: str, team: TeamConfig) -> list[str]:
    """One line per env whose aws_egress cannot deploy as configured or leaves prod open without a reason."""
    problems = []
    for env, settings in team.environments.items():
        egress = settings.aws_egress
        where = f"{path}.environments.{env}.aws_egress"
        if team.cloud != "aws":
            if egress is not None:
                problems.append(f"{where}: AWS teams only (Azure teams: the env's egress setting); remove it")
            continue
        if egress is None:
            continue
        if egress.mode == "isolated":
            if egress.open_reason is not None:
                problems.append(
                    f"{where}.open_reason: only for mode nat (why prod keeps open egress); remove it"
                )
            if region_private_link(team.region) is None:
                problems.append(
                    f"{where}.mode: isolated needs the Databricks PrivateLink services of {team.region}, which the "
                    "security reference architecture does not list; use mode: nat with an open_reason, or another region"
                )
        elif env == "prod" and egress.open_reason is None:
            problems.append(
                f"{where}.open_reason: prod with open egress (NAT gateway) needs a stated reason; set mode: isolated "
                "(back-end PrivateLink, docs/aws.md) or give the reason"
            )
    return problems
