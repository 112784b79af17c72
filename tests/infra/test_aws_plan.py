"""`platform plan`'s engine against the AWS platform stack with real Terraform and moto: the summary is read from
the real `terraform show -json` of a saved plan, the stacks after an undeployed platform stack wait for it, the
saved plan applies as shown, and a renamed bucket is called out as the replacement of a stateful resource."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess

import pytest

from infra.lifecycle.plan import plan_stacks
from infra.lifecycle.runner import PLAN_FILE, CdktfRunner, run_until_stopped
from tests.terraform_moto import MotoServer, TerraformDir, locate_tools

TEAM_ENV = ("risk-dev-platform", "risk-dev-account", "risk-dev-workspace")


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


def test_plan_summarizes_real_terraform_plans_and_the_saved_plan_applies(synthesized, moto, tmp_path):
    outdir = tmp_path / "cdktf.out"
    stack_dir = outdir / "stacks" / TEAM_ENV[0]
    shutil.copytree(synthesized.outdir / "stacks" / TEAM_ENV[0], stack_dir)
    stack = TerraformDir(locate_tools(), stack_dir, tmp_path, moto, in_place=True)
    stack.write_override()
    # The lifecycle's own runner, launching the located terraform with the moto test environment.
    environ = stack.environ() | {"PATH": f"{stack.tools.terraform.parent}:{stack.environ()['PATH']}"}
    runner = CdktfRunner(
        run=functools.partial(subprocess.run, env=environ),
        stream=functools.partial(run_until_stopped, env=environ, stdout=subprocess.DEVNULL),
    )

    def runner_plan(name: str):
        return runner.plan(name, outdir=outdir), outdir / "stacks" / name / PLAN_FILE

    first = plan_stacks(TEAM_ENV, runner_plan)
    platform, account, workspace = first
    assert platform.status == "planned" and not platform.deployed
    assert platform.counts["add"]["aws_s3_bucket"] >= 1 and platform.counts["add"]["aws_vpc"] == 1
    assert platform.counts["change"] == platform.counts["replace"] == platform.counts["destroy"] == {}
    assert platform.flagged == []
    # the account stack reads the platform stack's VPC and roles: nothing to plan against yet
    assert (account.status, account.waits_for) == ("waiting", TEAM_ENV[0])
    assert (workspace.status, workspace.waits_for) == ("waiting", TEAM_ENV[0])

    runner.apply_plan(TEAM_ENV[0], outdir=outdir)  # exactly the plan that was summarized
    (clean,) = plan_stacks(TEAM_ENV[:1], runner_plan)
    assert clean.deployed and not clean.has_changes

    document = json.loads((stack_dir / "cdk.tf.json").read_text())
    (address, bucket), *_ = document["resource"]["aws_s3_bucket"].items()
    # `bucket` forces a new resource (terraform-provider-aws v5.100.0, website/docs/r/s3_bucket.html.markdown)
    bucket["bucket"] = f"{bucket['bucket']}-renamed"
    (stack_dir / "cdk.tf.json").write_text(json.dumps(document))
    (renamed,) = plan_stacks(TEAM_ENV[:1], runner_plan)
    # the bucket's policy, versioning, encryption... follow it; only the bucket itself holds data
    assert (
        renamed.counts["replace"]["aws_s3_bucket"] == 1
        and renamed.counts["replace"]["aws_s3_bucket_policy"] == 1
    )
    assert [(f.address, f.kind) for f in renamed.flagged] == [(f"aws_s3_bucket.{address}", "replace")]
    assert renamed.describe()[1] == f"  ! replace aws_s3_bucket.{address} (holds data or identity)"
