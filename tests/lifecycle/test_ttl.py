"""TTL strings, UTC instants and what is left of a TTL."""

from datetime import UTC, datetime, timedelta

import pytest

from infra.lifecycle.errors import InputProblem
from infra.lifecycle.ttl import (
    describe_remaining,
    expiry_from_ttl,
    format_duration,
    format_instant,
    parse_duration,
    parse_instant,
)

NOW = datetime(2026, 11, 22, 12, 0, 30, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("8h", timedelta(hours=8)),
        ("2d", timedelta(days=2)),
        (" 90m ", timedelta(minutes=90)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text, field="--ttl") == expected


@pytest.mark.parametrize("text", ["8", "h", "8 h", "8hours", "1h30m", "-2h", "0h", "2w", "1.5h", "08h", ""])
def test_malformed_durations_name_the_field(text):
    with pytest.raises(InputProblem) as problem:
        parse_duration(text, field="--timeout")
    assert str(problem.value) == f"--timeout: {text!r} is not a duration like 30m, 8h or 2d"


def test_expiry_from_a_duration_drops_microseconds():
    assert expiry_from_ttl("8h", now=NOW) == datetime(2026, 11, 22, 20, 0, 30, tzinfo=UTC)


def test_expiry_from_an_absolute_time_converts_to_utc():
    assert expiry_from_ttl("2026-11-23T09:00:00+01:00", now=NOW) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        (
            "eight hours",
            "--ttl: 'eight hours' is neither a duration like 30m, 8h or 2d nor a UTC time like 2026-11-23T18:00:00Z",
        ),
        ("2026-11-22T11:00:00Z", "--ttl: 2026-11-22T11:00:00Z is already past (now 2026-11-22T12:00:30Z)"),
        ("2026-11-22T12:00:30Z", "--ttl: 2026-11-22T12:00:30Z is already past (now 2026-11-22T12:00:30Z)"),
        (
            "2026-11-23T18:00:00",
            "--ttl: '2026-11-23T18:00:00' has no time zone; add one, e.g. 2026-11-23T18:00:00Z for UTC",
        ),
        (
            "2026-13-01T00:00:00Z",
            "--ttl: '2026-13-01T00:00:00Z' is not an ISO-8601 time like 2026-11-23T18:00:00Z",
        ),
        (
            "10m",
            "--ttl: '10m' leaves 10m, less than the minimum 30m: the reaper could destroy the env while it is still deploying",
        ),
        ("8d", "--ttl: '8d' is more than the maximum of 7d"),
        ("169h", "--ttl: '169h' is more than the maximum of 7d"),
    ],
)
def test_bad_ttls_are_one_line_naming_the_option(ttl, message):
    with pytest.raises(InputProblem) as problem:
        expiry_from_ttl(ttl, now=NOW)
    assert str(problem.value) == message


@pytest.mark.parametrize("ttl", ["30m", "7d", "168h"])
def test_ttl_bounds_are_inclusive(ttl):
    assert expiry_from_ttl(ttl, now=NOW) > NOW


def test_instants_need_a_zone_and_are_written_as_utc_z():
    instant = parse_instant("2026-11-22T13:00:00+01:00", field="--now")
    assert instant == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert format_instant(instant) == "2026-11-22T12:00:00Z"
    with pytest.raises(InputProblem, match=r"^--now: '2026-11-22' has no time zone"):
        parse_instant("2026-11-22", field="--now")


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(seconds=59), "<1m"),
        (timedelta(minutes=45), "45m"),
        (timedelta(hours=3, minutes=12, seconds=40), "3h 12m"),
        (timedelta(days=2, hours=3, minutes=5), "2d 3h"),
        (timedelta(days=1, minutes=5), "1d 5m"),
    ],
)
def test_durations_read_as_the_two_largest_units(span, text):
    assert format_duration(span) == text


def test_remaining_time_reads_both_ways():
    expires = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    assert describe_remaining(expires, datetime(2026, 11, 22, 12, 0, tzinfo=UTC)) == "3h left"
    assert describe_remaining(expires, datetime(2026, 11, 22, 17, 30, tzinfo=UTC)) == "expired 2h 30m ago"


# --- the ends of the calendar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
            "--now: '9999-12-31T23:59:59-01:00' is outside the times that can be written (years 0001 to 9999, UTC)",
        ),
        (
            "0001-01-01T00:00:00+01:00",  # year 0 in UTC
            "--now: '0001-01-01T00:00:00+01:00' is outside the times that can be written (years 0001 to 9999, UTC)",
        ),
    ],
)
def test_instants_past_the_ends_of_the_calendar_are_one_line(text, message):
    with pytest.raises(InputProblem) as problem:
        parse_instant(text, field="--now")
    assert str(problem.value) == message


def test_a_ttl_that_runs_past_the_calendar_is_one_line():
    last_minute = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    with pytest.raises(InputProblem) as problem:
        expiry_from_ttl("30m", now=last_minute)
    assert str(problem.value) == (
        "--ttl: '30m' from 9999-12-31T23:59:00Z is outside the times that can be written (years 0001 to 9999, UTC)"
    )


def test_early_years_are_written_with_four_digits_and_read_back():
    first = datetime(1, 1, 1, tzinfo=UTC)
    assert format_instant(first) == "0001-01-01T00:00:00Z"
    assert parse_instant(format_instant(first), field="--now") == first


@pytest.mark.parametrize(
    "args",
    [
        ("env", "reap", "--dry-run", "--now", "9999-12-31T23:59:59-01:00"),
        (
            "env",
            "up",
            "pr5",
            "--from",
            "churn/dev",
            "--owner",
            "a@example.com",
            "--ttl",
            "0001-01-01T00:00:00+01:00",
        ),
    ],
    ids=["reap --now", "env up --ttl"],
)
def test_times_past_the_calendar_are_one_line_from_the_cli(cli, fakes, args):
    result = cli(*args)
    assert result.code == 2 and "Traceback" not in result.err
    assert len(result.err_lines) == 1 and "outside the times that can be written" in result.err
    assert fakes.events == []
