"""Before a deploy or destroy touches a workspace with an IP access list: is this runner on the list?

Databricks enforces an env's IP access list (config `hardening.ip_access_list`) on every UI and API call to its
public front end, Terraform's included. A runner whose public address is not listed fails half way: the platform
stack applies, then the workspace stack is refused (or, when the list is first created, the API refuses a list
that would lock out the caller). So `platform deploy`, `destroy`, `apply` and `env up` ask, before anything is
built, what public address this runner leaves from, the way any client behind NAT finds it: an HTTPS "what is
my IP" service. A runner off the list stops there with one line (exit 2).
"""

from __future__ import annotations

import http.client
import ipaddress
import urllib.request
from typing import Protocol

from infra.config import TeamEnv
from infra.lifecycle.errors import InputProblem, OperationFailed

# Answers with the caller's address as plain text; served by AWS, reachable from any runner with internet egress.
WHAT_IS_MY_IP = "https://checkip.amazonaws.com"
TIMEOUT_SECONDS = 10


class PublicAddress(Protocol):
    def __call__(self) -> str:
        """This machine's public IPv4 address as the internet sees it."""


def https_public_address(url: str = WHAT_IS_MY_IP) -> str:
    """The real PublicAddress: one HTTPS GET; OperationFailed (one line) when it cannot be read."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            text = response.read(64).decode("ascii", "replace").strip()
    # OSError: unreachable, refused, TLS, HTTP errors; ValueError: http.client.InvalidURL from a mistyped
    # HTTP(S)_PROXY; HTTPException: an answer cut short. Each is one line, never a traceback.
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise OperationFailed(f"cannot read this runner's public address from {url}: {exc!r}") from None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise OperationFailed(f"{url} answered {text[:40]!r}, not an IPv4 address") from None


def ip_access_field(team_env: TeamEnv) -> str | None:
    """The config field of the list this env's front end enforces; None when it enforces none."""
    settings = team_env.settings
    if not (settings.hardening.ip_access_list and settings.public_network_access):
        return None
    env = team_env.base_env or team_env.env
    return f"teams.{team_env.team.name}.environments.{env}.hardening.ip_access_list"


def describe_check(team_env: TeamEnv) -> str | None:
    """The dry run's line for the check; None when the env has no list."""
    field = ip_access_field(team_env)
    if field is None:
        return None
    return f"check this runner's public address (from {WHAT_IS_MY_IP}) is on {field}"


def check_runner_listed(team_env: TeamEnv, public_address: PublicAddress) -> None:
    """InputProblem naming the list when this runner's public address is not on it; nothing without a list."""
    field = ip_access_field(team_env)
    if field is None:
        return
    address = public_address()
    if not team_env.settings.hardening.allows(address):
        raise InputProblem(
            field,
            f"this runner's public address {address} is not on it, so Databricks would refuse the workspace "
            f"stack of {team_env.key}; add the runner's range (docs/operations.md) or deploy from a listed runner",
        )
