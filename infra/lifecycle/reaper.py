"""Tearing ephemeral envs down: `env down NAME` for one, `env reap` for every expired one.

Two rules hold everything here. `is_reapable` is the only decision about what the reaper destroys, and it
refuses everything not tagged `ephemeral=true`. `tear_down` refuses the same records again right before it
acts, so `env down` can never reach a permanent env either. The stacks are derived again from the tags (an
Azure env's resource group, an AWS env's resources) and platform.yaml; nothing on this machine has to remember
the env.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from infra.config import PlatformConfig, TeamEnv
from infra.config.naming import env_names
from infra.config.serverless import has_ncc, ncc_name, network_policy_id
from infra.lifecycle.account_move import orphaned_account_resources
from infra.lifecycle.ephemeral import (
    EPHEMERAL_TAG,
    EphemeralRecord,
    check_name_format,
    is_ephemeral_tagged,
    refuse_permanent,
)
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.inventory import (
    AT_RUN_TIME,
    AZURE,
    Inventory,
    Source,
    read_inventory,
    source_of,
    warn_unread,
)
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.network_release import describe_release, release_workspace
from infra.lifecycle.rollout import Rollout, prepare, stack_list
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
    if record.region is None:
        last = (
            f"only if neither stack holds state: delete resource group {record.resource_group}, budget "
            f"{rollout.team_env.names.budget}"
            + (" and the env's side of the hub" if _hub_side_ids(rollout.team_env) else "")
        )
    else:
        last = (
            f"only if {rollout.team_env.names.platform_stack} holds no state: fail with the ARNs of whatever is "
            f"still tagged env={record.name} in {record.region} (nothing is deleted by guess)"
        )
    return [*rollout.describe(), f"  {fallback}. {last}"]


def describe_teardown_unknown(
    name: str, config: PlatformConfig, outdir: Path, sources: set[Source]
) -> list[str]:
    """`env down NAME --dry-run` when ``sources`` cannot be read: which team's env NAME is only its tags say."""
    if sources == {AZURE}:
        lines = [
            f"destroy {name}: its team and resource group are {AT_RUN_TIME} (the group tagged env={name})"
        ]
    else:
        lines = [f"destroy {name}: its team and where it lives are {AT_RUN_TIME} (what is tagged env={name})"]
    for team in config.teams:
        if team.ephemeral is None or not has_lifecycle(team) or source_of(team) not in sources:
            continue
        names = env_names(prefix=config.platform.prefix, team=team.name, env=name)
        where = f"resource group {names.resource_group}" if team.cloud == "azure" else str(source_of(team))
        lines.append(f"  if it is {team.name}/{name} ({where}):")
        # TeamEnv.stacks, reversed: AWS team-envs have an account stack, Azure ones where the base env they were
        # cut from restricts serverless egress (which only the env's tags tell).
        account = [names.account_stack] if team.cloud == "aws" else []
        lines += [
            f"    {StackCommand('destroy', stack, outdir, auto_approve=True)}"
            for stack in (names.workspace_stack, *account)
        ]
        if team.cloud == "azure" and any(
            "account" in te.stacks for te in config.team_envs if te.team.name == team.name
        ):
            command = StackCommand("destroy", names.account_stack, outdir, auto_approve=True)
            lines.append(
                f"    {command} (if its base env restricts serverless egress; first its workspace goes back to "
                "Databricks' default-policy)"
            )
        lines.append(f"    {StackCommand('destroy', names.platform_stack, outdir, auto_approve=True)}")
    return lines


def describe_reap_unknown(source: Source, outdir: Path) -> list[str]:
    """`env reap --dry-run` when ``source`` cannot be read: which of its envs exist and have expired it alone
    can tell."""
    example = StackCommand("destroy", "<team>-<name>-workspace", outdir, auto_approve=True)
    if source == AZURE:
        record, stacks = "resource groups", "two or three stacks"
        last = "delete the env's resource group, its budget and (in the hub) its side of the hub"
        others = "<team>-<name>-account (where the env has one) and <team>-<name>-platform"
    else:
        record, stacks = f"resources in {source.region}", "three stacks"
        others = "<team>-<name>-account and <team>-<name>-platform"
        last = "fail with the ARNs still tagged with the env"
    return [
        f"which ephemeral envs exist and which have expired: {AT_RUN_TIME} ({record} tagged {EPHEMERAL_TAG}=true)",
        f"for each expired env, oldest first: build the churn wheel, synthesize its {stacks}, then",
        f"  {' '.join(example.argv())}",  # unquoted: the <...> are placeholders
        f"  and the same for {others}, each only if its state holds resources; when none does,",
        f"  {last}",
    ]


def tear_down(
    record: EphemeralRecord, *, config: PlatformConfig, services: Services, wheel: Path, report: Report
) -> None:
    """Destroy the env's stacks (workspace first). A stack whose state is gone is skipped. When the state of
    everything the cloud holds is gone too, an Azure env's resource group is deleted by its tags instead; an AWS
    env has no such container, so resources still tagged with it fail the env with their ARNs.

    The caller holds the output directory (lifecycle/lock.py) and built ``wheel`` under that lock.
    """
    if not is_ephemeral_tagged(record.tags):
        raise OperationFailed(f"refusing to touch {record.holder}: it is not tagged {EPHEMERAL_TAG}=true")
    rollout = teardown_rollout(record, config, services.outdir)  # refuses a permanent env's name
    report(f"synthesize {stack_list(rollout.stacks)} into {rollout.outdir}/stacks")
    prepare(rollout, config, services, wheel=wheel)
    # The base env turned restricted_egress off since this env was cut: its account stack is not synthesized any
    # more, so nothing here can destroy what its state holds; named below.
    orphaned = orphaned_account_resources(rollout.team_env, services.runner, outdir=rollout.outdir)
    stateless = []
    platform = rollout.team_env.names.platform_stack
    for command in rollout.commands:
        if services.runner.has_state(command.stack, outdir=rollout.outdir):
            if rollout.releases_before(command) and not services.runner.has_state(
                platform, outdir=rollout.outdir
            ):
                # Its destroy evaluates the platform stack's outputs, gone with that state (Terraform 1.11.4:
                # "Unsupported attribute"): it would fail every run. Left, and its policy named, below.
                stateless.append(command.stack)
                report(
                    f"{command.stack}: not destroyed, its destroy reads {platform}'s outputs and that stack's "
                    "state is gone"
                )
                continue
            # An Azure account stack: its policy's attachment has no delete (network_release.py).
            if rollout.releases_before(command):
                report(describe_release(command.stack))
                release_workspace(rollout.team_env, services, outdir=rollout.outdir, report=report)
            report(str(command))
            services.runner.run(command)
        else:
            stateless.append(command.stack)
            report(f"{command.stack}: no state, nothing to destroy")
    names = rollout.team_env.names
    leftovers = (
        f"Unity Catalog objects of {record.key} (catalog {names.catalog}, its storage credential and external "
        "locations) live in the metastore, not the resource group: remove them as docs/operations.md describes"
    )
    if orphaned:
        report(
            f"warning: {rollout.team_env.names.account_stack}'s state still holds {', '.join(orphaned)} (its base "
            f"env no longer restricts serverless egress, so no stack of {record.key} destroys them): delete network "
            "policy "
            + ", ".join(v for k, v in orphaned.items() if k.startswith("databricks_account_network_policy"))
            + " in the account console, then that state"
        )
    # Account objects are in no resource group and carry no cloud tag: they go with their stack's state or not at all.
    account_objects = _account_leftovers(rollout.team_env)
    if record.region is not None:
        if account_objects and names.account_stack in stateless:
            report(f"warning: {account_objects}")
        if names.platform_stack in stateless:
            _fail_on_tagged_leftovers(record, services, report)
        if names.workspace_stack in stateless:
            report(f"warning: {leftovers}")
    elif len(stateless) == len(rollout.commands):
        report(
            f"the state of {record.key} is gone: deleting resource group {record.resource_group} by its tags"
        )
        groups = services.resource_groups(config)
        # What the env adds outside its group goes too: left behind, each would block the next `env up` of this
        # NAME (same names; azurerm refuses to create what exists). The hub's side first, while the VNet exists.
        hub_side = _hub_side_ids(rollout.team_env)
        for resource_id in hub_side:
            groups.delete_by_id(resource_id)
        groups.delete(record.resource_group)
        groups.delete_budget(names.budget)  # on the subscription: it watches the managed resource group too
        hub = " and its side of the hub" if hub_side else ""
        report(f"deleted resource group {record.resource_group}, budget {names.budget}{hub}; {leftovers}")
        if account_objects:
            report(f"warning: {account_objects}")
    else:
        if account_objects and names.account_stack in stateless:  # an Azure env's account stack (its policy)
            report(f"warning: {account_objects}")
        if names.workspace_stack in stateless:
            report(f"warning: {leftovers}")


def _account_leftovers(team_env: TeamEnv) -> str | None:
    """The serverless network objects the env's account stack created in the Databricks
    account (infra/constructs/databricks/serverless_network.py), named, for a teardown whose state is gone: nothing
    here can delete them, and left behind, the next `env up` of this NAME fails on a policy ID that exists (and an
    AWS NCC counts against the region's 10)."""
    settings, cloud = team_env.settings, team_env.team.cloud
    stem = team_env.names.stem
    objects = []
    if settings.serverless.restricted_egress:
        objects.append(f"network policy {network_policy_id(stem)}")
    if has_ncc(cloud, settings):
        objects.append(f"network connectivity configuration {ncc_name(stem)} ({team_env.team.region})")
    if not objects or team_env.platform.account_id is None:
        return None
    return (
        f"{team_env.key} leaves its serverless {' and '.join(objects)} in the Databricks account "
        f"{team_env.platform.account_id} (no cloud tag, and no state holds them any more): delete them in the "
        "account console (Security, Networking) before the next `env up` of this name"
    )


def _hub_side_ids(team_env: TeamEnv) -> list[str]:
    """The hub's peering to the env and the shared zones' links to it, when the env joined the hub, and the env's
    rule collection group in the hub firewall's policy whenever the hub has a firewall: the env may have been cut
    from a base env that egressed through it before today's config switched it to open (a group never created is a
    404, which delete_by_id accepts)."""
    hub = team_env.platform.hub_network
    if hub is None or not team_env.settings.reachable_only_from_its_network:
        return []
    rules = [hub.firewall.rule_collection_group_id(team_env.names.stem)] if hub.firewall else []
    return [*rules, *hub.env_side_ids(team_env.names.virtual_network)]


def _fail_on_tagged_leftovers(record: EphemeralRecord, services: Services, report: Report) -> None:
    """An AWS env whose platform state is gone: whatever still carries its tags was created outside that state
    (or the state was lost). Nothing says how to delete it safely, so the env fails with the ARNs."""
    tags = {EPHEMERAL_TAG: "true", "team": record.team, "env": record.name}
    left = services.tagged_resources(str(record.region)).list(tags)
    if not left:
        report(f"nothing tagged with {record.key} is left in {record.region}")
        return
    arns = ", ".join(resource.arn for resource in left)
    raise OperationFailed(
        f"no state of {record.key} holds its AWS resources, but {len(left)} are still tagged with it in "
        f"{record.region}; delete them by hand (nothing is deleted by guess): {arns}"
    )


@dataclass
class ReapOutcome:
    reaped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_due: int = 0

    def summary(self) -> str:
        return f"reaped {len(self.reaped)}, failed {len(self.failed)}, not expired {self.not_due}"


def reap(
    *,
    config: PlatformConfig,
    services: Services,
    now: datetime,
    dry_run: bool,
    report: Report,
    clouds: Iterable[str] | None = None,
) -> ReapOutcome:
    """Tear down every expired ephemeral env; one env failing, however it fails, does not stop the others. A
    cloud that cannot be read is reported and counted as failed; the envs of the others are still reaped."""
    inventory = read_inventory(config, services, clouds=clouds)
    if dry_run:
        warn_unread(inventory, report)
        for unread in inventory.unread:
            for line in describe_reap_unknown(unread.source, services.outdir):
                report(line)
        if not inventory.sources_read:
            return ReapOutcome()
    else:
        for unread in inventory.unread:
            report(f"cannot read {unread.source}, so its ephemeral envs are not reaped: {unread.error}")
    for group, why in inventory.unreadable:
        report(f"skipped {group}: tagged {EPHEMERAL_TAG}=true but {why}")
    for group in inventory.deleting:
        report(f"skipped {group}: Azure is already deleting it")
    expired = [record for record in inventory.envs if is_reapable(record.tags, now)]
    due = [record for record in expired if record.is_of(config)]
    for record in expired:
        if not record.is_of(config):  # ours before a prefix change, or another platform's: never on a guess
            report(f"skipped {record.key} ({record.where}): {other_prefix(record, config)}")
    outcome = ReapOutcome(not_due=len(inventory.envs) - len(expired))
    if not dry_run:
        outcome.failed += [str(unread.source) for unread in inventory.unread]
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


def other_prefix(record: EphemeralRecord, config: PlatformConfig) -> str:
    """Why an env of another prefix is not torn down without being named, and how to name it."""
    return (
        f"created under prefix {record.prefix!r}, not this config's {config.platform.prefix!r}; if it is this "
        f"platform's, from before the prefix changed, remove it with "
        f"`platform env down {record.name} --prefix {record.prefix}`"
    )


def _report_due(record: EphemeralRecord, now: datetime, report: Report) -> None:
    report(
        f"{record.key}: {describe_remaining(record.expires_at, now)}, owner {record.owner}, {record.where}"
    )


def _one_line(exc: Exception) -> str:
    if isinstance(exc, InputProblem | OperationFailed):
        return str(exc)
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _named_env(
    inventory: Inventory, name: str, config: PlatformConfig, *, prefix: str | None
) -> EphemeralRecord:
    """The env NAME of ``prefix`` (default: the config's); one of another prefix only when named with it."""
    wanted = prefix or config.platform.prefix
    named = inventory.named(name)
    mine = [record for record in named if record.prefix == wanted]
    if named and not mine:
        other = named[0]
        if prefix is not None:
            raise InputProblem(
                "--prefix", f"{name!r} was created under prefix {other.prefix!r}, not {prefix!r}"
            )
        raise InputProblem("NAME", f"{other.key} ({other.where}) was {other_prefix(other, config)}")
    if len(mine) == 1:
        return mine[0]
    return inventory.find(name)


def env_down(
    name: str,
    *,
    config: PlatformConfig,
    services: Services,
    dry_run: bool,
    report: Report,
    clouds: Iterable[str] | None = None,
    prefix: str | None = None,
) -> EphemeralRecord | None:
    """`env down NAME`: tear the env down whatever its expiry. NAME is checked before any cloud is asked.

    An env created under another prefix than the config's (``prefix`` names it) is torn down by its own tags:
    its names and state keys under that prefix, its network as deployed.
    """
    check_name_format(name)
    refuse_permanent(name, config, field="NAME")
    inventory = read_inventory(config, services, clouds=clouds)
    if dry_run:
        warn_unread(inventory, report)
        if not inventory.named(name) and inventory.unread:
            unread = {unread.source for unread in inventory.unread}
            for line in describe_teardown_unknown(name, config, services.outdir, unread):
                report(line)
            return None
    elif inventory.unread and inventory.named(name):
        for unread in inventory.unread:
            report(f"warning: cannot read {unread.source} (NAME is found elsewhere): {unread.error}")
    record = _named_env(inventory, name, config, prefix=prefix)
    record.team_env(config)  # a config that can no longer derive the stacks is bad input: refuse up front
    if dry_run:
        for line in describe_teardown(record, config, services.outdir):
            report(line)
        return record
    services.runner.require(*TEARDOWN_TOOLS)
    with exclusive_outdir(services.outdir, purpose=f"destroy {record.key}"):
        tear_down(record, config=config, services=services, wheel=services.build_wheel(), report=report)
    return record
