"""Everything a lifecycle command reaches outside itself, in one place tests replace with fakes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from infra.config import PlatformConfig, TeamEnv
from infra.lifecycle.account_network import AccountNetwork, SdkAccountNetwork
from infra.lifecycle.aws import AwsTaggedResources, TaggedResources
from infra.lifecycle.azure import AzureResourceGroups, ResourceGroups, subscription_id
from infra.lifecycle.databricks import SdkTrainingWorkspace, TrainingWorkspace
from infra.lifecycle.errors import InputProblem, OperationFailed
from infra.lifecycle.preflight import MetastoreView, SdkMetastoreView
from infra.lifecycle.runner import CdktfRunner, StackRunner
from infra.lifecycle.runner_address import PublicAddress, https_public_address
from infra.lifecycle.security_analysis_tool import SatWorkspace, SdkSatWorkspace
from infra.lifecycle.smoke_target import SmokeTarget
from infra.project import project_root

OWNER_ENV_VAR = "PLATFORM_OWNER"


@dataclass
class Services:
    runner: StackRunner
    build_wheel: Callable[[], Path]
    synthesize: Callable[[PlatformConfig, list[TeamEnv], Path, Path], None]
    """(config, team_envs, outdir, wheel): write exactly these team-envs' stacks into outdir."""
    resource_groups: Callable[[PlatformConfig], ResourceGroups]
    training_workspace: Callable[[PlatformConfig, SmokeTarget], TrainingWorkspace]
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    is_interactive: Callable[[], bool]
    """Whether a person can answer a prompt (stdin is a terminal); False in CI."""
    ask: Callable[[str], str]
    default_owner: Callable[[], str | None]
    outdir: Path
    """The project's cdktf output directory (cdktf.json), at the project root. Stacks keep no state inside it,
    so each lifecycle run can replace it with just the stacks it runs."""
    metastore_view: Callable[[PlatformConfig, TeamEnv, str | None], MetastoreView] = field(
        default=lambda config, team_env, workspace_url=None: _metastore_view(config, team_env, workspace_url)
    )
    """(config, team_env, workspace_url): what the deploying identity sees of Unity Catalog in a team-env's
    workspace (deploy preflight). An AWS workspace is found by its URL (the account stack's output); an Azure
    one by its ARM ID, derived from the names (workspace_url None)."""
    tagged_resources: Callable[[str], TaggedResources] = field(default=AwsTaggedResources.for_region)
    """Region -> the AWS resources there and their tags (the record of ephemeral AWS envs)."""
    public_address: PublicAddress = field(default=https_public_address)
    """This runner's public IPv4 address (checked against an env's IP access list before a rollout)."""
    sat_workspace: Callable[[PlatformConfig, SmokeTarget], SatWorkspace] = field(
        default=lambda config, target: SdkSatWorkspace.for_target(
            target, None if target.workspace_url else subscription_id(config)
        )
    )
    """(config, target): the workspace that runs the Security Analysis Tool, for `platform sat`."""
    account_network: Callable[[str, str], AccountNetwork] = field(default=SdkAccountNetwork.for_account)
    """(cloud, account ID) -> the account's workspace network options, as the deploying identity
    (network_release.py: a workspace goes back to default-policy before its policy is deleted)."""


def real_services() -> Services:
    root = project_root()
    return Services(
        runner=CdktfRunner(cwd=root),
        build_wheel=_build_wheel,
        synthesize=_synthesize,
        resource_groups=lambda config: AzureResourceGroups.for_subscription(subscription_id(config)),
        training_workspace=_training_workspace,
        clock=lambda: datetime.now(UTC),
        sleep=time.sleep,
        is_interactive=sys.stdin.isatty,
        ask=input,
        default_owner=_default_owner,
        outdir=root / "cdktf.out",
    )


def _training_workspace(config: PlatformConfig, target: SmokeTarget) -> TrainingWorkspace:
    if target.workspace_url is not None:
        return SdkTrainingWorkspace.for_workspace_url(target.workspace_url)
    return SdkTrainingWorkspace.for_azure_workspace(target.workspace_resource_id(subscription_id(config)))


def _metastore_view(config: PlatformConfig, team_env: TeamEnv, workspace_url: str | None) -> MetastoreView:
    if workspace_url is not None:
        return SdkMetastoreView.for_workspace_url(workspace_url)
    return SdkMetastoreView.for_azure_workspace(team_env.names.workspace_resource_id(subscription_id(config)))


def _build_wheel() -> Path:
    from infra.wheel import WheelBuildFailed, build_wheel

    try:
        return build_wheel()
    except WheelBuildFailed as exc:
        raise OperationFailed(f"{exc}; try `make wheel`") from None


def _synthesize(config: PlatformConfig, team_envs: list[TeamEnv], outdir: Path, wheel: Path) -> None:
    from infra.lifecycle.synthesis import synth_to
    from infra.wheel import WheelBuildFailed
    from infra.wheelhouse import WheelhouseUnavailable

    try:
        synth_to(config, out=outdir, wheel=wheel, team_envs=team_envs)
    except WheelBuildFailed as exc:  # a managed workload's package other than ml/ (built during synth)
        raise OperationFailed(f"synth failed, nothing was deployed: {exc}") from None
    except WheelhouseUnavailable as exc:  # isolated envs' wheelhouse: no network and no cached wheel
        raise InputProblem("wheelhouse", f"{exc}; nothing was deployed") from None
    except RuntimeError as exc:  # jsii raises policy (aspect) violations as RuntimeError
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        problem = next(
            (line for line in lines if line.startswith("[")), lines[0] if lines else "unknown error"
        )
        raise OperationFailed(f"synth failed, nothing was deployed: {problem}") from None


def _default_owner() -> str | None:
    """$PLATFORM_OWNER, else the git user's e-mail: who to ask about an env nobody remembers."""
    if os.environ.get(OWNER_ENV_VAR):
        return os.environ[OWNER_ENV_VAR]
    try:
        result = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None
