"""Where a new ephemeral env goes: its network slot, and whether its NAME is free."""

from __future__ import annotations

from datetime import datetime

from infra.config import TeamEnv
from infra.lifecycle.ephemeral import first_free_slot, slot_count, template_of
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.inventory import Inventory
from infra.lifecycle.ttl import format_instant


def allocate_slot(base: TeamEnv, name: str, inventory: Inventory, *, now: datetime) -> int:
    """The network slot of `env up NAME --from base`.

    A NAME that already exists, cut from the same base env, keeps its slot: running `env up` again updates
    the env and restarts its TTL (one env per pull request, redeployed on every push). Names are unique across
    teams, because `env down NAME` finds an env by name alone. A new env takes the lowest free /24 of its
    team's pool.
    """
    for record in inventory.named(name):
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
    slot = first_free_slot(template, inventory.used_slots(base.team.name))
    if slot is None:
        raise InputProblem(
            "--from",
            f"team {base.team.name!r} has no free slot in its ephemeral network pool {template.network_pool} "
            f"({slot_count(template)} envs exist); take one down or reap expired ones",
        )
    return slot
