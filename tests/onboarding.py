"""A copy of the committed platform.yaml with teams added the way the README's onboarding path adds them.

Tests about the committed config derive their expectations from it; running their checks against this copy
(a fourth Azure team and a second AWS team) shows that adding a team never needs a test edited.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
# name -> (the committed team it is modelled on, the second octet of its 10.x.0.0/16 networks)
NEW_TEAMS = {"fraud": ("pricing", 40), "credit": ("risk", 50)}


def committed_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "platform.yaml").read_text())


def onboarded_config() -> dict[str, Any]:
    """The committed config plus the teams in NEW_TEAMS, each with its own networks and groups."""
    config = committed_config()
    by_name = {team["name"]: team for team in config["teams"]}
    for name, (model, octet) in NEW_TEAMS.items():
        team = copy.deepcopy(by_name[model])
        old = f"10.{team['environments']['dev']['network'].split('.')[1]}."
        # Each new team runs the churn reference workload with a model of its own name (README, onboarding).
        churn = {"kind": "managed", "name": "churn", "package": "ml", "models": [name], "preset": "churn"}
        team |= {"name": name, "workloads": [churn], "owner_groups": [f"{name}-owners"]}
        team["reader_groups"] = [f"{name}-readers"]
        for env in team["environments"].values():
            env["network"] = env["network"].replace(old, f"10.{octet}.")
        team["ephemeral"]["network_pool"] = team["ephemeral"]["network_pool"].replace(old, f"10.{octet}.")
        config["teams"].append(team)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# The stacks of a team-env by cloud (infra/config: TeamEnv.stacks), written out here so the tests check them. An
# Azure env has an account stack too where it restricts serverless egress (the prod default).
COMPONENTS = {"azure": ("platform", "workspace"), "aws": ("platform", "account", "workspace")}
AZURE_WITH_ACCOUNT = ("platform", "account", "workspace")


def components(team: dict[str, Any], env: str) -> tuple[str, ...]:
    cloud = team.get("cloud", "azure")
    restricted = (
        (team["environments"][env] or {}).get("serverless", {}).get("restricted_egress", env == "prod")
    )
    return AZURE_WITH_ACCOUNT if cloud == "azure" and restricted else COMPONENTS[cloud]


def team_envs(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(team, env) of every permanent team-env, in config order."""
    return [(team["name"], env) for team in config["teams"] for env in team["environments"]]


def stack_names(config: dict[str, Any]) -> list[str]:
    """Every stack `platform synth` writes for the config, sorted."""
    return sorted(
        f"{team['name']}-{env}-{component}"
        for team in config["teams"]
        for env in team["environments"]
        for component in components(team, env)
    )


def counts(config: dict[str, Any]) -> str:
    """What `platform validate` says it accepted: `N teams, M team-envs, K stacks`."""
    return (
        f"{len(config['teams'])} teams, {len(team_envs(config))} team-envs, {len(stack_names(config))} stacks"
    )
