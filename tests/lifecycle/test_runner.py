"""The cdktf command lines, and the real runner driven through a fake process launcher."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.runner import CdktfRunner, MissingTool, StackCommand, state_has_resources


def test_deploy_command_line_runs_one_presynthesized_stack():
    command = StackCommand("deploy", "churn-dev-platform", Path("cdktf.out"), auto_approve=True)
    assert command.argv() == [
        "npx",
        "--no-install",
        "cdktf",
        "deploy",
        "churn-dev-platform",
        "--app",
        "true",
        "--output",
        "cdktf.out",
        "--skip-synth",
        "--ignore-missing-stack-dependencies",
        "--auto-approve",
    ]
    assert str(command) == " ".join(command.argv())


def test_without_auto_approve_cdktf_asks_itself():
    command = StackCommand("destroy", "churn-dev-workspace", Path("out dir"), auto_approve=False)
    assert "--auto-approve" not in command.argv()
    assert str(command) == (
        "npx --no-install cdktf destroy churn-dev-workspace --app true --output 'out dir' --skip-synth "
        "--ignore-missing-stack-dependencies"
    )


class Launcher:
    """Stands in for subprocess.run: records each call and answers from a script."""

    def __init__(self, *answers: subprocess.CompletedProcess):
        self.answers = list(answers)
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        return self.answers.pop(0)


def done(code=0, stdout="", stderr=""):
    return subprocess.CompletedProcess([], code, stdout, stderr)


def test_run_streams_through_the_terminal_from_the_project_root_and_fails_on_a_nonzero_exit(tmp_path):
    launcher = Launcher(done(0), done(1))
    runner = CdktfRunner(cwd=tmp_path, stream=launcher)
    command = StackCommand("deploy", "churn-dev-platform", Path("cdktf.out"), auto_approve=True)
    runner.run(command)
    # no capture: output streams; npx runs where node_modules holds the pinned cdktf, whatever the caller's cwd
    assert launcher.calls[0] == (command.argv(), {"cwd": tmp_path})
    with pytest.raises(OperationFailed, match=r"^cdktf deploy churn-dev-platform failed \(exit 1\)$"):
        runner.run(command)


STATE_WITH_RESOURCES = json.dumps(
    {
        "version": 4,
        "resources": [
            {"mode": "data", "type": "azurerm_client_config", "name": "current"},
            {"mode": "managed", "type": "azurerm_resource_group", "name": "rg"},
        ],
    }
)


def test_has_state_initialises_the_stack_directory_and_pulls_its_state():
    launcher = Launcher(done(0), done(0, stdout=STATE_WITH_RESOURCES))
    assert CdktfRunner(run=launcher).has_state("churn-pr1-platform", outdir=Path("cdktf.out")) is True
    assert [argv for argv, _ in launcher.calls] == [
        ["terraform", "-chdir=cdktf.out/stacks/churn-pr1-platform", "init", "-input=false", "-no-color"],
        ["terraform", "-chdir=cdktf.out/stacks/churn-pr1-platform", "state", "pull"],
    ]


def test_state_is_the_pulled_document_as_terraform_prints_it():
    launcher = Launcher(done(0), done(0, stdout=STATE_WITH_RESOURCES), done(0), done(0, stdout=""))
    runner = CdktfRunner(run=launcher)
    assert runner.state("churn-prod-platform", outdir=Path("cdktf.out")) == STATE_WITH_RESOURCES
    assert runner.state("churn-prod-account", outdir=Path("cdktf.out")) == ""
    assert launcher.calls[1][0] == [
        "terraform",
        "-chdir=cdktf.out/stacks/churn-prod-platform",
        "state",
        "pull",
    ]


def test_output_reads_one_value_of_the_deployed_stack_or_fails_with_terraforms_error():
    missing = '╷\n│ Error: Output "workspace_url" not found\n│\n│ The output variable requested could not be found\n'
    launcher = Launcher(
        done(0), done(0, stdout="https://dbc-1a2b.cloud.databricks.com"), done(0), done(1, stderr=missing)
    )
    runner = CdktfRunner(run=launcher)
    assert runner.output("risk-dev-account", "workspace_url", outdir=Path("cdktf.out")) == (
        "https://dbc-1a2b.cloud.databricks.com"
    )
    assert [argv for argv, _ in launcher.calls] == [
        ["terraform", "-chdir=cdktf.out/stacks/risk-dev-account", "init", "-input=false", "-no-color"],
        [
            "terraform",
            "-chdir=cdktf.out/stacks/risk-dev-account",
            "output",
            "-raw",
            "-no-color",
            "workspace_url",
        ],
    ]
    with pytest.raises(OperationFailed) as failed:
        runner.output("risk-dev-account", "workspace_url", outdir=Path("cdktf.out"))
    assert str(failed.value) == (
        'cannot read output workspace_url of risk-dev-account: Error: Output "workspace_url" not found'
    )


def test_output_of_a_stack_without_state_fails_instead_of_returning_terraforms_warning():
    """Terraform 1.11 (`terraform output -raw NAME` with no state, or a state without outputs) exits 0 and
    prints its warning on stdout (checked on this machine's terraform v1.11.4: views/output.go, OutputRaw: no
    outputs -> noOutputsWarning). The warning is not the value: `platform bundle-targets` wrote it as a
    target's workspace host for an env that was never deployed."""
    warning = (
        "\nWarning: No outputs found\n\nThe state file either has no outputs defined, or all the defined outputs"
        " are\nempty. Please define an output in your configuration with the `output`\n"
    )
    launcher = Launcher(done(0), done(0, stdout=warning))
    runner = CdktfRunner(run=launcher)
    with pytest.raises(OperationFailed) as failed:
        runner.output("pricing-dev-workspace", "bundle_workspace_host", outdir=Path("cdktf.out"))
    assert str(failed.value) == (
        "cannot read output bundle_workspace_host of pricing-dev-workspace: "
        'Error: Output "bundle_workspace_host" not found (the state has no outputs)'
    )


@pytest.mark.parametrize(
    ("pulled", "expected"),
    [
        ("", False),  # no state at all: terraform prints nothing
        (json.dumps({"version": 4, "resources": []}), False),  # state left empty by a destroy
        (json.dumps({"version": 4, "resources": [{"mode": "data", "type": "x", "name": "y"}]}), False),
        (STATE_WITH_RESOURCES, True),
    ],
)
def test_only_managed_resources_count_as_state(pulled, expected):
    assert state_has_resources(pulled) is expected


def test_a_failing_init_is_reported_with_terraforms_error_line():
    stderr = (
        "There are some problems with the CLI configuration:\n"
        "╷\n│ Error: Failed to get existing workspaces: storage account not found\n│\n╵\n"
    )
    runner = CdktfRunner(run=Launcher(done(1, stderr=stderr)))
    with pytest.raises(OperationFailed) as failed:
        runner.has_state("churn-pr1-workspace", outdir=Path("cdktf.out"))
    assert str(failed.value) == (
        "cannot read the state of churn-pr1-workspace: terraform init failed: "
        "Error: Failed to get existing workspaces: storage account not found"
    )


def not_installed(argv, **kwargs):
    raise FileNotFoundError(2, "No such file or directory", argv[0])


def test_a_missing_terraform_or_npx_is_one_line_naming_it():
    runner = CdktfRunner(run=not_installed, stream=not_installed)
    with pytest.raises(MissingTool) as missing:
        runner.has_state("churn-pr1-platform", outdir=Path("cdktf.out"))
    assert str(missing.value) == "terraform: not found on PATH; install Terraform >= 1.7"
    command = StackCommand("deploy", "churn-dev-platform", Path("cdktf.out"), auto_approve=True)
    with pytest.raises(MissingTool, match=r"^npx: not found on PATH; install Node >= 20, then `make setup`"):
        runner.run(command)


def test_require_looks_the_tools_up_on_path(tmp_path, monkeypatch):
    (tmp_path / "terraform").write_text('#!/bin/sh\necho \'{"terraform_version": "1.11.4"}\'\n')
    (tmp_path / "terraform").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    CdktfRunner().require("terraform")
    with pytest.raises(MissingTool, match=r"^npx: not found on PATH"):
        CdktfRunner().require("terraform", "npx")


# Stands in for `npx cdktf deploy`: on SIGINT it takes a moment to stop (terraform writing its state and
# releasing the lock) before it exits.
SLOW_TO_STOP_NPX = """#!{python}
import pathlib, signal, sys, time
def stop(*_):
    time.sleep(1.5)
    pathlib.Path({stopped!r}).write_text("state written, lock released")
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
pathlib.Path({ready!r}).write_text("deploying")
time.sleep(60)
"""

DEPLOY_DRIVER = """
import signal, sys
from pathlib import Path
from infra.lifecycle.runner import CdktfRunner, StackCommand
# A suite started in the background (`make test &`, nohup) runs with SIGINT ignored, and Python then keeps it
# ignored: the driver would never see the Ctrl-C this test sends. Set the terminal's disposition ourselves.
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    CdktfRunner().run(StackCommand("deploy", "churn-dev-platform", Path("cdktf.out"), auto_approve=True))
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_during_a_deploy_lets_cdktf_stop_cleanly_instead_of_killing_it(tmp_path):
    ready, stopped = tmp_path / "ready", tmp_path / "stopped"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npx = bin_dir / "npx"
    npx.write_text(SLOW_TO_STOP_NPX.format(python=sys.executable, ready=str(ready), stopped=str(stopped)))
    npx.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    # its own session: the SIGINT a terminal sends to its foreground group goes to the driver and npx alike
    driver = subprocess.Popen([sys.executable, "-c", textwrap.dedent(DEPLOY_DRIVER)], env=env,
                              start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline and driver.poll() is None, "the fake cdktf never started"
            time.sleep(0.05)
        os.killpg(driver.pid, signal.SIGINT)
        assert driver.wait(timeout=30) == 130
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert stopped.read_text() == "state written, lock released"  # not SIGKILLed 0.25 s after Ctrl-C


def test_plan_saves_the_plan_in_the_stack_directory_and_reads_it_back_as_json():
    shown = json.dumps({"format_version": "1.2", "resource_changes": []})
    launcher = Launcher(done(0), done(2, stdout="Plan: 1 to add"), done(0, stdout=shown))
    assert CdktfRunner(run=launcher).plan("risk-dev-platform", outdir=Path("cdktf.out")) == shown
    chdir = "-chdir=cdktf.out/stacks/risk-dev-platform"
    assert [argv for argv, _ in launcher.calls] == [
        ["terraform", chdir, "init", "-input=false", "-no-color"],
        [
            "terraform",
            chdir,
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            "-lock-timeout=10m",
            "-out=tfplan",
        ],
        ["terraform", chdir, "show", "-json", "-no-color", "tfplan"],
    ]


def test_a_plan_terraform_cannot_make_is_one_line_with_its_error():
    error = '╷\n│ Error: Unsupported argument\n│\n│ An argument named "bogus" is not expected here.\n╵\n'
    runner = CdktfRunner(run=Launcher(done(0), done(1, stderr=error)))
    with pytest.raises(OperationFailed) as failed:
        runner.plan("risk-dev-platform", outdir=Path("cdktf.out"))
    assert str(failed.value) == "cannot plan risk-dev-platform: Error: Unsupported argument"


def test_apply_plan_applies_the_saved_plan_with_output_streaming_and_fails_on_a_nonzero_exit():
    captured, streamed = Launcher(done(0), done(0)), Launcher(done(0), done(1))
    runner = CdktfRunner(run=captured, stream=streamed)
    runner.apply_plan("risk-dev-platform", outdir=Path("cdktf.out"))
    assert streamed.calls[0] == (
        [
            "terraform",
            "-chdir=cdktf.out/stacks/risk-dev-platform",
            "apply",
            "-input=false",
            "-lock-timeout=10m",
            "tfplan",
        ],
        {},
    )
    with pytest.raises(
        OperationFailed, match=r"^terraform apply tfplan of risk-dev-platform failed \(exit 1\)$"
    ):
        runner.apply_plan("risk-dev-platform", outdir=Path("cdktf.out"))


@pytest.mark.parametrize(
    ("shown", "problem"),
    [
        (done(0, stdout='{"terraform_version": "1.11.4", "platform": "linux_amd64"}'), None),
        (done(0, stdout='{"terraform_version": "1.4.7"}'), "terraform: Terraform 1.4.7 is too old"),
        # `removed` blocks (a team that left the churn preset in a protected env) are Terraform 1.7's
        (done(0, stdout='{"terraform_version": "1.6.6"}'), "terraform: Terraform 1.6.6 is too old"),
        (done(1, stderr="flag provided but not defined: -json"), "terraform: cannot tell its version"),
    ],
)
def test_require_checks_the_terraform_version(tmp_path, monkeypatch, shown, problem):
    (tmp_path / "terraform").write_text("#!/bin/sh\n")
    (tmp_path / "terraform").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    launcher = Launcher(shown)
    runner = CdktfRunner(run=launcher)
    if problem is None:
        runner.require("terraform")
    else:
        with pytest.raises(MissingTool) as refused:
            runner.require("terraform")
        assert str(refused.value).startswith(problem) and str(refused.value).endswith(
            "install Terraform >= 1.7"
        )
    assert launcher.calls[0][0] == ["terraform", "version", "-json"]


# A deploy holding the output lock, as rollout.execute runs it.
LOCKED_DEPLOY_DRIVER = """
import sys
from pathlib import Path
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.runner import CdktfRunner, StackCommand
outdir = Path(sys.argv[1])
with exclusive_outdir(outdir, purpose="deploy churn/dev"):
    CdktfRunner().run(StackCommand("deploy", "churn-dev-platform", outdir, auto_approve=True))
"""
# Stands in for `npx cdktf deploy`: applies for a while, and goes on when the platform CLI is killed.
APPLYING_NPX = """#!/bin/sh
echo $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile}
exec sleep 60
"""


def test_a_deploy_killed_while_cdktf_applies_keeps_the_output_locked_until_cdktf_ends(tmp_path):
    from infra.lifecycle.lock import lock_path

    outdir, pidfile, bin_dir = tmp_path / "cdktf.out", tmp_path / "npx.pid", tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npx").write_text(APPLYING_NPX.format(pidfile=pidfile))
    (bin_dir / "npx").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    driver = subprocess.Popen([sys.executable, "-c", LOCKED_DEPLOY_DRIVER, str(outdir)], env=env)
    npx = None
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists():
            assert time.monotonic() < deadline and driver.poll() is None, "the fake cdktf never started"
            time.sleep(0.05)
        npx = int(pidfile.read_text())
        driver.kill()  # SIGKILL (OOM killer, `kill -9`): cdktf and terraform go on applying in cdktf.out
        driver.wait(timeout=10)
        fd = os.open(lock_path(outdir), os.O_RDWR)
        try:
            # the next deploy/synth must not replace cdktf.out under the running terraform
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.kill(npx, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while True:  # released as soon as cdktf ends
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    assert time.monotonic() < deadline, "the lock outlived the cdktf that held it"
                    time.sleep(0.05)
        finally:
            os.close(fd)
    finally:
        if driver.poll() is None:
            driver.kill()
        if npx is not None and _is_fake_npx(npx):
            os.kill(npx, signal.SIGKILL)


def _is_fake_npx(pid: int) -> bool:
    """Whether ``pid`` is still the fake cdktf this test started (never signal a pid reused since)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"60"]
    except FileNotFoundError:
        return False
