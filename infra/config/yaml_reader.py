"""Read platform.yaml's YAML as people write it, refusing in one line (with line and column) what would mislead or
hang: duplicate keys, control characters, aliases that expand beyond any real config (an alias bomb), nesting
deeper than Python's stack. Merge keys (`<<: *base`) work as YAML defines them.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"
# Values (scalars, list items, mapping entries) after expanding every alias. The committed config has ~500 and a
# 1,000-team config ~60,000; a billion-laughs document reaches this after a few levels and is refused before
# anything is built from it.
MAX_EXPANDED_NODES = 500_000


# PyYAML's scanner re-checks every open flow collection at each token, so its time grows with the square of the
# nesting: 20,000 nested `[` take minutes. A config nests a handful deep; deeper is refused before scanning.
MAX_FLOW_DEPTH = 50
# libyaml composes recursively in C: about 40,000 levels of `- - - ...` crash the process. Block nesting needs a
# column (or two characters of one line) per level, so bounding the line length bounds it far below that.
MAX_LINE_LENGTH = 5_000


class YamlProblem(Exception):
    """One line saying where the YAML is unusable and why."""


# libyaml's parser (PyYAML's CSafeLoader) composes a 1,000-team config ten times faster than the pure-Python one;
# the constructor, and every check here, stay the same Python code on top of either.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# libyaml reports a bad character's position in bytes of the UTF-8 text, the Python reader in characters.
_POSITION_IN_BYTES = _SafeLoader is not yaml.SafeLoader


class _UniqueKeyLoader(_SafeLoader):
    """YAML loader that rejects duplicate keys, which PyYAML would otherwise silently overwrite. Keys merged in
    with `<<` may be overridden: that is what a merge is for."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> Any:
    """The document's data; YamlProblem when it cannot be read safely."""
    longest = max(map(len, text.splitlines()), default=0)
    if longest > MAX_LINE_LENGTH:
        number = next(n for n, line in enumerate(text.splitlines(), 1) if len(line) == longest)
        raise YamlProblem(
            f"line {number}: {longest:,} characters long (at most {MAX_LINE_LENGTH:,}); break it up"
        )
    depth = _flow_depth(text)
    if depth > MAX_FLOW_DEPTH:
        raise YamlProblem(f"invalid YAML: [ ] and {{ }} nested {depth} deep (at most {MAX_FLOW_DEPTH})")
    try:
        loader = _UniqueKeyLoader(text)  # the reader refuses control characters here already
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(f"{_position(text, exc.position)}invalid YAML: {_reader_problem(exc)}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(f"{_position(text, exc.position)}invalid YAML: {_reader_problem(exc)}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem(f"{where}invalid YAML: {problem}") from None
    except RecursionError:
        raise YamlProblem("invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ ] and { } outside quoted strings and comments, in one pass over the few
    characters that matter."""
    depth = deepest = skip_to = 0
    for special in _SPECIAL.finditer(text):
        at, char = special.start(), special[0]
        if at < skip_to:
            continue
        after_space = at == 0 or text[at - 1] in " \t\r\n"
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif char == "#" and after_space:
            newline = text.find("\n", at)
            skip_to = len(text) if newline < 0 else newline
        elif char in "\"'" and (after_space or text[at - 1] in "[{,:"):
            closed = _QUOTED[char].match(text, at)
            skip_to = closed.end() if closed else len(text)
    return deepest


_SPECIAL = re.compile(r"[\[\]{}#\"']")
_QUOTED = {'"': re.compile(r'"(?:[^"\\]|\\.)*"'), "'": re.compile(r"'(?:[^']|'')*'")}


def _check_nodes(root: yaml.Node) -> None:
    """Walk the composed graph once per distinct node (aliases share nodes), counting what each node expands to:
    a cycle, a control character or an expansion past MAX_EXPANDED_NODES is refused at the node that causes it."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            if size[key] > MAX_EXPANDED_NODES:
                raise YamlProblem(
                    f"{_mark(node)}aliases expand to more than {MAX_EXPANDED_NODES:,} values (an alias bomb?); "
                    "write the values out or alias smaller parts"
                )
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlProblem(f"{_mark(node)}an alias refers to a value that contains it (a cycle)")
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(node)
            size[key] = 1
            continue
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


# Unicode control characters (category Cc) other than tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _check_scalar(node: yaml.ScalarNode) -> None:
    """Control characters written as escapes ("\\x07") in a quoted string: no name or value here may hold one."""
    bad = _CONTROL.search(node.value)
    if bad is not None:
        raise YamlProblem(f"{_mark(node)}control character U+{ord(bad[0]):04X} in {node.value!r}; remove it")


def _mark(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}: "


def _position(text: str, index: int) -> str:
    if _POSITION_IN_BYTES:
        index = len(text.encode("utf-8")[:index].decode("utf-8", "ignore"))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}: "


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    character = exc.character
    if isinstance(character, str):
        character = ord(character)
    return f"control character U+{character:04X} is not allowed in YAML text; remove it"
