"""Which synthesized stacks a pull request changes: compare the base branch's synth output with the head's.

A stack is changed when its cdk.tf.json differs (as JSON) or it is new; the churn wheel is referenced by content
hash, so a change under ml/ shows up in every workspace stack that deploys it. Stacks are printed platform before
workspace per team-env, the order `cdktf diff` needs them in. Without a base output (the base could not be
synthesized), every head stack counts as changed.

Standard library only: CI runs it with whatever python3 the runner has.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

COMPONENT_ORDER = {"platform": 0, "workspace": 1}


@dataclass(frozen=True)
class StackChanges:
    changed: list[str]
    """Stacks of the head output that are new or differ from the base, in deploy order."""
    removed: list[str]
    """Stacks only the base has: their team-env left platform.yaml, but its resources still exist."""


def stack_documents(out: Path) -> dict[str, object]:
    """Stack name -> parsed cdk.tf.json of every stack in a synth output directory."""
    return {
        path.parent.name: json.loads(path.read_text())
        for path in sorted((out / "stacks").glob("*/cdk.tf.json"))
    }


def deploy_order(stack: str) -> tuple[str, int, str]:
    team_env, _, component = stack.rpartition("-")
    return (team_env, COMPONENT_ORDER.get(component, len(COMPONENT_ORDER)), stack)


def compare(head: Path, base: Path | None) -> StackChanges:
    head_docs = stack_documents(head)
    if not head_docs:
        raise ValueError(f"{head}/stacks holds no cdk.tf.json: synthesize first")
    base_docs = stack_documents(base) if base is not None else {}
    if base is None:
        changed = list(head_docs)
    else:
        changed = [name for name, doc in head_docs.items() if base_docs.get(name) != doc]
    removed = sorted(set(base_docs) - set(head_docs))
    return StackChanges(changed=sorted(changed, key=deploy_order), removed=removed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", type=Path, required=True, help="synth output of the pull request")
    parser.add_argument("--base", type=Path, help="synth output of the base branch; omit if it failed")
    parser.add_argument("--github-output", type=Path, help="append `changed=` and `removed=` lines here")
    args = parser.parse_args(argv)
    try:
        changes = compare(args.head, args.base)
    except (OSError, ValueError) as exc:
        print(f"changed_stacks: {exc}", file=sys.stderr)
        return 2
    for stack in changes.changed:
        print(stack)
    for stack in changes.removed:
        print(f"removed from the config, still deployed until destroyed: {stack}", file=sys.stderr)
    if args.github_output:
        with args.github_output.open("a") as output:
            output.write(f"changed={' '.join(changes.changed)}\n")
            output.write(f"removed={' '.join(changes.removed)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
