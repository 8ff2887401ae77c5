"""Text no database stores faithfully, found before it reaches one.

Two kinds of characters get past a decoder yet break storage or display:
NUL (PostgreSQL refuses it in text; SQLite stores it and every page then
carries it) and lone surrogates, which `json.loads` makes from escapes such
as "\\ud800" and which cannot be encoded as UTF-8 (a page showing one cannot
be sent). Every boundary (request bodies, forms, query strings, URLs, files,
label schemas, command-line arguments) asks these functions first.

Pure functions over plain data: no Flask, no database.
"""
from __future__ import annotations

import unicodedata
from typing import Any

# The largest id or count a column holds on every supported database (PostgreSQL INTEGER).
MAX_DB_INT = 2**31 - 1


def problem(value: str) -> str | None:
    """Why `value` cannot be stored (NUL, lone surrogate), or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (a broken \\ud800-style escape), which is not valid Unicode"
    return None


# Besides the controls (tab, line breaks) and the line and paragraph separators, the bidirectional overrides and
# isolates, with which a name displays as another ("abc\u202efdp.exe").
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def not_one_line(value: str, tabs: bool = False) -> str | None:
    """Where a one-line name (a project's, a CLI argument and a column of `projects list`) holds a character that
    breaks its line or hides what it reads as: "U+000A at 3"; None when it holds none. With `tabs`, a tab is
    allowed (an article id: a list of ids one a line names it well)."""
    if value.isprintable():  # holds none of them (each is Cc, Zl, Zp or Cf, which str.isprintable refuses): one C loop
        return None
    for at, char in enumerate(value):
        if tabs and char == "\t":
            continue
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _LINE_BREAKING:
            return f"U+{ord(char):04X} at {at}"
    return None


def find_problem(value: Any, where: str = "") -> str | None:
    """The first string (key or value) in a JSON-like value that cannot be stored: "WHERE: reason"; else None.

    Iterative, so a deeply nested value cannot exhaust the stack.
    """
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            reason = problem(item)
            if reason:
                return f"{at or 'the value'} {reason}"
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    reason = problem(key)
                    if reason:
                        return f"a field name{' in ' + at if at else ''} {reason}"
                stack.append((child, f"{at}.{key}" if at else str(key)))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{at}[{i}]") for i, child in enumerate(item))
    return None


def shown(value: str, limit: int = 40) -> str:
    """A value for an error message: escaped (ASCII-safe, so the message itself can be printed and stored), shortened."""
    text = ascii(value[:limit])
    return text + ("..." if len(value) > limit else "")
