"""Each managed workload's built wheel (churn's and every other package a team runs, plus the test workload)
installed on the Databricks ML runtimes changes nothing the runtime ships.

Offline replica of `pip install churn.whl` on a cluster: a throwaway virtual environment whose site-packages
holds one stub `*.dist-info` per library the runtime ships (name and version from `ml/runtimes/*.txt`, which
cite Databricks' release notes), and a find-links folder with the built wheel plus stub wheels carrying the
real dependency metadata of every other distribution of the development environment. pip's resolver then
reports what it would install; nothing the runtime ships may be in that list (no upgrade, no downgrade), and
neither may pyspark nor the full `mlflow` server distribution.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from infra.config import load_config
from infra.wheel import build_wheel

ROOT = Path(__file__).resolve().parents[2]
RUNTIMES = sorted((ROOT / "ml" / "runtimes").glob("databricks-*.txt"))
NEVER_INSTALLED = {"pyspark", "mlflow"}
# Every managed workload package of the committed config, and the test workload the infra tests deploy.
PACKAGES = sorted(
    {w.package for team in load_config(ROOT / "platform.yaml").teams for w in team.managed_workloads}
    | {"tests/fixtures/workloads/upsell"}
)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_libraries(path: Path) -> dict[str, str]:
    rows = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {canonical(name): version for name, version in (row.split("==") for row in rows if row)}


def _wheel_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def write_stub_wheel(folder: Path, dist: metadata.Distribution) -> None:
    """A wheel with no code whose METADATA is the installed distribution's (its real Requires-Dist)."""
    name, version = _wheel_name(dist.metadata["Name"]), dist.version
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        fields = ["Metadata-Version: 2.1", f"Name: {dist.metadata['Name']}", f"Version: {version}"]
        # .get: importlib_metadata's backport (imported by some packages) raises KeyError for a missing field
        requires_python = dist.metadata.get("Requires-Python")
        fields += [f"Requires-Python: {requires_python}"] if requires_python else []
        fields += [f"Provides-Extra: {extra}" for extra in dist.metadata.get_all("Provides-Extra") or []]
        fields += [f"Requires-Dist: {requirement}" for requirement in dist.requires or []]
        wheel.writestr(f"{info}/METADATA", "\n".join(fields) + "\n")
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: stub\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(f"{info}/RECORD", "")


def write_installed_stub(site_packages: Path, name: str, version: str) -> None:
    info = site_packages / f"{_wheel_name(name)}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("databricks-runtime\n")
    (info / "RECORD").write_text("")


@pytest.fixture(scope="module")
def built_wheels(tmp_path_factory) -> dict[str, Path]:
    return {
        package: build_wheel(project_dir=ROOT / package, dist=tmp_path_factory.mktemp("dist"))
        for package in PACKAGES
    }


@pytest.fixture(scope="module")
def find_links(built_wheels: dict[str, Path], tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("find-links")
    built = set()
    for wheel in built_wheels.values():
        (folder / wheel.name).write_bytes(wheel.read_bytes())
        built.add(canonical(wheel.name.split("-")[0]))
    seen = set()
    for dist in metadata.distributions():
        key = canonical(dist.metadata.get("Name") or "")
        if key and key not in seen and key not in built:
            seen.add(key)
            write_stub_wheel(folder, dist)
    return folder


def resolve_on(runtime: dict[str, str], wheel: Path, find_links: Path, workdir: Path) -> list[dict]:
    environment = workdir / "runtime-env"
    venv.EnvBuilder(with_pip=False).create(environment)
    (site_packages,) = environment.glob("lib/python*/site-packages")
    for name, version in runtime.items():
        write_installed_stub(site_packages, name, version)
    report = workdir / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(environment / "bin" / "python"), "install",
         "--dry-run", "--quiet", "--no-index", "--find-links", str(find_links), "--report", str(report),
         str(find_links / wheel.name)],
        # The runtime environment is only what the stubs say: no PYTHONPATH of the development checkout.
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(report.read_text())["install"]


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("runtime_file", RUNTIMES, ids=[p.stem for p in RUNTIMES])
def test_installing_the_wheel_changes_no_library_the_runtime_ships(
    runtime_file, package, built_wheels, find_links, tmp_path
):
    built_wheel = built_wheels[package]
    runtime = runtime_libraries(runtime_file)
    assert "mlflow-skinny" in runtime  # the list names its source and the runtime's MLflow
    installs = {
        canonical(item["metadata"]["name"]): item["metadata"]["version"]
        for item in resolve_on(runtime, built_wheel, find_links, tmp_path)
    }
    changed = {name: f"{runtime[name]} -> {version}" for name, version in installs.items() if name in runtime}
    assert changed == {}, f"installing the wheel would change runtime libraries: {changed}"
    assert not NEVER_INSTALLED & installs.keys(), sorted(NEVER_INSTALLED & installs.keys())
    assert canonical(built_wheel.name.split("-")[0]) in installs


def test_the_runtime_lists_cite_their_source():
    assert {p.name for p in RUNTIMES} == {"databricks-18-lts-ml.txt", "databricks-17.3-lts-ml.txt"}
    for path in RUNTIMES:
        assert "learn.microsoft.com/azure/databricks/release-notes/runtime" in path.read_text()
