"""`platform.package_index`: the private package mirror the deploying runner downloads wheelhouse wheels from.

Isolated clusters install their workloads' requirements from wheels the workspace stack uploads
(infra/config/offline_packages.py); the runner that synthesizes fetches those wheels, from PyPI unless this names
a mirror (the security reference architecture's answer for workspaces without internet access: a private
repository). pip is given it as `--index-url`, so it must serve the simple repository API (PEP 503). Every wheel is
still checked against Pipfile.lock's sha256 hashes, whatever the index serves.

A refusal never repeats the URL: what is wrong with it may be a secret (a password, a token in its query).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

# PyPI's own simple API; its other paths (the site, /pypi's JSON API) answer pip's `<index>/<project>/` with 404.
PYPI_HOSTS = frozenset({"pypi.org", "www.pypi.org", "test.pypi.org"})


def check_index_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.username or parts.password:
        raise ValueError(
            "the URL carries credentials; keep secrets out of platform.yaml and give them to pip on the runner "
            "(~/.netrc or keyring)"
        )
    if parts.query or parts.fragment:
        raise ValueError(
            "the URL has a query or fragment (a token?); pip appends each project's name to the index's path, "
            "and secrets stay out of platform.yaml (give them to pip on the runner: ~/.netrc or keyring)"
        )
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(
            "not an https:// URL with a host (pip refuses plain http from an untrusted host), e.g. "
            "https://pypi.example.com/simple"
        )
    if parts.hostname in PYPI_HOSTS and parts.path.rstrip("/") != "/simple":
        raise ValueError(f"PyPI's simple API is https://{parts.hostname}/simple (pip's --index-url)")
    return value


PackageIndexUrl = Annotated[str, AfterValidator(check_index_url)]
