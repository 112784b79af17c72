"""Which ephemeral envs exist: read from the resource groups' tags, the only record that survives a checkout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.config import PlatformConfig
from infra.lifecycle.azure import ResourceGroupInfo, ResourceGroups
from infra.lifecycle.ephemeral import EphemeralRecord, UnreadableRecord, is_ephemeral_tagged
from infra.lifecycle.errors import InputProblem, OperationFailed

if TYPE_CHECKING:
    from infra.lifecycle.services import Services

# How a dry run without Azure marks what only Azure can tell.
AT_RUN_TIME = "<decided at run time>"


@dataclass(frozen=True)
class Inventory:
    envs: tuple[EphemeralRecord, ...]
    """Ephemeral envs this CLI created, by expiry."""
    unreadable: tuple[tuple[str, str], ...]
    """(group, why) for groups tagged ephemeral=true whose tags do not describe such an env."""
    deleting: tuple[str, ...]
    """Groups of ephemeral envs Azure is already deleting."""

    @classmethod
    def from_groups(cls, groups: list[ResourceGroupInfo], *, prefix: str) -> Inventory:
        envs, unreadable, deleting = [], [], []
        for group in groups:
            # A Databricks workspace's managed group copies the workspace's tags but is deleted with it.
            if not is_ephemeral_tagged(group.tags) or group.managed_by:
                continue
            if group.provisioning_state == "Deleting":
                deleting.append(group.name)
                continue
            try:
                envs.append(EphemeralRecord.from_tags(group.name, group.tags, prefix=prefix))
            except UnreadableRecord as exc:
                unreadable.append((group.name, str(exc)))
        envs.sort(key=lambda record: (record.expires_at, record.key))
        return cls(envs=tuple(envs), unreadable=tuple(unreadable), deleting=tuple(deleting))

    @classmethod
    def read(cls, resource_groups: ResourceGroups, *, prefix: str) -> Inventory:
        return cls.from_groups(resource_groups.list(), prefix=prefix)

    def named(self, name: str) -> list[EphemeralRecord]:
        return [record for record in self.envs if record.name == name]

    def find(self, name: str, *, field: str = "NAME") -> EphemeralRecord:
        """The one ephemeral env called ``name``; `env up` keeps names unique across teams."""
        found = self.named(name)
        if not found:
            known = ", ".join(record.name for record in self.envs) or "none"
            raise InputProblem(field, f"no ephemeral env named {name!r} (ephemeral envs: {known})")
        if len(found) > 1:
            keys = ", ".join(record.key for record in found)
            raise InputProblem(field, f"{name!r} names more than one ephemeral env ({keys})")
        return found[0]

    def used_slots(self, team: str) -> set[int]:
        return {record.network_slot for record in self.envs if record.team == team}


def read_inventory(config: PlatformConfig, services: Services) -> Inventory:
    return Inventory.read(services.resource_groups(config), prefix=config.platform.prefix)


def preview_inventory(
    config: PlatformConfig, services: Services, *, warn: Callable[[str], None]
) -> Inventory | None:
    """The inventory for a dry run, or None (after a warning) when Azure cannot be read: no subscription,
    no login, no network. A dry run then shows everything else and marks the rest as decided at run time."""
    try:
        return read_inventory(config, services)
    except (InputProblem, OperationFailed) as exc:
        warn(f"warning: cannot read Azure, so what only Azure knows is {AT_RUN_TIME}: {exc}")
        return None
