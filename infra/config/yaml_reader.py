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
# libyaml composes ~150,000 nodes a second on a busy runner and the checks walk them again: a 5 MB list of
# one-letter items took 15 s before being refused. The words, `- ` items and `[`/`{` of the text outside comments
# bound its values from above (a quoted phrase counts once per word); a regex counts them in C in under a second.
# 1,000 teams have ~64,000 words; a quarter million bounds composing and checking to a few seconds here.
MAX_WORDS = 250_000
_WORD = re.compile(r"(?:(?<=\s)|^)#[^\n]*|[\[{]|-(?=\s)|[^\s\[\]{},#:-][^\s\[\]{},]*", re.MULTILINE)


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
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                # `? [a, b]` or an alias to a mapping as a key: valid YAML, unhashable in Python (a TypeError
                # traceback from `key in seen`), and no key of the config is anything but a word. An alias shares
                # its anchor's position, so the line named is the value's.
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    "the key of this value is a list or a mapping; a key must be a plain word",
                    value_node.start_mark,
                )
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """`2026-02-30`, `2026-13-01` or an hour 25 match YAML's timestamp pattern, and PyYAML then raises the
        datetime module's ValueError: a traceback without a line. Said here as YAML, with the node's position."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{node.value!r} reads as a date but is no such date ({exc}); correct it, or quote it if it is text",
                node.start_mark,
            ) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_yaml_timestamp)


def read_yaml(text: str) -> Any:
    """The document's data; YamlProblem when it cannot be read safely."""
    words = sum(1 for word in _WORD.finditer(text) if word[0] != "#")
    if words > MAX_WORDS:
        raise YamlProblem(f"about {words:,} values (at most {MAX_WORDS:,}); is this the platform config?")
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
        _check_nodes(node, loader)
        return loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(f"{_position(text, exc.position)}invalid YAML: {_reader_problem(exc)}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if mark and _tab_at(text, mark.line, mark.column):
            problem += " (a tab: YAML indents with spaces only; replace the tab with spaces)"
        raise YamlProblem(f"{where}invalid YAML: {problem}") from None
    except RecursionError:
        raise YamlProblem("invalid YAML: nested too deeply") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        # PyYAML's constructors raise these for values its resolver let through; _check_tag and the timestamp
        # constructor catch the known ones with a position. Any other is still one line, never a traceback.
        raise YamlProblem(f"invalid YAML: a value cannot be read ({exc.__class__.__name__}: {exc})") from None
    finally:
        loader.dispose()


def _tab_at(text: str, line: int, column: int) -> bool:
    """Whether the scanner stopped at a tab (or on a line indented with one): its message alone does not say."""
    lines = text.splitlines()
    if line >= len(lines):
        return False
    current = lines[line]
    return current[column : column + 1] == "\t" or "\t" in current[: len(current) - len(current.lstrip())]


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


def _check_nodes(root: yaml.Node, loader: _UniqueKeyLoader) -> None:
    """Walk the composed graph once per distinct node (aliases share nodes), counting what each node expands to:
    a cycle, a control character or an expansion past MAX_EXPANDED_NODES is refused at the node that causes it."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    shared = False  # a node reached twice: the document uses aliases
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            if size[key] > MAX_EXPANDED_NODES and shared:
                raise YamlProblem(
                    f"{_mark(node)}aliases expand to more than {MAX_EXPANDED_NODES:,} values (an alias bomb?); "
                    "write the values out or alias smaller parts"
                )
            if size[key] > MAX_EXPANDED_NODES:
                raise YamlProblem(
                    f"{_mark(node)}holds more than {MAX_EXPANDED_NODES:,} values; no config needs that"
                )
            continue
        if key in size:
            shared = True
            continue
        if key in on_path:
            raise YamlProblem(f"{_mark(node)}an alias refers to a value that contains it (a cycle)")
        _check_tag(node, loader)
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(node)
            size[key] = 1
            continue
        on_path.add(key)
        stack.append((node, True))
        children = _children(node)
        fresh = [(child, False) for child in children if id(child) not in size]
        shared = shared or len(fresh) < len(children)
        stack.extend(fresh)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


_CORE = "tag:yaml.org,2002:"
_COLLECTION_TAGS = {yaml.MappingNode: _CORE + "map", yaml.SequenceNode: _CORE + "seq"}
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp", "merge")}
_FLOAT_FROM = {_CORE + "float": _CORE + "int"}  # `!!float 800` reads a whole number as a float


def _check_tag(node: yaml.Node, loader: _UniqueKeyLoader) -> None:
    """An explicit tag the value does not fit (`!!int abc`, `!!bool maybe`, `!!map [1]`) makes PyYAML's constructors
    raise ValueError, KeyError or TypeError: a traceback. The config needs no tag beyond what YAML infers, so a
    value must read as its tag would read it untagged; other tags (`!!set`, `!!binary`, `!local`) are refused."""
    if isinstance(node, yaml.ScalarNode):
        fits = node.tag == _CORE + "str" or (
            node.tag in _SCALAR_TAGS
            and loader.resolve(yaml.ScalarNode, node.value, (True, False))
            in (node.tag, _FLOAT_FROM.get(node.tag))
        )
    else:
        fits = node.tag == _COLLECTION_TAGS[type(node)]
    if not fits:
        tag = node.tag.replace(_CORE, "!!")
        raise YamlProblem(
            f"{_mark(node)}the tag {tag} does not fit this value; remove the tag (platform.yaml needs none)"
        )


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
