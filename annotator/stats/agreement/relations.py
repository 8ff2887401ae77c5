"""Relation agreement: F1 of quote -> source relations, and how often two annotators give a quote the same source."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np

from annotator.stats.agreement.results import AttributionResult, F1Result
from annotator.stats.agreement.spans import _f1, _match_spans, _max_matching, _norm_span, _norm_spans, _overlaps


def _norm_relation(r: Sequence) -> tuple[tuple, tuple]:
    if len(r) != 2:
        raise ValueError(f"a relation is (quote_span, source_span), got {r!r}")
    q, s = _norm_span(r[0]), _norm_span(r[1])
    if q[0] != s[0]:
        raise ValueError(f"quote and source of a relation are in different articles: {r!r}")
    return q, s


def _match_relations(a: list[tuple[tuple, tuple]], b: list[tuple[tuple, tuple]]) -> list[tuple[int, int]]:
    ga: dict = defaultdict(list)
    gb: dict = defaultdict(list)
    for i, (q, s) in enumerate(a):
        ga[(q[0], q[1], s[1])].append(i)
    for j, (q, s) in enumerate(b):
        gb[(q[0], q[1], s[1])].append(j)
    out: list[tuple[int, int]] = []
    for key, ia in ga.items():
        ib = gb.get(key)
        if not ib:
            continue
        if len(ia) * len(ib) <= 64:  # a few relations each: find the edges without a matrix
            xs = [(i, a[i][0][2], a[i][0][3], a[i][1][2], a[i][1][3]) for i in ia]
            ys = [(j, b[j][0][2], b[j][0][3], b[j][1][2], b[j][1][3]) for j in ib]
            edges = [(i, j) for i, q1, f1, s1, e1 in xs for j, q2, f2, s2, e2 in ys if q1 < f2 and q2 < f1 and s1 < e2 and s2 < e1]
            if len({i for i, _ in edges}) == len(edges) == len({j for _, j in edges}):
                out.extend(edges)  # no two edges share a relation: all of them are the maximum matching
                continue
        qa = np.array([a[i][0][2:] for i in ia], dtype=np.int64).reshape(-1, 2)
        sa = np.array([a[i][1][2:] for i in ia], dtype=np.int64).reshape(-1, 2)
        qb = np.array([b[j][0][2:] for j in ib], dtype=np.int64).reshape(-1, 2)
        sb = np.array([b[j][1][2:] for j in ib], dtype=np.int64).reshape(-1, 2)
        ovq, ovs = _overlaps(qa, qb), _overlaps(sa, sb)
        edge = (ovq > 0) & (ovs > 0)
        out.extend((ia[r], ib[c]) for r, c in _max_matching(edge, ovq + ovs))
    return out


def relation_f1(relations_a: Iterable[Sequence], relations_b: Iterable[Sequence]) -> F1Result:
    """F1 of quote -> source relations.

    A relation is ``(quote_span, source_span)``.  Relations of a and b match
    when both quotes overlap with the same label and both sources overlap
    with the same label (same article); relations are then paired one-to-one
    by maximum matching.
    """
    a = [_norm_relation(r) for r in relations_a]
    b = [_norm_relation(r) for r in relations_b]
    tp = len(_match_relations(a, b))
    return _f1("relation", tp, len(a) - tp, len(b) - tp, what="relation")


def attribution_agreement(
    relations_a: Iterable[Sequence],
    relations_b: Iterable[Sequence],
    quotes_a: Iterable[Sequence] = (),
    quotes_b: Iterable[Sequence] = (),
    sources_a: Iterable[Sequence] = (),
    sources_b: Iterable[Sequence] = (),
    include_unattributed: bool = True,
) -> AttributionResult:
    """Share of quotes marked by both annotators that they attribute to the same source.

    Quotes of a and b are matched one-to-one by overlap (same article and
    label, maximum matching); so are sources.  Quote spans are the quote ends
    of the relations plus ``quotes_*`` (pass all quote spans to count quotes
    left without a source); likewise sources.  A matched quote pair agrees
    when the set of a's sources, mapped through the source matching, equals
    the set of b's sources.  When neither annotator gave the quote a source,
    the pair counts as agreeing if ``include_unattributed`` (default) and is
    left out otherwise; either way it is counted in ``n_both_unattributed``.
    """
    ra = [_norm_relation(r) for r in relations_a]
    rb = [_norm_relation(r) for r in relations_b]
    qa, sa, la = _quote_universe(ra, quotes_a, sources_a)
    qb, sb, lb = _quote_universe(rb, quotes_b, sources_b)
    qmatch = _match_spans(qa, qb)
    same, diff, both_none = _compare_sources(qmatch, la, lb, dict(_match_spans(sa, sb)), include_unattributed)
    considered = same + diff
    value = same / considered if considered else None
    reason = None
    if value is None:
        if not qmatch:
            reason = "no quote was marked by both annotators"
        else:
            reason = "no quote marked by both annotators was attributed by either of them"
    return AttributionResult(
        value=value,
        reason=reason,
        n_quotes_a=len(qa),
        n_quotes_b=len(qb),
        n_quotes_matched=len(qmatch),
        n_considered=considered,
        n_same_source=same,
        n_different_source=diff,
        n_both_unattributed=both_none,
    )


def _quote_universe(rels: list[tuple[tuple, tuple]], extra_q: Iterable[Sequence], extra_s: Iterable[Sequence]):
    """One annotator's quotes and sources (relation ends plus the extra spans, each once) and,
    by position, the sources of each quote."""
    quotes = list(dict.fromkeys([q for q, _ in rels] + _norm_spans(extra_q)))
    sources = list(dict.fromkeys([s for _, s in rels] + _norm_spans(extra_s)))
    qpos = {q: i for i, q in enumerate(quotes)}
    spos = {s: i for i, s in enumerate(sources)}
    links: dict[int, set[int]] = defaultdict(set)
    for q, s in rels:
        links[qpos[q]].add(spos[s])
    return quotes, sources, links


def _compare_sources(
    qmatch: list[tuple[int, int]], la: dict, lb: dict, smap: dict, include_unattributed: bool
) -> tuple[int, int, int]:
    """(same, different, both unattributed) over the matched quote pairs; a's sources are mapped
    into b's through the source matching (smap), unmatched ones never equal any of b's."""
    same = diff = both_none = 0
    for i, j in qmatch:
        src_a = {smap.get(s, ("a-only", s)) for s in la.get(i, ())}
        src_b = set(lb.get(j, ()))
        if not src_a and not src_b:
            both_none += 1
            if include_unattributed:
                same += 1
        elif src_a == src_b:
            same += 1
        else:
            diff += 1
    return same, diff, both_none
