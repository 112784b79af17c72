"""`platform plan TEAM/ENV`: what a deploy would change, stack by stack, before anyone approves it.

The stacks are planned in deploy order (`TeamEnv.stacks`) through the deploy's runner: `terraform plan` with a
saved plan file in each synthesized stack's directory, read back with `terraform show -json`. A stack whose
provider or remote state comes from an earlier stack cannot be planned until that stack is deployed (an Azure
workspace stack needs its workspace; an AWS account stack needs the platform stack's VPC and roles); such a stack
is reported as waiting, not planned against nothing. The same holds while an earlier stack's plan changes its
outputs: a later stack reads them through `terraform_remote_state` (cdktf's cross-stack references), so its plan
would be made from the old values, or fail on a new output that is not in the state yet.

Each summary counts adds, changes, replacements and destroys by resource type, and lists first the
replacements and destroys of resources that hold data or identity (STATEFUL_TYPES): those are what a reviewer
must not miss. `StackPlan.as_json()` is the documented `--json` shape (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from infra.config import PlatformConfig, TeamEnv
from infra.lifecycle.errors import InputProblem
from infra.lifecycle.lock import exclusive_outdir
from infra.lifecycle.moved_state import refuse_unmoved_local_state
from infra.lifecycle.rollout import Rollout, prepare, refuse_undeployed_upstream
from infra.lifecycle.runner import PLAN_FILE

if TYPE_CHECKING:
    from infra.lifecycle.services import Services

# Replacing or destroying one of these loses data, a workspace or an identity other things trust.
STATEFUL_TYPES = frozenset(
    {
        "azurerm_resource_group",
        "azurerm_databricks_workspace",
        "azurerm_storage_account",
        "azurerm_storage_container",
        "azurerm_key_vault",
        "azurerm_key_vault_key",
        "azurerm_databricks_access_connector",
        "aws_s3_bucket",
        "aws_kms_key",
        "aws_iam_role",
        "databricks_mws_workspaces",
        "databricks_metastore_assignment",
        "databricks_catalog",
        "databricks_schema",
        "databricks_volume",
        "databricks_external_location",
        "databricks_storage_credential",
        "databricks_registered_model",
        "databricks_mlflow_experiment",
        # logs: the diagnostics and flow logs an investigation reads
        "azurerm_log_analytics_workspace",
        "aws_cloudwatch_log_group",
        # a managed table's data goes with it (the declared predictions table)
        "databricks_sql_table",
        # secrets, and the identity jobs run as (a new one gets a new application ID: every grant is lost)
        "databricks_secret_scope",
        "databricks_service_principal",
        # without it an isolated catalog, and all in it, is unreachable from the workspace (provider issue 5300)
        "databricks_workspace_binding",
        # the workspace's root storage and its encryption key
        "databricks_mws_storage_configurations",
        "databricks_mws_customer_managed_keys",
    }
)
# Resources an earlier stack creates that a later stack's provider or remote state needs to exist.
FOUNDATION_TYPES = frozenset({"azurerm_databricks_workspace", "databricks_mws_workspaces"})

# The components of a team-env's stacks (TeamEnv.stacks), and why `--skip` leaves one out of a plan.
COMPONENTS = ("platform", "account", "workspace")
SKIP_REASONS = {
    "account": "--skip account: account-level resources, which only a Databricks account admin can read; the deploy "
    "plans and applies them with the deploying identity",
}

# Cloud -> the components whose outputs later stacks read: the AWS account stack creates the workspace (its URL is
# the workspace stack's host); an Azure account stack only attaches a policy, nothing reads it.
FEEDS_LATER_STACKS = {"aws": ("account",)}

Kind = Literal["add", "change", "replace", "destroy"]
KINDS: tuple[Kind, ...] = ("add", "change", "replace", "destroy")


def kind_of(actions: list[str]) -> Kind | None:
    """Terraform's change actions (plan JSON `resource_changes[].change.actions`) as one kind; None for no-op,
    read and forget, which change nothing deployed."""
    if "delete" in actions and "create" in actions:
        return "replace"
    if actions == ["create"]:
        return "add"
    if actions == ["update"]:
        return "change"
    if actions == ["delete"]:
        return "destroy"
    return None


@dataclass(frozen=True)
class Flagged:
    address: str
    type: str
    kind: Kind


@dataclass(frozen=True)
class StackPlan:
    stack: str
    status: Literal["planned", "waiting", "skipped"]
    deployed: bool = False
    """Whether the stack's state held managed resources before this plan."""
    counts: dict[Kind, dict[str, int]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    """Kind -> resource type -> how many resources of that type change that way."""
    flagged: list[Flagged] = field(default_factory=list)
    """Replacements and destroys of STATEFUL_TYPES, the first thing to read."""
    outputs: list[str] = field(default_factory=list)
    """Root outputs the plan creates, changes or removes: later stacks read them from this stack's state."""
    waits_for: str | None = None
    skipped_because: str | None = None
    """Why a stack left out with `--skip` was not planned (status skipped)."""
    plan_file: Path | None = None
    stack_sha256: str | None = None
    """The hash of the synthesized cdk.tf.json that was planned: `platform apply` refuses a stack that differs."""

    @property
    def has_changes(self) -> bool:
        """Changes to resources or outputs: what `terraform plan -detailed-exitcode` exits 2 for."""
        return bool(self.outputs) or any(self.counts[kind] for kind in KINDS)

    def creates_foundation(self) -> bool:
        return any(t in FOUNDATION_TYPES for kind in ("add", "replace") for t in self.counts[kind])

    def as_json(self) -> dict:
        return {
            "stack": self.stack,
            "status": self.status,
            "deployed": self.deployed,
            "waits_for": self.waits_for,
            "skipped_because": self.skipped_because,
            "has_changes": self.has_changes,
            "flagged": [{"address": f.address, "type": f.type, "action": f.kind} for f in self.flagged],
            **{kind: dict(sorted(self.counts[kind].items())) for kind in KINDS},
            "outputs": list(self.outputs),
            "plan_file": None if self.plan_file is None else str(self.plan_file),
            "stack_sha256": self.stack_sha256,
        }

    def describe(self) -> list[str]:
        if self.status == "waiting":
            return [f"{self.stack}: not planned, it needs {self.waits_for} deployed first"]
        if self.status == "skipped":
            return [f"{self.stack}: not planned ({self.skipped_because})"]
        if not self.has_changes:
            return [f"{self.stack}: no changes"]
        totals = ", ".join(f"{sum(self.counts[kind].values())} to {kind}" for kind in KINDS)
        lines = [f"{self.stack}: {totals}"]
        lines += [f"  ! {f.kind} {f.address} (holds data or identity)" for f in self.flagged]
        for kind in KINDS:
            for resource_type, count in sorted(self.counts[kind].items()):
                lines.append(f"  {kind} {count} {resource_type}")
        if self.outputs:
            lines.append(f"  outputs change: {', '.join(self.outputs)}")
        return lines


def stack_sha256(outdir: Path, stack: str) -> str:
    """The hash of a synthesized stack's cdk.tf.json."""
    return hashlib.sha256((outdir / "stacks" / stack / "cdk.tf.json").read_bytes()).hexdigest()


def summarize(
    stack: str, plan_json: str, *, plan_file: Path | None = None, sha256: str | None = None
) -> StackPlan:
    """The summary of one stack's `terraform show -json PLANFILE`."""
    plan = json.loads(plan_json)
    counts: dict[Kind, Counter[str]] = {kind: Counter() for kind in KINDS}
    flagged = []
    for change in plan.get("resource_changes") or []:
        if change.get("mode", "managed") != "managed":
            continue
        kind = kind_of(change["change"]["actions"])
        if kind is None:
            continue
        counts[kind][change["type"]] += 1
        if kind in ("replace", "destroy") and change["type"] in STATEFUL_TYPES:
            flagged.append(Flagged(change["address"], change["type"], kind))
    flagged.sort(key=lambda f: (f.kind != "destroy", f.address))  # destroys, then replacements
    outputs = sorted(
        name for name, change in (plan.get("output_changes") or {}).items() if change["actions"] != ["no-op"]
    )
    return StackPlan(
        stack=stack,
        status="planned",
        deployed=_has_managed_resources(plan.get("prior_state")),
        counts={kind: dict(counter) for kind, counter in counts.items()},
        flagged=flagged,
        outputs=outputs,
        plan_file=plan_file,
        stack_sha256=sha256,
    )


def _has_managed_resources(state: dict | None) -> bool:
    module = ((state or {}).get("values") or {}).get("root_module") or {}
    modules = [module, *module.get("child_modules", [])]
    return any(r.get("mode") == "managed" for m in modules for r in m.get("resources", []))


@dataclass(frozen=True)
class TeamEnvPlan:
    target: str
    stacks: list[StackPlan]

    @property
    def has_changes(self) -> bool:
        """Whether a planned stack would change anything (a waiting stack's changes are not known yet)."""
        return any(s.has_changes for s in self.stacks)

    def as_json(self) -> dict:
        return {
            "version": 1,
            "target": self.target,
            "has_changes": self.has_changes,
            "stacks": [s.as_json() for s in self.stacks],
        }


def plan_stacks(
    stacks: Iterable[str], runner_plan: Callable[[str], tuple[str, Path]], *, outdir: Path | None = None
) -> list[StackPlan]:
    """Plan each stack in order until one leaves the next without what it needs (not deployed, about to
    create the workspace, or about to change the outputs later stacks read); the rest wait for that stack."""
    results: list[StackPlan] = []
    blocker: str | None = None
    for stack in stacks:
        if blocker is not None:
            results.append(StackPlan(stack=stack, status="waiting", waits_for=blocker))
            continue
        plan_json, plan_file = runner_plan(stack)
        sha256 = stack_sha256(outdir, stack) if outdir is not None else None
        planned = summarize(stack, plan_json, plan_file=plan_file, sha256=sha256)
        results.append(planned)
        if not planned.deployed or planned.creates_foundation() or planned.outputs:
            blocker = stack
    return results


def plan_team_env(
    team_env: TeamEnv,
    config: PlatformConfig,
    services: Services,
    *,
    report: Callable[[str], None],
    lock: bool = True,
    only: str | None = None,
    skip: Collection[str] = (),
) -> TeamEnvPlan:
    """Build the wheel, synthesize the team-env's stacks and plan them in deploy order, holding the output
    directory. Terraform missing is refused (MissingTool) before anything is built. Without ``lock`` the plans
    take no state lock: a preview never applied, which then never fails a deploy that wants the lock. The stacks
    of the components in ``skip`` (where the env has them) are reported as skipped, not planned: a pull request
    skips the account stack, which only an account admin can read (docs/architecture.md, CI/CD)."""
    unknown = sorted(set(skip) - set(COMPONENTS))
    if unknown:
        raise InputProblem(
            "--skip", f"{', '.join(unknown)} is not a stack component ({', '.join(COMPONENTS)})"
        )
    services.runner.require("terraform")
    # Planning against a fresh state key while the env's state sits unmoved would show everything as new.
    refuse_unmoved_local_state(team_env, outdir=services.outdir)
    rollout = Rollout("deploy", team_env, services.outdir, auto_approve=False, only=only)
    with exclusive_outdir(rollout.outdir, purpose=f"plan {team_env.key}"):
        report(f"plan {team_env.key}: building the wheel and synthesizing {', '.join(rollout.stacks)}")
        prepare(rollout, config, services)
        refuse_undeployed_upstream(rollout, services)

        def runner_plan(stack: str) -> tuple[str, Path]:
            report(f"planning {stack}")
            plan_json = services.runner.plan(stack, outdir=rollout.outdir, lock=lock)
            return plan_json, rollout.outdir / "stacks" / stack / PLAN_FILE

        skipped = {team_env.stacks[c]: c for c in skip if c in team_env.stacks}
        # A skipped stack that later stacks read and that was never applied (an AWS account stack creates the
        # workspace the workspace stack's provider needs) leaves them nothing to plan against: they wait for it.
        blocker = next(
            (
                stack
                for stack in rollout.stacks
                if stack in skipped
                and skipped[stack] in FEEDS_LATER_STACKS.get(team_env.team.cloud, ())
                and not services.runner.has_state(stack, outdir=rollout.outdir)
            ),
            None,
        )
        cut = rollout.stacks.index(blocker) if blocker is not None else len(rollout.stacks)
        planned = iter(
            plan_stacks(
                [s for s in rollout.stacks[:cut] if s not in skipped], runner_plan, outdir=rollout.outdir
            )
        )
        results = [
            StackPlan(
                stack=stack, status="skipped", skipped_because=SKIP_REASONS.get(skipped[stack], "--skip")
            )
            if stack in skipped
            else StackPlan(stack=stack, status="waiting", waits_for=blocker)
            if index > cut
            else next(planned)
            for index, stack in enumerate(rollout.stacks)
        ]
        return TeamEnvPlan(team_env.key, results)
