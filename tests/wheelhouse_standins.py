"""Stand-ins for the wheelhouse wheels (fairlearn, narwhals) so the committed config synthesizes without network.

Tests never download: each wheel the committed config's isolated envs need (the closure of its managed workloads'
requirements, infra/config/offline_packages.py) is replaced by a tiny real wheel with the same file name, name,
version and Requires-Dist, built with fixed timestamps (the same bytes every run, so content-addressed volume paths
in the snapshots are stable). A copy of Pipfile.lock that lists the stand-ins' sha256 instead of PyPI's pins them,
and pip reads them from a local directory (`--no-index --find-links`): the synth runs the same fetch, hash check
and cache as on a runner, only the bytes differ from PyPI's.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def build_wheel(directory: Path, name: str, version: str, requires: list[str]) -> Path:
    """A minimal pure-Python wheel (`<name>-<version>-py3-none-any.whl`) with a correct RECORD."""
    stem = f"{name.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            f"Name: {name}",
            f"Version: {version}",
            *(f"Requires-Dist: {r}" for r in requires),
        ]
    )
    files = {
        f"{name.replace('-', '_')}/__init__.py": f'"""Stand-in of {name} {version} for tests."""\n'.encode(),
        f"{dist_info}/METADATA": (metadata + "\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    rows = []
    for member, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{member},sha256={digest},{len(data)}")
    files[f"{dist_info}/RECORD"] = ("\n".join([*rows, f"{dist_info}/RECORD,,"]) + "\n").encode()
    path = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(zipfile.ZipInfo(member, date_time=FIXED_TIME), data)
    return path


def standins(root: Path, directory: Path) -> tuple[Path, Path]:
    """Build the stand-ins of every wheelhouse pin of ``root``'s config into ``directory``/wheels and write the lock
    that pins them; returns (the wheels' directory, the lock)."""
    from infra.config.offline_packages import (
        closure,
        project_requirements,
        read_lock,
        read_runtime,
        runtime_list_path,
    )

    lock = read_lock(root / "Pipfile.lock")
    wheels = directory / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    pins = {
        pin.name: pin
        for runtime in ("18", "17.3")
        for pin in closure(
            project_requirements(root / "ml"),
            runtime=read_runtime(runtime_list_path(runtime, root)),
            lock=lock,
        )
    }
    document = json.loads((root / "Pipfile.lock").read_text())
    for name, pin in pins.items():
        requires = importlib.metadata.distribution(name).requires or []
        wheel = build_wheel(wheels, name, pin.version, list(requires))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        (key,) = [k for k in document["default"] if k.lower().replace("_", "-") == name]
        document["default"][key]["hashes"] = [f"sha256:{digest}"]
    lock_file = directory / "Pipfile.lock"
    lock_file.write_text(json.dumps(document, indent=4))
    return wheels, lock_file
