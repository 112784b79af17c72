"""An ephemeral env through the real app: the stacks write the tags the reaper reads back, the data is
deletable, and the smoke run looks for the job and model the workspace stack really creates.

Slow (imports the provider bindings and synthesizes two stacks), so it runs in `make test`, not `-m "not slow"`.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.config import PlatformConfig
from infra.lifecycle.ephemeral import EphemeralRecord, EphemeralTeamEnv, cut
from infra.lifecycle.services import real_services
from infra.lifecycle.smoke import smoke_target

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Synthesized:
    config: PlatformConfig
    env: EphemeralTeamEnv
    platform: dict
    workspace: dict
    outdir: Path


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    from infra.config import load_config

    config = load_config(ROOT / "platform.yaml")
    base = next(te for te in config.team_envs if te.key == "churn/dev")
    env = cut(
        base,
        name="pr7",
        slot=1,
        owner="dev@example.com",
        expires_at=datetime(2026, 11, 22, 20, 0, tzinfo=UTC),
    )
    tmp = tmp_path_factory.mktemp("ephemeral")
    wheel = tmp / "churn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"churn wheel stand-in\n")
    outdir = tmp / "cdktf.out"
    real_services().synthesize(config, [env], outdir, wheel)

    def stack(name):
        return json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())

    return Synthesized(config, env, stack(env.names.platform_stack), stack(env.names.workspace_stack), outdir)


def test_only_the_ephemeral_envs_stacks_are_written(synthesized):
    assert sorted(p.name for p in (synthesized.outdir / "stacks").iterdir()) == [
        "churn-pr7-platform",
        "churn-pr7-workspace",
    ]


def test_the_resource_group_carries_the_record_the_reaper_derives_the_env_from(synthesized):
    config, env = synthesized.config, synthesized.env
    (group,) = synthesized.platform["resource"]["azurerm_resource_group"].values()
    assert group["name"] == "rg-dbp-churn-pr7"
    assert group["tags"] == env.tags
    record = EphemeralRecord.from_tags(group["name"], group["tags"])
    assert record.team_env(config) == env


def test_the_network_is_the_envs_slot(synthesized):
    (vnet,) = synthesized.platform["resource"]["azurerm_virtual_network"].values()
    assert vnet["address_space"] == ["10.10.65.0/24"]


def test_data_resources_can_be_destroyed_without_manual_steps(synthesized):
    platform, workspace = synthesized.platform, synthesized.workspace
    (vault,) = platform["resource"]["azurerm_key_vault"].values()
    assert vault["purge_protection_enabled"] is False
    for kind in ("azurerm_storage_account", "azurerm_key_vault"):
        for resource in platform["resource"][kind].values():
            assert not resource.get("lifecycle", {}).get("prevent_destroy", False), kind
    (catalog,) = workspace["resource"]["databricks_catalog"].values()
    assert catalog["force_destroy"] is True
    assert not catalog.get("lifecycle", {}).get("prevent_destroy", False)


def test_the_smoke_run_targets_the_job_and_model_the_workspace_stack_defines(synthesized):
    target = smoke_target(synthesized.config, synthesized.env.key)
    jobs = {job["name"]: job for job in synthesized.workspace["resource"]["databricks_job"].values()}
    assert target.job_name in jobs
    parameters = jobs[target.job_name]["task"][0]["python_wheel_task"]["parameters"]
    assert parameters[parameters.index("--model-name") + 1] == target.model_name
