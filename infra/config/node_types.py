"""The node types Databricks supports per cloud (node_types.json, with its source and date), and the check of a
configured `compute.node_type` against them with a did-you-mean."""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path

CATALOGUE = Path(__file__).with_name("node_types.json")
EXAMPLES = {"azure": "Standard_D4ds_v5", "aws": "m6id.xlarge"}
KIND = {"azure": "an Azure VM size", "aws": "an EC2 instance type"}
TEAM = {"azure": "an Azure team", "aws": "an AWS team"}
SUPPORTED = {
    "azure": "an Azure VM size Azure Databricks supports",
    "aws": "an EC2 instance type Databricks supports",
}


@cache
def node_types(cloud: str) -> frozenset[str]:
    return frozenset(json.loads(CATALOGUE.read_text(encoding="utf-8"))[cloud])


@cache
def _by_lowercase(cloud: str) -> dict[str, str]:
    return {node_type.lower(): node_type for node_type in node_types(cloud)}


def node_type_problem(cloud: str, node_type: str) -> str | None:
    """Why ``node_type`` cannot run a cluster of a ``cloud`` team, or None."""
    if node_type in node_types(cloud):
        return None
    other = "aws" if cloud == "azure" else "azure"
    if node_type in node_types(other):
        return (
            f"{node_type!r} is {KIND[other]}; {TEAM[cloud]} needs {KIND[cloud]} such as {EXAMPLES[cloud]!r}"
        )
    hint = _closest(cloud, node_type)
    return f"{node_type!r} is not {SUPPORTED[cloud]}{hint} (catalogue: infra/config/node_types.json)"


def _closest(cloud: str, node_type: str) -> str:
    exact_case = _by_lowercase(cloud).get(node_type.lower())
    if exact_case:
        return f" (did you mean {exact_case!r}?)"
    close = difflib.get_close_matches(node_type, sorted(node_types(cloud)), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else f" such as {EXAMPLES[cloud]!r}"
