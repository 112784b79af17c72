"""The churn wheel still works on the newest versions its requirements allow.

The development environment is pinned to Databricks Runtime 18 LTS ML (test_dev_env_matches_runtime.py), but the
wheel's requirements are ranges: a cluster whose runtime lacks a library (fairlearn), a newer runtime, or a
team's own environment resolves to the newest versions in range. This installs the built wheel with its `local`
extra into a fresh virtual environment from the package index, without the lock file, and runs the whole local
pipeline on a sample of the Telco file there. It needs the package index (as `make setup` does).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from infra.wheel import build_wheel

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "ml" / "data" / "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"
SAMPLE_ROWS = 2500

pytestmark = pytest.mark.slow


def test_pipeline_runs_on_the_newest_allowed_versions(tmp_path: Path):
    wheel = build_wheel(project_dir=ROOT / "ml", dist=tmp_path / "dist")
    env_dir = tmp_path / "newest"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Nothing of this checkout may be importable there: a PYTHONPATH (or the checkout as working directory)
    # would make pip take the source tree's churn as already installed.
    clean = {
        name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "VIRTUAL_ENV"))
    }
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{wheel}[local]"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    with gzip.open(DATA, "rt") as telco:
        lines = telco.read().splitlines()
    sample = tmp_path / "sample.csv"
    sample.write_text("\n".join(lines[: SAMPLE_ROWS + 1]) + "\n")
    workdir = tmp_path / "work"
    metrics = tmp_path / "metrics.json"
    env = {**clean, "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python)}
    run = subprocess.run(
        [
            str(env_dir / "bin" / "churn"),
            "pipeline",
            "--input",
            str(sample),
            "--workdir",
            str(workdir),
            "--metrics-out",
            str(metrics),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-3000:])
    report = json.loads(metrics.read_text())
    holdout_auc = [value for name, value in report.items() if "roc_auc" in name and isinstance(value, float)]
    assert holdout_auc and max(holdout_auc) > 0.75, report

    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True)
    installed = dict(line.split("==", 1) for line in freeze.stdout.splitlines() if "==" in line)
    # The point of the test: this environment is not the pinned one (else it proves nothing beyond the suite).
    pinned_sklearn = subprocess.run(
        [sys.executable, "-c", "import sklearn; print(sklearn.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    assert installed.get("scikit-learn") != pinned_sklearn or installed.get("numpy") != "2.1.3", installed
