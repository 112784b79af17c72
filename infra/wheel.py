"""Locate or build the wheels that the workspace stacks deploy: churn's (ml/) and every managed workload's."""

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra import project
from infra.wheel_check import IncompleteWheel, check_wheel

WHEEL_GLOB = "churn-*.whl"
# 1980-01-01, the earliest time a zip entry can carry.
REPRODUCIBLE_EPOCH = "315532800"
# One build per checkout at a time: setuptools builds in the project's build/ whatever --outdir says.
BUILD_LOCK = ".wheel-build.lock"
BUILD_LOCK_WAIT_SECONDS = 600.0
# The private directory in dist/ each build writes its wheel into (only builds holding the lock touch them).
PRIVATE_PREFIX = ".build-"


class WheelNotFound(Exception):
    """No usable wheel where the user pointed (bad input)."""


class WheelBuildFailed(Exception):
    """Building the wheel from ml/ failed; carries the builder's last line."""


def default_dist() -> Path:
    return project.project_root() / "dist"


def wheel_glob(project_dir: Path) -> str:
    """The file names of the project's wheels: `<distribution>-*.whl`, the name normalized as wheels spell it."""
    try:
        name = tomllib.loads((project_dir / "pyproject.toml").read_text())["project"]["name"]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return WHEEL_GLOB
    return f"{re.sub(r'[-_.]+', '_', str(name)).lower()}-*.whl"


def package_dist(package: str) -> Path:
    """Where a workload package's wheel is built: dist/ for churn's `ml` (as always), dist/<package>/ else."""
    if package == "ml":
        return default_dist()
    return default_dist() / "workloads" / re.sub(r"[^A-Za-z0-9_.-]+", "_", package.strip("/"))


def build_package_wheel(package: str) -> Path:
    """Build the wheel of a managed workload's package (a repository-relative path)."""
    return build_wheel(project_dir=project.project_root() / package, dist=package_dist(package))


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

    setuptools stages every build in the project's ``build/``, whatever the output directory: two builds of one
    checkout at once (a synth into another --out while a deploy runs) interleave there and can ship a wheel
    with files missing. So a build holds the checkout's build lock (``<project>/.wheel-build.lock``; a second
    build waits), starts from an empty ``build/`` (a module deleted from the source must not ride along), and
    the finished wheel is checked against the source (wheel_check.py) before it is moved into dist/.

    The builder writes into a private directory beside dist/ and the finished wheel is renamed into place, so
    dist/ always holds a complete wheel: a command reading it while another one builds never finds it gone
    or half-written. File timestamps inside a wheel come from SOURCE_DATE_EPOCH when set; pinning it makes the
    same source build the same bytes, so the content-addressed upload in the workspace stack changes only with
    the code.
    """
    project_dir = project_dir or project.project_root() / "ml"
    dist = dist or default_dist()
    if not (project_dir / "pyproject.toml").is_file():
        raise WheelBuildFailed(f"{project_dir}: no pyproject.toml, so no wheel can be built there")
    pattern = wheel_glob(project_dir)
    what = f"{pattern.split('-')[0]} wheel"  # "churn wheel" for ml/
    dist.mkdir(parents=True, exist_ok=True)
    with _build_lock(project_dir) as lock_fd:
        shutil.rmtree(project_dir / "build", ignore_errors=True)  # setuptools' scratch, never the user's
        for killed in dist.glob(f"{PRIVATE_PREFIX}*"):  # private dirs of builds killed before their cleanup
            shutil.rmtree(killed, ignore_errors=True)
        private = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX, dir=dist))
        try:
            result = subprocess.run(
                [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(private), "."],
                cwd=project_dir,
                # The builder holds the lock too: if this process is killed, the builder still runs in build/
                # and the next build must wait for it, not wipe build/ under it.
                pass_fds=(lock_fd,),
                env={
                    **os.environ,
                    "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", REPRODUCIBLE_EPOCH),
                },
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
                raise WheelBuildFailed(f"{project_dir}: building the {what} failed: {last[0]}")
            built = sorted(private.glob(pattern))
            if len(built) != 1:
                raise WheelBuildFailed(f"{project_dir}: the build wrote {len(built)} {what}s, expected one")
            try:
                check_wheel(built[0], project_dir=project_dir)
            except IncompleteWheel as exc:
                raise WheelBuildFailed(f"{project_dir}: the built wheel is not usable: {exc}") from None
            target = dist / built[0].name
            os.replace(built[0], target)  # atomic on one filesystem: readers see the old wheel or the new one
        finally:
            shutil.rmtree(private, ignore_errors=True)
    for stale in dist.glob(pattern):  # wheels of older versions
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


@contextmanager
def _build_lock(project_dir: Path) -> Iterator[int]:
    """Hold the checkout's build lock (an flock: the kernel drops it when the last process holding the file
    ends), waiting for a build in progress to finish; WheelBuildFailed if it takes longer than
    BUILD_LOCK_WAIT_SECONDS. Yields the lock's file descriptor, for the builder to inherit."""
    wait = BUILD_LOCK_WAIT_SECONDS
    try:
        fd = os.open(project_dir / BUILD_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WheelBuildFailed(f"{project_dir}: cannot create {BUILD_LOCK}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WheelBuildFailed(
                        f"{project_dir}: another build of this checkout has held {BUILD_LOCK} for {wait:.0f} s; "
                        "wait for it or stop it"
                    ) from None
                time.sleep(0.1)
        yield fd
    finally:
        os.close(fd)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # removed between the listing and the stat
        return None
