"""Session fixtures: the bindings import once and the committed config is synthesized once per test run."""

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The day the session's synth runs "on": it fixes the month new budgets start in, so snapshots stay stable.
SYNTH_TODAY = date(2026, 11, 10)


@dataclass
class Synthesized:
    """The output of one `app.synth()`: stack JSON as text (for cdktf Testing matchers) and as dicts."""

    outdir: Path
    app: object
    _cache: dict[str, str] = field(default_factory=dict)

    @property
    def stack_names(self) -> list[str]:
        return sorted(p.name for p in (self.outdir / "stacks").iterdir())

    def text(self, stack: str) -> str:
        if stack not in self._cache:
            self._cache[stack] = (self.outdir / "stacks" / stack / "cdk.tf.json").read_text()
        return self._cache[stack]

    def json(self, stack: str) -> dict:
        return json.loads(self.text(stack))

    def resources(self, stack: str, resource_type: str) -> dict[str, dict]:
        """All resources of one type in a stack, by logical name."""
        return self.json(stack).get("resource", {}).get(resource_type, {})

    def only(self, stack: str, resource_type: str) -> dict:
        found = self.resources(stack, resource_type)
        assert len(found) == 1, f"{stack}: expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.values()))


def churn_workspace_stacks(synthesized: Synthesized) -> list[str]:
    """The workspace stacks of the team-envs that run the churn preset (the committed `pricing` team deploys a
    bundle workload instead, so its workspace stacks have no churn jobs, endpoint or monitor)."""
    from infra.config import load_config

    churn = {
        te.stacks["workspace"]
        for te in load_config(ROOT / "platform.yaml").team_envs
        if any(w.preset == "churn" for w in te.team.managed_workloads)
    }
    return [s for s in synthesized.stack_names if s in churn]


@pytest.fixture(scope="session")
def platform_config():
    from infra.config import load_config

    return load_config(ROOT / "platform.yaml")


@pytest.fixture(scope="session")
def fake_wheel(tmp_path_factory) -> Path:
    """A stand-in wheel with fixed content, so content-addressed paths are stable in snapshots."""
    wheel = tmp_path_factory.mktemp("dist") / "churn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"churn wheel stand-in for synth tests\n")
    return wheel


@pytest.fixture(scope="session")
def synthesized(platform_config, fake_wheel, tmp_path_factory) -> Synthesized:
    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("cdktf.out")
    app = build_app(platform_config, outdir=outdir, wheel=fake_wheel, today=SYNTH_TODAY)
    app.synth()
    return Synthesized(outdir=outdir, app=app)


@pytest.fixture(scope="session")
def synthesized_ephemeral(platform_config, fake_wheel, tmp_path_factory) -> Synthesized:
    """One ephemeral env (cut from churn/dev the way `platform env up` does), synthesized once."""
    from datetime import UTC, datetime, timedelta

    from infra.app import build_app
    from infra.lifecycle.ephemeral import cut

    base = next(te for te in platform_config.team_envs if te.key == "churn/dev")
    team_env = cut(
        base, name="pr1", slot=0, owner="dev@example.com", expires_at=datetime.now(UTC) + timedelta(hours=8)
    )
    outdir = tmp_path_factory.mktemp("cdktf.out.ephemeral")
    app = build_app(platform_config, outdir=outdir, wheel=fake_wheel, team_envs=[team_env], today=SYNTH_TODAY)
    app.synth()
    return Synthesized(outdir=outdir, app=app)


# A test package whose wheel needs nothing the ML runtime does not ship (pandas only), so an isolated env may run it.
OFFLINE_WORKLOAD = {
    "kind": "managed",
    "name": "upsell",
    "package": "tests/fixtures/workloads/upsell",
    "models": ["upsell_propensity"],
    "jobs": [{"name": "nightly", "tasks": [{"key": "train", "entry_point": "upsell-train"}]}],
}


@pytest.fixture(scope="session")
def isolated_synthesized(synthesized) -> Synthesized:
    """The committed stacks, whose risk/prod runs isolated egress (SRA's isolated network): its churn wheel's
    requirements the runtime does not ship come from the env's wheelhouse (infra/wheelhouse.py; in tests the
    stand-ins of tests/wheelhouse_standins.py)."""
    return synthesized
