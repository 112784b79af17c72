"""Synthesize stacks into a directory atomically: a failed synth leaves the previous output untouched.

The stacks are written into a staging directory beside the output (`.<out>-staging-*`, marked by a file inside)
and swapped in when complete. A synth killed halfway leaves its staging directory behind; the next synth, which
holds the output's lock (lifecycle/lock.py) and so knows no other synth is writing, removes every marked one.

The swap removes the previous output, so it only ever replaces a directory that a synth wrote: one holding
nothing but what cdktf writes (`manifest.json`, `stacks/`) and the output marker. `--out .` (a checkout, with
its `.git` and config) or any other directory of the user's is refused before anything is built.
"""

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.config import PlatformConfig, TeamEnv
from infra.lifecycle.errors import InputProblem

# The file that marks a directory as a synth's staging directory, so only those are ever removed.
STAGING_MARKER = ".platform-synth-staging"
# The file every synth output carries, so a later synth knows the directory is its own to replace.
OUTPUT_MARKER = ".platform-synth-output"
# What cdktf writes into its output directory; an output of `npx cdktf synth` holds these and nothing else.
CDKTF_OUTPUT = frozenset({"manifest.json", "stacks"})


@dataclass(frozen=True)
class StackSummary:
    name: str
    team_env: str
    component: str
    resources: int
    outputs: int


def check_outdir(out: Path, *, field: str = "--out") -> None:
    """Refuse an output path that a synth would replace but did not write: a file, or a directory of the user's."""
    if out.exists() and not out.is_dir():
        raise InputProblem(field, f"{out} exists and is not a directory; refusing to replace it")
    if out.is_dir() and not is_synth_output(out):
        foreign = sorted(
            entry.name for entry in out.iterdir() if entry.name not in {OUTPUT_MARKER, *CDKTF_OUTPUT}
        )
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise InputProblem(
            field,
            f"{out} is not the output of a synth (it holds {shown or 'stacks/ without manifest.json'}) and a synth "
            "replaces its output whole; refusing: name a new or empty directory, or a previous synth output",
        )


def is_synth_output(path: Path) -> bool:
    """Whether ``path`` is empty or holds only a synth's output (ours, marked, or cdktf's with its manifest)."""
    entries = {entry.name for entry in path.iterdir()}
    if not entries <= {OUTPUT_MARKER, *CDKTF_OUTPUT}:
        return False
    return not entries or bool(entries & {OUTPUT_MARKER, "manifest.json"})


def synth_to(
    config: PlatformConfig, *, out: Path, wheel: Path, team_envs: list[TeamEnv] | None = None
) -> list[StackSummary]:
    """Write the stacks of ``team_envs`` (default: every team-env) into ``out``. The caller holds out's lock."""
    from infra.app import build_app  # the provider bindings take seconds to import; only synth needs them

    out = out.resolve()
    check_outdir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(out), dir=out.parent))
    try:
        (staging / STAGING_MARKER).write_text(f"pid {os.getpid()}\n")
        build_app(config, outdir=staging, wheel=wheel, team_envs=team_envs).synth()
        (staging / STAGING_MARKER).unlink()
        (staging / OUTPUT_MARKER).write_text(
            "written by `platform synth`; a synth replaces this directory whole\n"
        )
        # mkdtemp makes the directory private (0700); the output is as readable as any directory the user makes.
        staging.chmod(0o777 & ~_umask())
        _replace_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    envs = team_envs if team_envs is not None else config.team_envs
    return summarize(out, envs)


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove the staging directories of synths of ``out`` that were killed before they finished."""
    stale = [
        path
        for path in out.parent.glob(f"{_staging_prefix(out)}*")
        if path.is_dir() and (path / STAGING_MARKER).is_file()
    ]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def _staging_prefix(out: Path) -> str:
    return f".{out.name}-staging-"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _replace_dir(new: Path, target: Path) -> None:
    """Swap ``new`` in for ``target`` (checked to be a synth output) and remove only what was swapped out."""
    if not target.exists():
        new.rename(target)
        return
    # A fresh name for the old output: a fixed one (`.<out>-old`) could be a directory of the user's.
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    target.rename(old)  # rename(2) replaces the empty directory mkdtemp made
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
