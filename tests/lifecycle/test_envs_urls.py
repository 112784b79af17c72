"""`platform envs --urls`: each deployed env's workspace URL from its state (the Azure platform stack's or the AWS
account stack's `workspace_url` output, through the runner), one line per env that cannot be read."""

import json

from infra.config import load_config

AZURE_URL = "https://adb-1234567890123456.7.azuredatabricks.net"
AWS_URL = "https://dbc-1a2b3c4d-5e6f.cloud.databricks.com"


def test_envs_urls_reads_each_env_from_the_stack_that_creates_its_workspace(cli, fakes, config_path):
    fakes.runner.outputs = {
        "churn-dev-platform": {"workspace_url": AZURE_URL},
        "risk-dev-account": {"workspace_url": AWS_URL},
    }
    result = cli("envs", "--urls", "--json")
    assert result.code == 0, result.err
    rows = {f"{row['team']}/{row['env']}": row for row in json.loads(result.out)}
    assert rows["churn/dev"]["workspace_url"] == AZURE_URL
    assert rows["risk/dev"]["workspace_url"] == AWS_URL
    config = load_config(config_path)
    unread = [te.key for te in config.team_envs if te.key not in ("churn/dev", "risk/dev")]
    assert all(rows[key]["workspace_url"] is None for key in unread)
    # one line per env that has no URL (not deployed here), naming it; never a traceback
    assert len(result.err_lines) == len(unread)
    assert all(
        line.startswith("warning: ") and ": no workspace URL: cannot read output" in line
        for line in result.err_lines
    )
    assert {line.split(":")[1].strip() for line in result.err_lines} == set(unread)
    # the stacks were synthesized first (their backends say where the state is), then read
    reads = [event for event in fakes.events if event.startswith("output?")]
    assert reads[: len(config.team_envs)] == [
        f"output? {te.stacks['account'] if te.team.cloud == 'aws' else te.stacks['platform']} workspace_url"
        for te in config.team_envs
    ]
    assert fakes.events[:2] == [
        "build wheel",
        "synth " + " ".join(s for te in config.team_envs for s in te.stacks.values()),
    ]


def test_envs_urls_table_shows_the_url(cli, fakes):
    fakes.runner.outputs = {"churn-dev-platform": {"workspace_url": AZURE_URL}}
    result = cli("envs", "--urls")
    assert result.code == 0, result.err
    assert "workspace URL" in result.out and AZURE_URL in result.out


def test_envs_without_urls_reads_no_state(cli, fakes):
    result = cli("envs", "--json")
    assert result.code == 0, result.err
    assert all("workspace_url" not in row for row in json.loads(result.out))
    assert fakes.nothing_happened()


def test_envs_urls_without_terraform_is_one_line_and_exit_2(cli, fakes):
    fakes.runner.missing = {"terraform"}
    result = cli("envs", "--urls")
    assert (result.code, result.out) == (2, "")
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: terraform")
    assert fakes.nothing_happened()
