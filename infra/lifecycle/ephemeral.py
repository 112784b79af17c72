"""Ephemeral envs: cut from a permanent env and the team's template, and read back from their cloud tags.

An ephemeral env is named by its team and a short NAME (`churn` + `pr123` -> stacks `churn-pr123-platform`,
`churn-pr123-workspace`, resource group `rg-<prefix>-churn-pr123`). Every name is a pure function of
(prefix, team, name), the same function permanent envs use, so the stacks can be derived again from the
tags on any checkout (on Azure the resource group's, on AWS those of the env's resources). Everything needed
for that derivation is in the tags: team, env (the NAME), base-env, owner, expires-at and network-slot, and the
env's own prefix (`platform-prefix`) and network, so a live env stays removable by what was deployed (names,
state keys, network) when the config's prefix, pool or template change under it. Envs created before those two
tags get their prefix from the resource group's name (Azure) or the config (AWS), their network from the slot.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from infra.config import PlatformConfig, TeamConfig, TeamEnv
from infra.config.base import EPHEMERAL_NAME, PERMANENT_ENVS
from infra.config.environment import EnvironmentConfig, EphemeralTemplate
from infra.config.naming import aws_tag_value_problem, env_names
from infra.config.unique_names import EnvIdentity, ephemeral_name_collisions
from infra.lifecycle.aws import TaggedResource
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.ttl import format_instant

EPHEMERAL_TAG = "ephemeral"
NETWORK_SLOT_TAG = "network-slot"
PREFIX_TAG = "platform-prefix"
# platform.prefix's rule: a tag that breaks it is not trusted into names, state keys or paths.
PREFIX_PATTERN = r"[a-z][a-z0-9]{1,5}"
NETWORK_TAG = "network"
# Every ephemeral env gets one /24 of the team's pool: the smallest range the config accepts, quartered into
# the two /26 subnets Databricks needs (its minimum) plus room for private endpoints.
SLOT_PREFIX_LENGTH = 24
# Tags an ephemeral env's resource group must carry to be derived again (TeamEnv.tags writes them).
RECORD_TAGS = ("team", "env", "base-env", "owner", "expires-at", NETWORK_SLOT_TAG)

_EMAIL = TypeAdapter(EmailStr)


def is_ephemeral_tagged(tags: Mapping[str, str]) -> bool:
    """What marks a resource group as an ephemeral env's: exactly `ephemeral=true` (TeamEnv.tags writes it).

    Deliberately strict: `True`, `yes` or a missing tag all mean "not ephemeral", so nothing is ever torn
    down on a guess.
    """
    return tags.get(EPHEMERAL_TAG) == "true"


class EphemeralTeamEnv(TeamEnv):
    """A TeamEnv of kind ephemeral that also tags its network slot, so its exact network can be re-derived."""

    network_slot: int

    @property
    def tags(self) -> dict[str, str]:
        return {
            **super().tags,
            NETWORK_SLOT_TAG: str(self.network_slot),
            PREFIX_TAG: self.platform.prefix,
            NETWORK_TAG: self.settings.network,
        }


def permanent_env_names(config: PlatformConfig) -> frozenset[str]:
    """Every name that is, or could become, a permanent env: dev/staging/prod and each env of each team."""
    return frozenset(PERMANENT_ENVS) | {env for team in config.teams for env in team.environments}


def refuse_permanent(name: str, config: PlatformConfig, *, field: str) -> None:
    """The one guard between an ephemeral command and a permanent env: a NAME that is, or could be, a
    permanent env's is refused whatever the resource group's tags say. `env up` checks it before creating,
    and every teardown (`env down`, `env reap`) goes through `EphemeralRecord.team_env`, which checks it
    before any stack is derived, synthesized or destroyed."""
    if name in permanent_env_names(config):
        raise InputProblem(
            field,
            f"{name!r} is the name of a permanent environment; ephemeral commands never create or destroy it",
        )


def check_name_format(name: str, *, field: str = "NAME") -> None:
    if not re.fullmatch(EPHEMERAL_NAME, name):
        raise InputProblem(
            field,
            f"{name!r} is invalid: 2-10 lowercase letters or digits, starting with a letter "
            "(it becomes part of every Azure name of the env)",
        )


def check_name(config: PlatformConfig, team: TeamConfig, name: str, *, field: str = "NAME") -> None:
    """Refuse a NAME that is malformed, that a permanent env uses, or whose derived Azure names are invalid."""
    check_name_format(name, field=field)
    refuse_permanent(name, config, field=field)
    names = env_names(prefix=config.platform.prefix, team=team.name, env=name)
    problems = names.problems()
    if problems:
        raise InputProblem(field, f"{name!r} cannot be used: {problems[0]}")
    permanent_stacks = {stack for te in config.team_envs for stack in te.stacks.values()}
    if {names.platform_stack, names.account_stack, names.workspace_stack} & permanent_stacks:
        raise InputProblem(field, f"{name!r} would reuse the stacks of a permanent environment")


def check_unique_names(config: PlatformConfig, team_env: TeamEnv, live: Iterable[EphemeralRecord]) -> None:
    """Refuse an env whose globally unique names (storage, Key Vault, buckets) the cloud refuses or another env,
    permanent or live, holds; and on AWS an owner the tags of its IAM roles cannot carry."""
    # Each live env's names derive from the prefix it was created under (its tag), not today's.
    identities = [EnvIdentity(prefix=r.prefix, team=r.team, env=r.name, cloud=r.cloud) for r in live]
    problems = ephemeral_name_collisions(config, team_env, identities)
    if problems:
        raise InputProblem("NAME", f"{team_env.env!r} cannot be used: {problems[0]}")
    if team_env.team.cloud == "aws" and (problem := aws_tag_value_problem(team_env.owner or "")):
        raise InputProblem("--owner", f"{problem}; the owner is tagged on the env's IAM roles")


def check_owner(owner: str, *, field: str = "--owner") -> str:
    try:
        return str(_EMAIL.validate_python(owner))
    except ValidationError:
        raise InputProblem(field, f"{owner!r} is not an e-mail address") from None


def template_of(team: TeamConfig, *, field: str) -> EphemeralTemplate:
    if team.ephemeral is None:
        raise InputProblem(field, f"team {team.name!r} has no ephemeral template (set teams[].ephemeral)")
    return team.ephemeral


def slot_count(template: EphemeralTemplate) -> int:
    pool = ipaddress.IPv4Network(template.network_pool)
    return 2 ** (SLOT_PREFIX_LENGTH - pool.prefixlen)


def slot_network(template: EphemeralTemplate, slot: int) -> str:
    """The /24 of slot number ``slot`` (0-based) in the team's pool."""
    pool = ipaddress.IPv4Network(template.network_pool)
    if not 0 <= slot < slot_count(template):
        raise ValueError(f"slot {slot} is outside {pool} ({slot_count(template)} slots)")
    first = int(pool.network_address) + slot * 2 ** (32 - SLOT_PREFIX_LENGTH)
    return str(ipaddress.IPv4Network((first, SLOT_PREFIX_LENGTH)))


def cut(
    base: TeamEnv,
    *,
    name: str,
    slot: int,
    owner: str,
    expires_at: datetime,
    network: str | None = None,
    template: EphemeralTemplate | None = None,
) -> EphemeralTeamEnv:
    """The ephemeral env NAME cut from ``base``: the template's smallest sizes, budget and network slot.

    Data stays deletable (kind ephemeral, prevent_destroy off); no interactive cluster, no instance pool and
    paused schedules, because an ephemeral env's jobs run when a test starts them (`platform smoke`).
    Security settings such as the front-end access mode are kept from the base env. ``network`` and
    ``template`` are given for a live env derived again from its tags: what it was deployed with, not the pool
    and template the config has now.
    """
    template = template or template_of(base.team, field="--from")
    settings = EnvironmentConfig.model_validate(
        base.settings.model_dump()
        | {
            "network": network or slot_network(template, slot),
            "budget": template.budget.model_dump(),
            "compute": template.compute.model_dump(),
            "schedules": base.settings.schedules.model_dump() | {"paused": True},
            "interactive_cluster": False,
            "instance_pool": False,
            "prevent_destroy": False,
            "require_approval": False,
        }
    )
    return EphemeralTeamEnv(
        platform=base.platform,
        team=base.team,
        env=name,
        kind="ephemeral",
        settings=settings,
        owner=owner,
        expires_at=format_instant(expires_at),
        base_env=base.env,
        network_slot=slot,
    )


class UnreadableRecord(ValueError):
    """Tags marked ephemeral that do not describe an env this CLI created."""


@dataclass(frozen=True, kw_only=True)
class EphemeralRecord:
    """An ephemeral env as its cloud records it: the tags on what holds it, and what those tags say.

    On Azure an env lives in one resource group, whose tags are the record. AWS has no such container: the
    record is the set of the env's tagged resources in its team's region, which must all carry the same tags.
    """

    tags: Mapping[str, str]
    team: str
    name: str
    base_env: str
    owner: str
    expires_at: datetime
    network_slot: int
    prefix: str
    """The platform prefix the env was created under (its names and state keys carry it)."""
    network: str | None = None
    """The env's network as deployed (its `network` tag); None for envs from before that tag."""
    resource_group: str | None = None
    """Azure: the env's resource group."""
    region: str | None = None
    """AWS: the region its resources were found in."""
    arns: tuple[str, ...] = ()
    """AWS: the env's tagged resources, by ARN."""

    @property
    def key(self) -> str:
        return f"{self.team}/{self.name}"

    @property
    def cloud(self) -> str:
        return "aws" if self.region is not None else "azure"

    @property
    def where(self) -> str:
        """Where the env lives, for reports: `group rg-...` or `region eu-west-1 (17 tagged resources)`."""
        if self.region is None:
            return f"group {self.resource_group}"
        return f"region {self.region} ({len(self.arns)} tagged resources)"

    @property
    def holder(self) -> str:
        """What carries the tags: the resource group, or the env's resources in the region."""
        return str(self.resource_group) if self.region is None else f"{self.key} in {self.region}"

    @property
    def source(self) -> str:
        """The field named when the tags cannot be derived again."""
        return f"{self.holder} (tags)"

    @classmethod
    def from_tags(cls, resource_group: str, tags: Mapping[str, str]) -> EphemeralRecord:
        """The record of an Azure env from its resource group's tags; its prefix from its tag, or (envs from
        before the tag) from the group's name."""
        fields = _record_fields(tags)
        prefix = tags.get(PREFIX_TAG) or _prefix_in_group_name(resource_group, tags["team"], tags["env"])
        expected = env_names(prefix=prefix or "<prefix>", team=tags["team"], env=tags["env"]).resource_group
        if prefix is None or resource_group != expected:
            # Tags copied onto some other group must never make it look like an env.
            raise UnreadableRecord(
                f"its tags describe {tags['team']}/{tags['env']}, whose group is {expected}"
            )
        return cls(resource_group=resource_group, prefix=prefix, **fields)

    @classmethod
    def from_resources(
        cls, region: str, resources: Sequence[TaggedResource], *, default_prefix: str
    ) -> EphemeralRecord:
        """The record of an AWS env from its tagged resources (one team/env); their record tags must agree.
        Envs from before the prefix tag are taken to be of ``default_prefix`` (the config's)."""
        first = resources[0].tags
        for tag in (EPHEMERAL_TAG, *RECORD_TAGS, PREFIX_TAG, NETWORK_TAG):
            values = sorted({resource.tags.get(tag, "") for resource in resources})
            if len(values) > 1:
                shown = ", ".join(repr(value) for value in values)
                raise UnreadableRecord(f"its {len(resources)} resources disagree on {tag} ({shown})")
        fields = _record_fields(first)
        prefix = first.get(PREFIX_TAG) or default_prefix
        return cls(region=region, arns=tuple(sorted(r.arn for r in resources)), prefix=prefix, **fields)

    def is_of(self, config: PlatformConfig) -> bool:
        """Whether the env was created under the config's prefix (else: before a prefix change, or by another
        platform sharing the subscription or account)."""
        return self.prefix == config.platform.prefix

    def team_env(self, config: PlatformConfig) -> EphemeralTeamEnv:
        """The env's TeamEnv derived again from platform.yaml and the tags (what `env up` synthesized): its
        names and state keys under its own prefix, its network as deployed, whatever the config says now."""
        field = self.source
        refuse_permanent(self.name, config, field=field)  # tags are not trusted to tell prod from a test env
        try:
            team = config.team(self.team)
        except KeyError:
            raise InputProblem(field, f"team {self.team!r} is not in the config any more") from None
        if team.cloud != self.cloud:
            raise InputProblem(
                field, f"team {self.team!r} runs on {team.cloud}, but the tags are on {self.cloud}"
            )
        if self.region is not None and team.region != self.region:
            raise InputProblem(field, f"team {self.team!r} runs in {team.region}, not {self.region}")
        if self.base_env not in team.environments:
            raise InputProblem(field, f"team {self.team!r} has no base env {self.base_env!r} any more")
        if self.network is None:  # an env from before the network tag: its slot in today's pool
            template = template_of(team, field=field)
            if self.network_slot >= slot_count(template):
                raise InputProblem(
                    field, f"network slot {self.network_slot} is outside {template.network_pool}"
                )
        else:  # the template only sizes a teardown's synth; the pool may have moved or the template gone
            template = team.ephemeral or EphemeralTemplate(network_pool=self.network)
        base = TeamEnv.permanent(config, team, self.base_env)
        base = base.model_copy(update={"platform": base.platform.model_copy(update={"prefix": self.prefix})})
        return cut(
            base,
            name=self.name,
            slot=self.network_slot,
            owner=self.owner,
            expires_at=self.expires_at,
            network=self.network,
            template=template,
        )

    def occupied_network(self, template: EphemeralTemplate | None) -> str | None:
        """The network the env holds: its tag, else its slot in ``template``'s pool (None when unknown)."""
        if self.network is not None:
            return self.network
        if template is None or self.network_slot >= slot_count(template):
            return None
        return slot_network(template, self.network_slot)


def _record_fields(tags: Mapping[str, str]) -> dict[str, Any]:
    """What the tags say about the env; UnreadableRecord when they do not describe one `env up` created."""
    if not is_ephemeral_tagged(tags):
        raise UnreadableRecord(f"it is not tagged {EPHEMERAL_TAG}=true")
    missing = [tag for tag in RECORD_TAGS if not tags.get(tag)]
    if missing:
        raise UnreadableRecord(f"tags {', '.join(missing)} are missing")
    try:
        expires_at = datetime.fromisoformat(tags["expires-at"])
    except ValueError:
        raise UnreadableRecord(f"expires-at {tags['expires-at']!r} is not an ISO-8601 time") from None
    if expires_at.tzinfo is None:
        raise UnreadableRecord(f"expires-at {tags['expires-at']!r} has no time zone")
    if not tags[NETWORK_SLOT_TAG].isdigit():
        raise UnreadableRecord(f"{NETWORK_SLOT_TAG} {tags[NETWORK_SLOT_TAG]!r} is not a slot number")
    if PREFIX_TAG in tags and not re.fullmatch(PREFIX_PATTERN, tags[PREFIX_TAG]):
        raise UnreadableRecord(f"{PREFIX_TAG} {tags[PREFIX_TAG]!r} is not a platform prefix")
    network = tags.get(NETWORK_TAG)
    if network is not None:
        try:
            network = str(ipaddress.IPv4Network(network))
        except ValueError:
            raise UnreadableRecord(f"{NETWORK_TAG} {network!r} is not an IPv4 network") from None
    return {
        "tags": dict(tags),
        "team": tags["team"],
        "name": tags["env"],
        "base_env": tags["base-env"],
        "owner": tags["owner"],
        "expires_at": expires_at,
        "network_slot": int(tags[NETWORK_SLOT_TAG]),
        "network": network,
    }


def _prefix_in_group_name(resource_group: str, team: str, env: str) -> str | None:
    """The prefix in `rg-<prefix>-<team>-<env>` (the platform prefix rule: 2-6 lowercase letters or digits)."""
    found = re.fullmatch(rf"rg-({PREFIX_PATTERN})-{re.escape(team)}-{re.escape(env)}", resource_group)
    return found.group(1) if found else None
