"""The libraries of an isolated env's wheel task, installed the way a cluster without internet access installs them:
one `pip install` per library, in the task's order, with no index at all (`--no-index`, nothing to find links in),
into a replica of the Databricks ML runtime (a virtual environment holding one stub `*.dist-info` per library of
ml/runtimes/databricks-<runtime>-lts-ml.txt, as tests/ml/test_wheel_on_runtime.py builds it).

In the synthesized order every install finds its requirements already there; reversed, fairlearn's install fails
for want of narwhals, the failure databrickslabs/ucx issue 1795 saw on no-internet workspaces (PR 1796 reordered
the task libraries). The wheelhouse wheels are the suite's stand-ins (tests/wheelhouse_standins.py: the real names,
versions and Requires-Dist); the churn wheel is a stand-in with the churn package's real Requires-Dist.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from infra.config.offline_packages import read_runtime, runtime_list_path
from tests.infra.conftest import ROOT
from tests.wheelhouse_standins import build_wheel


def replica(runtime: str, directory: Path) -> Path:
    """A virtual environment whose installed distributions are exactly the runtime's list (stubs, no code)."""
    venv.EnvBuilder(with_pip=False).create(directory)
    (site_packages,) = directory.glob("lib/python*/site-packages")
    for name, version in read_runtime(runtime_list_path(runtime, ROOT)).libraries.items():
        info = site_packages / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("databricks-runtime\n")
        (info / "RECORD").write_text("")
    return directory / "bin" / "python"


def install_in_order(python: Path, wheels: list[Path]) -> subprocess.CompletedProcess:
    """pip install each wheel alone, as the cluster's library installer does; stops at the first failure."""
    for wheel in wheels:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--quiet",
             "--disable-pip-version-check", str(wheel)],
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        if result.returncode != 0:
            return result
    return result


@pytest.fixture(scope="module")
def task_wheels(synthesized, wheelhouse_standins, tmp_path_factory) -> list[Path]:
    """The local files behind the libraries of risk/prod's training task, in the task's order."""
    wheels, _, _ = wheelhouse_standins
    churn = importlib.metadata.distribution("churn")
    local = {p.name: p for p in wheels.glob("*.whl")} | {  # the churn wheel: its real requirements, no code
        "churn-0.1.0-py3-none-any.whl": build_wheel(
            tmp_path_factory.mktemp("churn"), "churn", churn.version, list(churn.requires or [])
        )
    }
    stack = synthesized.json("risk-prod-workspace")
    (job,) = [j for j in stack["resource"]["databricks_job"].values() if j["name"].endswith("-training")]
    task = next(t for t in job["task"] if "python_wheel_task" in t)
    return [local[Path(library["whl"]).name] for library in task["library"]]


@pytest.mark.parametrize("runtime", ["18", "17.3"])
def test_the_task_libraries_install_offline_in_their_order(task_wheels, tmp_path, runtime):
    python = replica(runtime, tmp_path / "runtime")
    result = install_in_order(python, task_wheels)
    assert result.returncode == 0, result.stderr
    (site_packages,) = (tmp_path / "runtime").glob("lib/python*/site-packages")
    installed = {p.name.split("-")[0] for p in site_packages.glob("*.dist-info")}
    assert {"narwhals", "fairlearn", "churn"} <= installed


def test_the_reverse_order_fails_offline_for_want_of_narwhals(task_wheels, tmp_path):
    python = replica("18", tmp_path / "runtime")
    result = install_in_order(python, [task_wheels[1], task_wheels[0], task_wheels[2]])
    assert result.returncode != 0 and "narwhals" in result.stderr
