"""One deploy, destroy, env up/down, reap or synth at a time per output directory, and no stale locks."""

import os
import signal
import subprocess
import sys
import time

import pytest

from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.lock import exclusive_outdir, lock_path
from tests.lifecycle.fakes import ephemeral_group


def test_a_deploy_while_another_command_holds_the_outdir_fails_and_touches_nothing(cli, fakes):
    with exclusive_outdir(fakes.outdir, purpose="destroy churn/prod"):
        result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 1
    [line] = result.err_lines
    assert line.startswith(
        f"error: {fakes.outdir} is in use by pid {os.getpid()} (destroy churn/prod, since "
    )
    assert "wait for it to finish" in line
    assert fakes.nothing_happened(), fakes.events


def test_env_down_and_reap_wait_their_turn_too(cli, fakes):
    fakes.groups.groups = [ephemeral_group(env="pr42", expires="2026-11-22T00:00:00Z")]
    fakes.runner.stacks_with_state = {"churn-pr42-workspace", "churn-pr42-platform"}
    with exclusive_outdir(fakes.outdir, purpose="deploy churn/dev"):
        down = cli("env", "down", "pr42")
        reap = cli("env", "reap")
    assert down.code == 1 and "in use by" in down.err
    assert reap.code == 1 and "in use by" in reap.out  # reap reports each env it could not tear down
    assert not [e for e in fakes.events if e.startswith(("synth", "destroy"))], fakes.events


def test_the_lock_is_released_after_a_command_and_after_a_failure(cli, fakes):
    assert cli("deploy", "churn/dev", "--auto-approve").code == 0
    fakes.runner.failing = {"churn-dev-platform"}
    assert cli("deploy", "churn/dev", "--auto-approve").code == 1
    fakes.runner.failing = set()
    assert cli("deploy", "churn/dev", "--auto-approve").code == 0
    assert lock_path(fakes.outdir).read_text() == "", "the holder's note is cleared on release"


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    outdir = tmp_path / "cdktf.out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from infra.lifecycle.lock import exclusive_outdir\n"
            "with exclusive_outdir(Path(sys.argv[1]), purpose='deploy churn/dev'):\n"
            "    print('held', flush=True); time.sleep(60)",
            str(outdir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = pytest.raises(OperationFailed, match=rf"in use by pid {holder.pid} \(deploy churn/dev")
        with busy, exclusive_outdir(outdir, purpose="synth"):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    deadline = time.monotonic() + 10
    with exclusive_outdir(outdir, purpose="synth"):  # the kernel dropped the dead holder's lock
        assert time.monotonic() < deadline


def test_platform_synth_refuses_an_outdir_in_use(tmp_path, capsys):
    from infra.cli.main import main

    out = tmp_path / "cdktf.out"
    wheel = tmp_path / "churn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"stand-in")
    with exclusive_outdir(out, purpose="deploy churn/dev"), pytest.raises(SystemExit) as exited:
        main(["synth", "--out", str(out), "--wheel", str(wheel)])
    assert exited.value.code == 1
    assert "in use by" in capsys.readouterr().err
    assert not out.exists()
