"""`platform env up --json`: the env a CI step posts (team, name, network, expiry, owner, stacks, workspace URL),
alone on stdout; progress, cdktf's own output included, on stderr."""

import json
import subprocess

import pytest

from infra.cli.main import main
from tests.lifecycle.fakes import Result, aws_env_resources, ephemeral_group

AZURE_URL = "https://adb-1234567890123456.7.azuredatabricks.net"
AWS_URL = "https://dbc-1a2b3c4d-5e6f.cloud.databricks.com"
REGION = "eu-west-1"  # the risk team's region in the committed config


def test_env_up_json_prints_the_created_env_with_its_workspace_url(cli, fakes):
    fakes.runner.outputs = {"churn-pr42-platform": {"workspace_url": AZURE_URL}}
    result = cli("env", "up", "pr42", "--from", "churn/staging", "--owner", "ana@example.com", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "action": "create",
        "dry_run": False,
        "key": "churn/pr42",
        "team": "churn",
        "name": "pr42",
        "base_env": "staging",
        "cloud": "azure",
        "network": "10.10.64.0/24",
        "network_slot": 0,
        "expires_at": "2026-11-22T20:00:00Z",
        "owner": "ana@example.com",
        "stacks": ["churn-pr42-platform", "churn-pr42-workspace"],
        "workspace_url": AZURE_URL,
    }
    # the deploy happened, then the URL was read from the deployed platform stack's state
    assert fakes.events[-3:] == [
        "deploy churn-pr42-platform",
        "deploy churn-pr42-workspace",
        "output? churn-pr42-platform workspace_url",
    ]
    assert "up: churn/pr42; test it with `platform smoke churn/pr42`" in result.err


def test_env_up_json_of_an_update_keeps_the_slot_it_was_deployed_in(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr42", slot="2", expires="2026-11-22T13:00:00Z")]
    fakes.runner.outputs = {"churn-pr42-platform": {"workspace_url": AZURE_URL}}
    result = cli("env", "up", "pr42", "--from", "churn/dev", "--json")
    assert result.code == 0, result.err
    up = json.loads(result.out)
    assert (up["action"], up["network"], up["network_slot"]) == ("update", "10.10.66.0/24", 2)


def test_env_up_json_on_aws_reads_the_url_from_the_account_stack(cli, fakes):
    fakes.aws.resources = {REGION: aws_env_resources(env="pr1", expires="2026-11-23T00:00:00Z", slot="0")}
    fakes.runner.outputs = {"risk-pr42-account": {"workspace_url": AWS_URL}}
    result = cli("env", "up", "pr42", "--from", "risk/dev", "--json")
    assert result.code == 0, result.err
    up = json.loads(result.out)
    assert (up["cloud"], up["network_slot"], up["workspace_url"]) == ("aws", 1, AWS_URL)
    assert up["stacks"] == ["risk-pr42-platform", "risk-pr42-account", "risk-pr42-workspace"]


def test_env_up_json_when_the_url_cannot_be_read_is_still_a_success_with_a_null_url(cli, fakes):
    result = cli("env", "up", "pr42", "--from", "churn/dev", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["workspace_url"] is None
    assert result.err_lines[-1] == (
        "warning: cannot read the workspace URL of churn/pr42: cannot read output workspace_url of "
        'churn-pr42-platform: Error: Output "workspace_url" not found'
    )


def test_env_up_dry_run_json_runs_nothing_and_marks_what_it_could_not_know(cli, fakes):
    from azure.core.exceptions import ClientAuthenticationError

    fakes.groups.list_error = ClientAuthenticationError("no login")
    result = cli(
        "env", "up", "pr42", "--from", "churn/dev", "--owner", "ana@example.com", "--dry-run", "--json"
    )
    assert result.code == 0, result.err
    up = json.loads(result.out)
    assert (up["action"], up["dry_run"], up["network"], up["network_slot"], up["workspace_url"]) == (
        "create or update",
        True,
        None,
        None,
        None,
    )
    assert fakes.nothing_happened()


def test_env_up_json_bad_input_is_one_line_and_no_json(cli, fakes):
    result = cli("env", "up", "Bad_Name", "--from", "churn/dev", "--json")
    assert (result.code, result.out) == (2, "")
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: NAME")
    assert fakes.nothing_happened()


def test_env_up_json_failed_deploy_is_one_line_exit_1_and_no_json(cli, fakes):
    fakes.runner.failing = {"churn-pr42-workspace"}
    result = cli("env", "up", "pr42", "--from", "churn/dev", "--json")
    assert (result.code, result.out) == (1, "")
    assert result.err_lines[-1].startswith("error: cdktf deploy churn-pr42-workspace failed (exit 1)")


def test_env_up_json_sends_what_cdktf_prints_to_stderr(capfd, monkeypatch, config_path, fakes):
    """cdktf streams into the inherited stdout (CdktfRunner.run): with --json it must not land in the JSON."""
    import infra.cli.lifecycle as lifecycle_cli

    monkeypatch.setattr(lifecycle_cli, "services_factory", fakes.services)
    fakes.runner.outputs = {"churn-pr42-platform": {"workspace_url": AZURE_URL}}
    recorded = fakes.runner.run

    def noisy_run(command):
        subprocess.run(["echo", f"cdktf: deploying {command.stack}"], check=True)  # a child writing to fd 1
        recorded(command)

    monkeypatch.setattr(fakes.runner, "run", noisy_run)
    with pytest.raises(SystemExit) as exited:
        main(["env", "up", "pr42", "--from", "churn/dev", "--json", "--config", str(config_path)])
    out, err = capfd.readouterr()
    result = Result(exited.value.code, out, err)
    assert result.code == 0, result.err
    assert json.loads(result.out)["key"] == "churn/pr42"
    assert "cdktf: deploying churn-pr42-platform" in result.err


def test_env_up_without_json_reads_no_url(cli, fakes):
    """The extra `terraform output` is only for --json; the text run keeps to the deploy."""
    result = cli("env", "up", "pr42", "--from", "churn/dev")
    assert result.code == 0, result.err
    assert not [event for event in fakes.events if event.startswith("output?")]
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.out)
