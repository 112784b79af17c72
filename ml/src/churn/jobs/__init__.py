"""Job entry points (thin): each wires a Runtime to the pure transforms and the model code."""

from __future__ import annotations

from collections.abc import Callable

Report = Callable[[str], None]


def no_report(_: str) -> None:
    """Default progress sink for callers without a console (tests, notebooks)."""
