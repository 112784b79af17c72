"""`platform validate`, `platform schema` and `platform envs`: exit codes and what users read."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.cli.main import main
from tests.onboarding import committed_config, counts, stack_names, team_envs

ROOT = Path(__file__).resolve().parents[2]


def run(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_validate_accepts_the_committed_config(capsys):
    code, out, err = run(["validate", "--config", str(ROOT / "platform.yaml")], capsys)
    assert code == 0 and out.startswith(f"valid: {counts(committed_config())}") and err == ""


def test_validate_prints_one_line_per_problem_and_exits_2(tmp_path, capsys):
    config = yaml.safe_load((ROOT / "platform.yaml").read_text())
    config["platform"]["prefix"] = "Bad Prefix"
    config["teams"][0]["environments"]["dev"]["compute"]["max_workerz"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    code, out, err = run(["validate", "--config", str(bad)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert len(lines) == 2
    assert lines[0].startswith(f"error: {bad}: platform.prefix: 'Bad Prefix' is invalid")
    assert (
        "teams.churn.environments.dev.compute.max_workerz: unknown key (did you mean 'max_workers'?)"
        in lines[1]
    )
    assert "Traceback" not in err


def test_config_path_comes_from_the_environment_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLATFORM_CONFIG", str(tmp_path / "missing.yaml"))
    code, _, err = run(["validate"], capsys)
    assert code == 2 and "missing.yaml: file not found" in err


def test_unknown_command_and_option_are_usage_errors(capsys):
    code, _, err = run(["valdate"], capsys)
    assert code == 2 and err.strip() == "error: No such command 'valdate'. Did you mean 'validate'?"
    code, _, err = run(["validate", "--bogus"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_schema_describes_the_config_and_rejects_unknown_keys(tmp_path, capsys):
    target = tmp_path / "platform.schema.json"
    code, _, _ = run(["schema", "--out", str(target)], capsys)
    schema = json.loads(target.read_text())
    assert code == 0
    assert set(schema["required"]) == {"platform", "teams"}
    assert schema["additionalProperties"] is False
    compute = schema["$defs"]["ComputeSettings"]["properties"]
    assert "node type" in compute["node_type"]["description"]


def test_committed_schema_is_up_to_date(capsys):
    code, out, _ = run(["schema"], capsys)
    assert code == 0
    committed = ROOT / "platform.schema.json"
    assert json.loads(committed.read_text()) == json.loads(out), "run `make schema` and commit the result"


def test_envs_json_lists_stack_names(capsys):
    code, out, _ = run(["envs", "--json", "--config", str(ROOT / "platform.yaml")], capsys)
    rows = json.loads(out)
    assert code == 0
    assert [(row["team"], row["env"]) for row in rows] == team_envs(committed_config())
    churn_prod = next(row for row in rows if (row["team"], row["env"]) == ("churn", "prod"))
    assert churn_prod["platform_stack"] == "churn-prod-platform"
    assert churn_prod["workspace_stack"] == "churn-prod-workspace"


def test_installed_entry_point_reports_without_traceback(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("platform: [unclosed")
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli.main", "validate", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert (
        result.stderr.count("\n") == 1
        and "invalid YAML" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_schema_to_an_unwritable_place_is_one_line(tmp_path, capsys):
    target = tmp_path / "missing-dir" / "platform.schema.json"
    code, out, err = run(["schema", "--out", str(target)], capsys)
    assert code == 2 and out == ""
    assert err.strip() == f"error: --out: cannot write {target}: No such file or directory"


def test_validate_json_gives_each_problem_its_field_path_and_exits_2(tmp_path, capsys):
    config = yaml.safe_load((ROOT / "platform.yaml").read_text())
    config["platform"]["prefix"] = "Bad Prefix"
    config["teams"][0]["environments"]["dev"]["compute"]["max_workerz"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    code, out, err = run(["validate", "--json", "--config", str(bad)], capsys)
    verdict = json.loads(out)
    assert code == 2 and err == ""
    assert verdict["valid"] is False and verdict["config"] == str(bad)
    fields = [problem["field"] for problem in verdict["problems"]]
    assert fields == ["platform.prefix", "teams.churn.environments.dev.compute.max_workerz"]
    assert verdict["problems"][1]["message"] == "unknown key (did you mean 'max_workers'?)"


def test_validate_json_lists_what_the_config_deploys(capsys):
    code, out, _ = run(["validate", "--json", "--config", str(ROOT / "platform.yaml")], capsys)
    verdict = json.loads(out)
    assert code == 0 and verdict["valid"] is True
    assert (verdict["teams"], verdict["team_envs"]) == (
        len(committed_config()["teams"]),
        len(team_envs(committed_config())),
    )
    assert verdict["stacks"] == stack_names(committed_config())
    assert all(warning["field"] for warning in verdict["warnings"])


def test_envs_shows_an_aws_env_with_its_account_stack_and_no_resource_group(capsys):
    code, out, _ = run(["envs", "--json", "--config", str(ROOT / "platform.yaml")], capsys)
    rows = {(row["team"], row["env"]): row for row in json.loads(out)}
    assert code == 0
    risk = rows["risk", "dev"]
    assert risk["cloud"] == "aws" and risk["resource_group"] is None
    assert risk["stacks"] == ["risk-dev-platform", "risk-dev-account", "risk-dev-workspace"]
    assert risk["account_stack"] == "risk-dev-account"
    churn = rows["churn", "dev"]
    assert churn["resource_group"] == "rg-dbp-churn-dev" and churn["account_stack"] is None
    # Azure prod restricts serverless egress: its network policy lives in an account stack, deployed in between
    prod = rows["churn", "prod"]
    assert prod["stacks"] == ["churn-prod-platform", "churn-prod-account", "churn-prod-workspace"]
    assert prod["account_stack"] == "churn-prod-account" and prod["resource_group"] == "rg-dbp-churn-prod"
