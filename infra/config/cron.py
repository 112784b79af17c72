"""Validation of the Quartz cron expressions that Databricks job schedules use.

Databricks schedules take Quartz syntax: ``sec min hour day-of-month month day-of-week [year]`` where exactly
one of day-of-month and day-of-week is ``?``. A standard five-field Unix cron is the most common mistake, so
it gets its own message.
"""

import re

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"

# (name, lowest, highest, extra names allowed, special tokens allowed)
_FIELDS = [
    ("seconds", 0, 59, "", ""),
    ("minutes", 0, 59, "", ""),
    ("hours", 0, 23, "", ""),
    ("day-of-month", 1, 31, "", "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _DAYS, "?L#"),
    ("year", 1970, 2199, "", ""),
]


def _check_value(token: str, low: int, high: int, names: str) -> bool:
    if names and re.fullmatch(names, token):
        return True
    return token.isdigit() and low <= int(token) <= high


def _check_field(value: str, name: str, low: int, high: int, names: str, specials: str) -> str | None:
    if value in ("*", "?") and (value == "*" or "?" in specials):
        return None
    for part in value.split(","):
        token, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return f"{name} step {step!r} must be a positive number"
        if token == "*" or (token == "L" and "L" in specials):
            continue
        if "#" in token and "#" in specials:
            day, _, nth = token.partition("#")
            if _check_value(day, low, high, names) and nth.isdigit() and 1 <= int(nth) <= 5:
                continue
            return f"{name} {token!r} must be DAY#N with N in 1..5"
        if "W" in specials and token.endswith("W") and _check_value(token[:-1], low, high, names):
            continue
        start, _, end = token.partition("-")
        if not _check_value(start, low, high, names) or (end and not _check_value(end, low, high, names)):
            return f"{name} {token!r} is outside {low}-{high}"
    return None


def quartz_cron_problem(expression: str) -> str | None:
    """Return why ``expression`` is not a valid Quartz cron expression, or None when it is valid."""
    fields = expression.upper().split()
    if len(fields) == 5:
        return "5 fields is Unix cron syntax; Databricks needs Quartz syntax 'sec min hour day month weekday', e.g. '0 0 3 * * ?'"
    if len(fields) not in (6, 7):
        return f"{len(fields)} fields; Quartz cron needs 6 or 7 (sec min hour day month weekday [year])"
    for value, (name, low, high, names, specials) in zip(fields, _FIELDS, strict=False):
        problem = _check_field(value, name, low, high, names, specials)
        if problem:
            return problem
    if (fields[3] == "?") == (fields[5] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?'"
    return None
