"""Render the platform.yaml field reference (docs/config-reference.md) from the config models.

The models are the single source: every field's type, constraints, default and description (its attribute
docstring) come from `PlatformConfig` and the models it nests, the per-kind defaults from `ENV_DEFAULTS`.

    python -m infra.config.reference > docs/config-reference.md
"""

from __future__ import annotations

import json
import sys
import types
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from infra.config.aws import check_cloudwatch_retention
from infra.config.base import PERMANENT_ENVS, check_cron, check_network
from infra.config.environment import ENV_DEFAULTS
from infra.config.model import PlatformConfig
from infra.config.team import check_region

REGENERATE = "python -m infra.config.reference > docs/config-reference.md"

# What the config's own validators accept, in words (they are plain functions without a docstring).
VALIDATOR_WORDS: dict[Any, str] = {
    check_cron: "Quartz cron expression (sec min hour day month weekday)",
    check_region: "Azure region that offers Azure Databricks",
    check_network: "private IPv4 CIDR (RFC 1918), /16 to /24",
    check_cloudwatch_retention: "a CloudWatch Logs retention of at least 365 days",
}

SCALAR_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    date: "date (YYYY-MM-DD)",
    UUID: "UUID",
}


def render_reference(root: type[BaseModel] = PlatformConfig) -> str:
    """The whole reference as Markdown: one section per model, reached from ``root`` in field order."""
    sections = _sections(root)
    lines = [
        "# platform.yaml reference",
        "",
        f"<!-- Generated from infra/config/model.py by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "Every key of `platform.yaml`, generated from the pydantic models that validate it. Unknown keys are",
        "errors. `platform validate` checks a file; `platform schema` writes the JSON Schema editors use.",
        "",
        "Sections: " + ", ".join(f"[{model.__name__}](#{_anchor(model)})" for model, _ in sections) + ".",
        "",
    ]
    for model, path in sections:
        lines += _model_section(model, path)
    lines += _env_defaults_section()
    return "\n".join(lines).rstrip("\n") + "\n"


def _sections(root: type[BaseModel]) -> list[tuple[type[BaseModel], str]]:
    """Every model reachable from ``root``, depth first in field order, with the YAML path it first appears at."""
    seen: dict[type[BaseModel], str] = {}

    def visit(model: type[BaseModel], path: str) -> None:
        if model in seen:
            return
        seen[model] = path
        for name, field in model.model_fields.items():
            for nested, suffix in _nested_models(field.annotation):
                visit(nested, f"{path}.{name}{suffix}" if path else f"{name}{suffix}")

    visit(root, "")
    return list(seen.items())


def _nested_models(annotation: Any) -> list[tuple[type[BaseModel], str]]:
    """Models inside a field's type, each with how the YAML path continues into it ([] for lists, .<key> for maps)."""
    annotation = _strip_annotated(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, "")]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list:
        return [(model, f"[]{suffix}") for model, suffix in _nested_models(args[0])]
    if origin is dict:
        return [(model, f".<{_key_name(args[0])}>{suffix}") for model, suffix in _nested_models(args[1])]
    if _is_union(annotation):
        return [found for arg in args for found in _nested_models(arg)]
    return []


def _model_section(model: type[BaseModel], path: str) -> list[str]:
    lines = [f"## {model.__name__}", ""]
    if path:
        lines += [f"At `{path}`.", ""]
    if model.__doc__:
        lines += [_one_line(model.__doc__), ""]
    lines += ["| key | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        cells = [
            f"`{name}`",
            _describe_type(field),
            _describe_default(field),
            _one_line(field.description or ""),
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return [*lines, ""]


def _env_defaults_section() -> list[str]:
    flat = {env: _flatten(ENV_DEFAULTS.get(env, {})) for env in PERMANENT_ENVS}
    keys = sorted({key for values in flat.values() for key in values})
    lines = [
        "## Defaults per environment kind",
        "",
        "An environment's unset keys take these values before the model defaults above apply; what",
        "`platform.yaml` sets always wins. `-` means the model default.",
        "",
        "| key | " + " | ".join(PERMANENT_ENVS) + " |",
        "|---|" + "---|" * len(PERMANENT_ENVS),
    ]
    for key in keys:
        cells = [f"`{_flow(flat[env][key])}`" if key in flat[env] else "-" for env in PERMANENT_ENVS]
        lines.append(f"| `{key}` | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _describe_type(field: FieldInfo) -> str:
    words = _type_words(field.annotation)
    constraints = _constraint_words(field.metadata, of=field.annotation)
    return f"{words}; {constraints}" if constraints else words


def _type_words(annotation: Any) -> str:
    if get_origin(annotation) is Annotated:
        inner, *extras = get_args(annotation)
        metadata = [
            m for extra in extras for m in (extra.metadata if isinstance(extra, FieldInfo) else [extra])
        ]
        constraints = _constraint_words(metadata, of=inner)
        return f"{_type_words(inner)} ({constraints})" if constraints else _type_words(inner)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(f"`{_flow(arg)}`" for arg in args)
    if origin is list:
        return f"list of {_type_words(args[0])}"
    if origin is dict:
        return f"map of {_type_words(args[0])} to {_type_words(args[1])}"
    if _is_union(annotation):
        present = [arg for arg in args if arg is not type(None)]
        words = " or ".join(_type_words(arg) for arg in present)
        return f"{words}, optional" if len(present) < len(args) else words
    if getattr(annotation, "__name__", "") == "EmailStr":
        return "e-mail address"
    return SCALAR_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


# annotated_types constraint -> (its attribute, how the bound reads)
BOUNDS: tuple[tuple[type, str, str], ...] = (
    (annotated_types.Ge, "ge", ">= {}"),
    (annotated_types.Gt, "gt", "> {}"),
    (annotated_types.Le, "le", "<= {}"),
    (annotated_types.Lt, "lt", "< {}"),
    (annotated_types.MinLen, "min_length", "at least {}"),
    (annotated_types.MaxLen, "max_length", "at most {}"),
)


def _constraint_words(metadata: list[Any], *, of: Any) -> str:
    """Constraints in words; ``of`` is the constrained type (a length bound counts characters of a string)."""
    unit = "character" if of is str else "item"
    words = []
    for item in metadata:
        bound = next(((attr, text) for kind, attr, text in BOUNDS if isinstance(item, kind)), None)
        if bound:
            attr, text = bound
            value = getattr(item, attr)
            length_unit = f" {unit}{'' if value == 1 else 's'}" if attr.endswith("_length") else ""
            words.append(text.format(value) + length_unit)
        elif getattr(item, "pattern", None):
            words.append(f"matches `{item.pattern}`")
        elif callable(getattr(item, "func", None)):
            words.append(VALIDATOR_WORDS.get(item.func, f"checked by `{item.func.__name__}`"))
    return ", ".join(words)


def _describe_default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return _describe_value(field.default_factory())
    if field.default is PydanticUndefined:
        return "**required**"
    return _describe_value(field.default)


def _describe_value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        changed = _differences_from_model_defaults(value)
        return f"`{_flow(changed)}`" if changed else "its defaults"
    return f"`{_flow(value)}`"


def _differences_from_model_defaults(value: BaseModel) -> dict[str, Any]:
    """The fields of a model instance used as a default that differ from that model's own field defaults."""
    dumped = value.model_dump(mode="json")
    changed = {}
    for name, field in type(value).model_fields.items():
        own = field.default_factory() if field.default_factory else field.default
        own = own.model_dump(mode="json") if isinstance(own, BaseModel) else own
        if own is PydanticUndefined or json.dumps(own, default=str) != json.dumps(dumped[name], default=str):
            changed[name] = dumped[name]
    return changed


def _flow(value: Any) -> str:
    """A value as YAML flow syntax, the way one would write it in platform.yaml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date | UUID):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):  # an item of a list default (a team's default workloads)
        return _flow(_differences_from_model_defaults(value))
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    return str(value)


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _strip_annotated(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _key_name(annotation: Any) -> str:
    args = get_args(annotation)
    return "|".join(map(str, args)) if get_origin(annotation) is Literal else "key"


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main() -> None:
    sys.stdout.write(render_reference())


if __name__ == "__main__":
    main()
