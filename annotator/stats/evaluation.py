"""How good suggestions are against a reference (gold or one annotator): the agreement module's matching.

Spans are scored per label, exact (same label, start and end) and overlap (one-to-one maximum
matching of same-label spans sharing a code point), as `agreement.span_f1` scores two annotators;
links with `agreement.relation_f1` (both ends overlap with the same labels, one-to-one); sentence
labels by accuracy and macro-F1 over the sentences both sides labelled. Predictions play
annotator a, the reference b: precision is the share of suggestions that were right.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Hashable

from annotator.stats.agreement import relation_f1, span_f1_per_label

Span = tuple[Hashable, str, int, int]  # (article, label, start, end)


@dataclass
class Annotations:
    """One side of an evaluation: spans, quote -> source links (as pairs of spans) and sentence labels."""

    spans: list[Span] = field(default_factory=list)
    links: list[tuple[Span, Span]] = field(default_factory=list)
    labels: dict[tuple[Hashable, int], str] = field(default_factory=dict)  # (article, sentence index) -> label


def label_scores(predicted: dict[Any, str], reference: dict[Any, str]) -> dict[str, Any]:
    """Accuracy and macro-F1 (over the reference's and the predictions' classes) on the items both labelled."""
    items = sorted(set(predicted) & set(reference), key=repr)
    if not items:
        return {"n": 0, "accuracy": None, "macro_f1": None, "per_label": {}, "reason": "no sentence has both a suggested and a reference label"}
    pairs = [(predicted[i], reference[i]) for i in items]
    tp, fp, fn = Counter(), Counter(), Counter()
    for p, r in pairs:
        if p == r:
            tp[p] += 1
        else:
            fp[p] += 1
            fn[r] += 1
    per_label = {}
    for label in sorted(set(tp) | set(fp) | set(fn)):
        denominator = 2 * tp[label] + fp[label] + fn[label]
        per_label[label] = {"f1": 2 * tp[label] / denominator, "tp": tp[label], "fp": fp[label], "fn": fn[label]}
    return {
        "n": len(items),
        "accuracy": sum(tp.values()) / len(items),
        "macro_f1": sum(v["f1"] for v in per_label.values()) / len(per_label),
        "per_label": per_label,
        "reason": None,
    }


def evaluate(predicted: Annotations, reference: Annotations) -> dict[str, Any]:
    """Precision, recall and F1 per span label (exact and overlap), link F1, label accuracy and macro-F1."""
    spans: dict[str, dict[str, Any]] = {}
    for mode in ("exact", "overlap"):
        for label, result in span_f1_per_label(predicted.spans, reference.spans, mode).items():
            spans.setdefault(label, {})[mode] = _figures(result)
    return {
        "spans": dict(sorted(spans.items())),
        "links": _figures(relation_f1(predicted.links, reference.links)),
        "labels": label_scores(predicted.labels, reference.labels),
    }


def _figures(result: Any) -> dict[str, Any]:
    return {"precision": result.precision, "recall": result.recall, "f1": result.f1, "tp": result.tp, "fp": result.fp, "fn": result.fn}
