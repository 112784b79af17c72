"""The vendored Databricks bundle JSON schema as a validator, and a bundle's configuration merged the way the
databricks CLI merges it, for tests of what `platform bundle-targets` emits.

Merging follows databricks/cli v1.13.0: the root file's `include` paths (globs, relative to the bundle root) are
loaded and each merged into the root (bundle/config/loader/process_include.go -> Root.Merge ->
libs/dyn/merge/merge.go: maps merge key by key, sequences are concatenated, any other value of the included
file replaces the root's, a null on either side gives way to the other).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "infra" / "bundle" / "schema" / "jsonschema.json"
# Go's RE2 classes that Python's `re` lacks: letters, and letters or digits (inside a class).
_GO_CLASSES = ((r"[\p{L}\p{N}]", r"[^\W_]"), (r"\p{L}", r"[^\W\d_]"))


def _python_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _translate(value) if key == "pattern" else _python_patterns(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_python_patterns(value) for value in node]
    return node


def _translate(pattern: str) -> str:
    for go, python in _GO_CLASSES:
        pattern = pattern.replace(go, python)
    re.compile(pattern)
    return pattern


@cache
def bundle_validator() -> jsonschema.Draft202012Validator:
    schema = _python_patterns(json.loads(SCHEMA.read_text()))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(config: dict[str, Any]) -> list[str]:
    """Every place the configuration breaks the schema, as `path: message` (the deepest errors of a oneOf)."""
    found = []
    for error in bundle_validator().iter_errors(config):
        leaves = _leaves(error)
        found += [f"{'.'.join(map(str, leaf.absolute_path))}: {leaf.message}" for leaf in leaves]
    return sorted(set(found))


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    if not error.context:
        return [error]
    # In a oneOf between an object and a ${var...} string, the object branch says what is wrong.
    # Only the leaves of the object branch are kept: the string branch's "is not of type 'string'" is noise.
    return [leaf for sub in error.context if "pattern" not in sub.schema for leaf in _leaves(sub)] or [error]


# The root file's names: never loaded again through an include (process_root_includes.go seeds `seen` with them).
ROOT_FILE_NAMES = ("databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml")
INCLUDABLE = (".yml", ".yaml", ".json")


def merge(a: Any, b: Any) -> Any:
    """libs/dyn/merge/merge.go: b merged into a; two scalars of different kinds do not merge."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict):
        assert isinstance(b, dict), f"cannot merge map with {type(b).__name__}"
        out = dict(a)
        for key, value in b.items():
            out[key] = merge(out[key], value) if key in out else value
        return out
    if isinstance(a, list):
        assert isinstance(b, list), f"cannot merge sequence with {type(b).__name__}"
        return [*a, *b]
    assert _kind(a) == _kind(b), f"cannot merge {_kind(a)} with {_kind(b)}"
    return b


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def include_order(root: Path, patterns: list[str]) -> list[Path]:
    """bundle/config/loader/process_root_includes.go: each pattern's matches (sorted, relative to the root), a
    file matched by several patterns only where it is first matched, never the root file; a pattern without glob
    characters must match; only YAML or JSON files."""
    seen = set(ROOT_FILE_NAMES)
    files: list[Path] = []
    for pattern in patterns:
        assert not Path(pattern).is_absolute(), f"{pattern}: includes must be relative paths"
        matches = sorted(root.glob(pattern.removeprefix("./")))
        assert matches or any(c in pattern for c in "*?["), f"{pattern} defined in 'include' matches no files"
        for path in matches:
            relative = path.relative_to(root).as_posix()
            if relative in seen:
                continue
            seen.add(relative)
            assert path.suffix in INCLUDABLE, f"{relative}: files in 'include' must be YAML or JSON files"
            files.append(path)
    return files


def load_bundle(root: Path) -> dict[str, Any]:
    """databricks.yml with every included file merged in, in include order (the CLI's, include_order)."""
    config = yaml.safe_load((root / "databricks.yml").read_text())
    for path in include_order(root, config.get("include", [])):
        config = merge(config, yaml.safe_load(path.read_text()))
    return config
