"""The stale-plan check of `platform apply` against real Terraform: the state a plan file says it was made from
(its `tfstate`) and the current state (`terraform state pull`) are judged stale exactly when Terraform itself
refuses the saved plan ("Saved plan is stale"). `terraform_data` is built into Terraform, so no provider is
installed."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import threading
import time

import pytest

from infra.lifecycle.apply import is_stale, planned_state
from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.runner import PLAN_FILE, CdktfRunner, StateVersion, run_until_stopped

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="needs Terraform on PATH")

STACK = "churn-dev-platform"


def test_a_plan_is_stale_exactly_when_terraform_refuses_it(tmp_path):
    outdir = tmp_path / "cdktf.out"
    stack_dir = outdir / "stacks" / STACK
    stack_dir.mkdir(parents=True)
    runner = CdktfRunner(stream=lambda argv, **kw: run_until_stopped(argv, stdout=subprocess.DEVNULL, **kw))

    def planned(value: str) -> StateVersion:
        """Plan `value` into a kept copy of the saved plan; the state that copy was made from."""
        (stack_dir / "cdk.tf.json").write_text(
            json.dumps({"resource": {"terraform_data": {"marker": {"input": value}}}})
        )
        runner.plan(STACK, outdir=outdir)
        shutil.copy2(stack_dir / PLAN_FILE, tmp_path / f"{value}.tfplan")
        return planned_state(tmp_path / f"{value}.tfplan")

    def apply_kept(value: str) -> None:
        shutil.copy2(tmp_path / f"{value}.tfplan", stack_dir / PLAN_FILE)
        runner.apply_plan(STACK, outdir=outdir)

    first = planned("one")
    assert first == StateVersion("", 0)  # made from no state
    assert not is_stale(first, runner.state_version(STACK, outdir=outdir))
    apply_kept("one")

    deployed = runner.state_version(STACK, outdir=outdir)
    assert deployed.lineage and deployed.serial > 0
    assert is_stale(first, deployed)  # a plan made before the first deploy, applied after it
    with pytest.raises(OperationFailed):
        apply_kept("one")

    second, third = planned("two"), planned("three")  # both made from the deployed state
    assert second == third == deployed
    apply_kept("three")
    assert is_stale(second, runner.state_version(STACK, outdir=outdir))
    with pytest.raises(OperationFailed):  # Terraform agrees: "Saved plan is stale"
        apply_kept("two")


def test_an_apply_waits_for_a_plans_state_lock_and_a_preview_takes_none(tmp_path):
    # A pull request's plan or a drift check holding the state lock must not fail a deploy's apply halfway
    # through a rollout (Terraform's default -lock-timeout is 0s); a preview never applied takes no lock at all.
    outdir = tmp_path / "cdktf.out"
    stack_dir = outdir / "stacks" / STACK
    stack_dir.mkdir(parents=True)
    (stack_dir / "cdk.tf.json").write_text(
        json.dumps({"resource": {"terraform_data": {"m": {"input": "a"}}}})
    )
    runner = CdktfRunner(stream=lambda argv, **kw: run_until_stopped(argv, stdout=subprocess.DEVNULL, **kw))
    runner.plan(STACK, outdir=outdir)
    runner.apply_plan(STACK, outdir=outdir)
    (stack_dir / "cdk.tf.json").write_text(
        json.dumps({"resource": {"terraform_data": {"m": {"input": "b"}}}})
    )
    runner.plan(STACK, outdir=outdir)

    # Another Terraform run holds the lock as the local backend takes it: a POSIX record lock on the state file,
    # and who holds it beside it (without that file Terraform gives up at once, whatever the timeout).
    holder = {"ID": "0-0", "Operation": "OperationTypePlan", "Who": "ci@runner", "Path": "terraform.tfstate"}
    (stack_dir / ".terraform.tfstate.lock.info").write_text(json.dumps(holder))
    with open(stack_dir / "terraform.tfstate", "r+") as state:
        fcntl.lockf(state, fcntl.LOCK_EX | fcntl.LOCK_NB)
        shutil.copy2(stack_dir / PLAN_FILE, tmp_path / "kept.tfplan")
        assert "resource_changes" in runner.plan(STACK, outdir=outdir, lock=False)  # no lock taken
        shutil.copy2(tmp_path / "kept.tfplan", stack_dir / PLAN_FILE)
        threading.Timer(3, fcntl.lockf, args=(state, fcntl.LOCK_UN)).start()  # the other run ends
        started = time.monotonic()
        runner.apply_plan(STACK, outdir=outdir)  # waited for the lock instead of failing
    assert time.monotonic() - started >= 2.5
    assert runner.state_version(STACK, outdir=outdir).serial > 1
