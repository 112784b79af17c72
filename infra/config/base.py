"""Shared pieces of the config models: the strict base model and the field types several models use."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from infra.config.cron import quartz_cron_problem

PERMANENT_ENVS: tuple[str, ...] = ("dev", "staging", "prod")
EnvName = Literal["dev", "staging", "prod"]

# Marks a root-level error whose lines already carry their own field paths.
CROSS_CHECK_MARK = "cross-check:\n"
# Marks an error whose lines carry field paths below the error's own location (`prod.public_network_access: ...`).
RELATIVE_MARK = "relative:\n"

TEAM_NAME = r"^[a-z][a-z0-9]{1,11}$"
# A name that can stand in a field path (`teams.churn.environments.dev`) without reading as more than one part.
PATH_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def repeated(values: Sequence[str]) -> list[str]:
    """The values listed more than once, sorted (for the one-line error that names them)."""
    return sorted(value for value, n in Counter(values).items() if n > 1)


def team_path(name: object, index: int, *, unique: bool = True) -> str:
    """How every error line names a team: `teams.<name>` (`teams.churn`), the name people know. A team whose
    name is missing, odd, or shared with another team falls back to its position, `teams[3]`."""
    if unique and isinstance(name, str) and PATH_SAFE_NAME.match(name):
        return f"teams.{name}"
    return f"teams[{index}]"


def team_paths(names: Sequence[object]) -> list[str]:
    """team_path of each team of the list, by position."""
    counts = Counter(name for name in names if isinstance(name, str))
    return [team_path(name, index, unique=counts[name] == 1) for index, name in enumerate(names)]


EPHEMERAL_NAME = r"^[a-z][a-z0-9]{1,9}$"
# `<team>/<env>` of a permanent env (platform-wide settings that name the one env doing something).
EnvRef = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*/[a-z][a-z0-9]*$")]


class StrictModel(BaseModel):
    """Base for all config models: unknown keys are errors, values are immutable once loaded."""

    # allow_inf_nan off: YAML's .inf and .nan are floats, and no amount, threshold or share may be either.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False)


def check_cron(value: str) -> str:
    problem = quartz_cron_problem(value)
    if problem:
        raise ValueError(f"{value!r} is not a Databricks (Quartz) cron expression: {problem}")
    return value


RFC1918 = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def check_network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR network address ({exc})") from None
    # is_private also holds for ranges no VNet or VPC can route for Databricks (100.64/10 carrier-grade NAT,
    # 198.18/15 benchmarking, 169.254/16 link-local, 127/8, 0/8): only RFC 1918 space is accepted.
    if network.version != 4 or not any(network.subnet_of(block) for block in RFC1918):
        raise ValueError(f"{value!r} must be a private IPv4 range (10/8, 172.16/12 or 192.168/16)")
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(f"{value!r} must be between /16 and /24 so each Databricks subnet gets at least /26")
    return value


# Labels of GitHub-hosted runner images: they run outside every customer network.
GITHUB_HOSTED_LABEL = re.compile(r"^(ubuntu|windows|macos)-")
RunnerLabel = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]

QuartzCron = Annotated[str, AfterValidator(check_cron)]
PrivateNetwork = Annotated[str, AfterValidator(check_network)]
