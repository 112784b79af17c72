"""Locate or build the churn wheel that the workspace stacks deploy."""

import os
import subprocess
import sys
from pathlib import Path

DIST = Path("dist")
ML_PROJECT = Path("ml")
# 1980-01-01, the earliest time a zip entry can carry.
REPRODUCIBLE_EPOCH = "315532800"


class WheelNotFound(Exception):
    """No usable wheel where the user pointed (bad input)."""


class WheelBuildFailed(Exception):
    """Building the wheel from ml/ failed; carries the builder's last line."""


def find_wheel(explicit: Path | None = None, *, dist: Path = DIST) -> Path:
    """The explicit wheel, or the newest churn wheel in dist/."""
    if explicit is not None:
        if not explicit.is_file() or explicit.suffix != ".whl":
            raise WheelNotFound(f"{explicit}: not a wheel file")
        return explicit
    wheels = sorted(dist.glob("churn-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise WheelNotFound(f"{dist}/: no churn wheel; run `make wheel` or pass --wheel")
    return wheels[-1]


def build_wheel(*, project: Path = ML_PROJECT, dist: Path = DIST) -> Path:
    """Build the churn wheel with the current interpreter (no isolated build env: works offline).

    File timestamps inside a wheel come from SOURCE_DATE_EPOCH when set; pinning it makes the same source
    build the same bytes, so the content-addressed upload in the workspace stack changes only with the code.
    """
    dist.mkdir(parents=True, exist_ok=True)
    for old in dist.glob("churn-*.whl"):
        old.unlink()
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist.resolve()), "."],
        cwd=project,
        env={**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", REPRODUCIBLE_EPOCH)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise WheelBuildFailed(f"{project}: building the churn wheel failed: {last[0]}")
    return find_wheel(dist=dist)
