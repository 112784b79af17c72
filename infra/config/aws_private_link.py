"""What an AWS team-env with isolated egress (`egress: {mode: isolated}`, infra/config/egress.py) needs per region.

Isolated egress is the security reference architecture's AWS "isolated" network configuration
(github.com/databricks/terraform-databricks-sra, aws/tf/network.tf and privatelink.tf): no NAT gateway, no internet
gateway; the clusters reach the Databricks control plane through interface endpoints to the region's workspace (REST
API) and secure cluster connectivity relay services, and AWS through an S3 gateway endpoint and STS / Kinesis
interface endpoints whose policies admit only the env's buckets and what Databricks needs. The region tables come
from SRA (aws_private_link_regions.json names the file and commit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REGIONS_FILE = Path(__file__).with_name("aws_private_link_regions.json")


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


def isolated_problem(path: str, region: str) -> str | None:
    """Why an AWS env cannot have isolated egress in ``region`` (``path``: its egress field), or None."""
    if region_private_link(region) is not None:
        return None
    return (
        f"{path}.mode: isolated needs the Databricks PrivateLink services of {region}, which the security reference "
        "architecture does not list; use mode: open with an open_reason, or another region"
    )
