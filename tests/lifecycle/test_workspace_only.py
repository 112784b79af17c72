"""The smallest apply that ships a change under a managed workload's package (ml/ for churn): `--only workspace`
plans, applies or deploys just the env's workspace stack; every stack is still synthesized (the workspace stack
reads the platform stack's outputs). CI picks it for a push that changes only workload packages
(.github/scripts/workload_scope.py, tests/ci/test_workload_scope.py)."""

from __future__ import annotations

import json

from tests.lifecycle.test_cli_lifecycle import assert_refused, cdktf
from tests.lifecycle.test_plan import saved_plan


def test_deploy_only_the_workspace_stack(cli, fakes):
    fakes.runner.stacks_with_state.add("churn-dev-platform")
    result = cli("deploy", "churn/dev", "--only", "workspace", "--auto-approve")
    assert result.code == 0, result.err
    assert fakes.events == [
        "build wheel",
        "synth churn-dev-platform churn-dev-workspace",
        "state? churn-dev-platform",  # what the workspace stack reads has been applied
        "deploy churn-dev-workspace",
    ]
    assert [" ".join(c.argv()) for c in fakes.runner.commands] == [
        cdktf("deploy", "churn-dev-workspace", fakes.outdir)
    ]
    assert fakes.workspace_urls == [None]  # the Unity Catalog preflight still runs before it


def test_dry_run_json_names_only_the_workspace_stack_on_aws_too(cli, fakes):
    result = cli("deploy", "risk/dev", "--only", "workspace", "--dry-run", "--json")
    assert result.code == 0, result.err
    dry = json.loads(result.out)
    assert dry["stacks"] == ["risk-dev-workspace"]
    assert (
        dry["steps"][1]
        == f"synthesize risk-dev-platform, risk-dev-account and risk-dev-workspace into {fakes.outdir}/stacks"
    )


def test_plan_and_apply_only_the_workspace_stack_as_the_ci_does(cli, fakes, tmp_path, monkeypatch):
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    monkeypatch.setenv("PLATFORM_ONLY", "workspace")  # what deploy.yml sets for a workload-only push
    kept = saved_plan(cli, fakes, tmp_path)
    assert [s["stack"] for s in json.loads((kept / "plan.json").read_text())["stacks"]] == [
        "churn-dev-workspace"
    ]
    result = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert result.code == 0, result.err
    assert [e for e in fakes.events if e.startswith("apply ")] == [
        "apply churn-dev-workspace saved plan of churn-dev-workspace"
    ]
    assert result.out.splitlines()[-1] == "applied churn-dev-workspace of churn/dev"
    # A full apply of that plan is refused: it is not the plan of every stack.
    monkeypatch.delenv("PLATFORM_ONLY")
    full = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert full.code == 2
    assert "does not plan churn-dev-platform, churn-dev-workspace in that order" in full.err


def test_an_unknown_stack_is_refused_in_one_line(cli, fakes):
    assert_refused(
        cli("deploy", "churn/dev", "--only", "lake", "--auto-approve"),
        fakes,
        "--only: 'lake' is not a stack of churn/dev (stacks: platform, workspace)",
    )


def test_only_workspace_before_the_platform_stack_was_ever_applied_is_refused_in_one_line(cli, fakes):
    """The workspace stack reads the platform stack's outputs from its state: against no state Terraform fails
    deep in the plan (or cdktf in the deploy), after the wheel build, with nothing that says what to do."""
    for command in (["deploy", "churn/dev", "--only", "workspace", "--auto-approve"], ["plan", "churn/dev"]):
        extra = ["--only", "workspace"] if command[0] == "plan" else []
        result = cli(*command, *extra)
        assert result.code == 2, result.err
        assert result.err.strip().splitlines() == [
            "error: --only: churn-dev-platform has never been applied, so churn-dev-workspace has nothing to "
            "read; deploy churn/dev without --only first"
        ]
        assert not [e for e in fakes.events if e.startswith(("deploy ", "plan "))]


def test_only_workspace_on_aws_needs_the_platform_and_account_stacks_applied(cli, fakes):
    fakes.runner.stacks_with_state.add("risk-dev-platform")
    result = cli("deploy", "risk/dev", "--only", "workspace", "--auto-approve")
    assert result.code == 2
    assert "--only: risk-dev-account has never been applied" in result.err
