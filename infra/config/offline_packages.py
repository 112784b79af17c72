"""The wheelhouse of a managed workload on clusters without internet access (AWS `egress: {mode: isolated}`), and
what validate refuses about it.

A job installs the workload's wheel from a Unity Catalog volume with pip, which fetches every requirement the
runtime does not ship from PyPI. Isolated clusters (no NAT, no internet gateway) cannot reach PyPI, so the workspace
stack uploads those requirements too, as wheels next to the workload's, and the job installs them first
(infra/wheelhouse.py fetches them at synth). This module computes that closure: every requirement the runtime does
not ship, recursively, pinned to the version and sha256 hashes of the repository's Pipfile.lock (the versions the
tests ran). The runtime's library lists are ml/runtimes/databricks-<runtime>-lts-ml.txt (their sources are cited in
each file; tests/ml/test_wheel_on_runtime.py resolves the built wheel against them).

What cannot be delivered is refused: a requirement the runtime ships at a version outside the requirement's range
(pip on the cluster would go to PyPI for another), a requirement neither shipped nor pinned in Pipfile.lock, a pin
the requirement's range excludes, and a dev env whose installed version is not the lock's (its metadata would be
the wrong one to read the next requirements from).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from infra import project
from infra.config.base import team_paths
from infra.config.workload_packages import canonical

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

# Test hook (tests/conftest.py): the Pipfile.lock that pins the wheelhouses instead of the repository's. Honoured only
# inside a pytest run (test_hook): a stray value on a runner would swap the hashes every wheel is checked against.
LOCK_ENV = "PLATFORM_WHEELHOUSE_LOCK"
# pytest sets it for every test it runs (setup, call, teardown); a subprocess a test starts inherits it.
UNDER_PYTEST = "PYTEST_CURRENT_TEST"
# AWS Graviton families: a `g` among the letters after the generation (m7g, r6gd, c7gn, i4g, im4gn, is4gen, x2gd, g5g)
# or, for fleet types, in the family's name after its first letter (`rgd-fleet`). GPU families (g4dn, g6e) are not.
GRAVITON = re.compile(r"^(?:[a-z]+\d+[a-z]*g[a-z]*|[a-z][a-z]*g[a-z]*-fleet)\.")
# The first line of each runtime list names its Python ("... (Spark 4.1.0, Python 3.12) ..."): requirement markers
# are evaluated for it, on the Linux x86_64 CPU clusters the lists describe.
RUNTIME_PYTHON = re.compile(r"Python (\d+\.\d+)")


class WheelhouseProblem(Exception):
    """The closure cannot be pinned; the message is one line, without the field path (the caller adds it)."""


@dataclass(frozen=True)
class Pin:
    """One wheelhouse package: its Pipfile.lock version and the sha256 hashes the lock accepts for it."""

    name: str
    version: str
    hashes: frozenset[str]


@dataclass(frozen=True)
class Runtime:
    name: str
    python: str
    libraries: dict[str, str]

    def environment(self, machine: str = "x86_64") -> dict[str, str]:
        return {
            "python_version": self.python,
            "python_full_version": f"{self.python}.0",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "sys_platform": "linux",
            "os_name": "posix",
            "platform_system": "Linux",
            "platform_machine": machine,
        }


def node_machine(node_type: str) -> str:
    """The CPU architecture of a node type's clusters: aarch64 for AWS Graviton types, x86_64 for the rest (the
    wheelhouse is fetched, and markers evaluated, for it)."""
    return "aarch64" if GRAVITON.match(node_type) else "x86_64"


def runtime_list_path(runtime: str, root: Path | None = None) -> Path:
    return (root or project.project_root()) / "ml" / "runtimes" / f"databricks-{runtime}-lts-ml.txt"


@cache
def read_runtime(path: Path) -> Runtime:
    """The runtime's libraries (`name==version` lines; `#` comments) and its Python (the first line names it)."""
    text = path.read_text()
    found = RUNTIME_PYTHON.search(text.splitlines()[0] if text else "")
    if found is None:
        raise WheelhouseProblem(f"{path}: its first line does not name the runtime's Python (`Python 3.12`)")
    libraries = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and "==" in line:
            name, version = line.split("==", 1)
            libraries[canonical(name.strip())] = version.strip()
    return Runtime(name=path.name, python=found.group(1), libraries=libraries)


def test_hook(name: str) -> str | None:
    """The value of a test-suite hook variable (PLATFORM_WHEELHOUSE_LOCK, ..._FIND_LINKS), honoured only while pytest
    runs a test. Anywhere else a value is refused, not ignored: a variable left in a shell or a runner's environment
    would otherwise swap the lock the wheelhouse's sha256 hashes come from, or the wheels themselves (the suite's
    stand-ins have no code), in what a deploy uploads."""
    value = os.environ.get(name)
    if value and not os.environ.get(UNDER_PYTEST):
        raise WheelhouseProblem(
            f"{name} is set ({value}), a hook of the test suite honoured only under pytest; unset it: the "
            "wheelhouse is pinned by the repository's Pipfile.lock"
        )
    return value or None


def lock_path(root: Path | None = None) -> Path:
    return Path(test_hook(LOCK_ENV) or (root or project.project_root()) / "Pipfile.lock")


@cache
def read_lock(path: Path) -> dict[str, Pin]:
    """The `default` packages of a Pipfile.lock (what the dev env runs), by canonical name."""
    try:
        document = json.loads(path.read_text())
        entries = document["default"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise WheelhouseProblem(f"{path}: not a readable Pipfile.lock ({exc.__class__.__name__})") from None
    pins = {}
    for name, entry in entries.items():
        version = str(entry.get("version", "")) if isinstance(entry, dict) else ""
        if version.startswith("=="):
            hashes = frozenset(
                h.removeprefix("sha256:") for h in entry.get("hashes", []) if h.startswith("sha256:")
            )
            pins[canonical(name)] = Pin(name=canonical(name), version=version[2:], hashes=hashes)
    return pins


def installed_requirements(pin: Pin) -> list[str]:
    """The Requires-Dist of the installed distribution, which must be the lock's version."""
    try:
        distribution = importlib.metadata.distribution(pin.name)
    except importlib.metadata.PackageNotFoundError:
        raise WheelhouseProblem(
            f"{pin.name} {pin.version} (Pipfile.lock) is not installed in this environment; run `make setup`"
        ) from None
    if distribution.version != pin.version:
        raise WheelhouseProblem(
            f"{pin.name} {distribution.version} is installed but Pipfile.lock pins {pin.version}; run `make setup`"
        )
    return list(distribution.requires or [])


def project_requirements(package: Path) -> list[str]:
    """A workload project's direct requirements (its pyproject's `dependencies`); [] when it cannot be read (the
    workload package checks report an unreadable project). WheelhouseProblem when the build computes them
    (`dynamic = ["dependencies"]`, e.g. from a requirements file): the wheel would require what no pin covers."""
    try:
        table = tomllib.loads((package / "pyproject.toml").read_text())["project"]
        dependencies, dynamic = table.get("dependencies", []), table.get("dynamic", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError):
        return []
    if isinstance(dynamic, list) and "dependencies" in dynamic:
        raise WheelhouseProblem(
            f"{package.name}/pyproject.toml declares its dependencies dynamic (computed by the build), so the "
            "wheelhouse cannot pin them; list them in [project].dependencies"
        )
    return [str(spec) for spec in dependencies] if isinstance(dependencies, list) else []


def closure(
    requirements: Iterable[str],
    *,
    runtime: Runtime,
    lock: dict[str, Pin],
    requires: Callable[[Pin], list[str]] = installed_requirements,
    machine: str = "x86_64",
) -> list[Pin]:
    """The pins the runtime lacks, each after everything it requires (the order a cluster must install them in).

    A requirement the runtime ships is left to the runtime, whose version must satisfy it; WheelhouseProblem (one
    line naming the package and versions) for anything the cluster could only get from PyPI."""
    ordered: list[Pin] = []
    visiting: set[str] = set()
    # The extras each package was visited with: a later requirement asking for another extra (`a[speed]` after `a`)
    # still brings what that extra needs.
    done: dict[str, frozenset[str]] = {}
    environment = runtime.environment(machine)

    def applicable(spec: str, extras: frozenset[str]) -> Requirement | None:
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            raise WheelhouseProblem(f"requirement {spec!r} is not a valid PEP 508 requirement") from None
        marker: Marker | None = requirement.marker
        if marker is None or any(marker.evaluate({**environment, "extra": e}) for e in extras | {""}):
            return requirement
        return None

    def brought_by(spec: str, extras: frozenset[str]) -> bool:
        """Whether the requirement applies only because of one of ``extras`` (not to the bare package)."""
        try:
            marker = Requirement(spec).marker
        except InvalidRequirement:
            return True  # applicable() names it
        return (
            marker is not None
            and not marker.evaluate({**environment, "extra": ""})
            and any(marker.evaluate({**environment, "extra": e}) for e in extras)
        )

    def visit_shipped(requirement: Requirement, name: str, shipped: str, *, needed_by: str) -> None:
        """A package the runtime ships needs nothing from the wheelhouse, except what requested extras add."""
        wanted = frozenset(requirement.extras) - done.get(name, frozenset())
        if not wanted:
            return
        done[name] = done.get(name, frozenset()) | wanted
        try:
            children = requires(Pin(name=name, version=shipped, hashes=frozenset()))
        except WheelhouseProblem as exc:
            raise WheelhouseProblem(
                f"{needed_by} requires {requirement}, and what the extra needs beyond {runtime.name}'s {name} "
                f"{shipped} cannot be read here ({exc})"
            ) from None
        for child in sorted(children):
            if brought_by(child, wanted):
                visit(child, needed_by=f"{name}[{','.join(sorted(wanted))}] {shipped}", extras=wanted)

    def visit(spec: str, *, needed_by: str, extras: frozenset[str]) -> None:
        requirement = applicable(spec, extras)
        if requirement is None:
            return
        name = canonical(requirement.name)
        shipped = runtime.libraries.get(name)
        if shipped is not None:
            if not _allows(requirement, shipped):
                raise WheelhouseProblem(
                    f"{needed_by} requires {requirement}, but {runtime.name} ships {name} {shipped}: pip on the "
                    f"cluster would fetch another {name} from PyPI"
                )
            visit_shipped(requirement, name, shipped, needed_by=needed_by)
            return
        pin = lock.get(name)
        if pin is None:
            raise WheelhouseProblem(
                f"{needed_by} requires {requirement}, which {runtime.name} does not ship and Pipfile.lock does not "
                f"pin; add it to the Pipfile (`[packages]`) so the dev env and the wheelhouse pin it"
            )
        if not _allows(requirement, pin.version):
            raise WheelhouseProblem(
                f"{needed_by} requires {requirement}, but Pipfile.lock pins {name} {pin.version}"
            )
        wanted, seen = frozenset(requirement.extras), done.get(name)
        if name in visiting or (
            seen is not None and wanted <= seen
        ):  # a cycle: pip installs the members together
            return
        visiting.add(name)
        for child in sorted(requires(pin)):
            if seen is None or brought_by(child, wanted - seen):
                visit(child, needed_by=f"{name} {pin.version}", extras=wanted)
        visiting.discard(name)
        done[name] = (seen or frozenset()) | wanted
        if seen is None:
            ordered.append(pin)

    for spec in sorted(requirements):
        visit(spec, needed_by="the wheel", extras=frozenset())
    return ordered


def _allows(requirement: Requirement, version: str) -> bool:
    """Whether ``version`` satisfies the requirement's range (a version PEP 440 cannot read never does)."""
    try:
        return requirement.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def workload_closure(
    package: Path, runtime: str, root: Path | None = None, *, machine: str = "x86_64"
) -> list[Pin]:
    """The wheelhouse of a workload package (repository path resolved) on ``runtime`` on ``machine``'s nodes."""
    return closure(
        project_requirements(package),
        runtime=read_runtime(runtime_list_path(runtime, root)),
        lock=read_lock(lock_path(root)),
        machine=machine,
    )


def needs_wheelhouse(egress_mode: str) -> bool:
    """Only isolated clusters get a wheelhouse: open envs reach PyPI through their NAT, and the Azure firewall
    allows pypi.org and files.pythonhosted.org (infra/constructs/azure/firewall_egress.py)."""
    return egress_mode == "isolated"


def offline_package_problems(
    platform: PlatformSettings, teams: list[TeamConfig], root: Path | None = None
) -> list[str]:
    """One line per isolated env whose managed workload's wheelhouse cannot be pinned from Pipfile.lock."""
    root = root or project.project_root()
    problems: list[str] = []
    for path, team in zip(team_paths([t.name for t in teams]), teams, strict=True):
        # isolated is AWS egress (egress_problems refuses it on Azure); the first isolated env per node machine
        isolated: dict[str, str] = {}
        for env, settings in team.environments.items():
            if team.cloud == "aws" and needs_wheelhouse(settings.egress.mode):
                isolated.setdefault(node_machine(settings.compute.node_type), env)
        for index, workload in enumerate(team.workloads):
            if workload not in team.managed_workloads:
                continue
            for machine, env in isolated.items():
                try:
                    workload_closure(root / workload.package, platform.runtime, root, machine=machine)
                except (WheelhouseProblem, OSError) as exc:
                    problems.append(
                        f"{path}.environments.{env}.egress.mode: isolated clusters cannot reach PyPI and the "
                        f"wheelhouse of {path}.workloads[{index}] ({workload.name}, {workload.package}) cannot be "
                        f"pinned: {exc}"
                    )
                    break
    return problems


def bundle_egress_warnings(teams: list[TeamConfig]) -> list[str]:
    """A bundle workload (the team deploys it) in isolated envs: the platform fetches no wheelhouse for it, and its
    jobs' clusters cannot reach PyPI, so whatever its wheels require beyond the runtime must come with the bundle."""
    warnings = []
    for path, team in zip(team_paths([t.name for t in teams]), teams, strict=True):
        isolated = [env for env, s in team.environments.items() if needs_wheelhouse(s.egress.mode)]
        if team.cloud != "aws" or not isolated:
            continue
        warnings += [
            f"{path}.workloads[{index}]: the bundle {workload.name!r} runs in isolated {', '.join(isolated)}, whose "
            "clusters cannot reach PyPI and get no wheelhouse from the platform (managed workloads do); upload "
            "what its wheels require beyond the runtime with the bundle, as libraries listed before its wheel"
            for index, workload in enumerate(team.workloads)
            if workload not in team.managed_workloads
        ]
    return warnings
