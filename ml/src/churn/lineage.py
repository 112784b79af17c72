"""What a trained model was made from: table versions, row counts, a content hash, the code version."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path

import pandas as pd

from churn.features import KEY


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the frame as canonical CSV (rows ordered by key, columns by name, floats at full precision).

    Stable across pandas and Arrow versions, and anyone can recompute it from the table.
    """
    canonical = frame.sort_values(KEY).reindex(columns=sorted(frame.columns))
    text = canonical.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Packages whose versions can change a trained model or its metrics; recorded on every run as `env_<name>`.
RECORDED_PACKAGES = ("churn", "scikit-learn", "numpy", "pandas", "scipy", "mlflow", "fairlearn", "pyarrow")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = installed_version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def code_and_environment(spark_version: str) -> dict[str, str]:
    """Run tags naming the code and the environment that produced a model."""
    tags = {
        "code_git_commit": git_commit(),
        "env_python": platform.python_version(),
        "env_spark": spark_version,
    }
    tags |= {f"env_{name.replace('-', '_')}": value for name, value in package_versions().items()}
    tags["code_churn_version"] = tags["env_churn"]
    return tags


def git_commit() -> str:
    """The commit of the code that runs: CHURN_GIT_COMMIT if the job passes it, else git, else 'unknown'."""
    if os.environ.get("CHURN_GIT_COMMIT"):
        return os.environ["CHURN_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"
