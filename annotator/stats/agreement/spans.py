"""Span agreement: F1 between two annotators' spans (exact, overlap or character), per label and per pair.

Also the one-to-one maximum matching of overlapping spans that relations.py
uses for quote -> source agreement.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np

from annotator.stats.agreement.matrix import _ordered
from annotator.stats.agreement.results import F1Result

SPAN_MODES = ("exact", "overlap", "character")

def _norm_span(s: Sequence) -> tuple:
    """(label, start, end) or (article, label, start, end) -> (article, label, start, end)."""
    if type(s) is tuple and len(s) == 4 and type(s[2]) is int and type(s[3]) is int and 0 <= s[2] <= s[3]:
        return s  # already normal (the common case): no copy
    if len(s) == 3:
        art, (lab, start, end) = None, s
    elif len(s) == 4:
        art, lab, start, end = s
    else:
        raise ValueError(f"a span is (label, start, end) or (article, label, start, end), got {s!r}")
    try:
        start_i, end_i = int(start), int(end)
    except (TypeError, ValueError):
        raise ValueError(f"span offsets must be integers, got {s!r}") from None
    if start_i != start or end_i != end or start_i < 0 or end_i < start_i:
        raise ValueError(f"span offsets must be integers with 0 <= start <= end, got {s!r}")
    return (art, lab, start_i, end_i)


def _norm_spans(spans: Iterable[Sequence]) -> list[tuple]:
    return [_norm_span(s) for s in spans]


def _f1(mode: str, tp: int, fp: int, fn: int, label: Any = None, what: str = "span") -> F1Result:
    tp, fp, fn = int(tp), int(fp), int(fn)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    reason = None
    if f1 is None:
        reason = f"neither annotator marked any {what}" + ("" if label is None else f" labelled {label!r}")
    return F1Result(mode, f1, precision, recall, tp, fp, fn, reason, label)


def combine_f1(results: Iterable[F1Result]) -> F1Result:
    """Micro F1: add tp / fp / fn of several results (e.g. one per article)."""
    results = list(results)
    modes = {r.mode for r in results}
    labels = {r.label for r in results}
    mode = modes.pop() if len(modes) == 1 else "mixed"
    label = labels.pop() if len(labels) == 1 else None
    what = "relation" if mode == "relation" else "span"  # an undefined pool of relation F1s wants links, not spans
    return _f1(mode, sum(r.tp for r in results), sum(r.fp for r in results), sum(r.fn for r in results), label, what)


def _overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(p, q) number of shared code points of intervals a (p, 2) and b (q, 2)."""
    return np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0])


def _max_matching(edge: np.ndarray, gain: np.ndarray) -> list[tuple[int, int]]:
    """Maximum-cardinality one-to-one matching on a bipartite edge mask; among
    maximum matchings, the one with the largest total ``gain`` (overlap)."""
    if not edge.any():
        return []
    if (edge.sum(axis=0) <= 1).all() and (edge.sum(axis=1) <= 1).all():
        # no two edges share an end (the usual case: one span each): all of them are the matching
        r, c = np.nonzero(edge)
        return list(zip(r.tolist(), c.tolist(), strict=True))
    from scipy.optimize import linear_sum_assignment

    gain = np.where(edge, gain, 0).astype(float)
    big = float(gain.sum()) + 1.0  # more than any matching's total gain
    weight = np.where(edge, big + gain, 0.0)
    r, c = linear_sum_assignment(weight, maximize=True)
    keep = edge[r, c]
    return list(zip(r[keep].tolist(), c[keep].tolist(), strict=True))


def _match_spans(a: list[tuple], b: list[tuple]) -> list[tuple[int, int]]:
    """One-to-one maximum matching of overlapping same-article same-label spans."""
    ga: dict = defaultdict(list)
    gb: dict = defaultdict(list)
    for i, s in enumerate(a):
        ga[(s[0], s[1])].append(i)
    for j, s in enumerate(b):
        gb[(s[0], s[1])].append(j)
    out: list[tuple[int, int]] = []
    for key, ia in ga.items():
        ib = gb.get(key)
        if not ib:
            continue
        if len(ia) * len(ib) <= 64:  # a few spans each (the usual case): find the edges without a matrix
            xs = [(i, a[i][2], a[i][3]) for i in ia]
            ys = [(j, b[j][2], b[j][3]) for j in ib]
            edges = [(i, j) for i, s1, e1 in xs for j, s2, e2 in ys if s1 < e2 and s2 < e1]  # share a code point
            if len({i for i, _ in edges}) == len(edges) == len({j for _, j in edges}):
                out.extend(edges)  # no two edges share a span: all of them are the maximum matching
                continue
        xa = np.array([a[i][2:] for i in ia], dtype=np.int64).reshape(-1, 2)
        xb = np.array([b[j][2:] for j in ib], dtype=np.int64).reshape(-1, 2)
        ov = _overlaps(xa, xb)
        out.extend((ia[r], ib[c]) for r, c in _max_matching(ov > 0, ov))
    return out


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if s >= e:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _intersection_len(x: list[tuple[int, int]], y: list[tuple[int, int]]) -> int:
    i = j = tot = 0
    while i < len(x) and j < len(y):
        lo, hi = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if hi > lo:
            tot += hi - lo
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return tot


def _counts(a: list[tuple], b: list[tuple], mode: str) -> tuple[int, int, int]:
    if mode == "exact":
        ca, cb = Counter(a), Counter(b)
        tp = sum(min(k, cb[s]) for s, k in ca.items())
        return tp, len(a) - tp, len(b) - tp
    if mode == "overlap":
        tp = len(_match_spans(a, b))
        return tp, len(a) - tp, len(b) - tp
    if mode == "character":
        ga: dict = defaultdict(list)
        gb: dict = defaultdict(list)
        for art, lab, s, e in a:
            ga[(art, lab)].append((s, e))
        for art, lab, s, e in b:
            gb[(art, lab)].append((s, e))
        tp = fp = fn = 0
        for key in set(ga) | set(gb):
            ma, mb = _merge(ga.get(key, [])), _merge(gb.get(key, []))
            la, lb = sum(e - s for s, e in ma), sum(e - s for s, e in mb)
            inter = _intersection_len(ma, mb)
            tp, fp, fn = tp + inter, fp + la - inter, fn + lb - inter
        return tp, fp, fn
    raise ValueError(f"mode must be one of {SPAN_MODES}, got {mode!r}")


def span_f1(spans_a: Iterable[Sequence], spans_b: Iterable[Sequence], mode: str = "exact") -> F1Result:
    """F1 between two annotators' spans, micro over labels (and articles).

    ``exact``: same article, label, start and end (multiset).  ``overlap``:
    one-to-one maximum matching among same-article same-label spans sharing at
    least one code point (ties broken towards more overlap).  ``character``:
    per article and label, the code points covered by each annotator's spans;
    tp / fp / fn are code points.
    """
    if mode not in SPAN_MODES:
        raise ValueError(f"mode must be one of {SPAN_MODES}, got {mode!r}")
    return _f1(mode, *_counts(_norm_spans(spans_a), _norm_spans(spans_b), mode))


def span_f1_per_label(
    spans_a: Iterable[Sequence],
    spans_b: Iterable[Sequence],
    mode: str = "exact",
    labels: Sequence[Hashable] | None = None,
) -> dict:
    """``{label: F1Result}`` for each label either annotator used (or ``labels``)."""
    if mode not in SPAN_MODES:
        raise ValueError(f"mode must be one of {SPAN_MODES}, got {mode!r}")
    a, b = _norm_spans(spans_a), _norm_spans(spans_b)
    if labels is None:
        labels = _ordered(list(dict.fromkeys([s[1] for s in a] + [s[1] for s in b])))
    out = {}
    for lab in labels:
        la = [s for s in a if s[1] == lab]
        lb = [s for s in b if s[1] == lab]
        out[lab] = _f1(mode, *_counts(la, lb, mode), label=lab)
    return out


def span_f1_pairs(
    spans_by_annotator: Mapping[Hashable, Iterable[Sequence]],
    mode: str = "exact",
    per_label: bool = False,
    labels: Sequence[Hashable] | None = None,
) -> dict:
    """Span F1 for every annotator pair: ``{(a, b): F1Result}`` (a before b in
    sorted order), or ``{(a, b): {label: F1Result}}`` with ``per_label=True``
    (for ``labels``, by default the labels either of the two used)."""
    if mode not in SPAN_MODES:
        raise ValueError(f"mode must be one of {SPAN_MODES}, got {mode!r}")
    names = _ordered(list(spans_by_annotator))
    spans = {k: _norm_spans(spans_by_annotator[k]) for k in names}
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if per_label:
                out[(a, b)] = span_f1_per_label(spans[a], spans[b], mode, labels)
            else:
                out[(a, b)] = span_f1(spans[a], spans[b], mode)
    return out
