"""`platform deploy|destroy|smoke` and `platform env up|down|list|reap`: the lifecycle of team-envs.

Bad input is one line on stderr and exit code 2, before anything is built or touched; a failing cdktf
command, Azure call or Databricks run is one line and exit code 1. Every external call goes through
`services_factory()`, which tests replace with fakes.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.cli.errors import fail
from infra.cli.options import ConfigOption, full_width, load_or_fail
from infra.config import PlatformConfig
from infra.lifecycle.allocation import allocate_slot
from infra.lifecycle.databricks import RunProgress
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
from infra.lifecycle.reaper import env_down, reap
from infra.lifecycle.rollout import Rollout, execute
from infra.lifecycle.services import Services, real_services
from infra.lifecycle.smoke import describe_smoke, run_smoke, smoke_target, with_workspace_url
from infra.lifecycle.targets import permanent_team_env
from infra.lifecycle.ttl import (
    describe_remaining,
    expiry_from_ttl,
    format_duration,
    format_instant,
    parse_duration,
    parse_instant,
)


class Cloud(StrEnum):
    azure = "azure"
    aws = "aws"


# Tests replace this with a factory of fakes.
services_factory: Callable[[], Services] = real_services

console = Console()

TargetArgument = Annotated[str, typer.Argument(metavar="TEAM/ENV", help="e.g. churn/dev", show_default=False)]
AutoApproveOption = Annotated[
    bool,
    typer.Option("--auto-approve", help="Let cdktf apply without its prompt (required without a terminal)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the stacks and exact commands that would run; run nothing.")
]
DryRunJsonOption = Annotated[
    bool, typer.Option("--json", help="With --dry-run: print the stacks, steps and commands as JSON.")
]
CloudOption = Annotated[
    Cloud | None,
    typer.Option(
        "--cloud", help="Read only this cloud's ephemeral envs (e.g. where only one cloud is logged in to)."
    ),
]


def register(app: typer.Typer) -> None:
    """Add the lifecycle commands and the `env` group to the platform CLI."""
    app.command()(deploy)
    app.command()(destroy)
    app.command()(smoke)
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


def deploy(
    target: TargetArgument,
    auto_approve: AutoApproveOption = False,
    dry_run: DryRunOption = False,
    as_json: DryRunJsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Build the wheel, synthesize the env's two stacks, deploy the platform stack then the workspace stack."""
    with reported():
        loaded, services = load_or_fail(config), services_factory()
        rollout = Rollout("deploy", permanent_team_env(loaded, target), services.outdir, auto_approve)
        _run_or_describe(rollout, loaded, services, dry_run=dry_run, as_json=as_json)


def destroy(
    target: TargetArgument,
    force_prod: Annotated[
        bool, typer.Option("--force-prod", help="Allow destroying a prod env; you must type its key back.")
    ] = False,
    auto_approve: AutoApproveOption = False,
    dry_run: DryRunOption = False,
    as_json: DryRunJsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Destroy the env's workspace stack, then its platform stack. Prod needs --force-prod and a typed confirmation."""
    with reported():
        loaded, services = load_or_fail(config), services_factory()
        team_env = permanent_team_env(loaded, target)
        is_prod = team_env.kind == "prod"
        if is_prod and not force_prod:
            raise InputProblem(
                "--force-prod", f"{team_env.key} is a production env; destroying it needs --force-prod"
            )
        if is_prod and not dry_run:
            _confirm_by_typing(team_env.key, services)
        rollout = Rollout("destroy", team_env, services.outdir, auto_approve)
        _run_or_describe(rollout, loaded, services, dry_run=dry_run, as_json=as_json)


def smoke(
    target: TargetArgument,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Give up (and cancel the run) after 30m, 2h, ...")
    ] = "1h",
    config: ConfigOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what the smoke test would do; call no cloud or workspace."),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="On success print run id, URLs and model version as JSON; progress to stderr."
        ),
    ] = False,
) -> None:
    """Run the env's training job now, follow it to the end, check it registered a new `challenger`."""
    from databricks.sdk.errors import DatabricksError

    stdout = sys.stdout
    # With --json, stdout carries only the JSON; the progress lines go to stderr.
    progress_to = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with reported(), progress_to:
        loaded, services = load_or_fail(config), services_factory()
        smoke_on = smoke_target(loaded, target)
        limit = parse_duration(timeout, field="--timeout")
        if dry_run:
            for line in describe_smoke(loaded, smoke_on, timeout=limit, outdir=services.outdir):
                _say(line)
            _say("dry run: nothing was built or run")
            return
        if smoke_on.cloud == "aws":
            _say(f"smoke {smoke_on.key}: reading the workspace URL from its account stack")
            smoke_on = with_workspace_url(loaded, smoke_on, services)
        try:
            workspace = services.training_workspace(loaded, smoke_on)
        except ValueError as exc:  # the SDK reports unusable auth or config as ValueError
            raise OperationFailed(f"Databricks: {_first_line(exc)}") from None
        _say(f"smoke {smoke_on.key}: running {smoke_on.job_name}, timeout {format_duration(limit)}")
        try:
            with _RunFollower(services.clock) as follow:
                result = run_smoke(
                    workspace,
                    smoke_on,
                    timeout=limit,
                    clock=services.clock,
                    sleep=services.sleep,
                    on_progress=follow,
                )
        except DatabricksError as exc:
            raise OperationFailed(f"Databricks: {_first_line(exc)}") from None
        _say(
            f"passed: run {result.run_id} succeeded in {format_duration(result.took)}; "
            f"{smoke_on.model_name} version {result.version} is the challenger"
        )
        if as_json:
            passed = {
                "target": smoke_on.key,
                "job": smoke_on.job_name,
                "run_id": result.run_id,
                "run_url": result.url,
                "workspace_url": smoke_on.workspace_url,
                "model_name": smoke_on.model_name,
                "version": result.version,
                "took_seconds": int(result.took.total_seconds()),
            }
            stdout.write(json.dumps(passed, indent=2) + "\n")


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
    config: ConfigOption = None,
) -> None:
    """Create (or update) an ephemeral env cut from TEAM/ENV with the template's smallest sizes."""
    with reported():
        loaded, services = load_or_fail(config), services_factory()
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
            warn_unread(inventory, _warn)
        elif own is not None:
            raise own.error
        else:
            for unread in inventory.unread:
                _warn(f"warning: cannot check that {name!r} is unused in {unread.source}: {unread.error}")
        if dry_run and own is not None:
            team_env = cut(base_env, name=name, slot=0, owner=owner, expires_at=expires_at)
            network = f"{AT_RUN_TIME} (the lowest free /24 of {template.network_pool})"
            _say(_describe_env("create or update", team_env, expires_in=expires_at - now, network=network))
            _say(_describe_tags(team_env.tags | {NETWORK_SLOT_TAG: AT_RUN_TIME, NETWORK_TAG: AT_RUN_TIME}))
            _print_dry_run(Rollout("deploy", team_env, services.outdir, auto_approve=True).describe())
            return
        slot = allocate_slot(base_env, name, inventory, now=now)
        # An update keeps the network it was deployed with, even if the pool has moved since.
        deployed = next((record.network for record in inventory.named(name)), None)
        team_env = cut(base_env, name=name, slot=slot, owner=owner, expires_at=expires_at, network=deployed)
        check_unique_names(loaded, team_env, inventory.envs)
        rollout = Rollout("deploy", team_env, services.outdir, auto_approve=True)
        verb = "update" if inventory.named(name) else "create"
        _say(_describe_env(verb, team_env, expires_in=expires_at - now))
        if dry_run:
            _say(_describe_tags(team_env.tags))
            _print_dry_run(rollout.describe())
            return
        try:
            execute(rollout, loaded, services, report=_say)
        except OperationFailed as exc:
            raise OperationFailed(
                f"{exc}; whatever was created is tagged ephemeral and expires {team_env.expires_at}: "
                f"`platform env down {name}` removes it now"
            ) from None
        _say(
            f"up: {team_env.key}; test it with `platform smoke {team_env.key}`, remove it with `platform env down {name}`"
        )


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
        loaded, services = load_or_fail(config), services_factory()
        record = env_down(
            name,
            config=loaded,
            services=services,
            dry_run=dry_run,
            report=_say,
            clouds=_clouds(cloud),
            prefix=prefix,
        )
        if dry_run:
            _print_dry_run([])
        else:
            _say(f"down: {record.key}")


def env_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    cloud: CloudOption = None,
    config: ConfigOption = None,
) -> None:
    """List ephemeral envs with their owner and time left (from their tags: Azure resource groups, AWS resources).

    A cloud that cannot be read is one line on stderr; the others are listed, and the exit code is 1."""
    with reported():
        loaded, services = load_or_fail(config), services_factory()
        inventory = read_inventory(loaded, services, clouds=_clouds(cloud))
        now = services.clock()
        for unread in inventory.unread:
            _warn(f"warning: cannot read {unread.source}, so its ephemeral envs are missing: {unread.error}")
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
        loaded, services = load_or_fail(config), services_factory()
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
            report=_say,
            clouds=_clouds(cloud),
        )
        if dry_run:
            _print_dry_run([])
            return
        _say(outcome.summary())
        if outcome.failed:
            raise OperationFailed(f"could not reap {', '.join(outcome.failed)} (see above)")


class _RunFollower:
    """Prints each new state of a run (so CI logs stay short); at a terminal also a spinner with the time waited."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._started = clock()
        self._last: str | None = None
        self._linked = False  # the run's page URL is printed once, as soon as it is known
        self._spinner = console.status("starting the run") if console.is_terminal else None

    def __enter__(self) -> _RunFollower:
        if self._spinner:
            self._spinner.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._spinner:
            self._spinner.stop()

    def __call__(self, progress: RunProgress) -> None:
        summary = progress.summary()
        if summary != self._last:
            self._last = summary
            link = f"  {progress.url}" if progress.url and not self._linked else ""
            self._linked = self._linked or bool(link)
            _say(summary + link)
        if self._spinner:
            self._spinner.update(f"{summary}, {format_duration(self._clock() - self._started)} so far")


# --- helpers -------------------------------------------------------------------------------------------


@contextmanager
def reported() -> Iterator[None]:
    try:
        yield
    except InputProblem as exc:
        fail(str(exc))
    except OperationFailed as exc:
        fail(str(exc), code=1)


def _say(line: str) -> None:
    # Plain print: rich would wrap long command lines and read `[...]` as markup.
    print(line, flush=True)


def _print_dry_run(lines: list[str]) -> None:
    for line in lines:
        _say(line)
    _say("dry run: nothing was built, synthesized, deployed or destroyed")


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _run_or_describe(
    rollout: Rollout, config: PlatformConfig, services: Services, *, dry_run: bool, as_json: bool = False
) -> None:
    if as_json and not dry_run:
        raise InputProblem("--json", "only with --dry-run: a real run streams cdktf's own output")
    if as_json:
        sys.stdout.write(json.dumps(rollout.as_json(), indent=2) + "\n")
        return
    if dry_run:
        _print_dry_run(rollout.describe())
        return
    _require_approver(rollout.auto_approve, services)
    execute(rollout, config, services, report=_say)
    _say(f"{rollout.action}ed {rollout.team_env.key}")


def _require_approver(auto_approve: bool, services: Services) -> None:
    if not auto_approve and not services.is_interactive():
        raise InputProblem(
            "--auto-approve",
            "required when stdin is not a terminal: cdktf would wait for an approval nobody can give",
        )


def _confirm_by_typing(key: str, services: Services) -> None:
    if not services.is_interactive():
        raise InputProblem(
            "--force-prod",
            f"destroying {key} must be confirmed by typing it, and stdin is not a terminal; refusing",
        )
    typed = services.ask(f"This destroys {key}. Type {key} to confirm: ").strip()
    if typed != key:
        raise InputProblem("confirmation", f"typed {typed!r}, not {key!r}; nothing was destroyed")


def _default_owner(services: Services) -> str:
    owner = services.default_owner()
    if not owner:
        raise InputProblem("--owner", "required: neither $PLATFORM_OWNER nor git user.email is set")
    return owner


def _clouds(cloud: Cloud | None) -> list[str] | None:
    return None if cloud is None else [cloud.value]


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


def _warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
