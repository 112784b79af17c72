"""What a push to main must deploy: everything, or only the workspace stacks of the teams whose managed workload
changed.

A change that touches only files under managed workloads' package paths (churn's `ml/`, or any other
`workloads[].package` in platform.yaml) changes nothing but those workloads' wheels and notebooks, which only the
workspace stacks deploy (the wheel by content hash): the smallest apply that ships it is `platform plan/apply
TEAM/ENV --only workspace` for each team that runs one of those workloads (docs/ml-lifecycle.md). Any other
changed file, or no list of changed files (a first push, a manual run), means a full deploy.

    workload_scope.py CHANGED_FILES   prints {"only": "workspace" | "", "teams": [...] | ""}; with --github-output
                                      appends `only=...` and `teams=...` to $GITHUB_OUTPUT (empty: everything)

CHANGED_FILES holds one repository path per line (`git diff --name-only BEFORE AFTER`); `-` reads stdin.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.config import ConfigError, PlatformConfig, load_config

WORKSPACE = "workspace"
# Files under a package that every team's workspace stack deploys, whatever its workloads: the exploration
# notebook (infra/stacks/workspace_stack.py EXPLORE_NOTEBOOK) goes to every team's folder, a bundle-only team's too.
EVERY_TEAM = frozenset({"ml/notebooks/churn_explore.py"})


@dataclass(frozen=True)
class Scope:
    only: str
    """`workspace`, or "" for every stack."""
    teams: list[str] | None
    """The teams to deploy, or None for every team."""

    def outputs(self) -> dict[str, str]:
        return {"only": self.only, "teams": json.dumps(self.teams) if self.teams is not None else ""}


EVERYTHING = Scope(only="", teams=None)


def package_teams(config: PlatformConfig) -> dict[str, set[str]]:
    """Package path (no trailing '/') -> the teams that run a managed workload built from it."""
    teams: dict[str, set[str]] = {}
    for team in config.teams:
        for workload in team.managed_workloads:
            teams.setdefault(workload.package.rstrip("/"), set()).add(team.name)
    return teams


def scope(config: PlatformConfig, changed: list[str]) -> Scope:
    if not changed:
        return EVERYTHING
    packages = package_teams(config)
    teams: set[str] = set()
    for path in changed:
        if path in EVERY_TEAM:
            teams |= {team.name for team in config.teams}
        owners = [p for p in packages if path == p or path.startswith(f"{p}/")]
        if not owners:
            return EVERYTHING
        for package in owners:
            teams |= packages[package]
    return Scope(only=WORKSPACE, teams=sorted(teams))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("changed_files", metavar="CHANGED_FILES")
    parser.add_argument(
        "--config", type=Path, help="platform config [default: $PLATFORM_CONFIG or platform.yaml]"
    )
    parser.add_argument(
        "--github-output", action="store_true", help="append only= and teams= to $GITHUB_OUTPUT"
    )
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.changed_files == "-" else Path(args.changed_files).read_text()
    changed = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        result = scope(load_config(args.config), changed)
    except ConfigError as exc:
        for line in exc.lines():
            print(f"workload_scope: {line}", file=sys.stderr)
        return 2
    outputs = result.outputs()
    print(json.dumps({"only": result.only, "teams": result.teams or ""}))
    if args.github_output:
        output = os.environ.get("GITHUB_OUTPUT")
        if not output:
            print("workload_scope: --github-output: GITHUB_OUTPUT is not set", file=sys.stderr)
            return 2
        with open(output, "a") as out:
            out.writelines(f"{key}={value}\n" for key, value in outputs.items())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
