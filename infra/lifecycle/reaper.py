"""Tearing ephemeral envs down: `env down NAME` for one, `env reap` for every expired one.

Two rules hold everything here. `is_reapable` is the only decision about what the reaper destroys, and it
refuses every resource group not tagged `ephemeral=true`. `tear_down` refuses the same groups again right
before it acts, so `env down` can never reach a permanent env either. The stacks are derived again from the
group's tags and platform.yaml; nothing on this machine has to remember the env.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from infra.config import PlatformConfig
from infra.config.naming import env_names
from infra.lifecycle.ephemeral import (
    EPHEMERAL_TAG,
    EphemeralRecord,
    check_name_format,
    is_ephemeral_tagged,
    refuse_permanent,
)
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.inventory import AT_RUN_TIME, preview_inventory, read_inventory
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.rollout import Rollout, prepare
from infra.lifecycle.runner import CDKTF, StackCommand
from infra.lifecycle.services import Services
from infra.lifecycle.targets import has_lifecycle
from infra.lifecycle.ttl import describe_remaining, format_instant

Report = Callable[[str], None]
# A teardown reads each stack's state with terraform, then destroys with cdktf (npx).
TEARDOWN_TOOLS = (CDKTF[0], "terraform")


def is_reapable(tags: Mapping[str, str], now: datetime) -> bool:
    """The reaper's one guard: True only for a group tagged `ephemeral=true` whose `expires-at` has passed.

    Anything else is refused: no ephemeral tag, any other value of it, a missing or unreadable expiry, an
    expiry without a time zone, an expiry still in the future.
    """
    if not is_ephemeral_tagged(tags):
        return False
    try:
        expires_at = datetime.fromisoformat(tags.get("expires-at", ""))
    except ValueError:
        return False
    return expires_at.tzinfo is not None and expires_at <= now


def teardown_rollout(record: EphemeralRecord, config: PlatformConfig, outdir: Path) -> Rollout:
    return Rollout("destroy", record.team_env(config), outdir, auto_approve=True)


def describe_teardown(record: EphemeralRecord, config: PlatformConfig, outdir: Path) -> list[str]:
    """What `tear_down` would run, for --dry-run; the last step applies only when the state is gone."""
    rollout = teardown_rollout(record, config, outdir)
    fallback = len(rollout.steps()) + 1
    return [
        *rollout.describe(),
        f"  {fallback}. only if neither stack holds state: delete resource group {record.resource_group}",
    ]


def describe_teardown_unknown(name: str, config: PlatformConfig, outdir: Path) -> list[str]:
    """`env down NAME --dry-run` without Azure: which team's env NAME is only its resource group's tags say."""
    lines = [f"destroy {name}: its team and resource group are {AT_RUN_TIME} (the group tagged env={name})"]
    for team in config.teams:
        if team.ephemeral is None or not has_lifecycle(team):
            continue
        names = env_names(prefix=config.platform.prefix, team=team.name, env=name)
        lines.append(f"  if it is {team.name}/{name} (resource group {names.resource_group}):")
        lines += [
            f"    {StackCommand('destroy', stack, outdir, auto_approve=True)}"
            for stack in (names.workspace_stack, names.platform_stack)
        ]
    return lines


def describe_reap_unknown(config: PlatformConfig, outdir: Path) -> list[str]:
    """`env reap --dry-run` without Azure: which envs exist and which have expired only Azure can tell."""
    example = StackCommand("destroy", "<team>-<name>-workspace", outdir, auto_approve=True)
    return [
        f"which ephemeral envs exist and which have expired: {AT_RUN_TIME} (resource groups tagged "
        f"{EPHEMERAL_TAG}=true)",
        "for each expired env, oldest first: build the churn wheel, synthesize its two stacks, then",
        f"  {' '.join(example.argv())}",  # unquoted: the <...> are placeholders
        "  and the same for <team>-<name>-platform, each only if its state holds resources; when neither does,",
        "  delete the env's resource group",
    ]


def tear_down(
    record: EphemeralRecord, *, config: PlatformConfig, services: Services, wheel: Path, report: Report
) -> None:
    """Destroy both stacks of the env (workspace first). A stack whose state is gone is skipped; when both
    are gone, the env's resource group is deleted by its tags instead, and the report says so.

    The caller holds the output directory (lifecycle/lock.py) and built ``wheel`` under that lock.
    """
    if not is_ephemeral_tagged(record.tags):
        raise OperationFailed(
            f"refusing to touch {record.resource_group}: it is not tagged {EPHEMERAL_TAG}=true"
        )
    rollout = teardown_rollout(record, config, services.outdir)  # refuses a permanent env's name
    report(f"synthesize {' and '.join(rollout.stacks)} into {rollout.outdir}/stacks")
    prepare(rollout, config, services, wheel=wheel)
    stateless = []
    for command in rollout.commands:
        if services.runner.has_state(command.stack, outdir=rollout.outdir):
            report(str(command))
            services.runner.run(command)
        else:
            stateless.append(command.stack)
            report(f"{command.stack}: no state, nothing to destroy")
    catalog = rollout.team_env.names.catalog
    leftovers = (
        f"Unity Catalog objects of {record.key} (catalog {catalog}, its storage credential and external "
        "locations) live in the metastore, not the resource group: remove them as docs/operations.md describes"
    )
    if len(stateless) == len(rollout.commands):
        report(
            f"the state of {record.key} is gone: deleting resource group {record.resource_group} by its tags"
        )
        services.resource_groups(config).delete(record.resource_group)
        report(f"deleted resource group {record.resource_group}; {leftovers}")
    elif rollout.team_env.names.workspace_stack in stateless:
        report(f"warning: {leftovers}")


@dataclass
class ReapOutcome:
    reaped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_due: int = 0

    def summary(self) -> str:
        return f"reaped {len(self.reaped)}, failed {len(self.failed)}, not expired {self.not_due}"


def reap(
    *, config: PlatformConfig, services: Services, now: datetime, dry_run: bool, report: Report
) -> ReapOutcome:
    """Tear down every expired ephemeral env; one env failing, however it fails, does not stop the others."""
    if dry_run:
        inventory = preview_inventory(config, services, warn=report)
        if inventory is None:
            for line in describe_reap_unknown(config, services.outdir):
                report(line)
            return ReapOutcome()
    else:
        inventory = read_inventory(config, services)
    for group, why in inventory.unreadable:
        report(f"skipped {group}: tagged {EPHEMERAL_TAG}=true but {why}")
    for group in inventory.deleting:
        report(f"skipped {group}: Azure is already deleting it")
    due = [record for record in inventory.envs if is_reapable(record.tags, now)]
    outcome = ReapOutcome(not_due=len(inventory.envs) - len(due))
    report(f"{len(due)} of {len(inventory.envs)} ephemeral envs expired as of {format_instant(now)}")
    if dry_run:
        for record in due:
            _report_due(record, now, report)
            try:
                lines = describe_teardown(record, config, services.outdir)
            except InputProblem as exc:
                outcome.failed.append(record.key)
                lines = [f"  would fail: {exc}"]
            for line in lines:
                report(line)
        return outcome
    if not due:
        return outcome
    services.runner.require(*TEARDOWN_TOOLS)
    with exclusive_outdir(services.outdir, purpose="reap"):
        wheel = services.build_wheel()
        for record in due:
            _report_due(record, now, report)
            try:
                tear_down(record, config=config, services=services, wheel=wheel, report=report)
            except Exception as exc:
                outcome.failed.append(record.key)
                report(f"failed {record.key}: {_one_line(exc)}")
            else:
                outcome.reaped.append(record.key)
    return outcome


def _report_due(record: EphemeralRecord, now: datetime, report: Report) -> None:
    report(
        f"{record.key}: {describe_remaining(record.expires_at, now)}, owner {record.owner}, "
        f"group {record.resource_group}"
    )


def _one_line(exc: Exception) -> str:
    if isinstance(exc, InputProblem | OperationFailed):
        return str(exc)
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def env_down(
    name: str, *, config: PlatformConfig, services: Services, dry_run: bool, report: Report
) -> EphemeralRecord | None:
    """`env down NAME`: tear the env down whatever its expiry. NAME is checked before Azure is asked."""
    check_name_format(name)
    refuse_permanent(name, config, field="NAME")
    if dry_run:
        inventory = preview_inventory(config, services, warn=report)
        if inventory is None:
            for line in describe_teardown_unknown(name, config, services.outdir):
                report(line)
            return None
    else:
        inventory = read_inventory(config, services)
    record = inventory.find(name)
    record.team_env(config)  # a config that can no longer derive the stacks is bad input: refuse up front
    if dry_run:
        for line in describe_teardown(record, config, services.outdir):
            report(line)
        return record
    services.runner.require(*TEARDOWN_TOOLS)
    with exclusive_outdir(services.outdir, purpose=f"destroy {record.key}"):
        tear_down(record, config=config, services=services, wheel=services.build_wheel(), report=report)
    return record
