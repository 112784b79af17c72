"""Which ephemeral envs exist: read from their tags, the only record that survives a checkout.

Each cloud is its own source. Azure: the subscription's resource groups tagged ephemeral=true. AWS: the resources
tagged ephemeral=true in each region an AWS team runs in, one env per (team, env) tag pair. A source that cannot
be read (no login, no network) is kept with its error, so each command decides whether it can go on without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.config import PlatformConfig, TeamConfig
from infra.lifecycle.aws import TaggedResource
from infra.lifecycle.azure import ResourceGroupInfo, ResourceGroups
from infra.lifecycle.ephemeral import EPHEMERAL_TAG, EphemeralRecord, UnreadableRecord, is_ephemeral_tagged
from infra.lifecycle.errors import InputProblem, OperationFailed

if TYPE_CHECKING:
    from infra.lifecycle.services import Services

# How a dry run without Azure marks what only Azure can tell.
AT_RUN_TIME = "<decided at run time>"


@dataclass(frozen=True)
class Source:
    """Where ephemeral envs are recorded: Azure's resource groups, or the tagged resources of one AWS region."""

    cloud: str
    """`azure` or `aws`, as teams[].cloud."""
    region: str | None = None
    """AWS only."""

    @property
    def cloud_name(self) -> str:
        return "AWS" if self.cloud == "aws" else "Azure"

    def __str__(self) -> str:
        return f"AWS {self.region}" if self.cloud == "aws" else "Azure"


AZURE = Source("azure")


@dataclass(frozen=True)
class Unread:
    """A source of ephemeral envs that could not be read, and why."""

    source: Source
    error: InputProblem | OperationFailed


def source_of(team: TeamConfig) -> Source:
    """Where a team's ephemeral envs are read from."""
    return Source("aws", team.region) if team.cloud == "aws" else AZURE


@dataclass(frozen=True)
class Inventory:
    envs: tuple[EphemeralRecord, ...]
    """Ephemeral envs this CLI created, by expiry."""
    unreadable: tuple[tuple[str, str], ...]
    """(what, why) for groups (or AWS resources) tagged ephemeral=true whose tags do not describe such an env."""
    deleting: tuple[str, ...]
    """Groups of ephemeral envs Azure is already deleting."""
    unread: tuple[Unread, ...] = ()
    """Sources that could not be read: their envs are missing from ``envs``."""
    sources_read: tuple[Source, ...] = ()
    """Sources that were read."""

    @classmethod
    def from_groups(cls, groups: list[ResourceGroupInfo]) -> Inventory:
        """Every ephemeral env of the subscription, whatever prefix it was created under (record.prefix)."""
        envs, unreadable, deleting = [], [], []
        for group in groups:
            # A Databricks workspace's managed group copies the workspace's tags but is deleted with it.
            if not is_ephemeral_tagged(group.tags) or group.managed_by:
                continue
            if group.provisioning_state == "Deleting":
                deleting.append(group.name)
                continue
            try:
                envs.append(EphemeralRecord.from_tags(group.name, group.tags))
            except UnreadableRecord as exc:
                unreadable.append((group.name, str(exc)))
        return cls(envs=_by_expiry(envs), unreadable=tuple(unreadable), deleting=tuple(deleting))

    @classmethod
    def read(cls, resource_groups: ResourceGroups) -> Inventory:
        return cls.from_groups(resource_groups.list())

    @classmethod
    def from_resources(cls, region: str, resources: Iterable[TaggedResource], *, prefix: str) -> Inventory:
        """One record per (team, env) tag pair among the region's resources tagged ephemeral=true."""
        by_env: dict[tuple[str, str], list[TaggedResource]] = {}
        for resource in resources:
            if is_ephemeral_tagged(resource.tags):
                key = (resource.tags.get("team", ""), resource.tags.get("env", ""))
                by_env.setdefault(key, []).append(resource)
        envs, unreadable = [], []
        for (team, env), group in sorted(by_env.items()):
            try:
                envs.append(EphemeralRecord.from_resources(region, group, default_prefix=prefix))
            except UnreadableRecord as exc:
                what = f"{team or '<no team>'}/{env or '<no env>'} in {region} ({len(group)} resources)"
                unreadable.append((what, str(exc)))
        return cls(envs=_by_expiry(envs), unreadable=tuple(unreadable), deleting=())

    @classmethod
    def merged(cls, parts: Mapping[Source, Inventory], unread: Iterable[Unread] = ()) -> Inventory:
        """One inventory of the sources read (``parts``, by source) and those that could not be."""
        return cls(
            envs=_by_expiry([record for part in parts.values() for record in part.envs]),
            unreadable=tuple(item for part in parts.values() for item in part.unreadable),
            deleting=tuple(group for part in parts.values() for group in part.deleting),
            unread=tuple(unread),
            sources_read=tuple(parts),
        )

    def named(self, name: str) -> list[EphemeralRecord]:
        return [record for record in self.envs if record.name == name]

    def find(self, name: str, *, field: str = "NAME") -> EphemeralRecord:
        """The one ephemeral env called ``name``; `env up` keeps names unique across teams."""
        found = self.named(name)
        if not found and self.unread:
            sources = ", ".join(f"{unread.source} ({unread.error})" for unread in self.unread)
            raise OperationFailed(
                f"no ephemeral env named {name!r} in what could be read; could not read {sources}"
            )
        if not found:
            known = ", ".join(record.name for record in self.envs) or "none"
            raise InputProblem(field, f"no ephemeral env named {name!r} (ephemeral envs: {known})")
        if len(found) > 1:
            keys = ", ".join(record.key for record in found)
            raise InputProblem(field, f"{name!r} names more than one ephemeral env ({keys})")
        return found[0]

    def used_slots(self, team: str, *, prefix: str) -> set[int]:
        """Slot numbers ``team``'s live envs of ``prefix`` hold (envs of other prefixes count by network)."""
        return {
            record.network_slot for record in self.envs if record.team == team and record.prefix == prefix
        }

    def unread_for(self, team: TeamConfig) -> Unread | None:
        """The error of the source holding ``team``'s envs, when it could not be read."""
        return next((unread for unread in self.unread if unread.source == source_of(team)), None)


def _by_expiry(envs: list[EphemeralRecord]) -> tuple[EphemeralRecord, ...]:
    return tuple(sorted(envs, key=lambda record: (record.expires_at, record.key)))


def sources(config: PlatformConfig, services: Services) -> dict[Source, Callable[[], Inventory]]:
    """Source -> how to read it: Azure when any team runs on Azure, each region an AWS team runs in."""
    readers: dict[Source, Callable[[], Inventory]] = {}
    prefix = config.platform.prefix
    if any(team.cloud == "azure" for team in config.teams):
        readers[AZURE] = lambda: Inventory.read(services.resource_groups(config))
    for region in sorted({team.region for team in config.teams if team.cloud == "aws"}):
        readers[Source("aws", region)] = lambda region=region: Inventory.from_resources(
            region, services.tagged_resources(region).list({EPHEMERAL_TAG: "true"}), prefix=prefix
        )
    return readers


def read_inventory(
    config: PlatformConfig, services: Services, *, clouds: Iterable[str] | None = None
) -> Inventory:
    """Every source of ``clouds`` (default: all); a source that fails is listed in ``unread``, never raised."""
    wanted = None if clouds is None else {cloud.lower() for cloud in clouds}
    parts: dict[Source, Inventory] = {}
    unread = []
    for source, read in sources(config, services).items():
        if wanted is not None and source.cloud not in wanted:
            continue
        try:
            parts[source] = read()
        except (InputProblem, OperationFailed) as exc:
            unread.append(Unread(source, exc))
    return Inventory.merged(parts, unread)


def warn_unread(inventory: Inventory, warn: Callable[[str], None]) -> None:
    """One line per source a dry run could not read: what only that cloud knows is decided at run time. A dry
    run never fails for want of a login, a subscription or a network; it shows what the other sources say."""
    for unread in inventory.unread:
        warn(
            f"warning: cannot read {unread.source}, so what only {unread.source.cloud_name} knows is {AT_RUN_TIME}: "
            f"{unread.error}"
        )
