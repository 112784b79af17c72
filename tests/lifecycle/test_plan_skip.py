"""`platform plan --skip account` where a later stack reads the skipped one.

An AWS env's account stack creates the workspace (databricks_mws_workspaces); the workspace stack's provider host is
its `workspace_url` output. Skipped and never applied, the workspace stack has no workspace to plan against: it
waits for the account stack, as it would for any stack that is not deployed, instead of failing in Terraform.
An Azure account stack only attaches a policy; nothing reads it, so the workspace stack is still planned.
"""

import json


def test_an_aws_workspace_stack_waits_for_a_skipped_account_stack_that_was_never_applied(cli, fakes):
    fakes.runner.stacks_with_state |= {"risk-dev-platform"}
    result = cli("plan", "risk/dev", "--json", "--no-lock", "--skip", "account")
    assert result.code == 0, result.err
    platform, account, workspace = json.loads(result.out)["stacks"]
    assert (platform["status"], account["status"]) == ("planned", "skipped")
    assert (workspace["status"], workspace["waits_for"]) == ("waiting", "risk-dev-account")
    assert "plan risk-dev-workspace without the lock" not in fakes.events


def test_an_aws_workspace_stack_is_planned_when_the_skipped_account_stack_is_deployed(cli, fakes):
    fakes.runner.stacks_with_state |= {"risk-dev-platform", "risk-dev-account", "risk-dev-workspace"}
    result = cli("plan", "risk/dev", "--json", "--no-lock", "--skip", "account")
    assert result.code == 0, result.err
    assert [s["status"] for s in json.loads(result.out)["stacks"]] == ["planned", "skipped", "planned"]


def test_an_azure_workspace_stack_is_planned_even_before_its_account_stack_exists(cli, fakes):
    """A pull request that turns restricted_egress on: the account stack is new, the workspace stack reads none of
    it."""
    fakes.runner.stacks_with_state |= {"churn-prod-platform", "churn-prod-workspace"}
    result = cli("plan", "churn/prod", "--json", "--no-lock", "--skip", "account")
    assert result.code == 0, result.err
    assert [s["status"] for s in json.loads(result.out)["stacks"]] == ["planned", "skipped", "planned"]
