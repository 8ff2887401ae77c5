"""From what the rules found to the result: spans with ids in text order, each QUOTE linked to its SOURCE.

Continued quotes take the nearest source before them; a suggestion below the
threshold, or whose source overlaps its quote, is dropped.
"""
from __future__ import annotations

from bisect import bisect_right, insort

from annotator.stats.attribution.document import _Doc
from annotator.stats.attribution.results import Relation, Span, Suggestions


def _result(doc: _Doc, threshold: float) -> Suggestions:
    text = doc.text
    spans: dict[tuple[str, int, int], float] = {}
    links: dict[tuple[tuple[int, int], tuple[int, int]], float] = {}
    sources_seen: list[tuple[int, int]] = []  # (end, start), sorted
    for a in sorted(doc.attributions, key=lambda a: a.quotes[0][0]):
        if a.score < threshold:
            continue
        source = a.source
        if a.continuation:
            k = bisect_right(sources_seen, (a.quotes[0][0], a.quotes[0][0]))
            if k == 0:
                continue
            end, start = sources_seen[k - 1]
            source = (start, end)
        if source is None:
            continue
        if any(_overlap(source, q) for q in a.quotes):
            continue
        insort(sources_seen, (source[1], source[0]))
        for label, span in [("SOURCE", source), ("CUE", a.cue)] + [("QUOTE", q) for q in a.quotes]:
            if span is not None:
                key = (label, span[0], span[1])
                spans[key] = max(spans.get(key, 0.0), a.score)
        for q in a.quotes:
            links[(q, source)] = max(links.get((q, source), 0.0), a.score)
    order = {"QUOTE": 0, "SOURCE": 1, "CUE": 2}
    keys = sorted(spans, key=lambda x: (x[1], x[2], order[x[0]]))
    ids = {key: f"a{n}" for n, key in enumerate(keys, start=1)}
    out_spans = tuple(Span(ids[key], key[0], key[1], key[2], text[key[1]:key[2]], round(spans[key], 3)) for key in keys)
    out_links = tuple(
        Relation("attributed_to", ids[("QUOTE", *q)], ids[("SOURCE", *s)], round(score, 3))
        for (q, s), score in sorted(links.items(), key=lambda x: (x[0][0], x[0][1]))
    )
    return Suggestions(out_spans, out_links)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
