"""Extras in the wheelhouse closure (infra/config/offline_packages.py): what an extra adds must be in the wheelhouse
too, or pip on a cluster without internet access goes to PyPI for it when it installs the wheel that asks for it.

Two ways it was lost: an extra of a package the runtime ships (`typer[all]`: the runtime ships typer, not
shellingham) was never looked into, and an extra requested after its package was already pinned bare (`a`, then
`b` requiring `a[speed]`) was skipped as done.
"""

from __future__ import annotations

import pytest

from infra.config.offline_packages import Pin, Runtime, WheelhouseProblem, closure

RUNTIME = Runtime(
    name="databricks-18-lts-ml.txt", python="3.12", libraries={"typer": "0.20.0", "click": "8.1.7"}
)
REQUIRES = {
    "typer": ["click>=8", "shellingham>=1.3; extra == 'all'", "rich>=10; extra == 'all'"],
    "shellingham": [],
    "rich": ["markdown-it-py>=2"],
    "markdown-it-py": [],
    "a": ["fast; extra == 'speed'"],
    "b": ["a[speed]"],
    "fast": [],
}


def lock(*names: str) -> dict[str, Pin]:
    return {
        n: Pin(name=n, version="13.9.4" if n == "rich" else "2.0", hashes=frozenset({"a" * 64}))
        for n in names
    }


def names(requirements, pins) -> list[str]:
    return [
        p.name for p in closure(requirements, runtime=RUNTIME, lock=pins, requires=lambda p: REQUIRES[p.name])
    ]


def test_an_extra_of_a_package_the_runtime_ships_brings_what_the_runtime_lacks():
    got = names(["typer[all]>=0.12"], lock("shellingham", "rich", "markdown-it-py"))
    assert got == ["markdown-it-py", "rich", "shellingham"]


def test_an_extra_of_a_shipped_package_needing_an_unpinned_package_is_refused():
    with pytest.raises(
        WheelhouseProblem, match=r"typer\[all\] 0\.20\.0 requires shellingham>=1\.3.*does not ship"
    ):
        names(["typer[all]"], lock("rich", "markdown-it-py"))


def test_a_shipped_package_without_extras_needs_nothing():
    assert names(["typer>=0.12"], lock()) == []


def test_an_extra_asked_for_after_the_package_was_pinned_bare_still_comes_before_its_asker():
    got = names(["a", "b"], lock("a", "b", "fast"))
    assert got == ["a", "fast", "b"]
