"""An isolated env on Graviton nodes (AWS `m7gd`, `r6gd`, ...: aarch64) gets a wheelhouse its nodes can install.

The wheelhouse is fetched for the env's nodes: a requirement with binary wheels only (no `py3-none-any`) is fetched
for aarch64 on Graviton node types and for x86_64 on the others, and a cached wheel for the other architecture is
never reused (Pipfile.lock lists the sha256 of every wheel of a version, so its hash alone does not tell). An
x86_64 wheel in a Graviton env's task libraries would not install, and pip on the cluster would go to PyPI for
another: the job fails at library install on a cluster without internet access. Requirement markers are evaluated
for the same machine.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest
import yaml

import infra.wheelhouse
from infra.config import parse_config
from infra.config.offline_packages import Pin, Runtime, closure, node_machine
from infra.wheelhouse import Source, wheelhouse
from tests.infra.conftest import ROOT
from tests.wheelhouse_standins import build_wheel

COMMITTED = yaml.safe_load((ROOT / "platform.yaml").read_text())
RISK = next(i for i, t in enumerate(COMMITTED["teams"]) if t["name"] == "risk")


def risk_prod(node_type: str):
    config = copy.deepcopy(COMMITTED)
    config["teams"][RISK]["environments"]["prod"]["compute"]["node_type"] = node_type
    (team_env,) = [t for t in parse_config(yaml.safe_dump(config)).team_envs if t.key == "risk/prod"]
    return team_env


@pytest.fixture
def binary_only(tmp_path, monkeypatch) -> Path:
    """A local index with tinydep 1.2.3 as two binary wheels (x86_64, aarch64), both pinned, and the closure of
    the churn package replaced by that one pin."""
    index = tmp_path / "index"
    index.mkdir()
    hashes = set()
    for machine, requires in (
        ("x86_64", []),
        ("aarch64", ["numpy>=1.24"]),
    ):  # other bytes, same name and version
        (tmp_path / machine).mkdir()
        built = build_wheel(tmp_path / machine, "tinydep", "1.2.3", requires)
        wheel = index / f"tinydep-1.2.3-cp312-cp312-manylinux_2_28_{machine}.whl"
        wheel.write_bytes(built.read_bytes())
        hashes.add(hashlib.sha256(wheel.read_bytes()).hexdigest())
    pin = Pin(name="tinydep", version="1.2.3", hashes=frozenset(hashes))
    monkeypatch.setattr(infra.wheelhouse, "closure", lambda *args, **kwargs: [pin])
    return index


def test_the_wheelhouse_is_fetched_for_the_architecture_of_the_envs_nodes(tmp_path, binary_only):
    cache = tmp_path / "cache"
    source = Source(find_links=binary_only)
    (intel,) = wheelhouse(risk_prod("r6id.2xlarge"), "ml", cache=cache, source=source)
    (graviton,) = wheelhouse(risk_prod("r7gd.2xlarge"), "ml", cache=cache, source=source)
    assert intel.name.endswith("_x86_64.whl")
    assert graviton.name.endswith("_aarch64.whl")  # not the x86_64 wheel the cache already holds


@pytest.mark.parametrize(
    ("node_type", "machine"),
    [
        ("r6id.2xlarge", "x86_64"),
        ("m6id.xlarge", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("g6e.xlarge", "x86_64"),
        ("md-fleet.xlarge", "x86_64"),
        ("m7gd.xlarge", "aarch64"),
        ("r6g.large", "aarch64"),
        ("c7gn.2xlarge", "aarch64"),
        ("i4g.large", "aarch64"),
        ("im4gn.large", "aarch64"),
        ("is4gen.medium", "aarch64"),
        ("x2gd.xlarge", "aarch64"),
        ("g5g.xlarge", "aarch64"),
        ("rgd-fleet.xlarge", "aarch64"),
    ],
)
def test_graviton_node_types_are_aarch64(node_type, machine):
    assert node_machine(node_type) == machine


def test_markers_are_evaluated_for_the_nodes_machine():
    runtime = Runtime(name="databricks-18-lts-ml.txt", python="3.12", libraries={})
    lock = {n: Pin(name=n, version="1.0", hashes=frozenset({"a" * 64})) for n in ("a", "intel", "arm")}
    requires = {
        "a": ["intel; platform_machine == 'x86_64'", "arm; platform_machine == 'aarch64'"],
        "intel": [],
        "arm": [],
    }
    on = {
        machine: [p.name for p in closure(["a"], runtime=runtime, lock=lock, requires=lambda p: requires[p.name],
                                          machine=machine)]
        for machine in ("x86_64", "aarch64")
    }  # fmt: skip
    assert on == {"x86_64": ["intel", "a"], "aarch64": ["arm", "a"]}
