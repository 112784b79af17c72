"""Which GitHub Actions runner each env-changing CI job runs on, from the envs' `deploy_runner` in platform.yaml.

A GitHub-hosted runner cannot reach a workspace whose front end is private (public_network_access false), nor a
lake and vault without public endpoints (network_isolation private), so the jobs that deploy, smoke-test or destroy such an env, or an ephemeral env cut from it, run on the labels the env
names in `deploy_runner`; every other env uses `ubuntu-latest`. Each runner is printed as a JSON list of labels,
for `runs-on: ${{ fromJSON(...) }}`:

    matrix ENV [--teams JSON]  [{"team": ..., "runner": "[...]"}, ...] for every team with ENV (a job matrix's
                      include), or only those teams
    runner TEAM/ENV   the runner of that permanent env and of the ephemeral envs cut from it
    reaper            the one runner that can destroy every ephemeral env the teams' templates allow
    private-stacks    the stacks a GitHub-hosted runner cannot plan: the workspace stack of a private front end, the
                      platform stack of a private lake and vault
    plan-matrix STACK...  [{"team", "env", "target", "runner"}, ...]: the team-envs those stacks belong to, each with
                      the runner that reaches them (the pull-request plan); stacks of clouds CI does not log in to
                      are left out. An env whose only changed stack is its account stack is listed too: its plan
                      (`--skip account`, checks.yml) names that stack as not planned, so the summary shows it
    permanent         the same for every permanent env CI deploys (the nightly drift check)

With --github-output KEY the JSON is also appended to $GITHUB_OUTPUT as KEY=JSON. Bad input (a config error, an
unknown env, private envs that need different runners for one reaper) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from infra.config import ConfigError, PlatformConfig, TeamEnv, load_config
from infra.lifecycle.targets import has_lifecycle

HOSTED_RUNNER: list[str] = ["ubuntu-latest"]
# The clouds the workflows log in to: Azure through azure/login (OIDC). AWS teams have the lifecycle commands, but
# CI deploys them only once a workflow step authenticates to AWS (aws-actions/configure-aws-credentials, docs/aws.md);
# until then the matrices leave them out and the workflows' env commands read Azure only (`--cloud azure`).
CI_CLOUDS = ("azure",)


def deployed_by_ci(team_env: TeamEnv) -> bool:
    return has_lifecycle(team_env.team) and team_env.team.cloud in CI_CLOUDS


class RunnerProblem(Exception):
    """The runner cannot be worked out; the message is the one line to print."""


def runner_of(team_env: TeamEnv) -> list[str]:
    return list(team_env.settings.deploy_runner) or HOSTED_RUNNER


def env_matrix(config: PlatformConfig, env: str, teams: list[str] | None = None) -> list[dict[str, str]]:
    """``teams``: only these (workload_scope.py's choice for a change under workload packages only)."""
    return [
        {"team": te.team.name, "runner": json.dumps(runner_of(te))}
        for te in config.team_envs
        if te.env == env and deployed_by_ci(te) and (teams is None or te.team.name in teams)
    ]


def env_runner(config: PlatformConfig, key: str) -> list[str]:
    for te in config.team_envs:
        if te.key != key:
            continue
        if not deployed_by_ci(te):
            raise RunnerProblem(
                f"TEAM/ENV: {key} runs on {te.team.cloud}, which CI does not log in to yet (CI_CLOUDS, docs/aws.md)"
            )
        return runner_of(te)
    known = ", ".join(te.key for te in config.team_envs)
    raise RunnerProblem(f"TEAM/ENV: {key!r} is not a permanent env of the config (known: {known})")


def reaper_runner(config: PlatformConfig) -> list[str]:
    """The reaper destroys any team's expired ephemeral envs in one run, so one runner must reach them all."""
    private = {
        te.key: runner_of(te)
        for te in config.team_envs
        if te.team.ephemeral is not None
        and te.settings.reachable_only_from_its_network
        and deployed_by_ci(te)
    }
    runners = {json.dumps(runner) for runner in private.values()}
    if len(runners) > 1:
        raise RunnerProblem(
            "deploy_runner: the nightly reaper runs on one runner, but the private envs with ephemeral templates "
            f"({', '.join(sorted(private))}) name different runners; give them one runner that reaches them all"
        )
    return json.loads(runners.pop()) if runners else HOSTED_RUNNER


def target_row(team_env: TeamEnv) -> dict[str, str]:
    return {
        "team": team_env.team.name,
        "env": team_env.env,
        "target": team_env.key,
        "runner": json.dumps(runner_of(team_env)),
    }


def plan_matrix(config: PlatformConfig, stacks: list[str]) -> list[dict[str, str]]:
    wanted = set(stacks)
    return [
        target_row(te) for te in config.team_envs if deployed_by_ci(te) and wanted & set(te.stacks.values())
    ]


def permanent_matrix(config: PlatformConfig) -> list[dict[str, str]]:
    return [target_row(te) for te in config.team_envs if deployed_by_ci(te)]


def private_stacks(config: PlatformConfig) -> list[str]:
    stacks = []
    for te in config.team_envs:
        if te.settings.network_isolation == "private":  # refreshing the key reads the vault's data plane
            stacks.append(te.names.platform_stack)
        if not te.settings.public_network_access:
            stacks.append(te.names.workspace_stack)
    return stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, help="platform config [default: $PLATFORM_CONFIG or platform.yaml]"
    )
    parser.add_argument("--github-output", metavar="KEY", help="also append KEY=JSON to $GITHUB_OUTPUT")
    commands = parser.add_subparsers(dest="command", required=True)
    matrix = commands.add_parser("matrix")
    matrix.add_argument("env", metavar="ENV")
    matrix.add_argument("--teams", help="a JSON list of teams: leave the others out (empty: every team)")
    commands.add_parser("runner").add_argument("target", metavar="TEAM/ENV")
    commands.add_parser("reaper")
    commands.add_parser("private-stacks")
    commands.add_parser("plan-matrix").add_argument("stacks", metavar="STACK", nargs="*")
    commands.add_parser("permanent")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if args.command == "matrix":
            result: object = env_matrix(config, args.env, json.loads(args.teams) if args.teams else None)
        elif args.command == "runner":
            result = env_runner(config, args.target)
        elif args.command == "reaper":
            result = reaper_runner(config)
        elif args.command == "plan-matrix":
            result = plan_matrix(config, args.stacks)
        elif args.command == "permanent":
            result = permanent_matrix(config)
        else:
            result = private_stacks(config)
    except ConfigError as exc:
        for line in exc.lines():
            print(f"deploy_runners: {line}", file=sys.stderr)
        return 2
    except RunnerProblem as exc:
        print(f"deploy_runners: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(result)
    print(text)
    if args.github_output:
        output = os.environ.get("GITHUB_OUTPUT")
        if not output:
            print("deploy_runners: --github-output: GITHUB_OUTPUT is not set", file=sys.stderr)
            return 2
        with open(output, "a") as out:
            out.write(f"{args.github_output}={text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
