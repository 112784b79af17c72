"""The node types Databricks supports per cloud (node_types.json, with its source and date), and the check of a
configured `compute.node_type` against them with a did-you-mean.

The catalogue is a snapshot and cannot be complete: Databricks adds families (Azure's Dsv6/Ddsv6/Dasv6 and v7
sizes are listed on Microsoft's "flexible node type instances" page for Azure Databricks, and AWS fleet types
such as `md-fleet.xlarge`, yet are not in it) faster than a list here is edited. Refusing every type it lacks
would refuse configs that deploy, which breaks the contract the other way. So the check is two-level:
- an error for what can never run: a name that is not shaped like the cloud's type names at all (`Standard_Huge`,
  `m5.huge`, `standard_d4ds_v5`: node type ids are case-sensitive) or the other cloud's type (`m5.large` on an
  Azure team);
- a warning (node_type_warning) for a well-formed type the catalogue lacks, with the nearest known type, so a
  typo in the version still shows and a new family still deploys.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from pathlib import Path

CATALOGUE = Path(__file__).with_name("node_types.json")
EXAMPLES = {"azure": "Standard_D4ds_v5", "aws": "m6id.xlarge"}
KIND = {"azure": "an Azure VM size", "aws": "an EC2 instance type"}
KINDS = {"azure": "Azure VM sizes", "aws": "EC2 instance types"}
TEAM = {"azure": "an Azure team", "aws": "an AWS team"}
SUPPORTED = {
    "azure": "an Azure VM size Azure Databricks supports",
    "aws": "an EC2 instance type Databricks supports",
}
# The shape of each cloud's type names: Azure `Standard_<family><vCPUs>[-<constrained>]<features>[_<accelerator>]
# [_v<n>]` (Standard_D4ds_v5, Standard_E128-32ds_v6, Standard_NC24ads_A100_v4, Standard_F4s); EC2
# `<family>.<size>` (m6id.xlarge, c7gd.24xlarge, i3.metal, md-fleet.xlarge).
SHAPES = {
    "azure": re.compile(
        r"Standard_[A-Z]{1,4}\d{1,3}(-\d{1,3})?[a-z]{0,8}(_[A-Z]{1,4}\d{1,4}[A-Za-z]{0,4})?(_v\d{1,2})?"
    ),
    "aws": re.compile(
        r"[a-z][a-z0-9-]{0,15}\.(nano|micro|small|medium|large|\d{0,3}xlarge|metal(-\d{1,3}xl)?)"
    ),
}

_VERSION = re.compile(r"_v\d{1,2}$")


@cache
def node_types(cloud: str) -> frozenset[str]:
    return frozenset(json.loads(CATALOGUE.read_text(encoding="utf-8"))[cloud])


@cache
def _by_lowercase(cloud: str) -> dict[str, str]:
    return {node_type.lower(): node_type for node_type in node_types(cloud)}


def _other(cloud: str) -> str:
    return "aws" if cloud == "azure" else "azure"


# EC2 families of the catalogue with no instance store (EBS only). Databricks fails to create a cluster of such a
# type unless aws_attributes attach an EBS volume ("For node types with no instance store, at least one EBS volume
# needs to be specified; otherwise, cluster creation will fail": AwsAttributes.EbsVolumeCount in
# terraform-provider-databricks internal/service/compute_tf/model.go), and the stacks attach none: they rely on
# the local NVMe disks of the `d` families (docs/aws.md).
EBS_ONLY_FAMILIES = frozenset(
    "c5 c5a c5n c6a c6g c6i c7g c7i m5 m5a m5n m6a m6g m6i m6in m7g m7i p3 r5 r5a r5n r6a r6g r6i r7g r7i".split()  # noqa: SIM905
)


def node_type_problem(cloud: str, node_type: str) -> str | None:
    """Why ``node_type`` can never run a cluster of a ``cloud`` team, or None (a well-formed type the catalogue
    lacks is not a problem here: see node_type_warning)."""
    if (
        cloud == "aws"
        and node_type.partition(".")[0] in EBS_ONLY_FAMILIES
        and SHAPES[cloud].fullmatch(node_type)
    ):
        return _ebs_only(node_type)
    if node_type in node_types(cloud) or SHAPES[cloud].fullmatch(node_type):
        return None
    other = _other(cloud)
    if node_type in node_types(other) or SHAPES[other].fullmatch(node_type):
        return (
            f"{node_type!r} is {KIND[other]}; {TEAM[cloud]} needs {KIND[cloud]} such as {EXAMPLES[cloud]!r}"
        )
    hint = _closest(cloud, node_type)
    return f"{node_type!r} is not {SUPPORTED[cloud]}{hint} (catalogue: infra/config/node_types.json)"


def node_type_warning(cloud: str, node_type: str) -> str | None:
    """A well-formed ``cloud`` type that the catalogue lacks: it may be new (it deploys) or a typo (it does not)."""
    if node_type in node_types(cloud) or not SHAPES[cloud].fullmatch(node_type):
        return None
    return (
        f"{node_type!r} is not in the catalogue of {KINDS[cloud]} Databricks supports"
        f"{_closest(cloud, node_type, fallback=False)}; check it with `databricks clusters list-node-types` "
        "and add it to infra/config/node_types.json" + _maybe_ebs_only(cloud, node_type)
    )


def _maybe_ebs_only(cloud: str, node_type: str) -> str:
    """EC2 marks local NVMe with a `d` after the generation (m6id, c7gd, md-fleet); storage-optimized `i` families
    and some GPU families have it without one, so for an unknown family this is a caution, not a verdict."""
    family = node_type.partition(".")[0]
    if cloud != "aws" or "d" in re.sub(r"^[a-z]+\d*", "", family.replace("-fleet", "")) or family[0] in "i":
        return ""
    if family.endswith("-fleet") and "d" in family:
        return ""
    return "; if it has no local disk, Databricks needs an EBS volume, which these stacks do not attach"


def _ebs_only(node_type: str) -> str:
    family, _, size = node_type.partition(".")
    local = [f"{family}d.{size}", f"{family[:-1]}dn.{size}"]  # m5 -> m5d, m6in -> m6idn
    such = next((t for t in local if t in node_types("aws")), "m6id.xlarge")
    return (
        f"{node_type!r} has no local disk (EBS only), and Databricks creates no cluster of it without an EBS "
        f"volume, which these stacks do not attach; use a type with local NVMe disks such as {such!r}"
    )


def _closest(cloud: str, node_type: str, *, fallback: bool = True) -> str:
    exact_case = _by_lowercase(cloud).get(node_type.lower())
    if exact_case:
        return f" (did you mean {exact_case!r}?)"
    # The same size in another version (Standard_D8ds_v6 -> Standard_D8ds_v5) before any look-alike (difflib
    # would offer Standard_D128ds_v6, a size sixteen times larger).
    same_size = sorted(t for t in node_types(cloud) if _VERSION.sub("", t) == _VERSION.sub("", node_type))
    close = same_size[-1:] or difflib.get_close_matches(
        node_type, sorted(node_types(cloud)), n=1, cutoff=0.75
    )
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" such as {EXAMPLES[cloud]!r}" if fallback else ""
