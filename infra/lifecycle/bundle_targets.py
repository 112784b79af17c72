"""`platform bundle-targets`: the deployment targets a bundle team includes from its own Databricks Asset Bundle.

One target per team-env (named after the env: `dev`, `staging`, `prod`): the workspace host, where the bundle
lives and uploads its artifacts, the run_as service principal, the Unity Catalog catalog and schema, the team's
cluster policy and the permissions of the team's groups. Host, service principal and policy exist only once the
env's workspace stack is deployed, so they are read from its state (the stack's `bundle_*` outputs, through the
runner); an env that is not deployed is refused, never filled with a placeholder a deploy would trip over later,
and so is one deployed before its last config change (the catalog, schema and volume come from platform.yaml).

The file is a bundle configuration file: top-level `variables` (declared here, so the team's bundle need not)
and `targets`, which the databricks CLI merges into the bundle's root like every included file
(bundle/config/loader/process_include.go, databricks/cli v1.13.0). The rules the CLI applies to a target's mode
(bundle/config/mutator/resourcemutator/validate_target_mode.go) shape it: a development target keeps every path
per user and never unpauses triggers; a production target sets root_path, so only one copy is ever deployed.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from infra.config import PlatformConfig, TeamEnv
from infra.config.base import EPHEMERAL_NAME
from infra.constructs.bundle_contract import (
    BUNDLE_CLUSTER_POLICY_OUTPUT,
    BUNDLE_HOST_OUTPUT,
    artifact_volume_output,
    artifact_volume_path,
    run_as_output,
)
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.inventory import read_inventory
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.targets import find_team, split_key

if TYPE_CHECKING:
    from infra.config.workload import BundleWorkload
    from infra.lifecycle.services import Services

# The first line of every file this command writes: --out replaces a file only when it starts with it.
HEADER = "# Written by `platform bundle-targets` from platform.yaml; regenerate it rather than edit it."
VARIABLES = {
    "catalog_name": "Unity Catalog catalog of the team-env (the platform creates it)",
    "schema_name": "Schema of this workload in the catalog; its registered models live here",
    "cluster_policy_id": "The team's cluster policy: job clusters set policy_id to it",
    "artifact_volume": "Unity Catalog volume the bundle uploads its artifacts to",
}
# What a target's own root and artifact folders are; the CLI wants per-user paths in development mode.
BUNDLE_FOLDER = "${bundle.name}/${bundle.target}"
DEVELOPMENT_KINDS = ("dev", "ephemeral")
# What `--out` may end in: the databricks CLI includes only YAML and JSON files
# (bundle/config/loader/process_root_includes.go, databricks/cli v1.13.0), and the file is YAML.
INCLUDABLE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class Deployed:
    """The values of a deployed team-env that only its workspace stack's state knows."""

    host: str
    run_as: str
    """Application ID of the workload's run_as service principal."""
    cluster_policy_id: str


def select(config: PlatformConfig, team_name: str, *, workload: str | None) -> BundleWorkload:
    """The bundle workload the command writes targets for; InputProblem naming what is wrong."""
    team = find_team(config, team_name, field="TEAM")
    found = team.bundle_workloads
    if not found:
        raise InputProblem(
            "TEAM",
            f"team {team_name!r} has no bundle workload (teams.{team_name}.workloads: add one with kind: bundle)",
        )
    names = ", ".join(w.name for w in found)
    if workload is None:
        if len(found) > 1:
            raise InputProblem(
                "--workload", f"team {team_name!r} has several bundle workloads: pick one of {names}"
            )
        return found[0]
    chosen = next((w for w in found if w.name == workload), None)
    if chosen is None:
        raise InputProblem("--workload", f"team {team_name!r} has no bundle workload {workload!r} ({names})")
    return chosen


def team_and_env(team: str, env: str | None) -> tuple[str, str | None]:
    """TEAM, or TEAM/ENV as the other commands take it (the same as TEAM --env ENV)."""
    if "/" not in team:
        return team, env
    team_name, named = split_key(team, field="TEAM")
    if env is not None and env != named:
        raise InputProblem("--env", f"{env!r} contradicts {team!r}; name the env once")
    return team_name, named


def permanent_envs(config: PlatformConfig, team_name: str, env: str | None) -> list[TeamEnv] | None:
    """The team's dev/staging/prod envs (or the one --env names); None when --env may name an ephemeral env."""
    team_envs = [te for te in config.team_envs if te.team.name == team_name]
    if env is None:
        return team_envs
    if named := [te for te in team_envs if te.env == env]:
        return named
    if re.fullmatch(EPHEMERAL_NAME, env):
        return None
    envs = ", ".join(te.env for te in team_envs)
    raise InputProblem("--env", f"team {team_name!r} has no environment {env!r} (environments: {envs})")


def ephemeral_env(config: PlatformConfig, team_name: str, env: str, services: Services) -> TeamEnv:
    """An ephemeral env of the team (`platform env up`), derived again from its tags as `env down` does."""
    team = config.team(team_name)
    record = read_inventory(config, services, clouds=[team.cloud]).find(env, field="--env")
    if record.team != team_name:
        raise InputProblem(
            "--env", f"ephemeral env {env!r} belongs to team {record.team!r}, not {team_name!r}"
        )
    return record.team_env(config)


def read_deployed(
    config: PlatformConfig, team_envs: list[TeamEnv], workload: str, services: Services, *, outdir: Path
) -> dict[str, Deployed]:
    """TEAM/ENV -> its deployed values, read from the workspace stacks' state after synthesizing them into
    ``outdir`` (their backends say where the state is). InputProblem naming every env that cannot be read."""
    services.runner.require("terraform")
    found: dict[str, Deployed] = {}
    unread: list[str] = []
    stale: list[str] = []
    with exclusive_outdir(outdir, purpose="read bundle targets"):
        services.synthesize(config, team_envs, outdir, services.build_wheel())
        for team_env in team_envs:
            stack = team_env.names.workspace_stack
            try:
                found[team_env.key] = Deployed(
                    host=services.runner.output(stack, BUNDLE_HOST_OUTPUT, outdir=outdir),
                    run_as=services.runner.output(stack, run_as_output(workload), outdir=outdir),
                    cluster_policy_id=services.runner.output(
                        stack, BUNDLE_CLUSTER_POLICY_OUTPUT, outdir=outdir
                    ),
                )
                deployed_volume = services.runner.output(
                    stack, artifact_volume_output(workload), outdir=outdir
                )
            except OperationFailed as exc:
                if not _output_missing(exc):  # the state itself could not be read: say why, never "deploy it"
                    raise OperationFailed(f"{team_env.key}: {exc}") from None
                unread.append(team_env.key)
                continue
            # The target's catalog, schema and volume come from platform.yaml: they must be what is deployed.
            chosen = team_env.team.workload(workload)
            configured = artifact_volume_path(team_env.names.catalog, chosen.schema) if chosen else ""
            if deployed_volume != configured:
                stale.append(f"{team_env.key} has {deployed_volume}, platform.yaml says {configured}")
    if unread:
        raise InputProblem(
            "TEAM",
            f"not deployed (no bundle outputs in the workspace stack's state): {', '.join(unread)}; deploy it "
            "with `platform deploy TEAM/ENV`, or pass --env for a deployed one",
        )
    if stale:
        raise InputProblem(
            "TEAM",
            f"deployed before its last config change ({'; '.join(stale)}): a target would name a schema and "
            "volume that do not exist yet; deploy it first with `platform deploy TEAM/ENV`",
        )
    return found


def _output_missing(exc: OperationFailed) -> bool:
    """Terraform read the state and it lacks the output (`Error: Output "..." not found`): the env's workspace
    stack is not deployed, or not since it had the bundle workload. Anything else (a failed `terraform init` of
    the backend, no credentials) is not an answer about the env."""
    return bool(re.search(r'Output "[^"]*" not found', str(exc)))


def targets_document(
    team_envs: list[TeamEnv], workload: BundleWorkload, deployed: dict[str, Deployed]
) -> dict[str, Any]:
    """The bundle configuration: variable declarations and one target per team-env."""
    return {
        "variables": {name: {"description": text} for name, text in VARIABLES.items()},
        "targets": {te.env: target(te, workload, deployed[te.key]) for te in team_envs},
    }


def target(team_env: TeamEnv, workload: BundleWorkload, deployed: Deployed) -> dict[str, Any]:
    """One team-env's target. Development (dev, ephemeral): each developer deploys their own copy as themselves.
    Production (staging, prod): the workload's service principal deploys (CI) and runs it, one copy."""
    development = team_env.kind in DEVELOPMENT_KINDS
    volume = artifact_volume_path(team_env.names.catalog, workload.schema)
    owners = team_env.team.owner_groups
    readers = team_env.team.reader_groups
    if development:
        workspace = {
            "host": deployed.host,
            "root_path": f"~/.bundle/{BUNDLE_FOLDER}",
            "artifact_path": f"{volume}/{BUNDLE_FOLDER}/${{workspace.current_user.short_name}}",
        }
        permissions = [{"level": "CAN_MANAGE", "group_name": g} for g in owners]
    else:
        workspace = {
            "host": deployed.host,
            "root_path": f"/Workspace/Users/{deployed.run_as}/.bundle/{BUNDLE_FOLDER}",
            "artifact_path": f"{volume}/{BUNDLE_FOLDER}",
        }
        permissions = [{"level": "CAN_MANAGE", "service_principal_name": deployed.run_as}] + [
            {"level": "CAN_RUN", "group_name": g} for g in owners
        ]
    permissions += [{"level": "CAN_VIEW", "group_name": g} for g in readers]
    result: dict[str, Any] = {
        "mode": "development" if development else "production",
        "workspace": workspace,
    }
    if not development:
        result["run_as"] = {"service_principal_name": deployed.run_as}
    if presets := _presets(team_env, development=development):
        result["presets"] = presets
    result["variables"] = {
        "catalog_name": team_env.names.catalog,
        "schema_name": workload.schema,
        "cluster_policy_id": deployed.cluster_policy_id,
        "artifact_volume": volume,
    }
    result["permissions"] = permissions
    return result


def _presets(team_env: TeamEnv, *, development: bool) -> dict[str, Any]:
    # The env's schedules setting decides whether the bundle's triggers start paused. Development mode pauses them
    # anyway and refuses UNPAUSED as a preset, so a development target only ever says PAUSED.
    if team_env.settings.schedules.paused:
        return {"trigger_pause_status": "PAUSED"}
    return {} if development else {"trigger_pause_status": "UNPAUSED"}


def render(document: dict[str, Any], *, team: str) -> str:
    """The file's text: the header, how to use it, then the YAML."""
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=120)
    return (
        f"{HEADER}\n"
        f"# Include it from the bundle's databricks.yml (include: [platform-targets.yml]) and deploy with\n"
        f"# `databricks bundle deploy -t <env>`. Team {team}; see docs/bundles.md.\n{body}"
    )


def check_out_file(out: Path) -> None:
    """Refuse an --out this command did not write before: a directory, or a file of the user's."""
    if out.parts and out.parts[0].startswith("~"):
        raise InputProblem(
            "--out", f"{out} starts with ~, which the shell did not expand; write the path out"
        )
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise InputProblem("--out", f"{out} exists and is not a regular file; refusing to replace it")
    if out.suffix not in INCLUDABLE_SUFFIXES:
        raise InputProblem(
            "--out",
            f"{out} must end in .yml or .yaml: the bundle includes only YAML (or JSON) files, and this is YAML",
        )
    if out.exists() and not _written_by_us(out):
        raise InputProblem(
            "--out",
            f"{out} exists and was not written by `platform bundle-targets` (its first line is not the header); "
            "refusing to replace it: name a new file",
        )
    if not out.parent.is_dir():
        raise InputProblem("--out", f"{out.parent} is not a directory")


def _written_by_us(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == HEADER
    except (OSError, UnicodeDecodeError):
        return False


def write_atomically(out: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``out`` and rename it over ``out``: a reader sees the old file or
    the new one, never half of one."""
    check_out_file(out)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        os.fchmod(handle, 0o644)  # mkstemp's 0600 would hide a file meant to be committed from the team
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
