"""Locate or build the churn wheel that the workspace stacks deploy."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra import project

WHEEL_GLOB = "churn-*.whl"
# 1980-01-01, the earliest time a zip entry can carry.
REPRODUCIBLE_EPOCH = "315532800"


class WheelNotFound(Exception):
    """No usable wheel where the user pointed (bad input)."""


class WheelBuildFailed(Exception):
    """Building the wheel from ml/ failed; carries the builder's last line."""


def default_dist() -> Path:
    return project.project_root() / "dist"


def find_wheel(explicit: Path | None = None, *, dist: Path | None = None, field: str = "--wheel") -> Path:
    """The explicit wheel, or the newest churn wheel in dist/."""
    if explicit is not None:
        if not explicit.is_file() or explicit.suffix != ".whl":
            raise WheelNotFound(f"{field}: {explicit} is not a wheel file")
        return explicit
    dist = dist or default_dist()
    wheels = [(mtime, path) for path in dist.glob(WHEEL_GLOB) if (mtime := _mtime(path)) is not None]
    if not wheels:
        raise WheelNotFound(f"{dist}/: no churn wheel; run `make wheel` or pass --wheel")
    return max(wheels)[1]


def build_wheel(*, project_dir: Path | None = None, dist: Path | None = None) -> Path:
    """Build the churn wheel with the current interpreter (no isolated build env: works offline).

    The builder writes into a private directory beside dist/ and the finished wheel is renamed into place, so
    dist/ always holds a complete wheel: a command reading it while another one builds never finds it gone
    or half-written. File timestamps inside a wheel come from SOURCE_DATE_EPOCH when set; pinning it makes the
    same source build the same bytes, so the content-addressed upload in the workspace stack changes only with
    the code.
    """
    project_dir = project_dir or project.project_root() / "ml"
    dist = dist or default_dist()
    if not (project_dir / "pyproject.toml").is_file():
        raise WheelBuildFailed(f"{project_dir}: no pyproject.toml, so no churn wheel can be built there")
    dist.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=".build-", dir=dist))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(private), "."],
            cwd=project_dir,
            env={**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", REPRODUCIBLE_EPOCH)},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise WheelBuildFailed(f"{project_dir}: building the churn wheel failed: {last[0]}")
        built = sorted(private.glob(WHEEL_GLOB))
        if len(built) != 1:
            raise WheelBuildFailed(f"{project_dir}: the build wrote {len(built)} churn wheels, expected one")
        target = dist / built[0].name
        os.replace(built[0], target)  # atomic on one filesystem: readers see the old wheel or the new one
    finally:
        shutil.rmtree(private, ignore_errors=True)
    for stale in dist.glob(WHEEL_GLOB):  # wheels of older versions
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # removed between the listing and the stat
        return None
