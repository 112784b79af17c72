"""The development environment runs what Databricks Runtime 18 LTS ML ships.

Every library the churn wheel imports on a cluster comes from the runtime, not from the wheel (its requirements
are ranges that never force an upgrade). Tests only say something about the cluster if they run those same
versions, so the Pipfile pins each of them to the runtime's version (ml/runtimes/databricks-18-lts-ml.txt, read
from Databricks' published library list) and the installed environment must match. Libraries the runtime does not
ship (fairlearn, narwhals) are installed by the wheel on the cluster too, at the newest version its range allows:
tests/ml/test_wheel_on_newest.py covers them.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LIST = ROOT / "ml" / "runtimes" / "databricks-18-lts-ml.txt"
# Reached through the wheel's own requirements on every import path the jobs take (scikit-learn's model
# persistence and parallelism, MLflow's model serialisation, typer's command line).
TRANSITIVE = ("joblib", "cloudpickle", "click")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_versions() -> dict[str, str]:
    rows = [line.split("#")[0].strip() for line in RUNTIME_LIST.read_text().splitlines()]
    return {canonical(name): version for name, version in (row.split("==") for row in rows if row)}


def wheel_libraries() -> list[str]:
    project = tomllib.loads((ROOT / "ml" / "pyproject.toml").read_text())["project"]
    return [canonical(Requirement(spec).name) for spec in project["dependencies"]] + list(TRANSITIVE)


def pipfile_pins() -> dict[str, str]:
    packages = tomllib.loads((ROOT / "Pipfile").read_text())["packages"]
    return {canonical(name): spec for name, spec in packages.items() if isinstance(spec, str)}


SHIPPED = [name for name in wheel_libraries() if name in runtime_versions()]


def test_the_runtime_ships_the_libraries_the_wheel_leans_on():
    # Guards the parametrisation below: an empty list would make every check vacuous.
    assert {"scikit-learn", "pandas", "numpy", "scipy", "pyarrow", "mlflow-skinny"} <= set(SHIPPED)


@pytest.mark.parametrize("library", SHIPPED)
def test_installed_version_is_the_runtimes(library: str):
    assert metadata.version(library) == runtime_versions()[library], (
        f"{library}: the development environment has {metadata.version(library)}, Databricks Runtime 18 LTS ML "
        f"ships {runtime_versions()[library]} ({RUNTIME_LIST.name}); pin it in the Pipfile and re-lock"
    )


@pytest.mark.parametrize("library", [name for name in SHIPPED if name != "mlflow-skinny"])
def test_pipfile_pins_the_runtimes_version(library: str):
    # mlflow-skinny comes with the pinned `mlflow` (same version), the local tracking server's distribution.
    assert pipfile_pins().get(library) == f"=={runtime_versions()[library]}"


def test_mlflow_is_pinned_to_the_runtimes_mlflow_skinny():
    assert pipfile_pins()["mlflow"] == f"=={runtime_versions()['mlflow-skinny']}"
