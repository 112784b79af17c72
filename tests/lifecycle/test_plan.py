"""`platform plan TEAM/ENV`: each stack planned in deploy order through the runner, summarized by kind and
resource type, stateful replacements and destroys first; with fakes for Terraform (tests/infra/test_aws_plan.py
runs the same against moto with real Terraform)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from infra.lifecycle.plan import SKIP_REASONS, StackPlan, TeamEnvPlan, kind_of, summarize
from infra.lifecycle.runner import StateVersion
from tests.lifecycle.fakes import fake_state_version, plan_json, write_plan_file

CHANGES = [
    ("azurerm_subnet.host", ["create"]),
    ("azurerm_subnet.container", ["create"]),
    ("azurerm_network_security_group.nsg", ["update"]),
    ("azurerm_storage_account.lake", ["delete", "create"]),
    ("azurerm_key_vault.vault", ["delete"]),
    ("azurerm_monitor_diagnostic_setting.logs", ["create", "delete"]),
    ("azurerm_resource_group.rg", ["no-op"]),
    ("data.azurerm_client_config.current", ["read"]),
]


def test_terraform_actions_map_to_one_kind_each():
    assert kind_of(["create"]) == "add"
    assert kind_of(["update"]) == "change"
    assert kind_of(["delete", "create"]) == kind_of(["create", "delete"]) == "replace"
    assert kind_of(["delete"]) == "destroy"
    assert kind_of(["no-op"]) is kind_of(["read"]) is kind_of(["forget"]) is None


def test_summary_counts_by_type_and_calls_out_stateful_destroys_and_replacements_first():
    summary = summarize("churn-dev-platform", json.dumps(plan_json(deployed=True, changes=CHANGES)))
    assert summary.deployed and summary.has_changes
    assert summary.counts == {
        "add": {"azurerm_subnet": 2},
        "change": {"azurerm_network_security_group": 1},
        "replace": {"azurerm_storage_account": 1, "azurerm_monitor_diagnostic_setting": 1},
        "destroy": {"azurerm_key_vault": 1},
    }
    assert summary.describe() == [
        "churn-dev-platform: 2 to add, 1 to change, 2 to replace, 1 to destroy",
        "  ! destroy azurerm_key_vault.vault (holds data or identity)",
        "  ! replace azurerm_storage_account.lake (holds data or identity)",
        "  add 2 azurerm_subnet",
        "  change 1 azurerm_network_security_group",
        "  replace 1 azurerm_monitor_diagnostic_setting",
        "  replace 1 azurerm_storage_account",
        "  destroy 1 azurerm_key_vault",
    ]


def test_a_plan_without_changes_or_prior_state():
    empty = summarize("churn-dev-platform", json.dumps(plan_json(deployed=False)))
    assert not empty.deployed and not empty.has_changes
    assert empty.describe() == ["churn-dev-platform: no changes"]


# --- the command, on the fakes -----------------------------------------------------------------------------


def test_plan_synthesizes_then_plans_each_stack_in_deploy_order(cli, fakes):
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    fakes.runner.plans["churn-dev-workspace"] = plan_json(
        deployed=True, changes=[("databricks_registered_model.churn", ["delete", "create"])]
    )
    result = cli("plan", "churn/dev")
    assert result.code == 0, result.err
    assert fakes.events == [
        "build wheel",
        "synth churn-dev-platform churn-dev-workspace",
        "plan churn-dev-platform",
        "plan churn-dev-workspace",
    ]
    assert fakes.events.unlocked == []  # the output directory is held while its stacks are planned
    assert result.out.splitlines()[-4:] == [
        "churn-dev-platform: no changes",
        "churn-dev-workspace: 0 to add, 0 to change, 1 to replace, 0 to destroy",
        "  ! replace databricks_registered_model.churn (holds data or identity)",
        "  replace 1 databricks_registered_model",
    ]


def test_a_workspace_stack_waits_for_a_platform_stack_that_is_not_deployed(cli, fakes):
    fakes.runner.plans["churn-dev-platform"] = plan_json(
        deployed=False, changes=[("azurerm_databricks_workspace.ws", ["create"])]
    )
    result = cli("plan", "churn/dev", "--json")
    assert result.code == 0, result.err
    assert "plan churn-dev-workspace" not in fakes.events
    shown = json.loads(result.out)  # stdout is the JSON alone; progress went to stderr
    assert shown["version"] == 1 and shown["target"] == "churn/dev" and shown["has_changes"] is True
    platform, workspace = shown["stacks"]
    assert platform == {
        "stack": "churn-dev-platform",
        "status": "planned",
        "deployed": False,
        "waits_for": None,
        "skipped_because": None,
        "has_changes": True,
        "flagged": [],
        "add": {"azurerm_databricks_workspace": 1},
        "change": {},
        "replace": {},
        "destroy": {},
        "outputs": [],
        "plan_file": str(fakes.outdir / "stacks" / "churn-dev-platform" / "tfplan"),
        "stack_sha256": hashlib.sha256(b'{"churn-dev-platform": 1}').hexdigest(),  # what the fake synth wrote
    }
    assert workspace["status"] == "waiting" and workspace["waits_for"] == "churn-dev-platform"
    assert "planning churn-dev-platform" in result.err


def test_an_aws_env_plans_platform_account_then_workspace(cli, fakes):
    fakes.runner.stacks_with_state |= {"risk-dev-platform", "risk-dev-account", "risk-dev-workspace"}
    result = cli("plan", "risk/dev", "--json")
    assert result.code == 0, result.err
    assert [s["stack"] for s in json.loads(result.out)["stacks"]] == [
        "risk-dev-platform",
        "risk-dev-account",
        "risk-dev-workspace",
    ]
    assert fakes.events[2:] == ["plan risk-dev-platform", "plan risk-dev-account", "plan risk-dev-workspace"]


def test_fail_on_changes_is_a_verdict_after_the_summary(cli, fakes):
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    fakes.runner.plans["churn-dev-platform"] = plan_json(
        deployed=True, changes=[("azurerm_storage_account.lake", ["update"])]
    )
    result = cli("plan", "churn/dev", "--json", "--fail-on-changes")
    assert result.code == 1
    assert json.loads(result.out)["stacks"][0]["change"] == {"azurerm_storage_account": 1}
    assert result.err_lines[-1] == "error: churn/dev: churn-dev-platform would change"
    fakes.runner.plans.clear()
    assert cli("plan", "churn/dev", "--fail-on-changes").code == 0


def test_a_failing_plan_is_one_line_exit_1_and_terraform_is_checked_before_building(cli, fakes):
    fakes.runner.stacks_with_state.add("churn-dev-platform")
    fakes.runner.failing.add("churn-dev-workspace")
    result = cli("plan", "churn/dev")
    assert result.code == 1 and result.err_lines == [
        "error: cannot plan churn-dev-workspace: Error: Unsupported argument"
    ]
    fakes.events.clear()
    fakes.runner.missing.add("terraform")
    missing = cli("plan", "churn/staging")
    assert missing.code == 2 and missing.err_lines[-1].startswith("error: terraform: not found on PATH")
    assert fakes.events == []


def test_an_unknown_target_is_refused_before_anything_runs(cli, fakes):
    result = cli("plan", "churn/qa")
    assert result.code == 2 and len(result.err_lines) == 1 and "no environment 'qa'" in result.err
    assert fakes.nothing_happened()


# --- platform apply: exactly the saved plans ---------------------------------------------------------------


def saved_plan(cli, fakes, tmp_path, target="churn/dev"):
    """Run `platform plan TARGET --json` and keep what a CI plan job uploads: plan.json and each tfplan."""
    result = cli("plan", target, "--json")
    assert result.code == 0, result.err
    kept = tmp_path / "planned"
    (kept / "stacks").mkdir(parents=True)
    (kept / "plan.json").write_text(result.out)
    for stack in json.loads(result.out)["stacks"]:
        if stack["status"] == "planned":
            (kept / "stacks" / stack["stack"]).mkdir()
            made_from = fake_state_version(stack["stack"], deployed=stack["deployed"])
            write_plan_file(
                kept / "stacks" / stack["stack"] / "tfplan",
                made_from=made_from,
                content=f"saved plan of {stack['stack']}",
            )
    fakes.events.clear()
    return kept


def test_apply_applies_exactly_the_saved_plans_in_order_after_the_preflight(cli, fakes, tmp_path):
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    kept = saved_plan(cli, fakes, tmp_path)
    result = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert result.code == 0, result.err
    assert fakes.events == [
        "build wheel",
        "synth churn-dev-platform churn-dev-workspace",
        "serial? churn-dev-platform",
        "serial? churn-dev-workspace",
        "apply churn-dev-platform saved plan of churn-dev-platform",
        "apply churn-dev-workspace saved plan of churn-dev-workspace",
    ]
    assert fakes.workspace_urls == [None]  # the Unity Catalog preflight ran before the workspace stack
    assert result.out.splitlines()[-1] == "applied churn-dev-platform, churn-dev-workspace of churn/dev"


def test_apply_refuses_every_stack_when_one_changed_since_its_plan(cli, fakes, tmp_path):
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    kept = saved_plan(cli, fakes, tmp_path)
    fakes.stack_documents["churn-dev-workspace"] = '{"churn-dev-workspace": 2}'  # the code moved on
    result = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert result.code == 1
    assert result.err_lines == [
        "error: churn-dev-workspace changed since the plan was shown; nothing was applied: plan again"
    ]
    assert not [event for event in fakes.events if event.startswith("apply ")]


def test_apply_leaves_waiting_stacks_for_the_next_plan(cli, fakes, tmp_path):
    kept = saved_plan(cli, fakes, tmp_path)  # nothing deployed: the workspace stack waits
    result = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert result.code == 0, result.err
    assert [e for e in fakes.events if e.startswith("apply ")] == [
        "apply churn-dev-platform saved plan of churn-dev-platform"
    ]
    assert result.err_lines == [
        "warning: churn-dev-workspace was not planned (it needed churn-dev-platform deployed first): "
        "plan and apply again to deploy it"
    ]


def test_apply_refuses_a_plan_of_another_env_or_a_missing_one_before_anything_runs(cli, fakes, tmp_path):
    kept = saved_plan(cli, fakes, tmp_path)
    other = cli("apply", "churn/staging", "--plan-dir", str(kept))
    assert other.code == 2 and other.err_lines == [
        f"error: --plan-dir: {kept}/plan.json is the plan of churn/dev, not churn/staging"
    ]
    (kept / "stacks" / "churn-dev-platform" / "tfplan").unlink()
    missing = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert missing.code == 2 and "no saved plan for churn-dev-platform" in missing.err
    assert fakes.events == []


# --- output changes: what later stacks read through terraform_remote_state --------------------------------


def test_a_plan_that_only_changes_outputs_has_changes_like_terraforms_exit_code():
    # Terraform 1.11.4, checked on this machine: a plan whose only change is a new root output exits 2 under
    # -detailed-exitcode, with `output_changes.<name>.actions == ["create"]` and every resource `no-op`.
    planned = plan_json(
        deployed=True,
        changes=[("azurerm_resource_group.rg", ["no-op"])],
        outputs={"cross-stack-output-lake": ["create"], "workspace_url": ["no-op"]},
    )
    summary = summarize("churn-dev-platform", json.dumps(planned))
    assert summary.has_changes and summary.outputs == ["cross-stack-output-lake"]
    assert summary.describe() == [
        "churn-dev-platform: 0 to add, 0 to change, 0 to replace, 0 to destroy",
        "  outputs change: cross-stack-output-lake",
    ]


def test_a_workspace_stack_waits_while_the_platform_plan_changes_the_outputs_it_reads(cli, fakes):
    # The workspace stack reads the platform's cross-stack outputs from its state (terraform_remote_state): planned
    # now, it would plan against the old values, or fail on an output the state does not have yet.
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    fakes.runner.plans["churn-dev-platform"] = plan_json(
        deployed=True,
        changes=[("azurerm_storage_container.models", ["create"])],
        outputs={"cross-stack-output-azurerm_storage_containermodelsid": ["create"]},
    )
    result = cli("plan", "churn/dev", "--json")
    assert result.code == 0, result.err
    assert "plan churn-dev-workspace" not in fakes.events
    platform, workspace = json.loads(result.out)["stacks"]
    assert platform["outputs"] == ["cross-stack-output-azurerm_storage_containermodelsid"]
    assert workspace["status"] == "waiting" and workspace["waits_for"] == "churn-dev-platform"


def test_apply_refuses_every_stack_when_one_state_moved_since_its_plan(cli, fakes, tmp_path):
    # Terraform would refuse the workspace's stale plan itself ("Saved plan is stale", checked on this machine
    # with Terraform 1.11.4), but only after the platform's plan was applied: half a rollout.
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    kept = saved_plan(cli, fakes, tmp_path)
    fakes.runner.state_versions["churn-dev-workspace"] = StateVersion("lineage-of-churn-dev-workspace", 2)
    result = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert result.code == 1
    assert result.err_lines == [
        "error: the state of churn-dev-workspace (planned at serial 1, now serial 2) changed since the plan was "
        "made; nothing was applied: plan again"
    ]
    assert not [event for event in fakes.events if event.startswith("apply ")]


def test_apply_refuses_a_plan_made_before_the_stack_was_first_deployed_by_someone_else(cli, fakes, tmp_path):
    kept = saved_plan(cli, fakes, tmp_path)  # nothing deployed: the platform's plan was made from no state
    fakes.runner.state_versions["churn-dev-platform"] = StateVersion("another-lineage", 1)
    result = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert result.code == 1 and "churn-dev-platform (planned at serial 0, now serial 1)" in result.err
    assert not [event for event in fakes.events if event.startswith("apply ")]


def test_apply_refuses_a_file_that_is_not_a_terraform_plan_before_anything_runs(cli, fakes, tmp_path):
    kept = saved_plan(cli, fakes, tmp_path)
    (kept / "stacks" / "churn-dev-platform" / "tfplan").write_text("not a plan")
    result = cli("apply", "churn/dev", "--plan-dir", str(kept))
    assert result.code == 2 and len(result.err_lines) == 1
    assert result.err_lines[0].startswith(
        f"error: --plan-dir: {kept}/stacks/churn-dev-platform/tfplan is not a Terraform plan file"
    )
    assert fakes.events == []


@pytest.mark.parametrize(
    "document",
    [
        [1],
        {
            "target": "churn/dev",
            "stacks": [{"stack": "churn-dev-platform"}, {"stack": "churn-dev-workspace"}],
        },
        {
            "target": "churn/dev",
            "stacks": [
                {"stack": "churn-dev-platform", "status": "planned", "stack_sha256": "ab"},
                {"stack": "churn-dev-workspace", "status": "waiting"},
            ],
        },
        {"target": "churn/dev", "stacks": "churn-dev-platform"},
    ],
)
def test_apply_refuses_a_plan_summary_that_is_not_platform_plans_output_in_one_line(
    cli, fakes, tmp_path, document
):
    (tmp_path / "plan.json").write_text(json.dumps(document))
    result = cli("apply", "churn/dev", "--plan-dir", str(tmp_path))
    assert result.code == 2
    assert result.err_lines == [
        f"error: --plan-dir: {tmp_path}/plan.json is not the output of `platform plan --json`"
    ]
    assert fakes.events == []


def test_destroying_logs_table_data_secrets_identities_or_a_catalog_binding_is_called_out():
    changes = [
        ("azurerm_log_analytics_workspace.logs", ["delete"]),
        ("aws_cloudwatch_log_group.flow_logs", ["delete"]),
        ("databricks_sql_table.predictions", ["delete"]),
        ("databricks_secret_scope.team", ["delete"]),
        ("databricks_service_principal.jobs", ["delete", "create"]),
        ("databricks_workspace_binding.catalog", ["delete"]),
        ("databricks_mws_storage_configurations.root", ["delete", "create"]),
        ("databricks_mws_customer_managed_keys.workspace", ["delete"]),
        ("databricks_job.train", ["delete"]),  # recreated from code, holds nothing
    ]
    summary = summarize("risk-dev-workspace", json.dumps(plan_json(deployed=True, changes=changes)))
    assert sorted(f.address for f in summary.flagged) == sorted(address for address, _ in changes[:-1])


def test_the_documented_json_shape_has_exactly_the_fields_plan_prints():
    # docs/operations.md promises "fields are only ever added": a CI step written from the docs must find each.
    docs = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    section = docs[docs.index("## Reviewing a plan") :]
    documented = json.loads(
        section[
            section.index("```json") + len("```json") : section.index("```\n", section.index("```json") + 7)
        ]
    )
    planned = summarize("churn-prod-platform", json.dumps(plan_json(deployed=True)), sha256="ab")
    printed = TeamEnvPlan("churn/prod", [planned]).as_json()
    assert documented.keys() == printed.keys()
    assert documented["stacks"][0].keys() == printed["stacks"][0].keys()


def test_a_preview_plan_takes_no_state_lock(cli, fakes):
    # A pull request's plan is never applied: holding the state lock, it could only fail a deploy's apply.
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    assert cli("plan", "churn/dev", "--no-lock").code == 0
    assert fakes.events[-2:] == [
        "plan churn-dev-platform without the lock",
        "plan churn-dev-workspace without the lock",
    ]
    fakes.events.clear()
    assert cli("plan", "churn/dev").code == 0
    assert fakes.events[-2:] == ["plan churn-dev-platform", "plan churn-dev-workspace"]


def test_a_pull_request_plan_skips_the_azure_account_stack_and_says_why(cli, fakes):
    """The read-only plan identity is no Databricks account admin: `--skip account` (checks.yml) leaves the account
    stack out, reported as skipped, and still plans the workspace stack after it."""
    fakes.runner.stacks_with_state |= {"churn-prod-platform", "churn-prod-account", "churn-prod-workspace"}
    result = cli("plan", "churn/prod", "--json", "--no-lock", "--skip", "account")
    assert result.code == 0, result.err
    assert fakes.events[-2:] == [
        "plan churn-prod-platform without the lock",
        "plan churn-prod-workspace without the lock",
    ]
    platform, account, workspace = json.loads(result.out)["stacks"]
    assert (platform["status"], account["status"], workspace["status"]) == ("planned", "skipped", "planned")
    assert account["stack"] == "churn-prod-account" and account["plan_file"] is None
    assert "only a Databricks account admin can read" in account["skipped_because"]
    assert not account["has_changes"]


def test_skipping_a_component_an_env_does_not_have_plans_the_rest_and_a_typo_is_refused(cli, fakes):
    fakes.runner.stacks_with_state |= {"churn-dev-platform", "churn-dev-workspace"}
    result = cli("plan", "churn/dev", "--skip", "account")
    assert result.code == 0, result.err
    assert fakes.events[-2:] == ["plan churn-dev-platform", "plan churn-dev-workspace"]
    fakes.events.clear()
    result = cli("plan", "churn/dev", "--skip", "acount")
    assert result.code == 2 and result.err_lines == [
        "error: --skip: acount is not a stack component (platform, account, workspace)"
    ]
    assert fakes.events == []  # refused before anything was built


def test_apply_refuses_a_plan_that_skipped_a_stack(cli, fakes, tmp_path):
    fakes.runner.stacks_with_state |= {"churn-prod-platform", "churn-prod-account", "churn-prod-workspace"}
    result = cli("plan", "churn/prod", "--json", "--skip", "account")
    kept = tmp_path / "planned"
    kept.mkdir()
    (kept / "plan.json").write_text(result.out)
    fakes.events.clear()
    result = cli("apply", "churn/prod", "--plan-dir", str(kept))
    assert result.code == 2 and len(result.err_lines) == 1
    assert "left churn-prod-account unplanned (--skip)" in result.err
    assert fakes.events == []  # refused before anything was built


def test_the_pr_summary_says_the_account_stack_was_skipped_and_why():
    import importlib.util

    path = Path(__file__).parents[2] / ".github" / "scripts" / "plan_report.py"
    spec = importlib.util.spec_from_file_location("plan_report", path)
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    skipped = StackPlan(stack="churn-prod-account", status="skipped", skipped_because=SKIP_REASONS["account"])
    planned = summarize("churn-prod-platform", json.dumps(plan_json(deployed=True)), sha256="ab")
    text = report.markdown([TeamEnvPlan("churn/prod", [planned, skipped]).as_json()])
    assert "- `churn-prod-platform`: no changes" in text
    assert (
        "- `churn-prod-account`: not planned (--skip account: account-level resources, which only "
        "a Databricks account admin can read; the deploy plans and applies them with the deploying identity)"
    ) in text
