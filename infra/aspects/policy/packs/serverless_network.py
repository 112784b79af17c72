"""The network of a workspace's serverless compute (config `serverless.restricted_egress`, default in prod).

AWS (PLAT-DBX-SERVERLESS-2): anchored on `databricks_mws_workspaces` in the account stack that creates the workspace;
where the env asks for restricted serverless egress, the same stack must attach an enforced, restricted account network
policy to it. Azure (PLAT-DBX-SERVERLESS-3): the workspace is the platform stack's, the policy and its attachment
are the account stack's (infra/stacks/azure_account_stack.py); the rule is anchored on that stack's `databricks`
provider and asks for an attachment to the workspace ID it reads from the platform stack. PLAT-AZ-ACCOUNT-1 keeps
account-level resources out of the Azure platform stack, which pull requests plan with a read-only identity.
Without the attachment the workspace keeps the account's `default-policy` (databricks v1.99.0
docs/resources/account_network_policy.md), which allows any destination unless someone changed it by hand.
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
    return _attached_to(reference(ctx.address, "workspace_id"), ctx, what="this workspace")


def _attached_to_platform_workspace(config: dict[str, Any], ctx: RuleContext) -> str | None:
    """Azure account stack: the only workspace ID it can attach to is the platform stack's, a cross-stack
    reference (`${data.terraform_remote_state...}`); an attachment to anything else (a literal ID) is wrong. Only
    the account-level provider (its host is the accounts console) anchors it."""
    if not ctx.team_env.settings.serverless.restricted_egress or "//accounts." not in str(config.get("host")):
        return None
    ids = {
        str(block.config.get("workspace_id"))
        for block in ctx.stack.resources("databricks_workspace_network_option")
        if "terraform_remote_state" in str(block.config.get("workspace_id"))
    }
    if not ids:
        return (
            "serverless.restricted_egress asks for a restricted network policy, but no "
            "databricks_workspace_network_option attaches one to the platform stack's workspace"
        )
    problems = [
        problem
        for workspace_id in sorted(ids)
        if (problem := _attached_to(workspace_id, ctx, what="the platform stack's workspace"))
    ]
    return "; ".join(problems) or None


def _no_account_resources(_: dict[str, Any], ctx: RuleContext) -> str | None:
    return (
        f"{ctx.address} is an account-level resource: it belongs in the env's account stack, which only the "
        "deploying identity (an account admin) plans; pull requests plan the platform stack read-only"
    )


def _attached_to(workspace_id: str, ctx: RuleContext, *, what: str) -> str | None:
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
            f"databricks_workspace_network_option attaches one to {what}"
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
            ("databricks_mws_workspaces",),
            "a workspace whose env asks for restricted serverless egress (prod by default) has an enforced, "
            "restricted account network policy attached in the stack that creates it",
            _restricted_policy_attached,
        ),
    ),
)
"""For an AWS account stack."""

AZURE_SERVERLESS_NETWORK = RulePack(
    "azure-serverless-network",
    (
        Rule(
            "PLAT-DBX-SERVERLESS-3",
            ("databricks",),
            "an Azure env that asks for restricted serverless egress (prod by default) attaches an enforced, "
            "restricted account network policy to its platform stack's workspace, in its account stack",
            _attached_to_platform_workspace,
        ),
    ),
)
"""For an Azure account stack (anchored on its account-level `databricks` provider)."""

AZURE_PLATFORM_ACCOUNT_FREE = RulePack(
    "azure-platform-account-free",
    (
        Rule(
            "PLAT-AZ-ACCOUNT-1",
            (
                "databricks_account_network_policy",
                "databricks_workspace_network_option",
                "databricks_mws_network_connectivity_config",
                "databricks_mws_ncc_binding",
            ),
            "an Azure platform stack holds no Databricks account-level resource (they go in the env's account "
            "stack, which pull requests do not plan with their read-only identity)",
            _no_account_resources,
        ),
    ),
)
"""For an Azure platform stack."""
