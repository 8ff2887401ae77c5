"""Indirect speech: `X said [that] CLAUSE`, `CLAUSE, X said`, `A, X said, B` and `according to X`.

The reported clause is the QUOTE (without a leading "that" and the final full
stop); quotes inside it become part of it.
"""
from __future__ import annotations

from bisect import bisect_left

from annotator.stats.attribution.document import (
    MARKS,
    SCORE_ACCORDING,
    SCORE_CLAUSE_FIRST,
    SCORE_INDIRECT_BARE,
    SCORE_INDIRECT_THAT,
    SCORE_INTERRUPTED,
    _Attribution,
    _Doc,
    _is_cap,
    _tok_index,
)
from annotator.stats.attribution.lexicon import (
    ADDRESSEES,
    BARE_CLAUSE_VERBS,
    CUES,
    FINITE,
    NOT_CLAUSE_START,
    OBJECT_VERBS,
    SAY_VERBS,
    SUBJECT_PRONOUNS,
)
from annotator.stats.attribution.sources import _forward_np, _np_span, _np_start, _skip_adjuncts, _strip_aux, _subject


def _finite_clause(doc: _Doc, i: int, stop: int) -> bool:
    """A verb among the first words of a clause, before any comma (or a
    pronoun subject: `said it “regrets any inconvenience”`)."""
    if doc.toks[i].low in SUBJECT_PRONOUNS and i + 1 < stop:
        return True
    for t in doc.toks[i:min(stop, i + 14)]:
        if t.text in ",;:" or t.low in ("which", "who"):
            return False
        if t.low in FINITE or (len(t.low) > 4 and t.low.endswith("ed") and not _is_cap(t)):
            return True
    return False


def _clause_end(doc: _Doc, stop: int) -> int:
    """The clause runs to the sentence end, without its final full stop."""
    toks = doc.toks
    end = stop
    while end > 0 and toks[end - 1].text in (".", "…"):
        end -= 1
    return end


def _split_and_that(doc: _Doc, i: int, end: int) -> list[tuple[int, int]]:
    """`said that A and that B` reports two clauses."""
    toks = doc.toks
    parts, begin = [], i
    for j in range(i + 1, end - 1):
        if toks[j].low == "and" and toks[j + 1].low == "that":
            if toks[j - 1].text == ",":
                parts.append((begin, j - 1))
            else:
                parts.append((begin, j))
            begin = j + 2
    parts.append((begin, end))
    return [(toks[a].start, toks[b - 1].end) for a, b in parts if b > a]


def _indirect(doc: _Doc, k: int) -> None:
    lo, stop = doc.sent_tok_range[k]
    toks = doc.toks
    if stop <= lo:
        return
    according = _according_to(doc, lo, stop)
    if according:
        return
    i = lo
    while i < stop:
        t = toks[i]
        if t.low in SAY_VERBS and i not in doc.used_cues and not doc.inside_quote(t):
            after = _source_first(doc, lo, i, stop)
            if after is None and _clause_first(doc, lo, i, stop):
                after = stop
            if after is not None:
                doc.used_cues.add(i)
                i = after  # `X said A but insisted that B`: read on after the first clause
                continue
        i += 1


def _consume(doc: _Doc, start: int, end: int) -> None:
    """Quotes inside an indirect clause are part of its QUOTE."""
    for k in range(bisect_left(doc.quote_starts, start), bisect_left(doc.quote_starts, end)):
        q = doc.quotes[k]
        if start <= q.open and (q.close or q.end) <= end:
            q.consumed = True


def _source_first(doc: _Doc, lo: int, i: int, stop: int) -> int | None:
    """`X said [on Monday] [that] CLAUSE.`: the index where the clause ended, or None."""
    toks = doc.toks
    cue = toks[i]
    src = _subject(doc, lo, i)
    if src is None:
        return None
    j = _skip_adjuncts(doc, i + 1, stop)
    bare = False
    if j < stop and toks[j].low == "that":
        j += 1
    elif cue.low in OBJECT_VERBS:
        for m in range(j + 1, min(stop, j + 7)):
            if toks[m].low == "that":
                if any(t.low in FINITE or t.text in ",;:“”\"" for t in toks[j:m]):
                    return None
                j = m + 1
                break
        else:
            # `told The Associated Press they had not been warned`, `told reporters the …`
            j = _skip_addressee(doc, j, stop)
            if j is None:
                return None
            j = _skip_adjuncts(doc, j, stop)
            bare = True
    elif cue.low in BARE_CLAUSE_VERBS:
        bare = True
    else:
        return None
    end = _clause_end(doc, stop)
    if j >= end or toks[j].text in MARKS or toks[j].text in ":,;" or toks[j].low in NOT_CLAUSE_START:
        return None
    if bare and not _finite_clause(doc, j, end):
        return None
    end, resume = _clause_stop(doc, j, end)
    clauses = _split_and_that(doc, j, end)
    doc.add(_Attribution(clauses, src, (cue.start, cue.end), SCORE_INDIRECT_BARE if bare else SCORE_INDIRECT_THAT))
    _consume(doc, toks[j].start, toks[end - 1].end)
    return resume


def _clause_stop(doc: _Doc, j: int, end: int) -> tuple[int, int]:
    """Where a reported clause starting at token j stops before the sentence's
    end: before a second speech verb of the same speaker (`… but insisted
    that …`) or before what the reporter adds (`…, sending its shares down`,
    `…, adding that …`, `…, though the government disputed it`).  Returns
    (clause end, where to read on)."""
    toks = doc.toks
    for m in range(j + 1, end - 1):
        t, nxt = toks[m], toks[m + 1]
        if doc.inside_quote(t):
            continue
        if t.low in ("and", "but") and nxt.low in SAY_VERBS and not nxt.low.endswith("ing"):
            return (m - 1 if toks[m - 1].text == "," else m), m + 1
        if t.text == "," and nxt.low.endswith("ing") and len(nxt.low) > 4 and not _is_cap(nxt) and not doc.inside_quote(nxt):
            return m, m + 1
        if t.text == "," and nxt.low in ("though", "although", "whereas"):
            return m, m + 1  # `…, though the government disputed the figures`: the reporter's
    return end, end


def _skip_addressee(doc: _Doc, j: int, stop: int) -> int | None:
    """After `told`: a name (`The Associated Press`, `Reuters`) or `reporters`, `him` …"""
    toks = doc.toks
    if j >= stop:
        return None
    if toks[j].low in ADDRESSEES:
        return j + 1
    k = j
    while k < stop and (_is_cap(toks[k]) or (k > j and toks[k].low in ("of", "and") and k + 1 < stop and _is_cap(toks[k + 1]))):
        k += 1
    return k if k > j else None


def _clause_first(doc: _Doc, lo: int, i: int, stop: int) -> bool:
    """`CLAUSE, X said [on Monday].`, `CLAUSE, said X.` and `A, X said, B.`"""
    toks = doc.toks
    cue = toks[i]
    if toks[lo].text in MARKS and any(x.open == toks[lo].start and x.attributed for x in doc.quotes):
        return False  # `“…,” X said.`: a direct quote, already attributed
    end = _clause_end(doc, stop)
    after = _skip_adjuncts(doc, i + 1, end)
    hi = _strip_aux(doc, lo, i)
    if hi is None:
        return False
    comma = _clause_comma(doc, lo, hi)
    if comma is None:
        return False
    if comma + 1 == hi:  # inverted: `CLAUSE, said X.`
        return _inverted_clause_first(doc, lo, i, comma, after, end)
    start = _np_start(doc, comma + 1, hi)
    if start is None:
        return False
    src = _np_span(doc, start, hi)
    if src is None:
        return False
    if after < end and toks[after].text == ",":  # interrupted: `A, the agency said, B.`
        b0 = after + 1
        if end - b0 < 2:
            return False
        doc.add(_Attribution(
            [(toks[lo].start, toks[comma - 1].end), (toks[b0].start, toks[end - 1].end)], src, (cue.start, cue.end), SCORE_INTERRUPTED
        ))
        return True
    rest = toks[after:end]
    if cue.low in OBJECT_VERBS and len(rest) <= 3 and all(t.text not in MARKS for t in rest):
        rest = []
    if rest:
        return False
    _add_clause_first(doc, lo, comma, src, i)
    return True


def _clause_comma(doc: _Doc, lo: int, hi: int) -> int | None:
    """The comma that ends the reported clause, at most 12 tokens before the
    speaker region's end `hi`; None when a verb, a cue or a quote mark comes
    first, or the clause before it is shorter than two tokens."""
    toks = doc.toks
    for j in range(hi - 1, max(lo, hi - 12) - 1, -1):
        if toks[j].text == ",":
            return j if j - lo >= 2 else None
        if toks[j].low in FINITE or toks[j].low in CUES or toks[j].text in MARKS:
            return None
    return None


def _inverted_clause_first(doc: _Doc, lo: int, i: int, comma: int, after: int, end: int) -> bool:
    """`CLAUSE, said X.`: only the speaker (and an apposition) may follow the verb."""
    toks = doc.toks
    if after < end and toks[after].text == ",":
        return False
    src = _forward_np(doc, i + 1, end)
    if src is None:
        return False
    following = _tok_index(doc, src[1])
    if following < end and toks[following].text != ",":
        return False  # more than the speaker (and an apposition) after the verb
    _add_clause_first(doc, lo, comma, src, i)
    return True


def _add_clause_first(doc: _Doc, lo: int, comma: int, src: tuple[int, int], i: int) -> None:
    """The clause before the comma is the QUOTE of the speaker `src` and the cue at token i."""
    toks = doc.toks
    clause = (toks[lo].start, toks[comma - 1].end)
    doc.add(_Attribution([clause], src, (toks[i].start, toks[i].end), SCORE_CLAUSE_FIRST))
    _consume(doc, clause[0], clause[1])


def _according_to(doc: _Doc, lo: int, stop: int) -> bool:
    """`According to X, CLAUSE.` and `CLAUSE, according to X.`"""
    toks = doc.toks
    for i in range(lo, stop - 1):
        if toks[i].low != "according" or toks[i + 1].low != "to" or doc.inside_quote(toks[i]):
            continue
        cue = (toks[i].start, toks[i + 1].end)
        end = _clause_end(doc, stop)
        if i == lo:
            comma = next((j for j in range(i + 2, end) if toks[j].text == ","), None)
            if comma is None or comma == i + 2 or end - comma < 3:
                return False
            src = _np_span(doc, i + 2, comma)
            clause = (toks[comma + 1].start, toks[end - 1].end)
        elif toks[i - 1].text == "," and i - 1 > lo:
            j = i + 2
            while j < end and toks[j].text not in ",;:":
                j += 1
            if j == i + 2:
                return False
            src = _np_span(doc, i + 2, j)
            clause = (toks[lo].start, toks[i - 2].end)
        else:
            return False
        if src is None:
            return False
        doc.add(_Attribution([clause], src, cue, SCORE_ACCORDING))
        _consume(doc, clause[0], clause[1])
        return True
    return False
