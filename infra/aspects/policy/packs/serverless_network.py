"""The network of a workspace's serverless compute (config `serverless.restricted_egress`, default in prod).

Anchored on the workspace resource of the stack that creates it (`azurerm_databricks_workspace` in an Azure platform
stack, `databricks_mws_workspaces` in an AWS account stack): where the env asks for restricted serverless egress, the
same stack must attach an enforced, restricted account network policy to that workspace. Without the attachment the
workspace keeps the account's `default-policy` (databricks v1.99.0 docs/resources/account_network_policy.md), which
allows any destination unless someone changed it by hand.
"""

from __future__ import annotations

from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, first_block, reference


def _restricted(policy: dict[str, Any]) -> str | None:
    access = first_block(first_block(policy.get("egress")).get("network_access"))
    if access.get("restriction_mode") != "RESTRICTED_ACCESS":
        return f"restriction_mode is {access.get('restriction_mode')!r}, must be 'RESTRICTED_ACCESS'"
    mode = first_block(access.get("policy_enforcement")).get("enforcement_mode")
    if mode != "ENFORCED":
        return f"enforcement_mode is {mode!r}, must be 'ENFORCED' (DRY_RUN only logs)"
    return None


def _restricted_policy_attached(_: dict[str, Any], ctx: RuleContext) -> str | None:
    if not ctx.team_env.settings.serverless.restricted_egress:
        return None
    workspace_id = reference(ctx.address, "workspace_id")
    policies = {
        block.address: block.config for block in ctx.stack.resources("databricks_account_network_policy")
    }
    options = [
        block.config
        for block in ctx.stack.resources("databricks_workspace_network_option")
        if str(block.config.get("workspace_id")) == workspace_id
    ]
    if not options:
        return (
            "serverless.restricted_egress asks for a restricted network policy, but no "
            "databricks_workspace_network_option attaches one to this workspace"
        )
    problems = []
    for option in options:
        policy_ref = str(option.get("network_policy_id"))
        address = next((a for a in policies if policy_ref == reference(a, "network_policy_id")), None)
        if address is None:
            problems.append(
                f"the attached policy {policy_ref!r} is not an account network policy of this stack"
            )
        elif problem := _restricted(policies[address]):
            problems.append(f"{address}: {problem}")
    return "serverless network policy: " + "; ".join(problems) if problems else None


SERVERLESS_NETWORK = RulePack(
    "serverless-network",
    (
        Rule(
            "PLAT-DBX-SERVERLESS-2",
            ("azurerm_databricks_workspace", "databricks_mws_workspaces"),
            "a workspace whose env asks for restricted serverless egress (prod by default) has an enforced, "
            "restricted account network policy attached in the stack that creates it",
            _restricted_policy_attached,
        ),
    ),
)
