"""Compose the CDKTF app: two or three stacks per team-environment (`TeamEnv.stacks`), wired by cross-stack
references."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path

from infra.aspects.policy import PolicyAspect
from infra.aspects.policy.packs import AZURE, AZURE_ACCOUNT, COMMON, WORKSPACE
from infra.aspects.stack_aspects import AspectApp
from infra.aspects.tagging import TaggingAspect
from infra.config import PlatformConfig, TeamEnv
from infra.constructs.azure.workspace_access import azure_workspace_access
from infra.constructs.contracts import WheelArtifact
from infra.stacks.azure_account_stack import AzureAccountStack
from infra.stacks.platform_stack import PlatformStack
from infra.stacks.workspace_stack import WorkspaceStack
from infra.wheelhouse import wheelhouses


def build_app(
    config: PlatformConfig,
    *,
    outdir: Path,
    wheel: Path,
    team_envs: list[TeamEnv] | None = None,
    today: date | None = None,
    package_wheels: Mapping[str, Path] | None = None,
) -> AspectApp:
    """Build (not yet synthesize) the app for ``team_envs`` (default: every permanent team-env).

    ``wheel`` is churn's (the `ml` package); every other managed workload's package is built here, once per
    package, unless ``package_wheels`` names its wheel (by package path).
    ``today`` (default: the synth's UTC date) decides the month new budgets start in; tests pin it.
    """
    app = AspectApp(outdir=str(outdir))
    chosen = team_envs if team_envs is not None else config.team_envs
    wheels = workload_wheels(chosen, given=package_wheels or {})
    houses = wheelhouses(chosen, wheels={"ml": wheel, **{package: a.path for package, a in wheels.items()}})
    for team_env in chosen:
        artifact, env_wheels = with_wheelhouse(
            team_env, wheel=WheelArtifact(wheel), wheels=wheels, houses=houses
        )
        if team_env.team.cloud == "aws":
            add_aws_team_env(app, team_env=team_env, wheel=artifact, wheels=env_wheels)
        else:
            add_team_env(app, team_env=team_env, wheel=artifact, today=today, wheels=env_wheels)
    return app


def workload_wheels(
    team_envs: Iterable[TeamEnv], *, given: Mapping[str, Path], build: Callable[[str], Path] | None = None
) -> dict[str, WheelArtifact]:
    """The wheel of every managed workload package these team-envs run, except churn's `ml` (the app's
    ``wheel``): the given one, else built now (infra/wheel.py, content-addressed like churn's)."""
    if build is None:
        from infra.wheel import build_package_wheel as build
    packages = sorted(
        {w.package for te in team_envs for w in te.team.managed_workloads if w.package != "ml"} | set(given)
    )
    return {
        package: WheelArtifact(given[package] if package in given else build(package)) for package in packages
    }


def with_wheelhouse(
    team_env: TeamEnv,
    *,
    wheel: WheelArtifact,
    wheels: Mapping[str, WheelArtifact],
    houses: Mapping[tuple[str, str], list[Path]],
) -> tuple[WheelArtifact, dict[str, WheelArtifact]]:
    """Churn's wheel and the package wheels, each carrying the team-env's wheelhouse of its package (isolated envs
    only: infra/wheelhouse.py)."""

    def carrying(package: str, artifact: WheelArtifact) -> WheelArtifact:
        found = houses.get((team_env.key, package), [])
        return replace(artifact, dependencies=tuple(WheelArtifact(p) for p in found))

    return carrying("ml", wheel), {package: carrying(package, a) for package, a in wheels.items()}


def add_team_env(
    app: AspectApp,
    *,
    team_env: TeamEnv,
    wheel: WheelArtifact,
    today: date | None = None,
    wheels: Mapping[str, WheelArtifact] | None = None,
) -> tuple[PlatformStack, WorkspaceStack]:
    platform = PlatformStack(app, team_env.names.platform_stack, team_env=team_env, today=today)
    access = azure_workspace_access(team_env, platform.outputs)
    workspace = WorkspaceStack(
        app, team_env.names.workspace_stack, team_env=team_env, access=access, wheel=wheel, wheels=wheels
    )
    workspace.add_dependency(platform)
    stacks = [(platform, (*AZURE, COMMON)), (workspace, (*WORKSPACE, COMMON))]
    if "account" in team_env.stacks:
        # Platform, account, workspace: the account stack reads the workspace ID from the platform stack.
        account = AzureAccountStack(
            app, team_env.stacks["account"], team_env=team_env, platform=platform.outputs
        )
        account.add_dependency(platform)
        workspace.add_dependency(account)
        stacks.append((account, (*AZURE_ACCOUNT, COMMON)))
    for stack, packs in stacks:
        stack.add_aspect(TaggingAspect(team_env.tags))
        stack.add_aspect(PolicyAspect(team_env=team_env, packs=packs))
    return platform, workspace


def add_aws_team_env(
    app: AspectApp,
    *,
    team_env: TeamEnv,
    wheel: WheelArtifact,
    wheels: Mapping[str, WheelArtifact] | None = None,
) -> None:
    """Platform (aws only), account (databricks_mws_*), workspace (the shared Databricks constructs), in order."""
    # The jsii kernel takes seconds to load the AWS provider's assembly: only configs with an AWS team pay for it.
    from infra.aspects.policy.packs import ACCOUNT, AWS, AWS_IAM
    from infra.constructs.aws.workspace_access import aws_workspace_access
    from infra.stacks.account_stack import AccountStack
    from infra.stacks.aws_platform_stack import AwsPlatformStack

    platform = AwsPlatformStack(app, team_env.stacks["platform"], team_env=team_env)
    account = AccountStack(app, team_env.stacks["account"], team_env=team_env, platform=platform.outputs)
    account.add_dependency(platform)
    access = aws_workspace_access(
        team_env,
        platform.outputs,
        workspace_url=account.workspace_url,
        workspace_id=account.workspace.workspace_id,
    )
    workspace = WorkspaceStack(
        app, team_env.stacks["workspace"], team_env=team_env, access=access, wheel=wheel, wheels=wheels
    )
    workspace.add_dependency(account)
    workspace.add_dependency(platform)
    # The workspace stack holds the Unity Catalog role (it trusts the credential created there): AWS IAM rules too.
    stacks = (
        (platform, (*AWS, COMMON)),
        (account, (*ACCOUNT, COMMON)),
        (workspace, (*WORKSPACE, AWS_IAM, COMMON)),
    )
    for stack, packs in stacks:
        stack.add_aspect(TaggingAspect(team_env.tags))
        stack.add_aspect(PolicyAspect(team_env=team_env, packs=packs))
