"""What every reader of another tool's export shares: a region's offsets, the ids derived for it, the record it makes.

Offsets.  Label Studio's text regions are made in the browser, and its exports
have carried JavaScript string offsets (UTF-16 code units: an emoji counts 2;
HumanSignal/label-studio #1347, #1008) while other versions and hand-made
pre-annotations use code points.  With ``offsets="auto"`` each region is
checked against its own text: the reading (UTF-16 first, then code points)
that gives exactly that text is used; a region with no text in a text that has
characters beyond U+FFFF is ambiguous and rejected (say ``utf16`` or
``code-points``).  A tool whose regions carry no text (doccano) gives its
reader a default mode instead of ``auto``.

Span and relation ids are derived from the tool's region ids, the article id
and the pseudo-annotator's name (a hash), so re-importing the same file gives
the same ids and two pseudo-annotators never collide.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


class Bad(Exception):
    """A reason; the reader adds FILE:LINE."""


def has_astral(text: str) -> bool:
    """True when some character is beyond U+FFFF (two UTF-16 code units)."""
    return any(ord(c) > 0xFFFF for c in text) if not text.isascii() else False


def utf16_to_code_points(text: str) -> list[int]:
    """Index = UTF-16 offset, value = code-point offset (-1 inside a surrogate pair)."""
    table: list[int] = []
    for i, ch in enumerate(text):
        table.append(i)
        if ord(ch) > 0xFFFF:
            table.append(-1)
    table.append(len(text))
    return table


class Offsets:
    """Reads one text's region offsets as UTF-16 or code points (see the module doc)."""

    def __init__(self, text: str, mode: str, default: str):
        self.text = text
        self.mode = default if mode == "auto" and default != "auto" else mode
        self.astral = has_astral(text)
        self._table: list[int] | None = None

    def _utf16(self, start: int, end: int) -> tuple[int, int] | None:
        if not self.astral:
            return (start, end) if 0 <= start < end <= len(self.text) else None
        if self._table is None:
            self._table = utf16_to_code_points(self.text)
        table = self._table
        if not 0 <= start < end < len(table) or table[start] < 0 or table[end] < 0:
            return None
        return table[start], table[end]

    def _points(self, start: int, end: int) -> tuple[int, int] | None:
        return (start, end) if 0 <= start < end <= len(self.text) else None

    def read(self, start: Any, end: Any, given: Any, where: str, names: tuple[str, str, str] = ("start", "end", "text")) -> tuple[int, int]:
        """(start, end) in code points; `given` is the region's own text, if it has one; `names` are the tool's names of the three."""
        for name, value in zip(names[:2], (start, end), strict=True):
            if not isinstance(value, int) or isinstance(value, bool):
                raise Bad(f"{where}: {name} must be an integer")
        if given is not None and not isinstance(given, str):
            raise Bad(f"{where}: {names[2]} must be a string")
        if start < 0:
            raise Bad(f"{where}: {names[0]} {start} is negative")
        if start >= end:
            raise Bad(f"{where}: {names[0]} {start} is not before {names[1]} {end}")
        text = self.text
        if self.mode in ("utf16", "code-points"):
            found = self._utf16(start, end) if self.mode == "utf16" else self._points(start, end)
            if found is None:
                raise Bad(f"{where}: {self._outside(start, end, names)}")
            if given is not None and text[found[0] : found[1]] != given:
                raise Bad(
                    f"{where}: {names[2]} {clip(given)} does not match {names[0]}-{names[1]} {start}-{end} ({self.mode}): {clip(text[found[0]:found[1]])}"
                )
            return found
        # auto: the reading that reproduces the region's own text
        candidates = [c for c in (self._utf16(start, end), self._points(start, end)) if c is not None]
        if given is None:
            if self.astral and len(set(candidates)) > 1:
                raise Bad(
                    f"{where}: offsets {start}-{end} have no text to check them against and the text has characters beyond U+FFFF: "
                    "say --offsets utf16 or --offsets code-points"
                )
            if not candidates:
                raise Bad(f"{where}: {self._outside(start, end, names)}")
            return candidates[0]
        for found in candidates:
            if text[found[0] : found[1]] == given:
                return found
        if not candidates:
            raise Bad(f"{where}: {self._outside(start, end, names)}")
        raise Bad(f"{where}: {names[2]} {clip(given)} matches neither UTF-16 nor code-point offsets {start}-{end}")

    def _outside(self, start: int, end: int, names: tuple[str, str, str]) -> str:
        """Why offsets that passed 0 <= start < end read as nothing: past the end, or inside a two-unit character."""
        points = len(self.text)
        units = points + sum(ord(c) > 0xFFFF for c in self.text) if self.astral else points
        longest = units if self.mode != "code-points" else points
        if end > longest:
            length = f"{points} characters, {units} UTF-16 units" if units != points and self.mode == "auto" else str(longest)
            return f"{names[1]} {end} is past the text's end ({length})"
        if self.mode == "auto":
            return f"{names[1]} {end} is past the text's end as code points ({points}) and splits a character as UTF-16 units"
        table = utf16_to_code_points(self.text)
        name, offset = (names[0], start) if table[start] < 0 else (names[1], end)
        return f"{name} {offset} falls inside a character of two UTF-16 units (--offsets utf16)"


def document_class(name: str, by_name: bool = True) -> str:
    """The reason a document-level class is skipped: the schema has no article label group to hold it
    (Label Studio names its group: `by_name`; doccano's classes go to whichever group holds them)."""
    if by_name:
        return f"document class {name!r}: the schema has no article label group {name!r}"
    return f"document class {name!r}: the schema has no article label groups"


def clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def derived_uid(annotator: str, article_id: str, region: str) -> str:
    """A stable span/relation id for a foreign region (32 hex digits)."""
    return hashlib.sha256(f"{annotator}\x00{article_id}\x00{region}".encode("utf-8")).hexdigest()[:32]


def external_id(raw_id: Any, file: str, n: int) -> str:
    """The article id the tool gave (a string or an integer), else FILE-N (N: the task or line number)."""
    return str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else f"{Path(file).stem}-{n}"


def article_record(external_id: str, title: Any, text: str, meta: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The article-format record (import_annotations reads it): each annotator's {annotator, labels, spans, relations}."""
    return {"id": external_id, "title": title if isinstance(title, str) else "", "text": text, "meta": meta, "annotations": blocks}
