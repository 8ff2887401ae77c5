"""JSON as the standard has it, for everything people send: request bodies, article files, label schemas.

Python's json module reads more than JSON: NaN and Infinity, numbers beyond a
float (1e400 becomes inf), and "\\ud800" escapes (lone surrogates, which no
database stores faithfully; see textcheck). PostgreSQL's json type refuses the
first two, so they are refused here, at the door, with a message that says
what is wrong. Nesting deeper than the parser recurses and integers with more
digits than Python converts are refused the same way instead of crashing.

A key given twice in one object is refused too: Python keeps the last value without a word, and the
standard leaves what a reader does to the reader (RFC 8259, 4), so a file that says two things of one field
("cats": {"X": 1, "X": 0}) would lose one of them silently.

Syntax errors stay json.JSONDecodeError (the caller shows its line and column);
everything else is a NotJson. Pure: no Flask, no database.
"""
from __future__ import annotations

import json
import math
from typing import Any

from annotator.stats import textcheck


class NotJson(ValueError):
    """Text Python's json module would read that JSON does not allow; the message says what."""


class UnstorableText(ValueError):
    """Valid JSON holding a string (key or value) no database stores faithfully: NUL, a lone surrogate."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"the number {text[:30]} is out of range")
    return value


def _constant(name: str) -> None:
    raise NotJson(f"{name} is not a JSON value")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise NotJson(f"the key {json.dumps(twice[:60], ensure_ascii=False)} is given twice in one object")
    return obj


# Arrays and objects nested deeper than this are refused. The parser recurses, so Python's recursion limit refused
# only what ran out of stack at the door, which leaves room for nesting a little less deep; every later step that
# recurses too (the JSON column's serializer inside an INSERT, an export's writer) runs with more frames below it and
# ran out instead: a REST upload of an article whose meta was nested 940 deep was a 500 on its INSERT. A fixed
# limit, far below the stack's and far above what any tool writes (a Label Studio export nests 7 deep), is the same
# at every door and for every later reader.
MAX_DEPTH = 128
_NESTING = "nested too deeply"


class _Decoder(json.JSONDecoder):
    """The strict decoder: JSONDecoder with the hooks above, refusing nesting deeper than MAX_DEPTH."""

    def raw_decode(self, s: str, idx: int = 0) -> tuple[Any, int]:
        try:
            value, end = super().raw_decode(s, idx)
        except RecursionError:
            raise NotJson(_NESTING) from None
        # a document with fewer brackets than the limit cannot be nested deeper (str.count: no walk for the usual body)
        if s.count("[", idx, end) + s.count("{", idx, end) > MAX_DEPTH and _depth(value) > MAX_DEPTH:
            raise NotJson(f"{_NESTING} (more than {MAX_DEPTH} levels of arrays and objects)")
        return value, end


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


# Built once, like json's own default decoder: a decoder keeps no state between documents.
_DECODER = _Decoder(parse_constant=_constant, parse_float=_finite, object_pairs_hook=_object)


def decoder() -> json.JSONDecoder:
    """The strict decoder, for reading a stream of values with raw_decode (NotJson for what JSON does not allow or
    nests deeper than MAX_DEPTH; the caller turns a ValueError, a number with too many digits, into its own message)."""
    return _DECODER


def loads(text: str | bytes, *, storable: bool = False) -> Any:
    """json.loads that refuses what JSON does not allow; with `storable`, also text no database stores.

    Bytes are decoded as json.loads decodes them (UTF-8, -16 or -32 by their first bytes).
    Raises json.JSONDecodeError for a syntax error, NotJson for NaN, Infinity, an out-of-range
    number, a number with too many digits, nesting too deep or a key given twice in one object, and (with `storable`)
    UnstorableText naming where the bad string is ("label contains a NUL character").
    """
    if isinstance(text, (bytes, bytearray)):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    try:
        value = _DECODER.decode(text)
    except (json.JSONDecodeError, NotJson):
        raise
    except ValueError:  # int() of a number with more digits than Python converts
        raise NotJson("a number has too many digits") from None
    if storable and _may_hold_unstorable_text(text):
        reason = textcheck.find_problem(value)
        if reason:
            raise UnstorableText(reason)
    return value


def _may_hold_unstorable_text(text: str) -> bool:
    """Whether a parsed document can hold a NUL or a lone surrogate at all: the decoder refuses raw control
    characters in strings, so a NUL only comes from a \\u escape, and a lone surrogate from an escape or from the
    text itself (bytes decoded with surrogatepass). Without either, walking every string of the value (a tenth of a
    batch save's Python calls, issue 17) cannot find anything."""
    if "\\u" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
