"""Refuse to run an Azure env whose platform stack's state still holds account-level resources.

Until the Azure account stack (infra/stacks/azure_account_stack.py) an env with `serverless.restricted_egress` kept
its network policy and the policy's attachment to the workspace in its platform stack, through a `databricks`
provider alias `account`. That stack declares neither any more, so on the next run Terraform would refuse to plan
it (the resources' provider configuration has been removed), and the account stack would try to create a policy
whose ID exists. Terraform cannot move resources between two states by itself: a `removed` block in the platform
stack and an `import` block in the account stack would fail every fresh env, where there is nothing to import.
So the move is the operator's, once, with the commands this check prints; nothing is changed by guess
(docs/operations.md, "Moving account-level resources out of an Azure platform stack").
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import TeamEnv
from infra.lifecycle.errors import OperationFailed
from infra.stacks.state_layout import LOCAL_STATE_DIR, local_state_file, state_key

if TYPE_CHECKING:
    from infra.lifecycle.runner import StackRunner

# Resource type -> the attribute its import ID is (databricks v1.99.0, ImportState of
# internal/providers/pluginfw/products/account_network_policy/resource_account_network_policy.go: network_policy_id;
# .../workspace_network_option/resource_workspace_network_option.go: workspace_id).
IMPORT_ID = {
    "databricks_account_network_policy": "network_policy_id",
    "databricks_workspace_network_option": "workspace_id",
}


def account_resources(state_json: str) -> dict[str, str]:
    """Address -> import ID of every account-level resource in a state (`terraform state pull`)."""
    if not state_json.strip():
        return {}
    found = {}
    for resource in json.loads(state_json).get("resources") or []:
        attribute = IMPORT_ID.get(resource.get("type", ""))
        if resource.get("mode") != "managed" or attribute is None:
            continue
        for instance in resource.get("instances") or []:
            address = f"{resource['type']}.{resource['name']}"
            found[address] = str((instance.get("attributes") or {}).get(attribute, ""))
    return found


def refuse_account_resources_in_platform_state(
    team_env: TeamEnv, runner: StackRunner, *, outdir: Path
) -> None:
    """OperationFailed naming the commands that move the policy into the account stack (or out of state, where
    the env no longer asks for one). Azure envs of a platform with an account ID only: no other env ever held one.
    Call after the stacks are synthesized (reading a state initializes the stack's directory)."""
    if team_env.team.cloud != "azure" or team_env.platform.account_id is None:
        return
    platform = team_env.stacks["platform"]
    held = account_resources(runner.state(platform, outdir=outdir))
    if not held:
        return
    chdir = f"-chdir={outdir / 'stacks' / platform}"
    remove = shlex.join(["terraform", chdir, "state", "rm", *held])
    account = team_env.stacks.get("account")
    if account is None:
        raise OperationFailed(
            f"{team_env.key}: {platform}'s state still holds {', '.join(held)}, which no stack of this env "
            f"declares any more (serverless.restricted_egress is off); take them out of the state with `{remove}`, "
            "then in the account console attach the workspace to default-policy and delete the policy "
            "(docs/operations.md)"
        )
    into = f"-chdir={outdir / 'stacks' / account}"
    # Imports first: they read the objects through the account API, which only an account admin may; should one
    # fail, the platform state still holds them and this check still says what to do. `state rm` goes last.
    moves = [
        shlex.join(["terraform", into, "init", "-input=false"]),
        *(
            shlex.join(["terraform", into, "import", address, import_id])
            for address, import_id in held.items()
        ),
        remove,
    ]
    raise OperationFailed(
        f"{team_env.key}: {platform}'s state still holds {', '.join(held)}, which now belong to {account} "
        f"(docs/operations.md); move them with the deploying identity (an account admin), then run again: "
        + "; ".join(moves)
    )


def orphaned_account_resources(team_env: TeamEnv, runner: StackRunner, *, outdir: Path) -> dict[str, str]:
    """Address -> import ID of what the state of an Azure env's account stack still holds where the env no longer
    has that stack (serverless.restricted_egress turned off, on the env or on the base an ephemeral env was cut
    from); empty where it has one, or the platform has no account ID. The state is read through a stand-in stack
    directory holding only the account stack's backend (the platform stack's, at the account key), removed again.
    Call after synthesis."""
    if team_env.team.cloud != "azure" or team_env.platform.account_id is None or "account" in team_env.stacks:
        return {}
    platform_doc = outdir / "stacks" / team_env.stacks["platform"] / "cdk.tf.json"
    backends = json.loads(platform_doc.read_text()).get("terraform", {}).get("backend") or {}
    if len(backends) != 1:
        return {}
    ((kind, settings),) = backends.items()
    if kind == "local":
        settings = {**settings, "path": f"{LOCAL_STATE_DIR}/{local_state_file(team_env, 'account')}"}
    else:
        settings = {**settings, "key": state_key(team_env, "account")}
    probe = outdir / "stacks" / team_env.names.account_stack
    probe.mkdir(parents=True, exist_ok=True)
    try:
        (probe / "cdk.tf.json").write_text(json.dumps({"terraform": {"backend": {kind: settings}}}))
        return account_resources(runner.state(team_env.names.account_stack, outdir=outdir))
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def refuse_orphaned_account_stack(team_env: TeamEnv, runner: StackRunner, *, outdir: Path) -> None:
    """OperationFailed when a permanent Azure env no longer has an account stack but that stack's state still holds
    its policy and attachment (orphaned_account_resources): no stack manages them any more, the workspace stays on
    the restricted policy whatever the config says, and `destroy --only account` cannot reach them (the stack is
    not synthesized). An ephemeral env's teardown names them instead (reaper.py)."""
    if team_env.is_ephemeral:
        return
    held = orphaned_account_resources(team_env, runner, outdir=outdir)
    if held:
        raise OperationFailed(
            f"{team_env.key}: {team_env.names.account_stack}'s state still holds {', '.join(held)}, but "
            "serverless.restricted_egress is off, so no stack manages them and the workspace stays on that policy; "
            f"set restricted_egress back on, run `platform destroy {team_env.key} --only account` (it attaches the "
            "workspace to default-policy first), then turn it off (docs/security.md, Serverless)"
        )
