"""`platform.package_index`: the private package mirror the deploying runner downloads wheelhouse wheels from.

Isolated clusters install their workloads' requirements from wheels the workspace stack uploads
(infra/config/offline_packages.py); the runner that synthesizes fetches those wheels, from PyPI unless this names
a mirror (the security reference architecture's answer for workspaces without internet access: a private
repository). pip is given it as `--index-url`, so it must serve the simple repository API (PEP 503). Every wheel is
still checked against Pipfile.lock's sha256 hashes, whatever the index serves.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator


def check_index_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{value!r} is not an https:// URL (pip refuses plain http from an untrusted host)")
    if parts.username or parts.password:
        raise ValueError(
            "the URL carries credentials; keep secrets out of platform.yaml and give them to pip on the runner "
            "(~/.netrc or keyring)"
        )
    return value


PackageIndexUrl = Annotated[str, AfterValidator(check_index_url)]
