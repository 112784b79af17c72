"""Serialize a stack's Terraform JSON byte for byte as cdktf writes ``cdk.tf.json``.

cdktf 0.21 writes each stack with ``json-stable-stringify`` and a two-space indent: keys in JavaScript's default
sort order (UTF-16 code units), empty arrays and objects still broken over two lines, numbers and strings as
``JSON.stringify`` formats them. The stack aspects rewrite the files cdktf wrote, and the output must not change
form with them: diffs between synths, snapshots and reviews would all show noise.
"""

from __future__ import annotations

import re
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

_INDENT = "  "
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(document: Any) -> str:
    """``document`` as cdktf writes it (no trailing newline)."""
    out: list[str] = []
    _write(document, 0, out)
    return "".join(out)


def _write(value: Any, level: int, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, dict):
        entries = [(_string(key) + ": ", value[key]) for key in sorted(value, key=_js_key_order)]
        _write_container("{}", entries, level, out)
    elif isinstance(value, (list, tuple)):
        _write_container("[]", [("", item) for item in value], level, out)
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif isinstance(value, int):
        out.append(str(value) if abs(value) < 10**21 else _js_number(float(value)))
    elif isinstance(value, float):
        out.append(_js_number(value))
    else:
        raise TypeError(f"not JSON: {type(value).__name__}")


def _write_container(brackets: str, entries: list[tuple[str, Any]], level: int, out: list[str]) -> None:
    """An object's or array's entries (``"key": `` or nothing, then the value), one per line."""
    closing = "\n" + _INDENT * level
    separator = "," + closing + _INDENT
    out.append(brackets[0] + closing + _INDENT if entries else brackets[0])
    for position, (prefix, item) in enumerate(entries):
        out.append((separator if position else "") + prefix)
        _write(item, level + 1, out)
    out.append(closing + brackets[1])  # json-stable-stringify breaks empty containers over two lines too


def _js_key_order(key: str) -> bytes:
    # JavaScript sorts strings by UTF-16 code units; big-endian UTF-16 bytes compare the same way.
    return key.encode("utf-16-be", "surrogatepass")


def _string(text: str) -> str:
    encoded = encode_basestring(text)  # escapes exactly what JSON.stringify escapes...
    if _LONE_SURROGATE.search(encoded):  # ...except lone surrogates, which JSON.stringify writes as \udxxx
        encoded = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)
    return encoded


def _js_number(number: float) -> str:
    """ECMAScript Number::toString: the shortest round-trip digits (as Python's repr), JavaScript's layout."""
    if number != number or number in (float("inf"), float("-inf")):
        return "null"  # JSON.stringify writes non-finite numbers as null
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    count, point = len(digits), int(exponent) + len(digits)  # value = 0.<digits> x 10^point
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    mantissa = digits if count == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{sign}{mantissa}e{'+' if power >= 0 else '-'}{abs(power)}"
