"""Load platform.yaml into the typed model and turn every problem into one readable line."""

from __future__ import annotations

import difflib
import gc
import os
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from infra.config.base import CROSS_CHECK_MARK, RELATIVE_MARK, team_paths
from infra.config.model import PlatformConfig
from infra.config.yaml_reader import YamlProblem, read_yaml

DEFAULT_CONFIG = Path("platform.yaml")
CONFIG_ENV_VAR = "PLATFORM_CONFIG"


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` holds one line per problem, each naming its field path."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))

    def lines(self) -> list[str]:
        return [f"{self.source}: {p}" for p in self.problems]


def resolve_config_path(explicit: Path | None) -> Path:
    """--config wins, then $PLATFORM_CONFIG, then ./platform.yaml."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV_VAR)
    return Path(from_env) if from_env else DEFAULT_CONFIG


def load_config(path: Path | None = None) -> PlatformConfig:
    """Read and validate the config, raising ConfigError with every problem found."""
    path = resolve_config_path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, [f"file not found (set --config or ${CONFIG_ENV_VAR})"]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [f"cannot read: {exc.__class__.__name__}"]) from None
    return parse_config(text, source=source)


def parse_config(text: str, *, source: str = "platform.yaml") -> PlatformConfig:
    with _collector_paused():
        return _parse(text, source=source)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading a config allocates a node, a value and a model per YAML value and frees none of them until the
    end, so the cyclic garbage collector only re-scans what is still alive: paused, a 1,000-team config reads in
    half the time. Memory stays bounded by the document (read_yaml refuses alias bombs before building)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse(text: str, *, source: str) -> PlatformConfig:
    try:
        raw = read_yaml(text)
    except YamlProblem as exc:
        raise ConfigError(source, [str(exc)]) from None
    if not isinstance(raw, dict):
        raise ConfigError(source, ["must be a YAML mapping with keys 'platform' and 'teams'"])
    try:
        return PlatformConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc, raw)) from None


# YAML 1.1 (PyYAML) reads these unquoted words as booleans.
YAML_BOOLEAN_HINT = "YAML reads unquoted yes/no/on/off/true/false as a boolean; quote the value, e.g. 'no'"


def format_validation_error(exc: ValidationError, raw: Any = None) -> list[str]:
    """One line per error, each starting with its field path; a team is named `teams.<name>` (from ``raw``, the
    document as read) so the line says which team without counting list items."""
    teams = raw.get("teams") if isinstance(raw, dict) else None
    names = (
        [team.get("name") if isinstance(team, dict) else None for team in teams]
        if isinstance(teams, list)
        else []
    )
    paths = team_paths(names)
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = _without_union_tags(error["loc"])
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if message.startswith(CROSS_CHECK_MARK):
            lines.extend(message.removeprefix(CROSS_CHECK_MARK).splitlines())
            continue
        if message.startswith(RELATIVE_MARK):
            where = format_loc(loc, paths)
            lines.extend(f"{where}.{line}" for line in message.removeprefix(RELATIVE_MARK).splitlines())
            continue
        if error["type"] == "extra_forbidden":
            message = "unknown key" + _did_you_mean(loc)
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "string_pattern_mismatch":
            pattern = (error.get("ctx") or {}).get("pattern", "")
            doc = _field_doc(loc)
            message = f"{error['input']!r} is invalid: " + (doc or f"must match {pattern}")
        elif error["type"] == "literal_error":
            written = (
                str(error["input"]).lower() if isinstance(error["input"], bool) else repr(error["input"])
            )
            message = f"{written} is not allowed; {message.lower()}"
        if isinstance(error.get("input"), bool):
            if loc[-1:] == ("[key]",):  # pydantic writes a boolean key into loc as 1 or 0
                loc = (*loc[:-2], str(error["input"]).lower())
            message += f" ({YAML_BOOLEAN_HINT})"
        lines.append(f"{format_loc(loc, paths)}: {message}")
    return lines


# The `kind` tags of the discriminated workload union: pydantic puts the tag in the error's location
# (`workloads.0.managed.name`); the config has no such level.
UNION_TAGS = frozenset({"managed", "bundle"})


def _without_union_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (part in UNION_TAGS and i >= 2 and type(loc[i - 1]) is int and loc[i - 2] == "workloads")
    )


def format_loc(loc: tuple[Any, ...], paths: list[str] | None = None) -> str:
    path, rest = "", loc
    if paths and len(loc) >= 2 and loc[0] == "teams" and type(loc[1]) is int and loc[1] < len(paths):
        path, rest = paths[loc[1]], loc[2:]
    for part in rest:
        if part == "[key]":  # pydantic marks errors in dict keys this way; the key itself is already in loc
            continue
        if type(part) is int:
            path += f"[{part}]"
        else:
            part = str(part).lower() if isinstance(part, bool) else part
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    parent = _model_at(loc[:-1])
    if parent is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(parent.model_fields)})"


def _field_doc(loc: tuple[Any, ...]) -> str | None:
    """First sentence of the field's docstring, which states the rule in words."""
    parent = _model_at(loc[:-1])
    field = parent.model_fields.get(str(loc[-1])) if parent else None
    if field is None or not field.description:
        return None
    # Constrained fields start their docstring with the rule, ended by a colon.
    rule, colon, _ = field.description.partition(":")
    return rule.strip() if colon else None


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model class that sits at ``loc`` (used to suggest field names)."""
    current: Any = PlatformConfig
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:
            current = _container_item(current)
        current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation


def _container_item(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is dict:
        return args[1]
    if origin is list:
        return args[0]
    return None
