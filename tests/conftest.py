"""Imported before any test module: ``infra`` picks the jsii runtime's Node before the first cdktf import starts it.

Every test also starts without the settings a developer's shell or a CI job may export (the config path, the
owner, a prebuilt wheel, the output directory, the terminal width): a test relies only on what it sets itself,
wherever and however the suite was started.
"""

from pathlib import Path

import pytest

import infra  # noqa: F401

AMBIENT_SETTINGS = ("PLATFORM_CONFIG", "PLATFORM_OWNER", "CHURN_WHEEL", "CDKTF_OUTDIR", "COLUMNS", "LINES")


@pytest.fixture(scope="session", autouse=True)
def wheelhouse_standins(tmp_path_factory):
    """No test downloads a wheel: the isolated envs' wheelhouses (infra/wheelhouse.py) are fetched from stand-ins
    pinned by a lock of their own into a session cache (tests/wheelhouse_standins.py). Session-scoped and autouse,
    so it is in place before any session fixture synthesizes. Yields (stand-in wheels, their lock, the cache)."""
    from tests.wheelhouse_standins import standins

    directory = tmp_path_factory.mktemp("wheelhouse")
    wheels, lock = standins(Path(__file__).resolve().parents[1], directory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLATFORM_WHEELHOUSE_FIND_LINKS", str(wheels))
        patch.setenv("PLATFORM_WHEELHOUSE_LOCK", str(lock))
        patch.setenv("PLATFORM_WHEELHOUSE_CACHE", str(directory / "cache"))
        yield wheels, lock, directory / "cache"


@pytest.fixture(autouse=True)
def _independent_of_the_callers_environment(monkeypatch):
    for name in AMBIENT_SETTINGS:
        monkeypatch.delenv(name, raising=False)
