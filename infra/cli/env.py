"""`platform env up|down|list|reap`: short-lived test environments cut from a team-env.

Same contract as the other lifecycle commands (infra/cli/lifecycle.py, whose reporting and `services_factory`
these use, so tests swap in fakes in one place): bad input is one line and exit 2, a failed step one line and 1.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infra.cli import lifecycle
from infra.cli.lifecycle import (
    CloudOption,
    DryRunOption,
    clouds_of,
    console,
    print_dry_run,
    reported,
    say,
    stdout_to_stderr,
    warn,
)
from infra.cli.options import ConfigOption, full_width, load_or_fail
from infra.lifecycle.allocation import allocate_slot
from infra.lifecycle.ephemeral import (
    NETWORK_SLOT_TAG,
    NETWORK_TAG,
    EphemeralTeamEnv,
    check_deployable_base,
    check_name,
    check_owner,
    check_unique_names,
    cut,
    template_of,
)
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.inventory import AT_RUN_TIME, read_inventory, warn_unread
from infra.lifecycle.ncc_room import check_ncc_room
from infra.lifecycle.reaper import env_down, reap
from infra.lifecycle.rollout import Rollout, execute
from infra.lifecycle.services import Services
from infra.lifecycle.targets import permanent_team_env
from infra.lifecycle.ttl import (
    describe_remaining,
    expiry_from_ttl,
    format_duration,
    format_instant,
    parse_instant,
)
from infra.lifecycle.workspace_urls import deployed_workspace_url


def register(app: typer.Typer) -> None:
    """Add the `env` group to the platform CLI."""
    env_app = typer.Typer(
        rich_markup_mode="rich",  # explicit: the default differs across typer versions, and `\[` is an escape only in this mode
        name="env",
        help="Short-lived test environments: up, down, list, reap.",
        no_args_is_help=True,
    )
    env_app.command("up")(env_up)
    env_app.command("down")(env_down_command)
    env_app.command("list")(env_list)
    env_app.command("reap")(env_reap)
    app.add_typer(env_app, name="env")


def env_up(
    name: Annotated[str, typer.Argument(metavar="NAME", help="2-10 lowercase letters/digits, e.g. pr123.")],
    base: Annotated[
        str, typer.Option("--from", metavar="TEAM/ENV", help="Env to cut it from, e.g. churn/dev.")
    ],
    ttl: Annotated[
        str | None,
        typer.Option(
            help="Time to live: 30m to 7d (8h, 2d) or a UTC time; default: the team's default_ttl_hours."
        ),
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option(
            metavar="EMAIL", help="Who to ask about the env; default: $PLATFORM_OWNER or git user.email."
        ),
    ] = None,
    dry_run: DryRunOption = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the env (team, name, network, expiry, owner, stacks, workspace URL) as JSON on stdout; "
            "progress goes to stderr.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Create (or update) an ephemeral env cut from TEAM/ENV with the template's smallest sizes."""
    with reported(), stdout_to_stderr() if as_json else contextlib.nullcontext():
        up = _env_up(name, base, ttl=ttl, owner=owner, dry_run=dry_run, config=config, read_url=as_json)
    if as_json:
        sys.stdout.write(json.dumps(up, indent=2) + "\n")


def _env_up(
    name: str,
    base: str,
    *,
    ttl: str | None,
    owner: str | None,
    dry_run: bool,
    config: Path | None,
    read_url: bool,
) -> dict[str, object]:
    """`env up`, printing its progress; returns the env as `env up --json` shows it (docs/operations.md), with
    the workspace URL from the deployed state when ``read_url`` (one more `terraform output` after the deploy)."""
    loaded, services = load_or_fail(config), lifecycle.services_factory()
    base_env = permanent_team_env(loaded, base, field="--from", hint_ephemeral=False)
    template = template_of(base_env.team, field="--from")
    check_deployable_base(base_env, field="--from")
    check_name(loaded, base_env.team, name)
    now = services.clock()
    expires_at = expiry_from_ttl(ttl or f"{template.default_ttl_hours}h", now=now)
    owner = check_owner(owner or _default_owner(services))
    inventory = read_inventory(loaded, services)
    own = inventory.unread_for(base_env.team)  # where the env goes: its slots and whether NAME exists
    if dry_run:
        warn_unread(inventory, warn)
    elif own is not None:
        raise own.error
    else:
        for unread in inventory.unread:
            warn(f"warning: cannot check that {name!r} is unused in {unread.source}: {unread.error}")
    if dry_run and own is not None:
        team_env = cut(base_env, name=name, slot=0, owner=owner, expires_at=expires_at)
        network = f"{AT_RUN_TIME} (the lowest free /24 of {template.network_pool})"
        say(_describe_env("create or update", team_env, expires_in=expires_at - now, network=network))
        say(_describe_tags(team_env.tags | {NETWORK_SLOT_TAG: AT_RUN_TIME, NETWORK_TAG: AT_RUN_TIME}))
        print_dry_run(Rollout("deploy", team_env, services.outdir, auto_approve=True).describe())
        return _env_json("create or update", team_env, dry_run=True, slot_known=False)
    slot = allocate_slot(base_env, name, inventory, now=now)
    # An update keeps the network it was deployed with, even if the pool has moved since.
    deployed = next((record.network for record in inventory.named(name)), None)
    team_env = cut(base_env, name=name, slot=slot, owner=owner, expires_at=expires_at, network=deployed)
    check_unique_names(loaded, team_env, inventory.envs)
    check_ncc_room(loaded, team_env, inventory.envs)
    rollout = Rollout("deploy", team_env, services.outdir, auto_approve=True)
    verb = "update" if inventory.named(name) else "create"
    say(_describe_env(verb, team_env, expires_in=expires_at - now))
    if dry_run:
        say(_describe_tags(team_env.tags))
        print_dry_run(rollout.describe())
        return _env_json(verb, team_env, dry_run=True)
    try:
        execute(rollout, loaded, services, report=say)
    except OperationFailed as exc:
        raise OperationFailed(
            f"{exc}; whatever was created is tagged ephemeral and expires {team_env.expires_at}: "
            f"`platform env down {name}` removes it now"
        ) from None
    say(f"up: {team_env.key}; {_next_step(team_env, name)}, remove it with `platform env down {name}`")
    url = None
    try:
        if read_url:
            url = deployed_workspace_url(team_env, services, outdir=services.outdir)
    except OperationFailed as exc:  # deployed all the same: the URL is a convenience, not the verdict
        warn(f"warning: cannot read the workspace URL of {team_env.key}: {exc}")
    return _env_json(verb, team_env, dry_run=False, workspace_url=url)


def _env_json(
    action: str,
    team_env: EphemeralTeamEnv,
    *,
    dry_run: bool,
    slot_known: bool = True,
    workspace_url: str | None = None,
) -> dict[str, object]:
    """The `env up --json` shape; fields are only ever added. Unknown values (a dry run that could not read the
    cloud's slots, a URL that could not be read) are null."""
    return {
        "action": action,
        "dry_run": dry_run,
        "key": team_env.key,
        "team": team_env.team.name,
        "name": team_env.env,
        "base_env": team_env.base_env,
        "cloud": team_env.team.cloud,
        "network": team_env.settings.network if slot_known else None,
        "network_slot": team_env.network_slot if slot_known else None,
        "expires_at": team_env.expires_at,
        "owner": team_env.owner,
        "stacks": list(team_env.stacks.values()),
        "workspace_url": workspace_url,
    }


def env_down_command(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    dry_run: DryRunOption = False,
    cloud: CloudOption = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="The env was created under this platform prefix, before platform.prefix changed "
            "[default: platform.prefix].",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Destroy the ephemeral env NAME (workspace stack first, platform stack last), whatever its expiry."""
    with reported():
        loaded, services = load_or_fail(config), lifecycle.services_factory()
        record = env_down(
            name,
            config=loaded,
            services=services,
            dry_run=dry_run,
            report=say,
            clouds=clouds_of(cloud),
            prefix=prefix,
        )
        if dry_run:
            print_dry_run([])
        else:
            say(f"down: {record.key}")


def env_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    cloud: CloudOption = None,
    config: ConfigOption = None,
) -> None:
    """List ephemeral envs with their owner and time left (from their tags: Azure resource groups, AWS resources).

    A cloud that cannot be read is one line on stderr; the others are listed, and the exit code is 1."""
    with reported():
        loaded, services = load_or_fail(config), lifecycle.services_factory()
        inventory = read_inventory(loaded, services, clouds=clouds_of(cloud))
        now = services.clock()
        for unread in inventory.unread:
            warn(f"warning: cannot read {unread.source}, so its ephemeral envs are missing: {unread.error}")
        for group, why in inventory.unreadable:
            print(f"warning: {group} is tagged ephemeral=true but {why}", file=sys.stderr)
        rows = [
            {
                "name": record.name,
                "team": record.team,
                "base_env": record.base_env,
                "owner": record.owner,
                "expires_at": format_instant(record.expires_at),
                "seconds_left": int((record.expires_at - now).total_seconds()),
                "prefix": record.prefix,
                "resource_group": record.resource_group,
                **({"region": record.region} if record.region else {}),
            }
            for record in inventory.envs
        ]
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        else:
            table = Table("name", "from", "owner", "expires at", "time left", "resource group / region")
            for record in inventory.envs:
                table.add_row(
                    record.name,
                    f"{record.team}/{record.base_env}",
                    record.owner,
                    format_instant(record.expires_at),
                    describe_remaining(record.expires_at, now),
                    record.resource_group or f"{record.region} (aws)",
                )
            full_width(console).print(table if rows else "no ephemeral envs")
        if inventory.unread:
            raise OperationFailed(
                f"could not read {', '.join(str(u.source) for u in inventory.unread)} (see above)"
            )


def env_reap(
    dry_run: DryRunOption = False,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO8601", help="Judge expiry at this UTC time instead of now."),
    ] = None,
    cloud: CloudOption = None,
    config: ConfigOption = None,
) -> None:
    """Destroy every expired ephemeral env. Never touches anything not tagged ephemeral=true."""
    with reported():
        loaded, services = load_or_fail(config), lifecycle.services_factory()
        real_now = services.clock()
        judged_at = parse_instant(now, field="--now") if now else real_now
        if judged_at > real_now and not dry_run:
            raise InputProblem(
                "--now",
                f"{format_instant(judged_at)} is in the future; reaping envs before they expire needs --dry-run "
                "(or `platform env down NAME`)",
            )
        outcome = reap(
            config=loaded,
            services=services,
            now=judged_at,
            dry_run=dry_run,
            report=say,
            clouds=clouds_of(cloud),
        )
        if dry_run:
            print_dry_run([])
            return
        say(outcome.summary())
        if outcome.failed:
            raise OperationFailed(f"could not reap {', '.join(outcome.failed)} (see above)")


def _default_owner(services: Services) -> str:
    owner = services.default_owner()
    if not owner:
        raise InputProblem("--owner", "required: neither $PLATFORM_OWNER nor git user.email is set")
    return owner


def _next_step(team_env: EphemeralTeamEnv, name: str) -> str:
    """What to do with the new env: smoke a managed workload's job, or, for a team with only bundle workloads
    (nothing for smoke to run), write the env's bundle target (docs/bundles.md)."""
    team = team_env.team
    if team.managed_workloads or not team.bundle_workloads:
        return f"test it with `platform smoke {team_env.key}`"
    return (
        f"write its bundle target with `platform bundle-targets {team.name} --env {name} --out "
        f"platform-targets-{name}.yml`"
    )


def _describe_env(
    verb: str, team_env: EphemeralTeamEnv, *, expires_in: timedelta, network: str | None = None
) -> str:
    network = network or f"{team_env.settings.network} (slot {team_env.network_slot})"
    return (
        f"{verb} {team_env.key} from {team_env.team.name}/{team_env.base_env}: "
        f"network {network}, owner {team_env.owner}, "
        f"expires {team_env.expires_at} (in {format_duration(expires_in)})"
    )


def _describe_tags(tags: dict[str, str]) -> str:
    return "tags: " + ", ".join(f"{key}={value}" for key, value in sorted(tags.items()))
