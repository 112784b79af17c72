"""A bundle workload on an AWS team with isolated envs (prod's default there): the platform fetches a wheelhouse for
managed workloads only, and the bundle's job clusters cannot reach PyPI, so validate warns, naming the workload and
the envs, while an open env's bundle gets no warning."""

from __future__ import annotations

import copy

import yaml

from tests.infra.conftest import ROOT
from tests.infra.test_aws_config import validate

COMMITTED = yaml.safe_load((ROOT / "platform.yaml").read_text())
RISK = next(i for i, t in enumerate(COMMITTED["teams"]) if t["name"] == "risk")
BUNDLE = {
    "kind": "bundle",
    "name": "limits",
    "models": ["limit_model"],
    "ci": {"github_repository": "example-org/limits"},
}


def warnings_with_bundle(tmp_path, capsys, egress: dict) -> list[str]:
    config = copy.deepcopy(COMMITTED)
    team = config["teams"][RISK]
    team["workloads"].append(BUNDLE)
    team["environments"]["prod"]["egress"] = egress
    code, out, err = validate(config, tmp_path, capsys)
    assert code == 0, err
    return [line for line in (out + err).splitlines() if line.startswith("warning: teams.risk.workloads[1]:")]


def test_a_bundle_in_an_isolated_env_is_warned_about(tmp_path, capsys):
    (line,) = warnings_with_bundle(tmp_path, capsys, {"mode": "isolated"})
    assert "the bundle 'limits' runs in isolated prod, whose clusters cannot reach PyPI" in line


def test_a_bundle_in_open_envs_only_is_not(tmp_path, capsys):
    egress = {"mode": "open", "open_reason": "the bundle installs from PyPI"}
    assert warnings_with_bundle(tmp_path, capsys, egress) == []
