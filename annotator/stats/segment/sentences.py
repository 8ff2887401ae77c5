"""segment(): every line's candidate boundaries decided, then the rules over whole lines, then the sentences.

The whole-line rules: a list written on one line is split at each item, a
segment that is only a list marker joins the next, and emoji that end a line
belong to the sentence before them.
"""
from __future__ import annotations

import unicodedata
from itertools import accumulate, repeat
from operator import itemgetter

from annotator.stats.segment.context import _bare_word, _is_title, _Text
from annotator.stats.segment.decide import _decide_all
from annotator.stats.segment.lexicon import (
    _ABBREVIATIONS,
    _LIST_FIRST_CHARS,
    _LIST_MARKER,
    _LIST_START,
    _MARKER_ONLY,
    _RUN_CHARS,
    _TAIL,
    _TERMINATORS,
)

# What str.splitlines breaks at: \n, \r (and \r\n), \v, \f, \x1c-\x1e, \x85, \u2028, \u2029.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def segment(text: str) -> list[tuple[int, int]]:
    """Sentence (start, end) code-point offsets into text."""
    # Rule: a line break always ends a sentence.  str.splitlines breaks at \n,
    # \r\n, \r and the other Unicode line boundaries (\v, \f, \x1c-\x1e,
    # \x85, \u2028, \u2029); each line is then segmented on its own, so a
    # title line and a byline are sentences of their own.
    # One split, each line's break stripped off again (a break never ends a line's own text).
    pieces = text.splitlines(True)
    all_lines = list(map(str.rstrip, pieces, repeat(_LINE_BREAKS, len(pieces))))
    all_offsets = [0, *accumulate(map(len, pieces))]
    keep = [i for i, line in enumerate(all_lines) if line and not line.isspace()]
    if not keep:
        return []
    ctx = _Text([all_lines[i] for i in keep])
    kept = _decide_all(ctx, sorted(ctx.sx_set.union(_candidates(ctx.text))))
    kept = _split_inline_lists(ctx, kept)
    kept = _attach_trailing_symbols(ctx, kept)
    return _emit(ctx, [all_offsets[i] for i in keep], kept)


def _emit(ctx: _Text, offsets: list[int], kept: list[int]) -> list[tuple[int, int]]:
    """Sentences between consecutive cuts and line ends, leading whitespace
    skipped (every cut already sits right after a non-space character), in
    offsets of the original text."""
    text = ctx.text
    spans: list[tuple[int, int]] = []
    kept.append(len(text) + 1)  # sentinel
    j = 0
    for line, start, offset in zip(ctx.lines, ctx.starts, offsets, strict=True):
        shift = offset - start
        last = start + (len(line.rstrip()) if line[-1].isspace() else len(line))
        prev = start
        cut = kept[j]
        while cut <= last:
            if cut > prev:
                if text[prev] == " " and not text[prev + 1].isspace():
                    lead = 1  # the usual single space after the previous sentence
                else:
                    lead = prev
                    while text[lead].isspace():
                        lead += 1
                    lead -= prev
                if cut - prev - lead > 12 or cut == last or not _MARKER_ONLY.fullmatch(text, prev + lead, cut):
                    spans.append((prev + lead + shift, cut + shift))
                    prev = cut
                # else rule: a segment that is only a list marker ("1.", "a)") joins the next
            j += 1
            cut = kept[j]
        if last > prev:  # the line's last sentence (text[last - 1] is no space)
            lead = prev
            while text[lead].isspace():
                lead += 1
            spans.append((lead + shift, last + shift))
    return spans


def _candidates(text: str) -> list[int]:
    """Positions right after terminators (+ closing quotes/brackets) that are
    followed by whitespace other than a line break: every place a sentence
    could end inside a line.  str.find is several times faster than a regex
    scan here."""
    out = []
    n = len(text)
    for ch in _TERMINATORS:
        i = text.find(ch)
        while i >= 0:
            j = i + 1
            while j < n and text[j] in _RUN_CHARS:
                j += 1
            if j < n and text[j].isspace() and text[j] != "\n":
                out.append(j)
            i = text.find(ch, j)
    return out


def _next_label(label: str) -> str:
    return str(int(label) + 1) if label.isdigit() else chr(ord(label) + 1)


# Emoji and other pictographs (So), with what builds them: modifiers (Sk: skin
# tones), variation selectors and combining marks (Mn, Me), zero-width joiners (Cf).
_PICTOGRAPH_PARTS = frozenset({"So", "Sk", "Mn", "Me", "Cf"})


def _is_pictographs(token: str) -> bool:
    categories = [unicodedata.category(c) for c in token]
    return "So" in categories and all(c in _PICTOGRAPH_PARTS for c in categories)


def _attach_trailing_symbols(ctx: _Text, cuts: list[int]) -> list[int]:
    """Emoji that end a line belong to the sentence before them: "We won. 🎉"
    is one sentence (sentencex made "🎉" a sentence of its own). Emoji followed
    by words on the line stay where they are: "… family. 🇬🇧🇺🇸 flags fly."
    may open the next sentence as well as close the last."""
    lasts = "".join(map(itemgetter(-1), ctx.lines))
    if lasts.isprintable() and " " not in lasts and _PICTOGRAPH_PARTS.isdisjoint(map(unicodedata.category, lasts)):
        return cuts  # every line ends in a visible character that is no part of an emoji
    out: list[int] = []
    line = -1
    after = 0  # cuts at or after this position of the line have only emoji after them
    for cut in cuts:
        if line < 0 or cut > ctx.ends[line]:
            line = max(line, 0)
            while cut > ctx.ends[line]:
                line += 1
            after = _before_trailing_pictographs(ctx.text, ctx.starts[line], ctx.ends[line])
        if cut < after:
            out.append(cut)
    return out


def _before_trailing_pictographs(text: str, start: int, end: int) -> int:
    """End of the last token before the run of emoji tokens that closes text[start:end]; past `end` when there is no such run."""
    last = end
    while last > start and text[last - 1].isspace():
        last -= 1
    if last == start or text[last - 1] < "\x80":  # most lines end in ASCII ("." or a letter): no emoji run
        return end + 1
    tail = end
    while True:
        stop = tail
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        first = stop
        while first > start and not text[first - 1].isspace():
            first -= 1
        if first == stop or not _is_pictographs(text[first:stop]):
            return stop if tail < end else end + 1
        tail = first


def _split_inline_lists(ctx: _Text, cuts: list[int]) -> list[int]:
    """A list written on one line ("1. The first item 2. The second item",
    "a. ... b. ...") is split before each item.  Only when the line starts
    with a marker and later markers continue its numbering."""
    firsts = "".join(map(itemgetter(0), ctx.lines))
    if firsts.isprintable() and " " not in firsts and _LIST_FIRST_CHARS.isdisjoint(firsts):
        return cuts  # no line starts with a space or with what starts a list
    added = []
    for line, start in zip(ctx.lines, ctx.starts, strict=True):
        if line.lstrip()[:1] in _LIST_FIRST_CHARS:
            added.extend(start + cut for cut in _inline_list_cuts(line))
    return sorted(set(cuts).union(added)) if added else cuts


def _inline_list_cuts(line: str) -> list[int]:
    m = _LIST_START.match(line)
    if not m:
        return []
    expected = _next_label(m.group("label"))
    punct = m.group("punct")
    added = []
    for mk in _LIST_MARKER.finditer(line, m.end()):
        if mk.group("label") != expected or mk.group("punct") != punct:
            continue
        lo = max(0, mk.start() - _TAIL)
        before = line[lo : mk.start()].rstrip()
        prev_word = _bare_word(before.rsplit(None, 1)[-1].rstrip(".")) if before else ""
        if prev_word in _ABBREVIATIONS or _is_title(prev_word):
            continue  # "No. 2.", "p. 3)" are not list items
        added.append(lo + len(before))
        expected = _next_label(expected)
    return added
