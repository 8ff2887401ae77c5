"""The boundaries sentencex (wikimedia, MIT, Rust) proposes, with its two failure modes worked around.

It is called once, on the non-blank lines joined by blank lines: it segments
every paragraph on its own, so that equals one call per line, only cheaper
(tests/test_segment.py checks the two agree).
"""
from __future__ import annotations

import re

import sentencex

_LANGUAGE = "en"

_SURROGATE = re.compile("[\ud800-\udfff]")
_UNICODE_SPACE = re.compile("[\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def _sentencex_cuts(text: str, lines: list[str], starts: list[int], ends: list[int]) -> list[int]:
    """End offsets (trailing whitespace excluded) of the sentences sentencex
    finds in `text` (the `lines` joined by blank lines, starting at `starts`
    and ending at `ends`), line ends left out (they are cuts anyway)."""
    cuts = _sentencex_joined_cuts(text, frozenset(ends))
    if cuts is None:  # never seen; kept for safety against future sentencex versions
        cuts = [start + cut for line, start in zip(lines, starts, strict=True) for cut in _sentencex_line_cuts(line)]
    return cuts


def _sentencex_joined_cuts(joined: str, line_ends: frozenset[int]) -> list[int] | None:
    """One sentencex call over the lines joined by blank lines; None if its
    pieces do not line up with the lines."""
    cuts = []
    pos = 0
    for part in _sentencex_segment(joined):
        if "\n" in part:  # only the separators contain line breaks
            if part != "\n\n":
                return None
        else:
            kept = len(part.rstrip())
            if kept and pos + kept not in line_ends:
                cuts.append(pos + kept)
        pos += len(part)
    if pos != len(joined):
        return None
    return cuts


def _sentencex_line_cuts(line: str) -> list[int]:
    """_sentencex_cuts for one line, one call."""
    cuts = []
    pos = 0
    for part in _sentencex_segment(line):
        kept = len(part.rstrip())
        cut = pos + kept
        pos += len(part)
        if kept and 0 < cut < len(line):
            cuts.append(cut)
    return cuts


def _sentencex_segment(text: str) -> list[str]:
    """sentencex.segment, minus two failure modes: lone surrogates (they cannot
    cross into Rust) and a panic of sentencex 1.0.32 on a capital, a non-ASCII
    space and a full stop ("S\xa0.").  Both substitutions keep every code
    point in place, so the pieces still measure the original text.  Should
    sentencex fail anyway, it proposes nothing and the rules decide alone."""
    if (
        "\xa0" in text or "\u202f" in text or "\u2009" in text
        or "\u2002" in text or "\u2003" in text or "\u3000" in text
    ):
        text = _UNICODE_SPACE.sub(" ", text)
    try:
        return sentencex.segment(_LANGUAGE, text)
    except UnicodeEncodeError:
        pass
    except BaseException as exc:  # pyo3 turns Rust panics into BaseExceptions
        if type(exc).__name__ != "PanicException":
            raise
    try:
        return sentencex.segment(_LANGUAGE, _UNICODE_SPACE.sub(" ", _SURROGATE.sub("\ufffd", text)))
    except BaseException as exc:
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        return [text]
