"""Synthesize stacks into a directory atomically: a failed synth leaves the previous output untouched.

The stacks are written into a staging directory beside the output (`.<out>-staging-*`, marked by a file inside)
and swapped in when complete. A synth killed halfway leaves its staging directory behind; the next synth, which
holds the output's lock (lifecycle/lock.py) and so knows no other synth is writing, removes every marked one.

The swap removes the previous output, so it only ever replaces a directory that a synth wrote: one holding
nothing but what cdktf writes (a `manifest.json` that parses as cdktf's, `stacks/` with only the stacks it lists)
and the output marker. `--out .` (a checkout, with
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
from infra.lifecycle.lock import foreign_lock_file

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
    team: str
    env: str
    path: Path  # the stack's cdk.tf.json

    def as_json(self) -> dict[str, object]:
        """One stack of `platform synth --json` (docs/operations.md); fields are only ever added."""
        return {
            "name": self.name,
            "team": self.team,
            "env": self.env,
            "component": self.component,
            "resources": self.resources,
            "outputs": self.outputs,
            "path": str(self.path),
        }


def check_outdir(out: Path, *, field: str = "--out") -> None:
    """Refuse an output path that a synth would replace but did not write: a file, or a directory of the user's."""
    if out.parts and out.parts[0].startswith("~"):
        # `--out=~/x` or `--out '~/x'`: the shell left ~ alone, and a directory named `~` invites an `rm -rf ~`.
        raise InputProblem(
            field, f"{out} starts with ~, which the shell did not expand; write the path out, e.g. $HOME/..."
        )
    if out.exists() and not out.is_dir():
        raise InputProblem(field, f"{out} exists and is not a directory; refusing to replace it")
    if out.is_dir() and (foreign := _not_synth_output(out)):
        raise InputProblem(
            field,
            f"{out} is not the output of a synth ({foreign}) and a synth replaces its output whole; refusing: "
            "name a new or empty directory, or a previous synth output",
        )
    if problem := foreign_lock_file(out.resolve()):  # the lock beside the output, which synth rewrites
        raise InputProblem(field, f"{problem}; name another output directory or move that file away")


def is_synth_output(path: Path) -> bool:
    """Whether ``path`` is empty or holds only a synth's output (ours or `npx cdktf synth`'s)."""
    return _not_synth_output(path) is None


def _not_synth_output(path: Path) -> str | None:
    """Why ``path`` is not a synth's output, or None if it is (or is empty).

    Names alone prove nothing: a user's folder can hold a `manifest.json` and `stacks/` notes, or a copied
    marker. So cdktf's manifest must parse and list stacks, and `stacks/` may hold only their directories.
    """
    entries = {entry.name for entry in path.iterdir()}
    foreign = sorted(entries - {OUTPUT_MARKER, *CDKTF_OUTPUT})
    if foreign:
        return "it holds " + _few(foreign)
    if not entries:
        return None
    manifest = path / "manifest.json"
    if not manifest.is_file() or manifest.is_symlink():
        return "it holds " + _few(sorted(entries)) + " without cdktf's manifest.json"
    listed = _manifest_stacks(manifest)
    if listed is None:
        return "its manifest.json is not cdktf's: no stacks listed"
    stacks = path / "stacks"
    if stacks.is_symlink() or (stacks.exists() and not stacks.is_dir()):
        return "its stacks is not a directory"
    unlisted = sorted(
        entry.name
        for entry in (stacks.iterdir() if stacks.is_dir() else [])
        if entry.name not in listed or entry.is_symlink() or not entry.is_dir()
    )
    if unlisted:
        return f"its stacks/ holds {_few(unlisted)}, which its manifest.json does not list as stacks"
    return None


def _manifest_stacks(manifest: Path) -> set[str] | None:
    """The stack names in cdktf's manifest (`{"version": ..., "stacks": {name: {...}}}`), None if it is not one."""
    try:
        document = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("version"), str):
        return None
    stacks = document.get("stacks")
    if not isinstance(stacks, dict):
        return None
    return set(stacks)


def _few(names: list[str]) -> str:
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


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
            path = out / "stacks" / name / "cdk.tf.json"
            document = json.loads(path.read_text())
            resources = sum(len(blocks) for blocks in document.get("resource", {}).values())
            summaries.append(
                StackSummary(
                    name=name,
                    team_env=team_env.key,
                    component=component,
                    resources=resources,
                    outputs=len(document.get("output", {})),
                    team=team_env.team.name,
                    env=team_env.env,
                    path=path,
                )
            )
    return summaries
