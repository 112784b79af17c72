"""Imported before any test module: ``infra`` picks the jsii runtime's Node before the first cdktf import starts it.

Every test also starts without the settings a developer's shell or a CI job may export (the config path, the
owner, a prebuilt wheel, the output directory, the terminal width): a test relies only on what it sets itself,
wherever and however the suite was started.
"""

import pytest

import infra  # noqa: F401

AMBIENT_SETTINGS = ("PLATFORM_CONFIG", "PLATFORM_OWNER", "CHURN_WHEEL", "CDKTF_OUTDIR", "COLUMNS", "LINES")


@pytest.fixture(autouse=True)
def _independent_of_the_callers_environment(monkeypatch):
    for name in AMBIENT_SETTINGS:
        monkeypatch.delenv(name, raising=False)
