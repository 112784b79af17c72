"""Errors a user can fix (bad arguments, bad data). The CLI prints them as one line and exits with 2."""

from __future__ import annotations


class ChurnError(Exception):
    """A problem with the caller's input, explained in one line."""


class ContractViolation(ChurnError):
    """A batch whose structure breaks the data contract; nothing was written."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: breaks the data contract: " + "; ".join(problems))


def printable(value: object, *, limit: int = 80) -> str:
    """`value` safe for a one-line message: control and non-printable characters escaped, long text cut.

    File names and cell values come from outside; echoing their bytes could move the cursor or hide text."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."
