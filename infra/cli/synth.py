"""Synthesize stacks into a directory atomically: a failed synth leaves the previous output untouched."""

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.config import PlatformConfig, TeamEnv


@dataclass(frozen=True)
class StackSummary:
    name: str
    team_env: str
    component: str
    resources: int
    outputs: int


def synth_to(
    config: PlatformConfig, *, out: Path, wheel: Path, team_envs: list[TeamEnv] | None = None
) -> list[StackSummary]:
    from infra.app import build_app  # the provider bindings take seconds to import; only synth needs them

    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        build_app(config, outdir=staging, wheel=wheel, team_envs=team_envs).synth()
        _replace_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    envs = team_envs if team_envs is not None else config.team_envs
    return summarize(out, envs)


def _replace_dir(new: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def summarize(out: Path, team_envs: list[TeamEnv]) -> list[StackSummary]:
    summaries = []
    for team_env in team_envs:
        for component, name in team_env.stacks.items():
            document = json.loads((out / "stacks" / name / "cdk.tf.json").read_text())
            resources = sum(len(blocks) for blocks in document.get("resource", {}).values())
            summaries.append(
                StackSummary(name, team_env.key, component, resources, len(document.get("output", {})))
            )
    return summaries
