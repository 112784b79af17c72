"""Time to live of ephemeral envs: duration strings (30m, 8h, 2d), UTC instants, and what is left of a TTL.

Expiry instants are written as ISO-8601 UTC with a `Z` and whole seconds (`2026-11-23T02:00:00Z`): that string
is the `expires-at` tag the reaper reads back from Azure, so it must parse the same everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from infra.lifecycle.errors import InputProblem

_DURATION = re.compile(r"([1-9][0-9]{0,4})([mhd])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}

# Shorter and the reaper could destroy an env while its first deploy is still running.
MIN_TTL = timedelta(minutes=30)
# An ephemeral env's budget starts on the first of its expiry month (see infra/constructs/azure/budget.py),
# which Azure only accepts when creation and expiry are at most a week apart; a week is also long enough for
# any test environment.
MAX_TTL = timedelta(days=7)
_OUT_OF_RANGE = "outside the times that can be written (years 0001 to 9999, UTC)"


def parse_duration(text: str, *, field: str) -> timedelta:
    """`30m`, `8h` or `2d` (a positive whole number and one unit) as a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise InputProblem(field, f"{text!r} is not a duration like 30m, 8h or 2d")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_instant(text: str, *, field: str) -> datetime:
    """An ISO-8601 time with a zone (`2026-11-23T18:00:00Z`, `...+01:00`), converted to UTC."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputProblem(field, f"{text!r} is not an ISO-8601 time like 2026-11-23T18:00:00Z") from None
    if instant.tzinfo is None:
        # The example is the same time written the way the option accepts it (a date alone plus Z would not be).
        example = format_instant(instant.replace(tzinfo=UTC))
        raise InputProblem(field, f"{text!r} has no time zone; add one, e.g. {example} for UTC")
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-01:00 is in year 10000 in UTC
        raise InputProblem(field, f"{text!r} is {_OUT_OF_RANGE}") from None


def expiry_from_ttl(ttl: str, *, now: datetime, field: str = "--ttl") -> datetime:
    """When an env given ``ttl`` now expires. ``ttl`` is a duration (8h) or an absolute UTC time."""
    text = ttl.strip()
    now = now.replace(microsecond=0)  # expiry tags carry whole seconds; 30m must stay 30m
    if _DURATION.fullmatch(text):
        try:
            expires = now + parse_duration(text, field=field)
        except OverflowError:
            raise InputProblem(field, f"{ttl!r} from {format_instant(now)} is {_OUT_OF_RANGE}") from None
    elif "T" in text:
        expires = parse_instant(text, field=field)
    else:
        raise InputProblem(
            field,
            f"{ttl!r} is neither a duration like 30m, 8h or 2d nor a UTC time like 2026-11-23T18:00:00Z",
        )
    expires = expires.replace(microsecond=0)
    if expires <= now:
        raise InputProblem(field, f"{format_instant(expires)} is already past (now {format_instant(now)})")
    if expires - now < MIN_TTL:
        raise InputProblem(
            field,
            f"{ttl!r} leaves {format_duration(expires - now)}, less than the minimum 30m: the reaper could "
            "destroy the env while it is still deploying",
        )
    if expires - now > MAX_TTL:
        raise InputProblem(field, f"{ttl!r} is more than the maximum of 7d")
    return expires


def format_instant(instant: datetime) -> str:
    """UTC, whole seconds, `Z` suffix: the form of the `expires-at` tag. Four-digit years always (strftime's %Y
    writes year 1 as `1`, which fromisoformat cannot read back)."""
    utc = instant.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return f"{utc.isoformat()}Z"


def format_duration(span: timedelta) -> str:
    """The two largest units: `2d 3h`, `3h 12m`, `45m`, `<1m`."""
    minutes = int(abs(span).total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value]
    return " ".join(parts[:2]) or "<1m"


def describe_remaining(expires_at: datetime, now: datetime) -> str:
    if expires_at > now:
        return f"{format_duration(expires_at - now)} left"
    return f"expired {format_duration(now - expires_at)} ago"
