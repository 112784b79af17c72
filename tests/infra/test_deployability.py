"""`platform validate` warns about every config choice that validates but cannot deploy as written."""

from pathlib import Path

import pytest
import yaml

from infra.cli.main import main
from infra.config import parse_config
from infra.config.deployability import deploy_warnings

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "platform.yaml").read_text())


def config_with(platform: dict | None = None, dev: dict | None = None):
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["platform"].update(platform or {})
    raw["teams"][0]["environments"]["dev"].update(dev or {})
    return parse_config(yaml.safe_dump(raw))


def test_committed_config_warns_about_the_preview_cluster():
    warnings = deploy_warnings(config_with())
    assert [w.split(":")[0] for w in warnings] == [
        "teams.churn.environments.dev.interactive_cluster",
        # the bundle CI that deploys pricing/prod's target from behind its IP access list (infra/config/hardening.py)
        "teams.pricing.workloads[0].ci",
    ]
    assert all("\n" not in w for w in warnings)


def test_no_azuredatabricks_object_id_warns_that_there_is_no_secret_scope():
    """Without customer-managed keys (which refuse to validate without it) the object id is optional; unset, the
    envs get no Key Vault-backed secret scope, and validate says so."""
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    del raw["platform"]["azure_databricks_sp_object_id"]
    for team in raw["teams"]:
        team["environments"]["prod"]["customer_managed_key"] = None
    warnings = deploy_warnings(parse_config(yaml.safe_dump(raw)))
    assert warnings[0].startswith("platform.azure_databricks_sp_object_id:")


def test_a_fully_configured_platform_has_no_warnings():
    config = config_with(
        platform={"azure_databricks_sp_object_id": "0f0e0d0c-0b0a-4998-8776-655443322110"},
        dev={"interactive_cluster": False},
    )
    # What remains is outside the config: where pricing's bundle CI runs, behind pricing/prod's IP access list.
    assert [w.split(":")[0] for w in deploy_warnings(config)] == ["teams.pricing.workloads[0].ci"]


def test_missing_account_id_is_a_warning():
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    del raw["platform"]["account_id"]
    # AWS teams and bundles with ci require it, so does prod's restricted serverless egress; the system tables are
    # then managed by the one team left.
    raw["teams"] = [team for team in raw["teams"] if team["name"] == "churn"]
    raw["platform"]["audit"] = {"system_tables": {"managed_in": ["churn/prod"]}}
    for team in raw["teams"]:
        team["environments"]["prod"]["serverless"] = {"restricted_egress": False}
    warnings = deploy_warnings(parse_config(yaml.safe_dump(raw)))
    assert any(w.startswith("platform.account_id: unset") and "run_as" in w for w in warnings)


def test_dev_gets_no_preview_cluster_unless_asked():
    """databricks 1.99 docs/resources/cluster.md: `kind = CLASSIC_PREVIEW` works only "if corresponding public
    preview is enabled", and the group-assigned team cluster needs that kind: no default may depend on it."""
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    del raw["teams"][0]["environments"]["dev"]["interactive_cluster"]
    config = parse_config(yaml.safe_dump(raw))
    assert config.team("churn").environments["dev"].interactive_cluster is False
    assert config.team("pricing").environments["dev"].interactive_cluster is False


def test_validate_prints_the_warnings_and_still_exits_0(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--config", str(ROOT / "platform.yaml")])
    out, err = capsys.readouterr()
    assert exited.value.code == 0 and err == ""
    lines = out.strip().splitlines()
    assert lines[0].startswith("valid:")
    assert [line.split(":")[0] for line in lines[1:]] == ["warning", "warning"]
    assert "teams.churn.environments.dev.interactive_cluster" in lines[1]
    assert "teams.pricing.workloads[0].ci" in lines[2]
