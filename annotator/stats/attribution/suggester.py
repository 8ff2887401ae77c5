"""suggest(): the rules run over an article in order, then the result is assembled."""
from __future__ import annotations

from typing import Sequence

from annotator.stats.attribution.direct import _continuations, _direct_quotes, _fragments, _headlines
from annotator.stats.attribution.document import _Doc, _Tok, _tokenize
from annotator.stats.attribution.indirect import _indirect
from annotator.stats.attribution.lexicon import _HAS_CUE
from annotator.stats.attribution.linking import _result
from annotator.stats.attribution.quote_marks import _pair_quotes
from annotator.stats.attribution.results import Suggestions
from annotator.stats.segment import segment

DEFAULT_THRESHOLD = 0.5


def suggest(text: str, sentences: Sequence[tuple[int, int]] | None = None, threshold: float = DEFAULT_THRESHOLD) -> Suggestions:
    """QUOTE / SOURCE / CUE spans and quote -> source links for a news article.

    ``sentences`` are (start, end) code-point offsets (``annotator.stats.segment``'s
    by default).  Only suggestions scoring at least ``threshold`` are returned.
    """
    if sentences is None:
        sentences = segment(text)
    # Only sentences with a speech verb (or `according to`) are read word by
    # word: the rest of an article is skipped (quotes standing alone, colon
    # headlines and continued quotes are found from their offsets).
    spans = _ordered(sentences, len(text))
    toks: list[_Tok] = []
    sent_of_tok: list[int] = []
    ranges: list[tuple[int, int]] = []
    for k, (start, end) in enumerate(spans):
        first = len(toks)
        if _HAS_CUE.search(text, start, end):
            _tokenize(text, start, end, toks)
            sent_of_tok.extend([k] * (len(toks) - first))
        ranges.append((first, len(toks)))
    quotes = _pair_quotes(text)
    doc = _Doc(text, toks, [t.start for t in toks], sent_of_tok, ranges, quotes, [q.start for q in quotes], spans, [a for a, _ in spans])

    _headlines(doc)
    _direct_quotes(doc)
    for k in range(len(doc.sent_tok_range)):
        _indirect(doc, k)
    _fragments(doc)
    _continuations(doc)
    return _result(doc, threshold)


def _ordered(sentences: Sequence[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The caller's sentences sorted, inside the text and not overlapping."""
    out: list[tuple[int, int]] = []
    last = 0
    for start, end in sorted((int(s), int(e)) for s, e in sentences):
        start, end = max(start, last, 0), min(end, n)
        if start < end:
            out.append((start, end))
            last = end
    return out
