"""Arrows point one way: cli -> lifecycle -> stacks -> constructs/aspects -> config (imports inside functions count)."""

import ast
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_cli_module_imports_the_app_that_registers_it():
    importers = [p.name for p in (INFRA / "cli").glob("*.py") if "infra.cli.main" in imported_modules(p)]
    assert importers == []


def test_nothing_below_the_cli_imports_it():
    below = [
        p
        for layer in ("lifecycle", "stacks", "constructs", "aspects", "config")
        for p in (INFRA / layer).rglob("*.py")
    ]
    importers = [
        str(p.relative_to(INFRA))
        for p in below
        if any(module.startswith("infra.cli") for module in imported_modules(p))
    ]
    assert importers == []


def test_loading_the_cli_starts_no_jsii_kernel():
    """The provider bindings' jsii kernel (a node process, seconds to start) belongs to the commands that synthesize.
    `platform validate` must not pay it, and a Ctrl-C before a synth starts must meet the CLI's own handler: an
    import of `constructs` at module level anywhere below the CLI starts the kernel while the CLI is still loading."""
    import subprocess
    import sys

    probe = "import sys, infra.cli.main; print(sorted(m for m in ('jsii', 'constructs', 'cdktf') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def _cycles(package: str) -> list[list[str]]:
    """Groups of ``package``'s modules that import each other, directly or around a circle (type-only imports
    count: a circle there is still two modules that cannot be read, or moved, apart)."""
    paths = {
        ".".join(p.relative_to(INFRA.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (INFRA / package).rglob("*.py")
    }
    graph = {
        module: {m for m in imported_modules(path) if m in paths and m != module}
        for module, path in paths.items()
    }

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    reach = {module: reachable(module) for module in graph}
    groups = {frozenset({m} | {o for o in reach[m] if m in reach[o]}) for m in graph if m in reach[m]}
    return sorted(sorted(group) for group in groups)


def test_the_lifecycle_modules_import_each_other_in_one_direction():
    """services builds the clients; the steps that take services (smoke, rollout, inventory, network_release) sit
    above it, and what services needs from their topics lives in modules of its own (smoke_target.py,
    account_network.py)."""
    assert _cycles("lifecycle") == []
