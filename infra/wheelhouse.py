"""Fetch the wheelhouse wheels of isolated envs at synth: the requirements of a managed workload's wheel that the
runtime does not ship (infra/config/offline_packages.py computes and pins them from Pipfile.lock).

Each wheel is fetched once into a cache (dist/wheelhouse/ by default) with
`pip download --no-deps --only-binary=:all: --require-hashes` for the runtime's Python on Linux (x86_64, or aarch64
for an env on AWS Graviton node types), from PyPI or `platform.package_index`, and reused while its sha256 is one
Pipfile.lock accepts and its tags fit the env's nodes. A download goes to a private directory in the cache and is
renamed into place, so two synths at once never read a half-written wheel. Without network and without the cached
wheel, WheelhouseUnavailable names the package and what to do.
"""

from __future__ import annotations

import email.parser
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from infra import project
from infra.config import TeamEnv
from infra.config.offline_packages import (
    Pin,
    WheelhouseProblem,
    closure,
    lock_path,
    needs_wheelhouse,
    node_machine,
    project_requirements,
    read_lock,
    read_runtime,
    runtime_list_path,
    test_hook,
    workload_closure,
)
from infra.config.workload_packages import canonical

# Test hooks (tests/conftest.py): the cache directory (any wheel in it is checked against Pipfile.lock), and a local
# directory of wheels pip reads instead of an index (honoured only under pytest: offline_packages.test_hook).
CACHE_ENV = "PLATFORM_WHEELHOUSE_CACHE"
FIND_LINKS_ENV = "PLATFORM_WHEELHOUSE_FIND_LINKS"
# Databricks' CPU ML runtimes run Ubuntu, on x86_64 or (AWS Graviton node types) aarch64. pip widens manylinux2014 to
# manylinux2010 and manylinux1 but not to the perennial tags (pip/_internal/utils/compatibility_tags.py), so
# manylinux_2_28 is named too: a binary wheel for glibc 2.28 or older fits the runtimes' Ubuntu. A pure-Python wheel
# (`py3-none-any`, the normal case) fits any machine.
PLATFORM_TAGS = ("manylinux2014_{machine}", "manylinux_2_28_{machine}")
PRIVATE_PREFIX = ".fetch-"
# pip gives up after --retries 1 and --timeout 15 s a request: a private directory an hour old is abandoned.
ABANDONED_AFTER_SECONDS = 3600
PYPI = "PyPI"


class WheelhouseUnavailable(Exception):
    """A wheelhouse wheel can neither be found in the cache nor downloaded; the message is one line."""


@dataclass(frozen=True)
class Source:
    """Where pip downloads from: an index URL (PyPI when None), or a local directory of wheels (tests)."""

    index_url: str | None = None
    find_links: Path | None = None

    @classmethod
    def for_platform(cls, package_index: str | None) -> Source:
        try:
            links = test_hook(FIND_LINKS_ENV)
        except WheelhouseProblem as exc:
            raise WheelhouseUnavailable(str(exc)) from None
        return cls(find_links=Path(links)) if links else cls(index_url=package_index)

    @property
    def label(self) -> str:
        return str(self.find_links) if self.find_links else self.index_url or PYPI

    def pip_options(self) -> list[str]:
        if self.find_links is not None:
            return ["--no-index", "--find-links", str(self.find_links)]
        return ["--index-url", self.index_url] if self.index_url else []


def default_cache() -> Path:
    return Path(os.environ.get(CACHE_ENV) or project.project_root() / "dist" / "wheelhouse")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fits(wheel: str, *, python: str, machine: str) -> bool:
    """Whether a wheel's tags fit CPython ``python`` on Linux ``machine`` (Pipfile.lock lists the sha256 of every
    wheel of a version, so the hash alone does not say which machine a cached wheel is for)."""
    try:
        _, _, _, tags = parse_wheel_filename(wheel)
    except InvalidWheelFilename:
        return False
    abis = {"none", "abi3", f"cp{python.replace('.', '')}"}
    return any(
        tag.abi in abis
        and (
            tag.platform == "any"
            or (tag.platform.startswith("manylinux") and tag.platform.endswith(f"_{machine}"))
        )
        for tag in tags
    )


def cached(pin: Pin, cache: Path, *, python: str = "3.12", machine: str = "x86_64") -> Path | None:
    """A wheel of the pin in the cache that fits the nodes and whose sha256 Pipfile.lock accepts (a wheel with
    another hash, or for another machine, is ignored)."""
    prefix = f"{canonical(pin.name).replace('-', '_')}-{pin.version}-"
    for path in sorted(cache.glob("*.whl")) if cache.is_dir() else []:
        if (
            path.name.lower().startswith(prefix)
            and fits(path.name, python=python, machine=machine)
            and sha256(path) in pin.hashes
        ):
            return path
    return None


def remove_abandoned(cache: Path) -> None:
    """Private download directories of fetches killed before their cleanup: only ones older than any download
    takes, so a fetch running now keeps its own."""
    deadline = time.time() - ABANDONED_AFTER_SECONDS
    for private in cache.glob(f"{PRIVATE_PREFIX}*"):
        try:
            if private.stat().st_mtime < deadline:
                shutil.rmtree(private, ignore_errors=True)
        except FileNotFoundError:  # removed by another fetch meanwhile
            continue


def fetch(pin: Pin, *, cache: Path, source: Source, python: str, machine: str = "x86_64") -> Path:
    """The pin's wheel for ``machine`` in ``cache``: the cached one when its hash is the lock's, else downloaded by
    pip now."""
    found = cached(pin, cache, python=python, machine=machine)
    if found is not None:
        return found
    remedy = (
        f"connect the runner to {source.label}, set platform.package_index to a mirror it reaches, or put the "
        f"wheel of {pin.name}=={pin.version} (a sha256 Pipfile.lock lists) into {cache}/"
    )
    try:
        cache.mkdir(parents=True, exist_ok=True)
        remove_abandoned(cache)
        private = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX, dir=cache))
    except OSError as exc:
        raise WheelhouseUnavailable(
            f"{pin.name}=={pin.version}: not in the wheelhouse cache and cannot write to {cache}: {exc.strerror}; "
            f"{remedy}"
        ) from None
    try:
        requirements = private / "requirements.txt"
        hashes = " ".join(f"--hash=sha256:{h}" for h in sorted(pin.hashes))
        requirements.write_text(f"{pin.name}=={pin.version} {hashes}\n")
        download = private / "download"
        result = subprocess.run(
            [
                *(
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--require-hashes",
                ),
                *(
                    "--python-version",
                    python,
                    "--implementation",
                    "cp",
                    "--abi",
                    f"cp{python.replace('.', '')}",
                ),
                *(option for tag in PLATFORM_TAGS for option in ("--platform", tag.format(machine=machine))),
                *("--disable-pip-version-check", "--no-input"),
                *("--retries", "1", "--timeout", "15", "--dest", str(download), "-r", str(requirements)),
                *source.pip_options(),
            ],
            capture_output=True,
            text=True,
        )
        wheels = sorted(download.glob("*.whl")) if download.is_dir() else []
        if result.returncode != 0 or len(wheels) != 1:
            lines = (result.stderr.strip() or result.stdout.strip() or "no wheel written").splitlines()
            last = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1]).strip()
            raise WheelhouseUnavailable(
                f"{pin.name}=={pin.version}: not in the wheelhouse cache {cache}/ and pip could not download it "
                f"from {source.label} ({last}); {remedy}"
            )
        digest = sha256(wheels[0])
        if digest not in pin.hashes:  # pip checked it; a wheel that is not the lock's never reaches the cache
            raise WheelhouseUnavailable(
                f"{pin.name}=={pin.version}: the downloaded {wheels[0].name} has sha256 {digest}, which Pipfile.lock "
                "does not list"
            )
        target = cache / wheels[0].name
        os.replace(wheels[0], target)  # atomic: a reader sees no wheel or the whole wheel
        return target
    finally:
        shutil.rmtree(private, ignore_errors=True)


def wheel_requirements(wheel: Path) -> list[str] | None:
    """The Requires-Dist of a built wheel (what pip on the cluster resolves); None when it is not readable as one."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            metadata = next(
                n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            )
            headers = email.parser.HeaderParser().parsestr(archive.read(metadata).decode())
    except (OSError, zipfile.BadZipFile, StopIteration, UnicodeDecodeError):
        return None
    return [str(spec) for spec in headers.get_all("Requires-Dist") or []]


def wheelhouse(
    team_env: TeamEnv,
    package: str,
    *,
    cache: Path | None = None,
    source: Source | None = None,
    wheel: Path | None = None,
) -> list[Path]:
    """The wheels a workload package's jobs install before its wheel in ``team_env``, in install order; [] unless
    the env is isolated. The requirements are the built ``wheel``'s (a prebuilt `--wheel` or CHURN_WHEEL may be
    older or newer than the checkout), else the package's pyproject's."""
    if not needs_wheelhouse(team_env.settings.egress.mode):
        return []
    platform = team_env.platform
    root = project.project_root()
    machine = node_machine(team_env.settings.compute.node_type)
    built = wheel_requirements(wheel) if wheel is not None else None
    try:
        requirements = built if built is not None else project_requirements(root / package)
        pins = closure(
            requirements,
            runtime=read_runtime(runtime_list_path(platform.runtime, root)),
            lock=read_lock(lock_path(root)),
            machine=machine,
        )
        python = read_runtime(runtime_list_path(platform.runtime, root)).python
    except (
        WheelhouseProblem
    ) as exc:  # validate refuses it first; a config built around validate still gets a line
        what = wheel.name if built is not None and wheel is not None else package
        raise WheelhouseUnavailable(f"{team_env.key}: the wheelhouse of {what}: {exc}") from None
    cache = cache or default_cache()
    source = source or Source.for_platform(platform.package_index)
    return [fetch(pin, cache=cache, source=source, python=python, machine=machine) for pin in pins]


def wheelhouses(
    team_envs: Iterable[TeamEnv], wheels: Mapping[str, Path] | None = None
) -> dict[tuple[str, str], list[Path]]:
    """Every (team-env key, package) wheelhouse these team-envs need, fetched for the package's built wheel in
    ``wheels`` (by package path); the empty ones left out."""
    found = {}
    for team_env in team_envs:
        for workload in team_env.team.managed_workloads:
            built = (wheels or {}).get(workload.package)
            house = wheelhouse(team_env, workload.package, wheel=built)
            if house:
                found[(team_env.key, workload.package)] = house
    return found


def describe_fetch(team_env: TeamEnv) -> list[str]:
    """The dry run's line per wheelhouse the synth fetches (nothing is fetched here)."""
    if not needs_wheelhouse(team_env.settings.egress.mode):
        return []
    lines = []
    try:
        source = Source.for_platform(team_env.platform.package_index)
    except WheelhouseUnavailable as exc:
        return [f"fetch the wheelhouse: refused ({exc})"]
    for package in sorted({w.package for w in team_env.team.managed_workloads}):
        try:
            pins = workload_closure(
                project.project_root() / package,
                team_env.platform.runtime,
                machine=node_machine(team_env.settings.compute.node_type),
            )
        except WheelhouseProblem as exc:
            lines.append(f"fetch the wheelhouse of {package}: cannot be pinned ({exc})")
            continue
        if pins:
            wheels = ", ".join(f"{p.name}=={p.version}" for p in pins)
            lines.append(
                f"fetch the wheelhouse of {package} (isolated egress): {wheels}, pinned with Pipfile.lock's sha256, "
                f"from {source.label} into {default_cache()}/ (reused when cached)"
            )
    return lines
