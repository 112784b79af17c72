"""`platform sat set-secret|status` on a fake databricks-sdk client that fails the way the real SDK does: a missing
scope is the API's RESOURCE_DOES_NOT_EXIST (databricks.sdk.errors.ResourceDoesNotExist, a NotFound), a missing
permission PERMISSION_DENIED (PermissionDenied). The secret never reaches stdout or stderr.

SAT v0.8.0 notebooks/Utils/initialize.py reads `client-secret` from the `sat_scope` scope; SAT's terraform/azure/
secrets.tf writes it with databricks_secret (so into state), which is why the platform writes it through the API.
"""

from __future__ import annotations

import dataclasses
import io
import os
import sys
from pathlib import Path

import pytest
import yaml
from databricks.sdk.errors import PermissionDenied, ResourceDoesNotExist
from databricks.sdk.service._internal import Wait
from databricks.sdk.service.jobs import BaseJob, CronSchedule, Job, JobSettings, PauseStatus, RunNowResponse
from databricks.sdk.service.workspace import SecretMetadata

from infra.config.security_analysis_tool import SAT_CONFIG_KEYS
from infra.lifecycle.security_analysis_tool import SECRET_ENV_VAR, SdkSatWorkspace
from tests.infra.sat_configs import sat_config

SECRET = "n0t-in-any-log~"
DRIVER, SCANNER, INIT = (
    "dbp-churn-prod-sat-driver",
    "dbp-churn-prod-sat-secrets-scanner",
    "dbp-churn-prod-sat-initializer",
)


@pytest.fixture
def config_path(tmp_path) -> Path:
    """The committed config with SAT on in churn/prod (what validate asks of it: IDs and the firewall's hosts)."""
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(sat_config(), sort_keys=False))
    return path


class FakeSecrets:
    def __init__(self):
        self.scopes: dict[str, dict[str, str]] = {"sat_scope": dict.fromkeys(SAT_CONFIG_KEYS, "x")}
        self.error: Exception | None = None

    def put_secret(self, scope, key, *, bytes_value=None, string_value=None):
        if self.error:
            raise self.error
        if scope not in self.scopes:
            raise ResourceDoesNotExist(f"Scope {scope} does not exist!")
        self.scopes[scope][key] = string_value

    def list_secrets(self, scope):
        if scope not in self.scopes:
            raise ResourceDoesNotExist(f"Scope {scope} does not exist!")
        return iter([SecretMetadata(key=key) for key in sorted(self.scopes[scope])])


class FakeJobs:
    def __init__(self):
        self.jobs = {
            job_id: Job(
                job_id=job_id,
                settings=JobSettings(
                    name=name,
                    schedule=CronSchedule(
                        quartz_cron_expression=f"0 0 {job_id} ? * *",
                        timezone_id="UTC",
                        pause_status=PauseStatus.PAUSED,
                    )
                    if name != INIT
                    else None,
                ),
            )
            for job_id, name in ((8, DRIVER), (10, SCANNER), (1, INIT))
        }
        self.updates: list[int] = []
        self.runs: list[int] = []

    def list(self, *, name=None, **_):
        return iter([BaseJob(job_id=i) for i, job in self.jobs.items() if job.settings.name == name])

    def get(self, job_id):
        return self.jobs[job_id]

    def update(self, job_id, *, new_settings=None, fields_to_remove=None):
        self.updates.append(job_id)
        self.jobs[job_id].settings.schedule = new_settings.schedule

    def run_now(self, job_id, **_):
        """The SDK returns a waiter whose `response` is the RunNowResponse."""
        self.runs.append(job_id)
        return Wait(lambda **kw: None, response=RunNowResponse(run_id=900 + job_id))


@dataclasses.dataclass
class FakeClient:
    secrets: FakeSecrets = dataclasses.field(default_factory=FakeSecrets)
    jobs: FakeJobs = dataclasses.field(default_factory=FakeJobs)


@pytest.fixture
def client(monkeypatch, fakes, cli) -> FakeClient:
    """The fake SDK client behind the real SdkSatWorkspace adapter, wired into the CLI's services."""
    import infra.cli.lifecycle as lifecycle_cli

    fake = FakeClient()
    opened = []

    def services():
        return dataclasses.replace(
            fakes.services(),
            sat_workspace=lambda config, target: opened.append(target) or SdkSatWorkspace(fake),
        )

    monkeypatch.setattr(lifecycle_cli, "services_factory", services)
    fake.opened = opened
    return fake


def paused(client: FakeClient, job_id: int) -> str:
    return client.jobs.jobs[job_id].settings.schedule.pause_status.value


def test_set_secret_writes_the_key_and_unpauses_the_schedules(cli, client, monkeypatch):
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 0, result.err
    assert client.secrets.scopes["sat_scope"]["client-secret"] == SECRET
    assert (paused(client, 8), paused(client, 10)) == ("UNPAUSED", "UNPAUSED")
    driver = client.jobs.jobs[8].settings.schedule
    assert (driver.quartz_cron_expression, driver.timezone_id) == ("0 0 8 ? * *", "UTC")  # kept
    assert SECRET not in result.out + result.err
    (target,) = client.opened
    assert target.key == "churn/prod" and target.workspace_name == "dbw-dbp-churn-prod"


def test_set_secret_reads_stdin_without_its_newline(cli, client, monkeypatch):
    monkeypatch.delenv(SECRET_ENV_VAR, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    assert cli("sat", "set-secret", "churn/prod").code == 0
    assert client.secrets.scopes["sat_scope"]["client-secret"] == SECRET


def test_a_missing_scope_is_one_line_exit_1_and_nothing_unpaused(cli, client, monkeypatch):
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    del client.secrets.scopes["sat_scope"]
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 1
    (line,) = result.err_lines
    assert line == (
        "error: the workspace of churn/prod has no secret scope 'sat_scope'; deploy its workspace stack first "
        "(platform deploy churn/prod)"
    )
    assert client.jobs.updates == []


def test_a_permission_error_is_the_apis_first_line_exit_1(cli, client, monkeypatch):
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    client.secrets.error = PermissionDenied(
        "User 3f2b6c1e does not have WRITE permission on scope sat_scope\ndetails"
    )
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 1
    assert result.err_lines == [
        "error: Databricks: User 3f2b6c1e does not have WRITE permission on scope sat_scope"
    ]
    assert client.jobs.updates == [] and SECRET not in result.err


def test_an_empty_secret_is_refused_before_anything_is_called(cli, client, monkeypatch):
    monkeypatch.setenv(SECRET_ENV_VAR, "  \n")
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 2 and len(result.err_lines) == 1 and client.opened == []


def test_dry_run_names_the_key_and_jobs_never_the_value_and_calls_nothing(cli, client, monkeypatch):
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    result = cli("sat", "set-secret", "churn/prod", "--dry-run")
    assert result.code == 0
    assert "'client-secret' into secret scope 'sat_scope'" in result.out
    assert DRIVER in result.out and SCANNER in result.out and SECRET not in result.out
    assert client.opened == [] and "client-secret" not in client.secrets.scopes["sat_scope"]


@pytest.mark.parametrize("target", ["churn/dev", "risk/prod"])
def test_sat_commands_only_for_the_env_that_runs_sat(cli, client, target):
    result = cli("sat", "status", target)
    assert result.code == 2
    assert result.err_lines == [
        f"error: TEAM/ENV: SAT runs in churn/prod (platform.audit.security_analysis_tool), not {target}"
    ]


def test_status_reports_a_missing_secret_in_one_line_exit_1(cli, client):
    result = cli("sat", "status", "churn/prod")
    assert result.code == 1
    (line,) = result.err_lines
    assert "no 'client-secret' key" in line and "platform sat set-secret churn/prod" in line


def test_status_after_set_secret_shows_the_schedules_active(cli, client, monkeypatch):
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    cli("sat", "set-secret", "churn/prod")
    result = cli("sat", "status", "churn/prod")
    assert result.code == 0
    assert f"{DRIVER}: schedule active" in result.out and SECRET not in result.out


def test_the_first_set_secret_starts_the_initializer_before_the_schedules_run_anything(
    cli, client, monkeypatch
):
    """The stack creates the schedules paused; unpausing them without SAT's one-time initializer would run the
    driver every day, green, with nothing set up to analyse."""
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 0, result.err
    assert client.jobs.runs == [1]
    assert f"sat churn/prod: started {INIT} (job 1, run 901)" in result.out


def test_a_rotation_leaves_the_initializer_alone_unless_asked(cli, client, monkeypatch):
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    assert cli("sat", "set-secret", "churn/prod").code == 0  # first: schedules were paused
    assert cli("sat", "set-secret", "churn/prod").code == 0  # rotation: schedules already active
    assert client.jobs.runs == [1]
    result = cli("sat", "set-secret", "churn/prod", "--run-initializer")
    assert result.code == 0, result.err
    assert client.jobs.runs == [1, 1]
    assert f"started {INIT} (job 1, run 901)" in result.out


def test_an_aws_sat_workspace_is_found_by_the_url_in_its_account_stack(
    cli, client, fakes, config_path, monkeypatch
):
    """As `platform smoke` on AWS: Databricks names an AWS workspace's URL, so it is read from the account stack's
    state (synthesize for the backends, then the output); the SDK client opens that host."""
    raw = yaml.safe_load(config_path.read_text())
    raw["platform"]["audit"]["security_analysis_tool"]["workspace"] = "risk/prod"
    (risk,) = [team for team in raw["teams"] if team["name"] == "risk"]
    # SAT's job clusters need the internet; the committed risk/prod is isolated
    risk["environments"]["prod"]["egress"] = {
        "mode": "open",
        "open_reason": "SAT's job clusters install its SDK from PyPI and call accounts.cloud.databricks.com",
    }
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    url = "https://dbc-0123abcd-4567.cloud.databricks.com"
    fakes.runner.outputs = {"risk-prod-account": {"workspace_url": url}}
    client.jobs.jobs = {job_id: FakeJobs().jobs[job_id] for job_id in (8, 10, 1)}
    for job in client.jobs.jobs.values():
        job.settings.name = job.settings.name.replace("churn", "risk")
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    result = cli("sat", "set-secret", "risk/prod")
    assert result.code == 0, result.err
    assert fakes.events[-1] == "output? risk-prod-account workspace_url"
    (target,) = client.opened
    assert target.workspace_url == url and target.job_name == "dbp-risk-prod-sat-initializer"
    assert client.secrets.scopes["sat_scope"]["client-secret"] == SECRET


# --- hurried inputs ---------------------------------------------------------------------------------------------


@pytest.fixture
def piped_stdin(monkeypatch):
    """stdin as `echo ... | platform sat set-secret` gives it: a real pipe, written and closed."""

    def pipe(text: str) -> None:
        read, write = os.pipe()
        os.write(write, text.encode())
        os.close(write)
        monkeypatch.setattr(sys, "stdin", os.fdopen(read))

    return pipe


def test_a_left_over_env_var_does_not_silently_beat_the_piped_secret(cli, client, monkeypatch, piped_stdin):
    """A rotation: `echo $NEW | platform sat set-secret` in a shell that still exports last quarter's
    $PLATFORM_SAT_CLIENT_SECRET wrote the old secret, said nothing, and SAT failed to sign in at its next run."""
    monkeypatch.setenv(SECRET_ENV_VAR, "old-secret~")
    piped_stdin(SECRET + "\n")
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 2, result.out
    (line,) = result.err_lines
    assert SECRET_ENV_VAR in line and "stdin" in line
    assert client.opened == [] and "client-secret" not in client.secrets.scopes["sat_scope"]
    assert SECRET not in result.out + result.err and "old-secret~" not in result.out + result.err


def test_the_env_var_works_with_the_closed_empty_pipe_github_actions_gives_a_step(
    cli, client, monkeypatch, piped_stdin
):
    """actions/runner src/Runner.Sdk/ProcessInvoker.cs: a step's process gets RedirectStandardInput = true, and the
    runner closes that stdin at once: a pipe at end of file, which carries no secret."""
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    piped_stdin("")
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 0, result.err
    assert client.secrets.scopes["sat_scope"]["client-secret"] == SECRET


def test_the_env_var_works_when_stdin_is_a_pipe_nobody_writes_to(cli, client, monkeypatch):
    """A runner that leaves stdin an open, silent pipe: set-secret waits PIPE_WAIT_SECONDS, never forever."""
    read, write = os.pipe()
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    try:
        with os.fdopen(read) as silent:
            monkeypatch.setattr(sys, "stdin", silent)
            assert cli("sat", "set-secret", "churn/prod").code == 0
    finally:
        os.close(write)
    assert client.secrets.scopes["sat_scope"]["client-secret"] == SECRET


def test_the_env_var_alone_still_works_with_stdin_from_dev_null(cli, client, monkeypatch):
    """CI: the secret in the variable, stdin /dev/null (a character device, not a pipe)."""
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    with open(os.devnull) as devnull:
        monkeypatch.setattr(sys, "stdin", devnull)
        assert cli("sat", "set-secret", "churn/prod").code == 0
    assert client.secrets.scopes["sat_scope"]["client-secret"] == SECRET


@pytest.mark.parametrize(
    "piped",
    [
        '{\n  "appId": "5a4b3c2d",\n  "password": "n0t-in-any-log~",\n  "tenant": "0f1e2d3c"\n}\n',
        "n0t-in-any-log~\nsecond line\n",
        "n0t-in any-log~\n",
    ],
    ids=["az-credential-reset-json", "two-lines", "a-space"],
)
def test_a_secret_with_whitespace_inside_is_refused(cli, client, monkeypatch, piped_stdin, piped):
    """Entra ID and Databricks OAuth secrets have no whitespace; what has is the whole output of
    `az ad app credential reset` or a file of two lines, which set-secret wrote as the secret."""
    monkeypatch.delenv(SECRET_ENV_VAR, raising=False)
    piped_stdin(piped)
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 2
    (line,) = result.err_lines
    assert line.startswith("error: stdin: ") and SECRET not in line
    assert client.opened == []


def test_an_unreachable_workspace_is_one_line_exit_1_without_the_secret(cli, client, monkeypatch):
    """databricks-sdk 0.167.0 retries a connection that fails, then raises the builtin TimeoutError ("Timed out
    after 0:05:00"), no DatabricksError: from a laptop off the VPN to a private front end that was a traceback."""
    monkeypatch.setenv(SECRET_ENV_VAR, SECRET)
    client.secrets.error = TimeoutError("Timed out after 0:05:00")
    result = cli("sat", "set-secret", "churn/prod")
    assert result.code == 1
    assert "Traceback" not in result.err
    (line,) = result.err_lines
    assert "Timed out after 0:05:00" in line and "reach" in line
    assert SECRET not in result.out + result.err and client.jobs.updates == []
