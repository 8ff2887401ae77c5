"""What the rules read: the text's lines joined into one string, the quoted stretches of each line, one candidate boundary.

sentencex keeps the text of balanced quotes and brackets together, and so do
the rules.  Single quotes double as apostrophes (don't, '90s, the boys'), so
they count only where they open before a letter and close after one.
"""
from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate

from tests.segment_before.lexicon import _CLOSERS, _HEAD, _NO_BREAK_AFTER, _OPENERS, _TAIL, _TERMINATORS, _TITLES
from tests.segment_before.sentencex_cuts import _sentencex_cuts


class _Text:
    """The non-blank lines joined by blank lines, so that sentencex and the
    candidate search run once over all of them (sentencex segments each
    paragraph on its own, so this equals one call per line, only cheaper).
    Positions below are in this joined text.  Also holds the boundaries
    sentencex proposes and, per line and when first needed, the stretches
    that are quoted or bracketed."""

    __slots__ = ("text", "lines", "starts", "ends", "sx_set", "straight_single", "_quotes")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.text = "\n\n".join(lines)
        self.starts = [0, *accumulate(len(line) + 2 for line in lines[:-1])]
        self.ends = [start + len(line) for start, line in zip(self.starts, lines, strict=True)]
        self.sx_set = frozenset(_sentencex_cuts(self.text, lines, self.starts, self.ends))
        # sentencex never breaks inside “…”, "…", ‘…’, «…» or (…), but it can
        # inside '…' when an apostrophe follows (“'We won. Now,' he said. It's”).
        self.straight_single = ["'" in line for line in lines]
        self._quotes: dict[int, tuple[int, list[int], list[int]]] = {}

    def inside_quotes(self, cut: int, i: int) -> bool:
        """True when the boundary at cut (in line i) is inside quotes or brackets
        that close later in the line (a quote that closes right at the boundary
        does not count): sentencex keeps such text together and so do the rules."""
        quotes = self._quotes.get(i)
        if quotes is None:
            start = self.starts[i]
            line = self.lines[i]
            last_close = max(
                line.rfind("”"), line.rfind('"'), line.rfind("’"), line.rfind("'"), line.rfind(")"), line.rfind("»")
            )
            starts, reach = _reach(_quoted_ranges(line)) if last_close >= 0 else ([], [])
            quotes = self._quotes[i] = (start + last_close, [start + s for s in starts], [start + r for r in reach])
        last_close, starts, reach = quotes
        if last_close < cut:  # nothing closes after the boundary
            return False
        k = bisect_left(starts, cut)  # ranges starting before cut: [0, k)
        return k > 0 and reach[k - 1] > cut


def _quoted_ranges(line: str) -> list[tuple[int, int]]:
    """(start, end) of each balanced quote or bracket pair in the line, found
    in one linear pass per kind; unbalanced marks are ignored."""
    ranges: list[tuple[int, int]] = []
    for opening, closing in (("“", "”"), ("«", "»"), ("(", ")")):
        if opening in line:
            marks = sorted(_positions(line, opening) + _positions(line, closing))
            _pair(line, marks, opening, ranges)
    if '"' in line:
        marks = _positions(line, '"')
        ranges.extend((marks[i], marks[i + 1] + 1) for i in range(0, len(marks) - 1, 2))
    for opening, closing, closing_after in (("‘", "’", ""), ("'", "'", ",.!?…;:")):
        if opening in line:
            marks = []
            for i in sorted(set(_positions(line, opening) + _positions(line, closing))):
                if _opens_single(line, i, opening):
                    marks.append(i)
                elif _closes_single(line, i, closing, closing_after):
                    marks.append(-i - 1)  # negative: a closing mark
            _pair_signed(marks, ranges)
    return ranges


def _reach(ranges: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Range starts in order, and for each the furthest end of the ranges
    starting up to it: "is cut inside a range" is then one binary search."""
    ranges.sort()
    starts = [start for start, _ in ranges]
    reach = list(accumulate((end for _, end in ranges), max))
    return starts, reach


def _positions(line: str, ch: str) -> list[int]:
    out = []
    i = line.find(ch)
    while i >= 0:
        out.append(i)
        i = line.find(ch, i + 1)
    return out


def _pair(line: str, marks: list[int], opening: str, ranges: list[tuple[int, int]]) -> None:
    stack = []
    for i in marks:
        if line[i] == opening:
            stack.append(i)
        elif stack:
            ranges.append((stack.pop(), i + 1))


def _pair_signed(marks: list[int], ranges: list[tuple[int, int]]) -> None:
    stack = []
    for m in marks:
        if m >= 0:
            stack.append(m)
        elif stack:
            ranges.append((stack.pop(), -m))  # -m - 1 + 1


def _opens_single(line: str, i: int, opening: str) -> bool:
    """Single quotes double as apostrophes (don't, Israel’s, '90s, the boys'):
    an opening quote follows a space or the line start and precedes a letter."""
    return (
        line[i] == opening
        and (i == 0 or line[i - 1].isspace() or line[i - 1] in _OPENERS)
        and line[i + 1 : i + 2].isalpha()
    )


def _closes_single(line: str, i: int, closing: str, closing_after: str) -> bool:
    """A closing quote follows a non-space (for straight quotes: punctuation)
    and precedes no letter or digit."""
    return (
        line[i] == closing
        and i > 0
        and not line[i - 1].isspace()
        and not line[i + 1 : i + 2].isalnum()
        and (not closing_after or line[i - 1] in closing_after)
    )


class _Boundary:
    """What surrounds a possible boundary within its line: the last token
    before it, split into word + terminators + closers, and the text after it."""

    __slots__ = (
        "ctx", "line", "index", "start", "sx", "cut", "word", "term", "closers", "head", "spaced", "term_start"
    )

    def __init__(self, ctx: _Text, sx: bool, cut: int, index: int) -> None:
        text = self.line = ctx.text
        start = ctx.starts[index]
        end = ctx.ends[index]
        self.ctx = ctx
        self.index = index
        self.start = start
        self.sx = sx
        self.cut = cut
        lo = max(start, cut - _TAIL)  # bounded look-back keeps long lines linear
        token = text[max(lo, text.rfind(" ", lo, cut) + 1) : cut]
        if not token.isprintable():  # another kind of whitespace (tab, NBSP ...)
            parts = token.rsplit(None, 1)
            token = parts[-1] if parts else ""
        core = token.rstrip(_CLOSERS)
        self.closers = token[len(core) :]
        self.word = core.rstrip(_TERMINATORS)
        self.term = core[len(self.word) :]
        self.term_start = cut - len(self.closers) - len(self.term)
        self.spaced = cut < end and text[cut].isspace()
        self.head = text[cut : min(cut + _HEAD, end)].lstrip()

def _next_word(ctx: _Text, cut: int, index: int) -> str:
    """The word after a boundary, without quotes, brackets or punctuation."""
    head = ctx.text[cut : min(cut + _HEAD, ctx.ends[index])].lstrip().lstrip(_OPENERS)
    return head.split(None, 1)[0].rstrip(",.;:!?’'\"”") if head.strip() else ""

def _bare_word(word: str) -> str:
    """The word without opening quotes/brackets in front of it."""
    return word.lstrip(_OPENERS)


def _first_letter(head: str) -> str:
    """First character after any opening quotes/brackets."""
    for ch in head:
        if ch not in _OPENERS:
            return ch
    return ""


def _is_title(word: str) -> bool:
    """Titles and ranks, including hyphenated ranks (Maj.-Gen., Lt.-Col.,
    Vice-Adm.)."""
    if word in _NO_BREAK_AFTER:
        return True
    if "-" in word and word[:1].isupper():
        return word.rsplit("-", 1)[1].rstrip(".") in _TITLES
    return False
