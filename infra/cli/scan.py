"""`platform scan`: run checkov, offline and from its own virtualenv, over every synthesized stack.

checkov applies the skip list of policy/checkov.yaml itself; the reason for each skip comes from
policy/checkov-skips.yaml (kept in step by tests). A second, narrow checkov run over only the skipped checks
counts what the skips hide, so the table shows it. Policy-aspect suppressions are read from the scanned
cdk.tf.json files (the aspect writes them next to each exempted resource), so the list matches the files even
with --skip-synth.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.padding import Padding
from rich.table import Table

from infra.cli import synth
from infra.cli.checkov_input import original, parsable_copy
from infra.cli.errors import UsageProblem
from infra.cli.options import ConfigOption, OutOption, WheelOption, default_outdir
from infra.cli.sarif import check_writable, write_sarif
from infra.project import project_root

# Relative to the project root (infra.project), not to the working directory: `platform scan` run from a
# subdirectory or with --config elsewhere finds the same checkov and skip list as a run at the root.
CHECKOV_IN_PROJECT = Path(".venv-checkov/bin/checkov")
CHECKOV_CONFIG_IN_PROJECT = Path("policy/checkov.yaml")


def project_checkov() -> Path:
    return project_root() / CHECKOV_IN_PROJECT


def project_checkov_config() -> Path:
    return project_root() / CHECKOV_CONFIG_IN_PROJECT


SKIPS_FILE_NAME = "checkov-skips.yaml"
CHECKOV_TIMEOUT_SECONDS = 900
# Offline: no guideline/mapping download, no PyPI update check, never a platform API key.
OFFLINE_ENV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE"}
CREDENTIAL_ENV = ("BC_API_KEY", "PRISMA_API_URL", "CKV_API_KEY")

console = Console()


class ScanError(UsageProblem):
    """The scan could not run (checkov missing, bad skip list, no stacks): one line, exit code 2."""


@dataclass(frozen=True)
class CheckovSkip:
    check_id: str
    title: str
    reason: str
    backed_by: tuple[str, ...]


def load_skips(config_path: Path) -> list[CheckovSkip]:
    """The skipped checks of ``config_path`` with their reasons from ``checkov-skips.yaml`` beside it.

    Refuses a skip without a reason, a reason for a check that is not skipped, and a config that does not
    scan terraform_json offline (without it cdk.tf.json files are silently skipped).
    """
    skips_path = config_path.with_name(SKIPS_FILE_NAME)
    config = _read_yaml(config_path)
    reasons = _read_yaml(skips_path)
    if "terraform_json" not in _flat(config.get("framework")):
        raise ScanError(
            f"{config_path}: framework must include terraform_json, or cdk.tf.json is not scanned"
        )
    if config.get("skip-download") is not True:
        raise ScanError(f"{config_path}: skip-download must be true (the scan runs offline)")
    skipped = [str(check) for check in _flat(config.get("skip-check"))]
    if len(set(skipped)) != len(skipped):
        raise ScanError(f"{config_path}: skip-check lists a check twice")
    unexplained = [check for check in skipped if check not in reasons]
    if unexplained:
        raise ScanError(f"{skips_path}: no reason for skipped check(s) {', '.join(unexplained)}")
    stray = [check for check in reasons if check not in skipped]
    if stray:
        raise ScanError(
            f"{skips_path}: reason given for check(s) not skipped in {config_path}: {', '.join(stray)}"
        )
    result = []
    for check in skipped:
        entry = reasons[check] if isinstance(reasons[check], dict) else {}
        reason = " ".join(str(entry.get("reason") or "").split())
        if not reason:
            raise ScanError(f"{skips_path}: {check} has an empty reason")
        backed_by = entry.get("backed_by") or []
        if not isinstance(backed_by, list):
            raise ScanError(f"{skips_path}: {check}: backed_by must be a list of rule IDs")
        result.append(CheckovSkip(check, str(entry.get("title") or ""), reason, tuple(map(str, backed_by))))
    return result


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScanError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ScanError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ScanError(f"{path}: expected a mapping at the top level")
    return data


def _flat(value: Any) -> list[Any]:
    """checkov writes list options as lists, sometimes nested (``framework: [[terraform_json]]``)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [item for part in value for item in _flat(part)]
    return [value]


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str
    file: str = ""
    """The scanned cdk.tf.json, as checkov reports it (absolute)."""
    lines: tuple[int, int] = (1, 1)
    """First and last line of the resource in that file (checkov's file_line_range)."""


@dataclass
class StackResult:
    name: str
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    skipped_passing: list[Finding] = field(default_factory=list)
    """Results of skipped checks that would pass: the skip costs nothing here."""
    skipped_failing: list[Finding] = field(default_factory=list)
    """Results of skipped checks that would fail: what the skips hide, each for the reason in the skip list."""
    parse_error: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.parse_error


def stack_files(out: Path) -> list[Path]:
    files = sorted((out / "stacks").glob("*/cdk.tf.json"))
    if not files:
        raise ScanError(
            f"{out}/stacks: no synthesized stacks (run without --skip-synth, or `platform synth`)"
        )
    return files


def checkov_report(checkov: Path, files: Sequence[Path], args: Sequence[str]) -> list[dict[str, Any]]:
    """Run checkov over ``files`` with ``args`` (JSON output, offline); its reports, one per framework."""
    if not checkov.is_file():
        raise ScanError(f"checkov is not installed ({checkov} is missing); run make setup")
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENV} | OFFLINE_ENV
    command = [str(checkov), *args, "--output", "json"]
    for path in files:
        command += ["--file", str(path.resolve())]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=CHECKOV_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise ScanError(f"checkov did not finish within {CHECKOV_TIMEOUT_SECONDS} s") from None
    # 0: nothing failed, 1: checks failed; anything else (or no JSON) means checkov itself broke.
    try:
        parsed = json.loads(done.stdout) if done.returncode in (0, 1) else None
    except json.JSONDecodeError:
        parsed = None
    if parsed is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ScanError(f"checkov exited with code {done.returncode}: {last}")
    reports = parsed if isinstance(parsed, list) else [parsed]
    # A run that found nothing to check prints a bare summary instead of a report.
    return [report for report in reports if isinstance(report, dict) and "results" in report]


def _stack_of(result: dict[str, Any]) -> str:
    return Path(result.get("file_abs_path") or result["file_path"]).parent.name


def scan(out: Path, *, checkov: Path | None = None, config: Path | None = None) -> list[StackResult]:
    """checkov over every ``out/stacks/*/cdk.tf.json``: one result per stack, in name order."""
    checkov, config = checkov or project_checkov(), config or project_checkov_config()
    skips = load_skips(config)
    files = stack_files(out)
    results = {path.parent.name: StackResult(path.parent.name) for path in files}
    offline = ["--framework", "terraform_json", "--skip-download"]
    runs = [(["--config-file", str(config.resolve())], False)]
    if skips:
        runs.append(([*offline, "--check", ",".join(s.check_id for s in skips)], True))
    with tempfile.TemporaryDirectory(prefix="checkov-input-") as tmp:
        read = [parsable_copy(path, Path(tmp)) for path in files]
        copies = {str(c.resolve()): str(p.resolve()) for c, p in zip(read, files, strict=True) if c != p}
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            reports = list(pool.map(lambda run: checkov_report(checkov, read, run[0]), runs))
    for (_, counts_skips), run_reports in zip(runs, reports, strict=True):
        _tally(results, run_reports, skipped_run=counts_skips, copies=copies)
    return list(results.values())


def _tally(
    results: dict[str, StackResult],
    reports: Iterable[dict[str, Any]],
    *,
    skipped_run: bool,
    copies: dict[str, str],
) -> None:
    for report in reports:
        found = report["results"]
        for path in found.get("parsing_errors") or []:
            results[Path(path).parent.name].parse_error = True
        for outcome in ("passed_checks", "failed_checks"):
            for check in found.get(outcome) or []:
                stack = results[_stack_of(check)]
                first, last = (check.get("file_line_range") or [1, 1])[:2]
                finding = Finding(
                    check["check_id"],
                    check.get("check_name", ""),
                    check["resource"],
                    file=original(check.get("file_abs_path") or check.get("file_path") or "", copies),
                    lines=(max(int(first), 1), max(int(last), int(first), 1)),
                )
                if skipped_run:
                    (stack.skipped_passing if outcome == "passed_checks" else stack.skipped_failing).append(
                        finding
                    )
                elif outcome == "passed_checks":
                    stack.passed += 1
                else:
                    stack.failed.append(finding)


@dataclass(frozen=True)
class RecordedSuppression:
    stack: str
    resource: str
    rule_id: str
    reason: str


def suppressions_in(out: Path) -> list[RecordedSuppression]:
    """Policy-aspect suppressions as written next to each exempted resource in ``out/stacks/*/cdk.tf.json``."""
    from infra.aspects.policy import SUPPRESSIONS_JSON_KEY

    found = []
    for path in stack_files(out):
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue  # reported as unparsable by the checkov run, which fails the scan
        for resource_type, blocks in (document.get("resource") or {}).items():
            for name, block in blocks.items():
                for entry in (block.get("//") or {}).get(SUPPRESSIONS_JSON_KEY) or []:
                    found.append(
                        RecordedSuppression(
                            path.parent.name, f"{resource_type}.{name}", entry["rule"], entry["reason"]
                        )
                    )
    return found


def skip_outcomes(results: list[StackResult], check_id: str) -> tuple[list[str], list[str]]:
    """Where a skipped check is not needed (stacks that pass it anyway) and where it hides a failure."""
    failing = sorted({r.name for r in results if any(f.check_id == check_id for f in r.skipped_failing)})
    passing = sorted(
        {
            r.name
            for r in results
            if r.name not in failing and any(f.check_id == check_id for f in r.skipped_passing)
        }
    )
    return passing, failing


def _kind(stack: str) -> str:
    return stack.rsplit("-", 1)[-1]


def print_report(
    results: list[StackResult], skips: list[CheckovSkip], suppressions: list[RecordedSuppression]
) -> None:
    table = Table(
        "stack",
        "passed",
        "failed",
        "skipped results (would fail)",
        title="checkov (offline, policy/checkov.yaml) per stack",
    )
    for result in results:
        failed = "[red]unparsable[/]" if result.parse_error else str(len(result.failed))
        if result.failed:
            failed = f"[red]{failed}[/]"
        skipped = len(result.skipped_passing) + len(result.skipped_failing)
        table.add_row(result.name, str(result.passed), failed, f"{skipped} ({len(result.skipped_failing)})")
    console.print(table)
    if any(_kind(r.name) == "workspace" and not (r.passed or r.failed) for r in results):
        console.print(
            "checkov has no checks for databricks_* resources; the PLAT-DBX-* policy rules cover them at synth."
        )

    failures = [
        (result.name, f"{finding.check_id} {finding.resource}: {finding.check_name}")
        for result in results
        for finding in result.failed
    ] + [
        (result.name, "cdk.tf.json: checkov could not parse the file")
        for result in results
        if result.parse_error
    ]
    if failures:
        console.print(f"\n[red bold]Failed checks[/] ({len(failures)}):")
        for stack, what in failures:
            _item(f"[bold]{stack}[/]", what)

    console.print(f"\n[bold]checkov skips[/] ({len(skips)}, reasons from policy/{SKIPS_FILE_NAME}):")
    for skip in skips:
        backed = f"\nbacked by: {', '.join(skip.backed_by)}" if skip.backed_by else ""
        passing, failing = skip_outcomes(results, skip.check_id)
        where = f"\npasses without the skip: {', '.join(passing) or 'none'}"
        where += f"\nskipped (would fail): {', '.join(failing) or 'none'}"
        _item(f"[bold]{skip.check_id}[/] {skip.title}", skip.reason + backed + where)

    console.print(f"\n[bold]Policy suppressions[/] in the scanned stacks ({len(suppressions)}):")
    for s in suppressions:
        _item(f"[bold]{s.rule_id}[/] {s.stack}: {s.resource}", s.reason)
    if not suppressions:
        console.print("  none")
    console.print()


def _item(head: str, body: str) -> None:
    console.print(Padding(head, (0, 0, 0, 2), expand=False), highlight=False)
    console.print(Padding(body, (0, 0, 0, 6), expand=False), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add `platform scan` to the platform CLI."""

    @app.command("scan")
    def scan_command(
        config: ConfigOption = None,
        out: OutOption = None,
        skip_synth: Annotated[
            bool, typer.Option("--skip-synth", help="Scan OUT as it is instead of synthesizing first.")
        ] = False,
        wheel: WheelOption = None,
        checkov_config: Annotated[
            Path | None,
            typer.Option(
                "--checkov-config",
                help=f"checkov config; reasons in checkov-skips.yaml beside it. Default: the project's "
                f"{CHECKOV_CONFIG_IN_PROJECT}.",
                show_default=False,
            ),
        ] = None,
        checkov: Annotated[
            Path | None,
            typer.Option(
                "--checkov",
                help=f"checkov executable. Default: the project's {CHECKOV_IN_PROJECT} (make setup).",
                show_default=False,
            ),
        ] = None,
        sarif_file: Annotated[
            Path | None,
            typer.Option(
                "--sarif",
                metavar="FILE",
                help="Also write the findings as SARIF 2.1.0 for GitHub code scanning (docs/security.md).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Synthesize, run checkov over every stack, list skips and suppressions; exit 1 on any failed check."""
        out = out or default_outdir()
        if sarif_file is not None:
            check_writable(sarif_file)
        checkov, checkov_config = checkov or project_checkov(), checkov_config or project_checkov_config()
        skips = load_skips(checkov_config)
        if not checkov.is_file():
            raise ScanError(f"checkov is not installed ({checkov} is missing); run make setup")
        if not skip_synth:
            synth.synth(config=config, out=out, wheel=wheel)
        with console.status("running checkov"):
            results = scan(out, checkov=checkov, config=checkov_config)
        suppressions = suppressions_in(out)
        print_report(results, skips, suppressions)
        if sarif_file is not None:
            write_sarif(sarif_file, results, skips, suppressions, out=out)
        failing = [r.name for r in results if not r.ok]
        if failing:
            console.print(f"[red]scan failed[/]: {len(failing)} of {len(results)} stacks have failed checks")
            raise typer.Exit(1)
        console.print(f"[green]scan passed[/]: {len(results)} stacks, no failed checks")
