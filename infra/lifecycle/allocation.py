"""Where a new ephemeral env goes: its network slot, and whether its NAME is free."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from infra.config import TeamEnv
from infra.lifecycle.ephemeral import slot_count, slot_network, template_of
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.inventory import Inventory
from infra.lifecycle.ttl import format_instant


def allocate_slot(base: TeamEnv, name: str, inventory: Inventory, *, now: datetime) -> int:
    """The network slot of `env up NAME --from base`.

    A NAME that already exists, cut from the same base env, keeps its slot: running `env up` again updates
    the env and restarts its TTL (one env per pull request, redeployed on every push). Names are unique across
    teams, because `env down NAME` finds an env by name alone, and across prefixes: a live env created under
    another prefix (before the config's changed, or by another platform) keeps its name. A new env takes the
    lowest /24 of its team's pool that no live env of the team holds, by slot number or by network (envs carry
    their network in a tag, so a pool moved under them still counts).
    """
    prefix = base.platform.prefix
    for record in inventory.named(name):
        if record.prefix != prefix:
            raise InputProblem(
                "NAME",
                f"{name!r} is held by the live ephemeral env {record.key} created under prefix {record.prefix!r} "
                f"({record.where}); take it down first (`platform env down {name} --prefix {record.prefix}`) "
                "or pick another name",
            )
        if (record.team, record.base_env) != (base.team.name, base.env):
            raise InputProblem(
                "NAME",
                f"{name!r} is already the ephemeral env {record.key}, cut from {record.team}/{record.base_env} "
                f"(owner {record.owner}); pick another name",
            )
        if record.expires_at <= now:
            raise InputProblem(
                "NAME",
                f"{record.key} expired at {format_instant(record.expires_at)} and is due for reaping; "
                f"run `platform env down {name}` first",
            )
        return record.network_slot
    template = template_of(base.team, field="--from")
    used = inventory.used_slots(base.team.name, prefix=prefix)
    held = [
        ipaddress.IPv4Network(network)
        for record in inventory.envs
        if record.team == base.team.name and (network := record.occupied_network(template)) is not None
    ]
    slot = next(
        (
            slot
            for slot in range(slot_count(template))
            if slot not in used
            and not any(ipaddress.IPv4Network(slot_network(template, slot)).overlaps(other) for other in held)
        ),
        None,
    )
    if slot is None:
        raise InputProblem(
            "--from",
            f"team {base.team.name!r} has no free slot in its ephemeral network pool {template.network_pool} "
            f"({slot_count(template)} envs exist); take one down or reap expired ones",
        )
    return slot
