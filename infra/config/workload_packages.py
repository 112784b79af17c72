"""What validate checks in a managed workload's Python project: that the wheel can be built and run.

The package path, its pyproject's `[project.scripts]` and its requirements are files of this repository, so a
job that names an entry point the package does not declare, or a package that would pip-install pyspark or the
full `mlflow` onto an ML runtime (which ships Spark and `mlflow-skinny`), is refused before any synth builds it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from infra import project
from infra.config.base import team_paths
from infra.config.workload import CHURN_PRESET, ManagedWorkload

if TYPE_CHECKING:
    from infra.config.team import TeamConfig

# The churn preset's tasks all run the churn package's one typer entry point.
PRESET_ENTRY_POINTS = {CHURN_PRESET: ("churn",)}
# Distributions a wheel must not require on an ML runtime: the runtime ships Spark (a pip-installed pyspark
# breaks the cluster) and MLflow as `mlflow-skinny` (requiring `mlflow` upgrades it with a server stack).
RUNTIME_BREAKERS = frozenset({"pyspark", "mlflow"})


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def workload_package_problems(teams: list[TeamConfig], root: Path | None = None) -> list[str]:
    """One line per problem, each with its field path (`teams.x.workloads[0].package: ...`)."""
    root = root or project.project_root()
    problems: list[str] = []
    for path, team in zip(team_paths([t.name for t in teams]), teams, strict=True):
        for index, workload in enumerate(team.workloads):
            if isinstance(workload, ManagedWorkload):
                problems += _package_problems(f"{path}.workloads[{index}]", workload, root)
    return problems


def _package_problems(where: str, workload: ManagedWorkload, root: Path) -> list[str]:
    if not (root / workload.package).resolve().is_relative_to(root.resolve()):
        # A link out of the checkout builds here, but CI's checkout holds only the link.
        return [
            f"{where}.package: {workload.package} is a link that leaves the repository; CI checks out only the "
            "repository, so move the project inside it"
        ]
    pyproject = root / workload.package / "pyproject.toml"
    try:
        project_table = tomllib.loads(pyproject.read_text())["project"]
        name, scripts = project_table["name"], project_table.get("scripts", {})
        dependencies = project_table.get("dependencies", [])
    except (OSError, UnicodeDecodeError):
        return [
            f"{where}.package: {workload.package}/pyproject.toml not found; the package must be a Python project"
        ]
    except (tomllib.TOMLDecodeError, KeyError, TypeError):
        return [
            f"{where}.package: {workload.package}/pyproject.toml has no [project] name; it cannot be built"
        ]
    problems = []
    breakers = sorted(
        {canonical(match.group(0)) for spec in dependencies if (match := re.match(r"[A-Za-z0-9._-]+", spec))}
        & RUNTIME_BREAKERS
    )
    if breakers:
        problems.append(
            f"{where}.package: {workload.package}/pyproject.toml requires {', '.join(breakers)}, which the ML "
            "runtime ships (as Spark / mlflow-skinny); installing the wheel would replace it: move it to an extra"
        )
    declared = sorted(scripts) if isinstance(scripts, dict) else []
    needed = [(f"{where}.preset", ep) for ep in PRESET_ENTRY_POINTS.get(workload.preset or "", ())]
    needed += [
        (f"{where}.jobs[{j}].tasks[{t}].entry_point", task.entry_point)
        for j, job in enumerate(workload.jobs)
        for t, task in enumerate(job.tasks)
    ]
    problems += [
        f"{field}: {entry_point!r} is not an entry point of {name!r} ({workload.package}/pyproject.toml "
        f"[project.scripts] declares {declared or 'none'})"
        for field, entry_point in needed
        if entry_point not in declared
    ]
    return problems
