"""Finding the speaker: the noun phrase before or after a speech verb, appositions and adjuncts left out.

A document is replaced by its author (`a report by X found` gives X); a
gerund or a second verb takes the speaker of the sentence's earlier verb.
"""
from __future__ import annotations

import re

from annotator.stats.attribution.document import _Doc, _is_cap, _Tok
from annotator.stats.attribution.lexicon import (
    APPOSITION_STARTS,
    AUX_BEFORE_CUE,
    CLAUSE_BOUNDARY_WORDS,
    CUES,
    DETERMINERS,
    DOCUMENT_NOUNS,
    EVENT_NOUNS,
    FINITE,
    INVERTED_SOURCE_STOPS,
    NEGATIONS,
    NOT_A_REPORT_BEFORE,
    RELATIVES,
    SINGLE_ADJUNCTS,
    STATEMENT_NOUNS,
    TIME_WORDS,
)


def _strip_aux(doc: _Doc, lo: int, hi: int) -> int | None:
    """End of the subject region before a cue at hi: auxiliaries and adverbs
    dropped; None when the verb is negated."""
    while hi > lo and doc.toks[hi - 1].low in AUX_BEFORE_CUE | NEGATIONS | {"did", "does", "do"}:
        if doc.toks[hi - 1].low in NEGATIONS:
            return None
        hi -= 1
    return hi


def _subject(doc: _Doc, lo: int, cue: int) -> tuple[int, int] | None:
    """The speaker named before the cue at token `cue`, searching no further back than `lo`."""
    toks = doc.toks
    if toks[cue].low.endswith("ing"):
        return _gerund_subject(doc, lo, cue)
    if cue > lo and toks[cue - 1].low in ("and", "but"):
        return _coordinated_subject(doc, lo, cue)
    if cue > lo and toks[cue - 1].low in NOT_A_REPORT_BEFORE | RELATIVES:
        return None  # `hope to show that`, `will say that`: not (yet) a report; `who asked …`
    if cue + 1 < len(toks) and toks[cue + 1].low in ("to", "not"):
        return None  # `asked not to be named`, `told to leave`
    if cue > lo and toks[cue - 1].low in DETERMINERS:
        return None  # `The claim could not be verified`: a noun
    hi = _strip_aux(doc, lo, cue)
    if hi is None or hi <= lo:
        return None
    toks = doc.toks
    if toks[hi - 1].text == ",":
        return _apposed(doc, lo, hi - 1)
    start = _np_start(doc, lo, hi)
    if start is None:
        return None
    return _np_span(doc, start, hi)


def _np_start(doc: _Doc, lo: int, hi: int) -> int | None:
    toks = doc.toks
    j = hi
    while j > lo:
        t = toks[j - 1]
        if t.text in "“”\"‘(),;:!?[]." or t.low in CLAUSE_BOUNDARY_WORDS or doc.inside_quote(t):
            break
        j -= 1
        if hi - j > 12:
            return None
    j = _skip_adjuncts(doc, j, hi)
    if j >= hi:
        return None
    for n in range(j, hi):
        t = toks[n]
        if t.low in RELATIVES and n > j:
            break  # `a nurse who asked not to be named`: the relative clause belongs to the speaker
        if (t.low in FINITE or t.low in CUES) and not (n > j and toks[n - 1].low in DETERMINERS):
            return None  # a verb: not a noun phrase (but `some reports`, `the findings` are)
        if t.low.endswith("ed") and len(t.low) > 4 and n + 1 < hi and toks[n + 1].low in DETERMINERS:
            return None  # a verb with its object (`launched an appeal`), not `a retired teacher`
    return j


def _apposed(doc: _Doc, lo: int, comma: int) -> tuple[int, int] | None:
    """`Reyes, 52, said` -> Reyes; `Her lawyer, Tom Ashby, said` -> Tom Ashby:
    chunks set off by commas before the cue; the speaker is the name, the
    appositions (ages, descriptions, relative clauses) are left out."""
    toks = doc.toks
    chunks: list[tuple[int, int]] = []
    hi = comma
    while True:
        j = hi
        while j > lo and toks[j - 1].text != "," and toks[j - 1].text not in "“”\"‘;:.!?":
            j -= 1
        chunks.append((j, hi))
        if j > lo and toks[j - 1].text == "," and len(chunks) < 4:
            hi = j - 1
            continue
        break
    if len(chunks) < 2:
        return None
    # chunks[0] is next to the cue; going back, skip appositions until a name
    # (`Her lawyer, Tom Ashby,`) or the first chunk (`the minister, who …,`)
    k = 0
    while k < len(chunks) - 1 and not _name_like(doc, chunks[k]):
        k += 1
    start, end = chunks[k]
    if start >= end:
        return None
    np = _np_start(doc, start, end)
    if np is None:
        return None
    return _np_span(doc, np, end)


def _name_like(doc: _Doc, chunk: tuple[int, int]) -> bool:
    """`Gov. Dale Whitaker`, not `52`, `the agency's chief`, `Harbor's chief
    executive`, `speaking to reporters in Paris` or `who …`."""
    start, end = chunk
    return end > start and _is_cap(doc.toks[end - 1]) and _is_cap(doc.toks[start]) and doc.toks[start].low not in APPOSITION_STARTS


_POSSESSIVE_DOC = re.compile(r"^(.+?)['’]s?\s+(?:\w+\s+)?(" + "|".join(sorted(DOCUMENT_NOUNS)) + r")$", re.I)
_DOC_BY = re.compile(r"^(?:(?:a|an|the|its|his|her|their)\s+)?(?:[\w-]+\s+){0,2}(?:" + "|".join(sorted(DOCUMENT_NOUNS)) + r")\s+(?:by|from)\s+(.+)$", re.I)


def _np_span(doc: _Doc, start: int, end: int) -> tuple[int, int] | None:
    """The source span of tokens start..end, with a document replaced by its author."""
    toks = doc.toks
    s, e = toks[start].start, toks[end - 1].end
    phrase = doc.text[s:e]
    m = _DOC_BY.match(phrase)
    if m:
        return s + m.start(1), s + m.end(1)
    m = _POSSESSIVE_DOC.match(phrase)
    if m:
        return s + m.start(1), s + m.end(1)
    if not any(t.text[:1].isalpha() for t in toks[start:end]):
        return None
    return s, e


def _forward_np(doc: _Doc, i: int, stop: int) -> tuple[int, int] | None:
    """The speaker after an inverted cue: `said Dr. Amina Yusuf, a virologist`."""
    toks = doc.toks
    j = i
    relative = False
    while j < stop:
        t = toks[j]
        if t.text in "“”\"‘(),;:!?[].":
            break
        if t.low in ("who", "whose"):
            relative = True
        if not relative and j > i and t.low in INVERTED_SOURCE_STOPS:
            break
        j += 1
        if j - i > 14:
            return None
    if j == i:
        return None
    if not relative and any(t.low in FINITE for t in toks[i:j]):
        return None
    return _np_span(doc, i, j)


def _skip_adjuncts(doc: _Doc, i: int, stop: int) -> int:
    """Skip `on Monday`, `in a statement`, `at a news conference on Friday`, `on X`, `last month` …"""
    toks = doc.toks
    while i < stop:
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < stop else None
        if t.low in SINGLE_ADJUNCTS:
            i += 1
        elif t.low in ("on", "last", "this", "next", "late", "early") and nxt is not None and nxt.low in TIME_WORDS:
            i += 2
            if i < stop and toks[i].low in TIME_WORDS:
                i += 1
        elif t.low == "on" and nxt is not None and _is_cap(nxt) and nxt.low not in ("the",):
            i += 2  # on Telegram, on X, on LinkedIn
        elif t.low in ("in", "at", "on", "during") and nxt is not None and nxt.low in ("a", "an", "the", "its", "his", "her", "their"):
            for j in range(i + 2, min(stop, i + 6)):
                if toks[j].low in STATEMENT_NOUNS or toks[j].low in EVENT_NOUNS:
                    i = j + 1
                    break
            else:
                return i
        else:
            return i
    return i


def _coordinated_subject(doc: _Doc, lo: int, i: int) -> tuple[int, int] | None:
    """`X accused him of … and promised that …`, `“…,” said X, adding that …`:
    the speaker of the earlier verb in the sentence."""
    for j in range(i - 2, lo - 1, -1):
        t = doc.toks[j]
        if t.low in CUES and not doc.inside_quote(t) and not t.low.endswith("ing") and not _reported(doc, lo, t):
            return _subject(doc, lo, j) or _forward_np(doc, j + 1, i - 1)
    return None


def _reported(doc: _Doc, lo: int, tok: _Tok) -> bool:
    """Whether a token lies in a QUOTE already found in this sentence (`… since
    it was agreed in the spring, adding that …`: `agreed` is reported, not the cue)."""
    sentence_start = doc.toks[lo].start
    for a in reversed(doc.attributions):
        if a.quotes[-1][1] <= sentence_start:
            break
        if any(start <= tok.start < end for start, end in a.quotes):
            return True
    return False


def _gerund_subject(doc: _Doc, lo: int, cue: int) -> tuple[int, int] | None:
    """`…, adding that …` / `…, calling it “…”`: the speaker of the sentence's
    earlier verb, else its opening name; `Ryabkov telling CNN that …`: the name
    right before."""
    toks = doc.toks
    if cue > lo and toks[cue - 1].text == ",":
        src = _coordinated_subject(doc, lo, cue)
        if src is not None:
            return src
        j = lo
        while j < cue and (_is_cap(toks[j]) or (j > lo and toks[j].low in ("of", "for") and j + 1 < cue and _is_cap(toks[j + 1]))):
            j += 1
        return _np_span(doc, lo, j) if j > lo else None
    j = cue
    while j > lo and (_is_cap(toks[j - 1]) or toks[j - 1].low in ("of", "for")):
        j -= 1
    while j < cue and not _is_cap(toks[j]):
        j += 1
    return _np_span(doc, j, cue) if j < cue else None
