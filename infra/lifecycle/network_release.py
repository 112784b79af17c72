"""Before an Azure env's account stack is destroyed: put its workspace back on Databricks' `default-policy`.

An Azure account stack (infra/stacks/azure_account_stack.py) attaches the env's restricted network policy to the
platform stack's workspace, and it is destroyed before the platform stack, so the policy is deleted while the
workspace still stands. Terraform cannot detach it first: the attachment's Delete does nothing (databricks
v1.99.0, internal/providers/pluginfw/products/workspace_network_option/resource_workspace_network_option.go:
`Delete` is empty), so the policy would be deleted while the workspace is still attached to it. Whether the
account API refuses that is not documented; if it does, every `platform destroy`, `env down` and reaper run of such
an env stops there. So the lifecycle attaches the workspace to `default-policy` itself, with the same account API
the provider's Update uses (PUT /api/2.0/accounts/{account_id}/workspaces/{workspace_id}/network, databricks-sdk
`AccountClient.workspace_network_configuration.update_workspace_network_option_rpc`: "To revert to the default
policy, specify 'default-policy' as the network_policy_id"), right before the account stack's destroy: the
restriction holds until the last moment, and when the call fails nothing of the account stack has been touched.

The workspace ID is the `workspace_id` of the attachment in the account stack's own state: no attachment there,
nothing to release (and no call). A workspace the account no longer knows (404) has nothing attached either.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from infra.config import TeamEnv
from infra.lifecycle.account_network import DEFAULT_POLICY, WorkspaceGone
from infra.lifecycle.errors import OperationFailed

if TYPE_CHECKING:
    from pathlib import Path

    from infra.lifecycle.services import Services

OPTION_TYPE = "databricks_workspace_network_option"


def attached_workspaces(state_json: str) -> list[int]:
    """The workspace IDs the attachments in a state (`terraform state pull`) point at a policy."""
    if not state_json.strip():
        return []
    found = []
    for resource in json.loads(state_json).get("resources") or []:
        if resource.get("mode") != "managed" or resource.get("type") != OPTION_TYPE:
            continue
        for instance in resource.get("instances") or []:
            attributes = instance.get("attributes") or {}
            if attributes.get("workspace_id") not in (None, "") and attributes.get(
                "network_policy_id"
            ) not in (None, DEFAULT_POLICY):
                found.append(int(attributes["workspace_id"]))
    return found


def releases_workspace(team_env: TeamEnv, stack: str, action: str) -> bool:
    """Whether running ``action`` on ``stack`` first puts the env's workspace back on `default-policy`:
    - destroying an Azure env's account stack (on AWS the account stack destroys the workspace itself first);
    - deploying an account stack whose env no longer asks for restricted_egress (AWS: the stack stays, and the
      apply deletes the policy while the workspace is still attached to it; an Azure env then has no account
      stack, and account_move.py refuses it).
    Either way only where the stack's state attaches the workspace to a policy (release_workspace)."""
    if team_env.stacks.get("account") != stack:
        return False
    if action == "destroy":
        return team_env.team.cloud == "azure"
    return not team_env.settings.serverless.restricted_egress


def describe_release(stack: str, action: str = "destroy") -> str:
    """The step as a dry run prints it."""
    if action == "destroy":
        return (
            f"attach the workspace in {stack}'s state to Databricks' {DEFAULT_POLICY} (account API, as the "
            f"deploying identity), so its restricted policy can be deleted: the attachment has no delete"
        )
    return (
        f"{stack}'s state still attaches the workspace to a network policy, which serverless.restricted_egress "
        f"off deletes: attaching the workspace to Databricks' {DEFAULT_POLICY} first (account API)"
    )


def release_workspace(
    team_env: TeamEnv, services: Services, *, outdir: Path, report: Any = print, action: str = "destroy"
) -> None:
    """Attach the workspace of the env's account stack to `default-policy`; OperationFailed (one line) when that
    fails, before the account stack is touched. Call right before running ``action`` on the account stack, with
    its directory synthesized (reading a state initializes it)."""
    stack = team_env.stacks["account"]
    workspaces = attached_workspaces(services.runner.state(stack, outdir=outdir))
    if not workspaces:
        if action == "destroy":
            report(f"{stack}: no workspace attached to a policy in its state, nothing to release")
        return
    if action != "destroy":
        report(describe_release(stack, action))
    account_id = str(team_env.platform.account_id)
    try:
        network = services.account_network(team_env.team.cloud, account_id)
        for workspace_id in workspaces:
            try:
                network.attach_default_policy(workspace_id)
            except WorkspaceGone:
                report(f"workspace {workspace_id} is gone from account {account_id}: nothing to release")
            else:
                report(f"workspace {workspace_id} attached to {DEFAULT_POLICY}")
    except (ValueError, OSError) as exc:  # SDK: ValueError for unusable auth; DatabricksError is an OSError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OperationFailed(
            f"{stack} not {action}ed: cannot attach workspace {', '.join(map(str, workspaces))} to "
            f"{DEFAULT_POLICY} in Databricks account {account_id}: {first}"
        ) from None
