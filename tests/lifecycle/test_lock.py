"""One command that writes the stacks at a time per output directory, and no stale locks."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.lock import exclusive_outdir, lock_path
from tests.lifecycle.fakes import ephemeral_group, outdir_locked

ROOT = Path(__file__).resolve().parents[2]


LIFECYCLE_COMMANDS = [
    ("deploy", "churn/dev", "--auto-approve"),
    ("destroy", "churn/staging", "--auto-approve"),
    ("env", "up", "pr7", "--from", "churn/dev"),
    ("env", "down", "pr42"),
    ("env", "reap"),
]


@pytest.fixture
def pr42_expired_with_state(fakes):
    fakes.groups.groups = [ephemeral_group(env="pr42", expires="2026-11-22T00:00:00Z")]
    fakes.runner.stacks_with_state = {"churn-pr42-workspace", "churn-pr42-platform"}


@pytest.mark.parametrize("args", LIFECYCLE_COMMANDS, ids=" ".join)
def test_every_step_of_a_lifecycle_command_runs_under_the_lock(cli, fakes, pr42_expired_with_state, args):
    result = cli(*args)
    assert result.code == 0, result.err
    assert fakes.events[0] == "build wheel"  # the wheel build writes dist/: it is one of the steps
    assert len(fakes.events) >= 4
    assert fakes.events.unlocked == [], f"ran without holding {fakes.outdir}.lock"


@pytest.mark.parametrize("args", LIFECYCLE_COMMANDS, ids=" ".join)
def test_a_command_waits_its_turn_and_touches_nothing(cli, fakes, pr42_expired_with_state, args):
    with exclusive_outdir(fakes.outdir, purpose="deploy churn/prod"):
        result = cli(*args)
    assert result.code == 1
    [line] = result.err_lines
    assert line.startswith(f"error: {fakes.outdir} is in use by pid {os.getpid()} (deploy churn/prod, since ")
    assert "wait for it to finish" in line
    assert fakes.nothing_happened(), fakes.events


def test_platform_synth_builds_the_wheel_and_synthesizes_under_the_lock(tmp_path, capsys, monkeypatch):
    from infra.cli.main import main

    out = tmp_path / "cdktf.out"
    steps = []

    def build_wheel():
        steps.append(("build wheel", outdir_locked(out)))
        wheel = tmp_path / "dist" / "churn-0.1.0-py3-none-any.whl"
        wheel.parent.mkdir(exist_ok=True)
        wheel.write_bytes(b"wheel")
        return wheel

    def synth_to(config, *, out, wheel):
        steps.append(("synth", outdir_locked(out)))
        return []

    monkeypatch.setattr("infra.wheel.build_wheel", build_wheel)
    monkeypatch.setattr("infra.cli.synth.synth_to", synth_to)
    with pytest.raises(SystemExit) as exited:
        main(["synth", "--config", str(ROOT / "platform.yaml"), "--out", str(out)])
    assert exited.value.code == 0, capsys.readouterr().err
    assert steps == [("build wheel", True), ("synth", True)]


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
    with exclusive_outdir(outdir, purpose="synth"):  # the kernel dropped the dead holder's lock
        assert outdir_locked(outdir)


def test_platform_synth_refuses_an_outdir_in_use(tmp_path, capsys):
    from infra.cli.main import main

    out = tmp_path / "cdktf.out"
    wheel = tmp_path / "churn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"stand-in")
    with exclusive_outdir(out, purpose="deploy churn/dev"), pytest.raises(SystemExit) as exited:
        # the config named: the suite may run from anywhere (and with any $PLATFORM_CONFIG)
        main(["synth", "--config", str(ROOT / "platform.yaml"), "--out", str(out), "--wheel", str(wheel)])
    assert exited.value.code == 1
    assert "in use by" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("kind", ["a file of the user's", "a symlink"])
def test_a_lock_path_that_is_not_a_lock_of_ours_is_refused_and_left_alone(tmp_path, kind):
    outdir = tmp_path / "poetry"
    users = tmp_path / "poetry.lock"  # a file of the user's that happens to sit at <outdir>.lock
    if kind == "a symlink":
        notes = tmp_path / "notes.txt"
        notes.write_text("keep me")
        users.symlink_to(notes)
    else:
        users.write_text("[[package]]\nname = 'keep-me'\n")
    before = users.read_text()
    refused = pytest.raises(OperationFailed, match=r"poetry\.lock .*(symlink|something other)")
    with refused, exclusive_outdir(outdir, purpose="deploy churn/dev"):
        pytest.fail("ran under a lock file that is not ours")
    assert users.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["poetry.lock", *(["notes.txt"] * (kind == "a symlink"))]
    )


def test_a_lock_file_left_by_a_killed_holder_is_still_ours(tmp_path):
    outdir = tmp_path / "cdktf.out"
    lock_path(outdir).write_text("pid 4242 (deploy churn/dev, since 2026-12-06 01:00 UTC)")
    with exclusive_outdir(outdir, purpose="synth"):
        assert lock_path(outdir).read_text().startswith(f"pid {os.getpid()} (synth, ")
