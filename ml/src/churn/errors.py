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
