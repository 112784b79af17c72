"""Fixtures: a pinned test config, the fakes wired into the CLI, and an in-process CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.config import load_config
from tests.lifecycle.fakes import Fakes, Result

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_path(tmp_path) -> Path:
    """The committed config, pinned where these tests rely on it: prefix dbp, churn's ephemeral pool has
    four /24 slots (10.10.64.0/22) and an 8h default TTL, pricing has no ephemeral template."""
    raw = yaml.safe_load((ROOT / "platform.yaml").read_text())
    raw["platform"]["prefix"] = "dbp"
    raw["platform"].pop("subscription_id", None)  # the tests set it where they need it
    teams = {team["name"]: team for team in raw["teams"]}
    teams["churn"]["ephemeral"] = {"network_pool": "10.10.64.0/22", "default_ttl_hours": 8}
    teams["pricing"].pop("ephemeral", None)
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def config(config_path):
    return load_config(config_path)


@pytest.fixture
def fakes(tmp_path) -> Fakes:
    return Fakes(tmp=tmp_path)


@pytest.fixture
def cli(capsys, monkeypatch, config_path, fakes):
    """Run `platform ARGS --config <test config>` in-process, on the fakes; returns exit code, stdout, stderr."""
    import infra.cli.lifecycle as lifecycle_cli
    from infra.cli.main import main

    monkeypatch.setattr(lifecycle_cli, "services_factory", fakes.services)

    def run(*args: str) -> Result:
        with pytest.raises(SystemExit) as exited:
            main([*args, "--config", str(config_path)])
        out, err = capsys.readouterr()
        return Result(exited.value.code, out, err)

    return run
