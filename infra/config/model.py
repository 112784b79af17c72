"""The typed platform config: one file describes every team and environment.

Every field carries its default and meaning here; `platform schema` turns these models into the JSON Schema
editors use, and docs/config-reference.md is generated from the same place.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from infra.config.audit import audit_problems
from infra.config.azure_checks import azure_problems
from infra.config.base import CROSS_CHECK_MARK, StrictModel, team_paths
from infra.config.bundle_checks import bundle_problems
from infra.config.cross_checks import cloud_problems
from infra.config.egress import egress_problems
from infra.config.environment import CustomerManagedKey, EnvironmentConfig
from infra.config.naming import EnvNames, env_names
from infra.config.offline_packages import offline_package_problems
from infra.config.platform_settings import PlatformSettings
from infra.config.serverless import needs_azure_account_stack
from infra.config.team import TeamConfig
from infra.config.unique_names import EnvIdentity, config_name_problems
from infra.config.workload_packages import workload_package_problems


class PlatformConfig(StrictModel):
    """The whole platform: shared settings and the teams."""

    platform: PlatformSettings
    """Settings shared by every team."""
    teams: Annotated[list[TeamConfig], Field(min_length=1)]
    """The teams, each with its environments."""

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        paths = team_paths([team.name for team in self.teams])
        problems = [
            *self._duplicate_teams(),
            *self._overlapping_networks(paths),
            *self._name_problems(paths),
            *config_name_problems(self.platform, self.teams),
            *self._customer_managed_key_problems(paths),
            *cloud_problems(self.platform, self.teams),
            *azure_problems(self.platform, self.teams),
            *egress_problems(self.platform, self.teams),
            *bundle_problems(self.platform, self.teams),
            *workload_package_problems(self.teams),
            *audit_problems(self.platform, self.teams),
            *offline_package_problems(self.platform, self.teams),
        ]
        if problems:
            # One line per problem, each starting with its own field path (see infra.config.loader).
            raise ValueError(CROSS_CHECK_MARK + "\n".join(problems))
        return self

    def _duplicate_teams(self) -> list[str]:
        first: dict[str, int] = {}
        problems = []
        for index, team in enumerate(self.teams):
            if team.name in first:
                problems.append(
                    f"teams[{index}].name: {team.name!r} is already used by teams[{first[team.name]}]"
                )
            first.setdefault(team.name, index)
        return problems

    def _overlapping_networks(self, paths: list[str]) -> list[str]:
        ranges: list[tuple[str, ipaddress.IPv4Network]] = []
        for path, team in zip(paths, self.teams, strict=True):
            for env, settings in team.environments.items():
                ranges.append((f"{path}.environments.{env}.network", ipaddress.IPv4Network(settings.network)))
            if team.ephemeral:
                ranges.append(
                    (f"{path}.ephemeral.network_pool", ipaddress.IPv4Network(team.ephemeral.network_pool))
                )
        # Sorted by first address, a range can only overlap ranges that start before the widest end seen so far:
        # a sweep, not every pair (3,000 envs would be 4.5 million comparisons).
        order = sorted(range(len(ranges)), key=lambda i: int(ranges[i][1].network_address))
        problems: list[tuple[int, int]] = []
        open_ranges: list[int] = []
        for i in order:
            start = int(ranges[i][1].network_address)
            open_ranges = [j for j in open_ranges if int(ranges[j][1].broadcast_address) >= start]
            problems += [(min(i, j), max(i, j)) for j in open_ranges]
            open_ranges.append(i)
        return [
            f"{ranges[b][0]}: {ranges[b][1]} overlaps {ranges[a][1]} of {ranges[a][0]}"
            for a, b in sorted(problems)
        ]

    def _name_problems(self, paths: list[str]) -> list[str]:
        return [
            f"{path}.environments.{env}: {problem}"
            for path, team in zip(paths, self.teams, strict=True)
            for env in team.environments
            for problem in env_names(prefix=self.platform.prefix, team=team.name, env=env).problems()
        ]

    def _customer_managed_key_problems(self, paths: list[str]) -> list[str]:
        problems = []
        for team_path, team in zip(paths, self.teams, strict=True):
            for env, settings in team.environments.items():
                key = settings.customer_managed_key
                if key is None or team.cloud == "aws":  # AWS: refused as a whole (infra/config/aws.py)
                    continue
                path = f"{team_path}.environments.{env}.customer_managed_key"
                if self.platform.azure_databricks_sp_object_id is None:
                    problems.append(
                        f"{path}: needs platform.azure_databricks_sp_object_id (the AzureDatabricks app wraps the "
                        "managed services key)"
                    )
                if key.existing_key_id is None and settings.network_isolation != "private":
                    problems.append(
                        f"{path}: a key created by the stack needs network_isolation: private (the vault's "
                        "firewall denies the deploying runner; or set existing_key_id)"
                    )
        return problems

    def team(self, name: str) -> TeamConfig:
        for team in self.teams:
            if team.name == name:
                return team
        raise KeyError(name)

    @cached_property
    def team_envs(self) -> list[TeamEnv]:
        """Every permanent team-environment, in config order."""
        return [TeamEnv.permanent(self, team, env) for team in self.teams for env in team.environments]


class TeamEnv(BaseModel):
    """One resolved team-environment: what the stacks of an env are built from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    platform: PlatformSettings
    team: TeamConfig
    env: str
    """dev, staging, prod, or an ephemeral env's name."""
    kind: Literal["dev", "staging", "prod", "ephemeral"]
    settings: EnvironmentConfig
    owner: str | None = None
    expires_at: str | None = None
    """ISO-8601 UTC expiry of an ephemeral environment."""
    base_env: str | None = None
    """The permanent env an ephemeral env was cut from."""

    @classmethod
    def permanent(cls, config: PlatformConfig, team: TeamConfig, env: str) -> TeamEnv:
        return cls(platform=config.platform, team=team, env=env, kind=env, settings=team.environments[env])

    @property
    def key(self) -> str:
        return f"{self.team.name}/{self.env}"

    @property
    def identity(self) -> EnvIdentity:
        """What every name of this env is derived from (unique_names checks its globally unique ones)."""
        return EnvIdentity(
            prefix=self.platform.prefix, team=self.team.name, env=self.env, cloud=self.team.cloud
        )

    @property
    def is_ephemeral(self) -> bool:
        return self.kind == "ephemeral"

    @cached_property
    def names(self) -> EnvNames:
        return env_names(prefix=self.platform.prefix, team=self.team.name, env=self.env)

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every taggable Azure resource and every Databricks cluster of this env."""
        tags = {
            "team": self.team.name,
            "env": self.env,
            "cost-center": self.team.cost_center,
            "managed-by": "cdktf-platform",
        }
        if self.is_ephemeral:
            tags |= {"ephemeral": "true", "expires-at": self.expires_at or "", "owner": self.owner or ""}
            tags["base-env"] = self.base_env or ""
        return tags

    @property
    def customer_managed_key(self) -> CustomerManagedKey | None:
        """The env's customer-managed key settings. Never for ephemeral envs: Azure requires purge protection on
        a CMK's vault, and ephemeral vaults have none so that they can be purged on destroy."""
        return None if self.is_ephemeral else self.settings.customer_managed_key

    @property
    def stacks(self) -> dict[str, str]:
        """Component -> stack name of this env's stacks, in deploy order. An Azure env has an account stack only
        where it needs account-level resources (needs_azure_account_stack)."""
        names = self.names
        if self.team.cloud == "aws" or needs_azure_account_stack(self.team.cloud, self.settings):
            return {
                "platform": names.platform_stack,
                "account": names.account_stack,
                "workspace": names.workspace_stack,
            }
        return {"platform": names.platform_stack, "workspace": names.workspace_stack}

    @property
    def host_subnet_cidr(self) -> str:
        return str(self._subnets[0])

    @property
    def container_subnet_cidr(self) -> str:
        return str(self._subnets[1])

    @cached_property
    def _subnets(self) -> list[ipaddress.IPv4Network]:
        # Quarter the VNet: host and container subnets take the first two quarters, the rest stays free
        # for private endpoints.
        network = ipaddress.IPv4Network(self.settings.network)
        return list(network.subnets(prefixlen_diff=2))[:2]


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of platform.yaml, for editors (yaml-language-server) and docs."""
    schema = PlatformConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Databricks platform config (platform.yaml)"
    return schema
