"""Markdown from `platform plan --json` files (docs/operations.md, "Reviewing a plan"), for CI to post.

    markdown FILE...        one section per team-env, one line per stack, stateful replacements and destroys
                            first; starts with MARKER so a workflow finds and updates its own comment
    drift --out DIR --open-issues ISSUES FILE...
                            for every stack with changes, DIR/<stack>.md (the body of its drift issue); prints
                            `drifted <stack> [NUMBER]` or `clean <stack> [NUMBER]` per planned stack, in order,
                            NUMBER being its open `Drift: <stack>` issue in ISSUES (`gh issue list --json
                            number,title,author`: a listing, not a search, whose index can lag behind a just-created issue)

A FILE that is not a plan (a plan that failed wrote nothing) is skipped with a warning, so one broken env does not
hide the others' plans and drift.

Standard library only: CI runs it with whatever python3 the runner has.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MARKER = "<!-- platform-plan -->"
DRIFT_TITLE = "Drift: "
KINDS = ("add", "change", "replace", "destroy")


def stack_lines(stack: dict) -> list[str]:
    name = f"`{stack['stack']}`"
    if stack["status"] == "waiting":
        return [f"- {name}: not planned yet, it needs `{stack['waits_for']}` deployed first"]
    if stack["status"] == "skipped":  # `platform plan --skip`: the pull request's account stacks
        return [f"- {name}: not planned ({stack.get('skipped_because') or '--skip'})"]
    if not stack["has_changes"]:
        return [f"- {name}: no changes"]
    totals = ", ".join(f"{sum(stack[kind].values())} to {kind}" for kind in KINDS)
    lines = [f"- {name}: {totals}"]
    lines += [
        f"  - :warning: **{flagged['action']}** `{flagged['address']}` (holds data or identity)"
        for flagged in stack["flagged"]
    ]
    for kind in KINDS:
        lines += [f"  - {kind} {count} `{rtype}`" for rtype, count in sorted(stack[kind].items())]
    if stack.get("outputs"):
        lines.append(f"  - outputs change: {', '.join(f'`{name}`' for name in stack['outputs'])}")
    return lines


def markdown(plans: list[dict]) -> str:
    lines = [MARKER, "## platform plan", ""]
    if not plans:
        lines.append("No team-env's stacks change in this pull request.")
    for plan in sorted(plans, key=lambda p: p["target"]):
        lines += [f"### {plan['target']}", ""]
        for stack in plan["stacks"]:
            lines += stack_lines(stack)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def drift(plans: list[dict], out: Path, open_issues: dict[str, str]) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    verdicts = []
    for plan in plans:
        for stack in plan["stacks"]:
            if stack["status"] != "planned":
                continue
            number = open_issues.get(f"{DRIFT_TITLE}{stack['stack']}", "")
            if stack["has_changes"]:
                body = [
                    f"The nightly plan of `{plan['target']}` found changes the code does not make: the deployed "
                    "stack drifted (or a merged change was never applied).",
                    "",
                    *stack_lines(stack),
                    "",
                    f"Review with `platform plan {plan['target']}`; this issue is updated every night while the "
                    "drift lasts.",
                ]
                (out / f"{stack['stack']}.md").write_text("\n".join(body) + "\n")
                verdicts.append(f"drifted {stack['stack']} {number}".rstrip())
            else:
                verdicts.append(f"clean {stack['stack']} {number}".rstrip())
    return verdicts


def load_plans(files: list[Path]) -> list[dict]:
    plans = []
    for path in files:
        try:
            plan = json.loads(path.read_text())
            if not isinstance(plan, dict) or "stacks" not in plan:
                raise ValueError("not a `platform plan --json` document")
        except (OSError, ValueError) as exc:
            print(f"::warning title=plan_report::skipping {path}: {exc}", file=sys.stderr)
            continue
        plans.append(plan)
    return plans


def open_drift_issues(path: Path) -> dict[str, str]:
    """Title -> number of the open issues titled `Drift: ...` that a bot (this workflow) opened, the lowest number
    when a title repeats. A person's issue of that title is left alone: its author could edit our report."""
    issues = sorted(json.loads(path.read_text()), key=lambda issue: int(issue["number"]), reverse=True)
    return {
        issue["title"]: str(issue["number"])
        for issue in issues
        if issue["title"].startswith(DRIFT_TITLE) and (issue.get("author") or {}).get("is_bot") is True
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("markdown").add_argument("files", nargs="*", type=Path)
    drift_parser = commands.add_parser("drift")
    drift_parser.add_argument("--out", type=Path, required=True)
    drift_parser.add_argument("--open-issues", type=Path, required=True)
    drift_parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    plans = load_plans(args.files)
    if args.command == "markdown":
        sys.stdout.write(markdown(plans))
        return 0
    try:
        open_issues = open_drift_issues(args.open_issues)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"plan_report: cannot read the open issues in {args.open_issues}: {exc}", file=sys.stderr)
        return 2
    for line in drift(plans, args.out, open_issues):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
