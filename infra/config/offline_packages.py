"""What validate refuses about a managed workload's wheel on clusters without internet access (isolated egress).

A job installs the workload's wheel from a Unity Catalog volume with pip, which fetches every requirement the
runtime does not ship from PyPI. Isolated clusters (AWS `egress: {mode: isolated}`: no NAT, no internet gateway)
cannot reach PyPI, so such a wheel fails to install and every job of the workload fails at library install,
although the stacks deploy. The runtime's library lists are ml/runtimes/databricks-<runtime>-lts-ml.txt (their
sources are cited in each file; tests/ml/test_wheel_on_runtime.py resolves the built wheel against them).
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from infra import project
from infra.config.base import team_paths
from infra.config.workload_packages import canonical

if TYPE_CHECKING:
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9._-]+")


@cache
def runtime_libraries(path: Path) -> frozenset[str]:
    """The canonical names of the libraries a runtime ships (`name==version` lines; `#` comments)."""
    names = (line.split("==", 1)[0].strip() for line in path.read_text().splitlines())
    return frozenset(canonical(name) for name in names if name and not name.startswith("#"))


def missing_from_runtime(package: Path, runtime_list: Path) -> list[str]:
    """The wheel's direct requirements (its pyproject's `dependencies`) the runtime does not ship: pip fetches
    them from PyPI when a job installs the wheel. Empty when the project or the list cannot be read (the
    workload package checks report an unreadable project)."""
    try:
        dependencies = tomllib.loads((package / "pyproject.toml").read_text())["project"].get(
            "dependencies", []
        )
        shipped = runtime_libraries(runtime_list)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return []
    names = [canonical(m.group(0)) for spec in dependencies if (m := REQUIREMENT_NAME.match(str(spec)))]
    return sorted({name for name in names if name not in shipped})


def offline_package_problems(
    platform: PlatformSettings, teams: list[TeamConfig], root: Path | None = None
) -> list[str]:
    """One line per isolated env whose managed workloads' wheels need packages from PyPI."""
    root = root or project.project_root()
    runtime_list = root / "ml" / "runtimes" / f"databricks-{platform.runtime}-lts-ml.txt"
    problems: list[str] = []
    for path, team in zip(team_paths([t.name for t in teams]), teams, strict=True):
        if team.cloud != "aws":  # isolated is AWS egress (egress_problems refuses it on Azure)
            continue
        needs = [
            (index, workload.package, missing)
            for index, workload in enumerate(team.workloads)
            if workload in team.managed_workloads
            and (missing := missing_from_runtime(root / workload.package, runtime_list))
        ]
        if not needs:
            continue
        index, package, missing = needs[0]
        for env, settings in team.environments.items():
            if settings.egress.mode != "isolated":
                continue
            problems.append(
                f"{path}.environments.{env}.egress.mode: isolated clusters cannot reach PyPI, and the wheel of "
                f"{path}.workloads[{index}] ({package}) requires {', '.join(missing)}, which Databricks Runtime "
                f"{platform.runtime} LTS ML does not ship: its jobs would fail installing it; use mode: open "
                "(in prod with an open_reason), or drop the requirement"
            )
    return problems
