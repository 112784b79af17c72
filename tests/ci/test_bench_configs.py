"""The benchmark scripts' generated configs still validate, and their child scripts still call the project as it is.

`make bench` runs rarely and nothing else runs these scripts: when validate learned a new rule (an IP access list
on a public prod front end, system tables managed in an existing protected env, networks clear of the hub
firewall), bench_synth.py and bench_validate.py kept generating configs it refuses, and nobody noticed until the
next benchmark run failed. A benchmark of a config the platform refuses measures nothing.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from infra.app import build_app
from infra.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def bench_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validates(config: dict, tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(config))
    load_config(path)  # raises ConfigError with every problem named


@pytest.mark.parametrize("team_envs", [1, 10, 50])
def test_bench_synth_generated_configs_validate(team_envs: int, tmp_path: Path) -> None:
    validates(bench_module("bench_synth").generated_config(team_envs), tmp_path)


def test_bench_synth_committed_configs_validate(tmp_path: Path) -> None:
    for name, config in bench_module("bench_synth").COMMITTED.items():
        (tmp_path / name).mkdir()
        validates(config, tmp_path / name)


def test_bench_validate_generated_config_validates(tmp_path: Path) -> None:
    # 3 teams are enough to meet every rule the 1,000-team config meets (it repeats the same team).
    validates(bench_module("bench_validate").generated_config(3), tmp_path)


def test_bench_synth_child_calls_build_app_as_it_is() -> None:
    """The child script runs in a subprocess, so a renamed argument would only show in a benchmark run."""
    child = ast.parse(bench_module("bench_synth").CHILD)
    calls = [
        node
        for node in ast.walk(child)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "build_app"
    ]
    assert len(calls) == 1
    call = calls[0]
    inspect.signature(build_app).bind(
        *(None for _ in call.args), **{keyword.arg: None for keyword in call.keywords if keyword.arg}
    )
