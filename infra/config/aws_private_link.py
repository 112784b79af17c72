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
import re
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


# Databricks names a region's artifact bucket after the region that holds it (SRA's artifact_storage_bucket).
ARTIFACT_BUCKET_REGION = re.compile(r"^databricks-prod-artifacts-([a-z]+-[a-z]+-[0-9])$")


def artifacts_elsewhere(region: str, tables: RegionPrivateLink) -> list[str]:
    """The region's Databricks artifact buckets that live in another region: an S3 gateway endpoint reaches only
    buckets of its own region (AWS PrivateLink docs, "Gateway endpoints"), so without NAT clusters cannot fetch
    their runtime from them. SRA's table gives us-west-1 the us-west-2 bucket."""
    return [
        bucket
        for bucket in tables.artifact_buckets
        if (match := ARTIFACT_BUCKET_REGION.match(bucket)) and match.group(1) != region
    ]


def isolated_problem(path: str, region: str) -> str | None:
    """Why an AWS env cannot have isolated egress in ``region`` (``path``: its egress field), or None."""
    tables = region_private_link(region)
    if tables is None:
        return (
            f"{path}.mode: isolated needs the Databricks PrivateLink services of {region}, which the security "
            "reference architecture does not list; use mode: open with an open_reason, or another region"
        )
    elsewhere = artifacts_elsewhere(region, tables)
    if elsewhere:
        return (
            f"{path}.mode: isolated clusters in {region} reach S3 only through the region's gateway endpoint, but "
            f"Databricks serves {region} its runtime artifacts from {', '.join(elsewhere)} in another region; "
            "use mode: open with an open_reason, or another region"
        )
    return None
