"""Wheels for tests: a real zip with a correct RECORD, built from a dict of files or a source tree."""

import base64
import hashlib
import zipfile
from pathlib import Path


def write_wheel(path: Path, files: dict[str, bytes], *, dist_info: str = "churn-0.1.0.dist-info") -> Path:
    """A wheel holding ``files`` plus METADATA and a RECORD that lists each with its sha256 and size."""
    files = {**files, f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: churn\nVersion: 0.1.0\n"}
    rows = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    rows.append(f"{dist_info}/RECORD,,")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(rows) + "\n")
    return path


def source_tree_files(source: Path) -> dict[str, bytes]:
    """Every file under ``source`` (a project's src/), as wheel member names; caches left out."""
    return {
        p.relative_to(source).as_posix(): p.read_bytes()
        for p in sorted(source.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not any(x.endswith(".egg-info") for x in p.parts)
    }
