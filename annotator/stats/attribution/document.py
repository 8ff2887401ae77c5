"""An article as the rules read it: tokens of the sentences with a speech verb, paired quotes, and what was found.

The rules add _Attribution records to the _Doc; linking.py turns them into
spans and links.  SCORE_* rank the rules.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from annotator.stats.attribution.lexicon import ABBREVIATIONS
from annotator.stats.attribution.quote_marks import _Quote

# Scores rank the rules by how much can go wrong with them, set by hand (not
# fitted: every rule was right on the evaluation set): a quote next to its
# speech verb is surest, a clause without "that" or a quote that only follows
# another one less so.
SCORE_DIRECT = 0.9
SCORE_HEADLINE = 0.8
SCORE_ACCORDING = 0.85
SCORE_INDIRECT_THAT = 0.85
SCORE_INDIRECT_BARE = 0.75
SCORE_CLAUSE_FIRST = 0.8
SCORE_INTERRUPTED = 0.7
SCORE_FRAGMENT = 0.75
SCORE_CONTINUATION = 0.7

_TOKEN = re.compile(r"[“”\"‘(),;:!?\[\]]|[^\s“”\"‘(),;:!?\[\]]+")
MARKS = frozenset("“”\"")


@dataclass(slots=True)
class _Tok:
    start: int
    end: int
    text: str
    low: str


def _tokenize(text: str, start: int, end: int, out: list[_Tok]) -> None:
    """Append the tokens of text[start:end] (offsets into the whole text)."""
    append = out.append
    for m in _TOKEN.finditer(text, start, end):
        word = m.group()
        a, b = m.span()
        # a final full stop is its own token unless the word is an abbreviation
        if word[-1] == "." and len(word) > 1 and not _is_abbreviation(word):
            stripped = word.rstrip(".")
            if stripped:
                cut = a + len(stripped)
                append(_Tok(a, cut, stripped, stripped.lower()))
                append(_Tok(cut, b, word[len(stripped):], word[len(stripped):]))
                continue
        append(_Tok(a, b, word, word.lower()))


def _is_abbreviation(word: str) -> bool:
    body = word[:-1]
    if "." in body:  # U.S., Maj.-Gen., Ph.D.
        return True
    if len(body) == 1 and body.isupper():  # an initial
        return True
    return body.lower() in ABBREVIATIONS


def _is_cap(tok: _Tok) -> bool:
    return tok.text[:1].isupper()


@dataclass
class _Attribution:
    quotes: list[tuple[int, int]]
    source: tuple[int, int] | None
    cue: tuple[int, int] | None
    score: float
    continuation: bool = False


@dataclass
class _Doc:
    text: str
    toks: list[_Tok]
    tok_starts: list[int]
    sent_of_tok: list[int]
    sent_tok_range: list[tuple[int, int]]
    quotes: list[_Quote]
    quote_starts: list[int]
    sentences: list[tuple[int, int]]
    sentence_starts: list[int]
    attributions: list[_Attribution] = field(default_factory=list)
    used_cues: set[int] = field(default_factory=set)

    def sentence_at(self, offset: int) -> int | None:
        k = bisect_right(self.sentence_starts, offset) - 1
        return k if k >= 0 and offset < self.sentences[k][1] else None

    def inside_quote(self, tok: _Tok) -> bool:
        k = bisect_right(self.quote_starts, tok.start) - 1
        return k >= 0 and self.quotes[k].start <= tok.start < self.quotes[k].end

    def add(self, attribution: _Attribution) -> None:
        attribution.quotes = [q for q in (_trim(self.text, s, e) for s, e in attribution.quotes) if q]
        if attribution.quotes:
            self.attributions.append(attribution)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _tok_index(doc: _Doc, offset: int) -> int:
    """Index of the first token starting at or after offset."""
    return bisect_left(doc.tok_starts, offset)
