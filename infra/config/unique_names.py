"""Names that must be unique in a whole cloud, not only in this config: storage accounts, Key Vaults, S3 buckets
and the state backend's storage.

Each derived name is a pure function of an env's identity (prefix, team, env, cloud). `platform validate` checks
every permanent env's names against the cloud's rules and against each other and the state storage; `platform
env up` checks a new ephemeral env's the same way against those and the live ephemeral envs (their identities
come from their tags). Two names in one namespace are one resource: the second apply would fail, or worse, reuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.config.aws_names import audit_log_bucket_name, bucket_names
from infra.config.base import team_paths
from infra.config.naming import env_names, name_problem, s3_bucket_problem

if TYPE_CHECKING:
    from infra.config.model import PlatformConfig, TeamEnv
    from infra.config.platform_settings import PlatformSettings
    from infra.config.team import TeamConfig

STORAGE_ACCOUNT = "Azure storage account"
KEY_VAULT = "Azure Key Vault"
S3_BUCKET = "S3 bucket"


@dataclass(frozen=True, kw_only=True)
class EnvIdentity:
    """What every name of an env is derived from."""

    prefix: str
    team: str
    env: str
    cloud: str

    @property
    def key(self) -> str:
        return f"{self.team}/{self.env}"


@dataclass(frozen=True)
class GlobalName:
    namespace: str
    """What kind of resource, e.g. `S3 bucket`: names collide only within one namespace."""
    name: str
    holder: str
    """Who uses it, as an error line names it (a field path, or `ephemeral env churn/pr1`)."""


def global_names(identity: EnvIdentity, *, holder: str) -> list[GlobalName]:
    """The globally unique names of one env."""
    if identity.cloud == "aws":
        root, lake = bucket_names(prefix=identity.prefix, team=identity.team, env=identity.env)
        audit = audit_log_bucket_name(prefix=identity.prefix, team=identity.team, env=identity.env)
        return [GlobalName(S3_BUCKET, name, holder) for name in (root, lake, audit)]
    names = env_names(prefix=identity.prefix, team=identity.team, env=identity.env)
    return [
        GlobalName(STORAGE_ACCOUNT, names.storage_account, holder),
        GlobalName(KEY_VAULT, names.key_vault, holder),
    ]


def rule_problem(name: GlobalName) -> str | None:
    """Why the cloud refuses the name itself, or None."""
    if name.namespace == S3_BUCKET:
        return s3_bucket_problem(name.name)
    return name_problem("storage_account" if name.namespace == STORAGE_ACCOUNT else "key_vault", name.name)


def state_names(platform: PlatformSettings) -> list[GlobalName]:
    """The state backend's own globally unique storage: it must never be an env's."""
    backend = platform.state_backend
    if backend.kind == "azurerm" and backend.storage_account_name:
        holder = "platform.state_backend.storage_account_name"
        return [GlobalName(STORAGE_ACCOUNT, backend.storage_account_name, holder)]
    if backend.kind == "s3" and backend.bucket:
        return [GlobalName(S3_BUCKET, backend.bucket, "platform.state_backend.bucket")]
    return []


def collisions(
    names: Iterable[GlobalName], *, taken: Iterable[GlobalName] = ()
) -> list[tuple[GlobalName, GlobalName]]:
    """(entry, earlier holder) for each name of ``names`` already held by ``taken`` or by an earlier entry."""
    first = {(held.namespace, held.name): held for held in taken}
    found = []
    for entry in names:
        held = first.setdefault((entry.namespace, entry.name), entry)
        if held is not entry:
            found.append((entry, held))
    return found


def _already(entry: GlobalName, held: GlobalName) -> str:
    return f"derived {entry.namespace} name {entry.name!r} is already {held.holder}'s (globally unique names)"


def config_name_problems(platform: PlatformSettings, teams: list[TeamConfig]) -> list[str]:
    """Every permanent env's globally unique names: the cloud's rules, then uniqueness across the config."""
    names = []
    for path, team in zip(team_paths([team.name for team in teams]), teams, strict=True):
        for env in team.environments:
            identity = EnvIdentity(prefix=platform.prefix, team=team.name, env=env, cloud=team.cloud)
            names += global_names(identity, holder=f"{path}.environments.{env}")
    # The Azure names' rules are checked with every other Azure name (EnvNames.problems), S3's here.
    problems = [
        f"{name.holder}: {problem}"
        for name in names
        if name.namespace == S3_BUCKET and (problem := rule_problem(name))
    ]
    return problems + [
        f"{entry.holder}: {_already(entry, held)}; rename the team or env"
        for entry, held in collisions(names, taken=state_names(platform))
    ]


def ephemeral_name_collisions(
    config: PlatformConfig, candidate: TeamEnv, live: Iterable[EnvIdentity]
) -> list[str]:
    """Why ephemeral env ``candidate`` cannot be created, as lines naming what is wrong: a derived name the cloud
    refuses or that a permanent env, the state storage or a live ephemeral env (``live``, read from the cloud's
    tags) already holds. The live env with the candidate's own key is the candidate itself (`env up` again updates
    it) and is skipped. Empty: the names are free."""
    identity = candidate.identity
    mine = global_names(identity, holder=f"ephemeral env {identity.key}")
    problems = [problem for name in mine if (problem := rule_problem(name))]
    taken = state_names(config.platform)
    for team_env in config.team_envs:
        taken += global_names(team_env.identity, holder=f"permanent env {team_env.key}")
    for other in live:
        if other.key != identity.key:
            taken += global_names(other, holder=f"live ephemeral env {other.key}")
    return problems + [
        f"{_already(entry, held)}; pick another name" for entry, held in collisions(mine, taken=taken)
    ]
