"""The automatic-gold rule: which label a sentence's annotators agree on, and how strongly (pure, vectorised).

The database side (refreshing gold rows as labels change, adjudication) is annotator.domain.gold;
the agreement figures read the same rule to score annotators against gold.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import numpy as np

AUTO_PROVENANCE = ("unanimous", "majority")
HUMAN_PROVENANCE = ("adjudicated", "imported")
# Codes used in arrays; 0 = no gold. Higher codes are human gold.
PROVENANCE_CODES = {"": 0, "unanimous": 1, "majority": 2, "adjudicated": 3, "imported": 4}


def auto_gold_labels(codes: np.ndarray, threshold: float, min_raters: int) -> tuple[np.ndarray, np.ndarray]:
    """Automatic gold of each item (row of label codes, -1 = missing).

    Returns (gold code or -1, provenance code: 0 none, 1 unanimous, 2 majority).
    Vectorised: one bincount of the (item, label) pairs.
    """
    import numpy as np  # here, not at the top: a label save uses only auto_gold_label, and a worker need not load NumPy for it

    codes = np.asarray(codes)
    n = codes.shape[0]
    gold = np.full(n, -1, dtype=np.int64)
    provenance = np.zeros(n, dtype=np.int64)
    if n == 0 or codes.shape[1] == 0:
        return gold, provenance
    K = int(codes.max()) + 1
    if K <= 0:
        return gold, provenance
    flat = (codes.astype(np.int64) + 1) + (np.arange(n, dtype=np.int64) * (K + 1))[:, None]
    counts = np.bincount(flat.ravel(), minlength=n * (K + 1)).reshape(n, K + 1)[:, 1:]
    m = counts.sum(axis=1)
    top = counts.argmax(axis=1)
    top_n = counts.max(axis=1)
    eligible = m >= max(2, int(min_raters))
    unanimous = eligible & (top_n == m)
    # threshold > 0.5, so the label that reaches it is unique; compare counts, not rounded shares
    majority = eligible & ~unanimous & (threshold < 1.0) & (top_n >= threshold * m - 1e-9)
    gold[unanimous | majority] = top[unanimous | majority]
    provenance[unanimous] = PROVENANCE_CODES["unanimous"]
    provenance[majority] = PROVENANCE_CODES["majority"]
    return gold, provenance


def auto_gold_label(codes: Iterable[int], threshold: float, min_raters: int) -> tuple[int, int]:
    """auto_gold_labels for ONE item (its row of label codes, -1 = missing): (gold code or -1, provenance code).

    The same rule without arrays, for one sentence inside every label save,
    where building the arrays cost more than the rule (bench/bench_gold.py).
    It must give exactly what auto_gold_labels gives, ties included (the
    lowest code, as argmax): tests/test_gold_rule.py compares both on random rows.
    """
    counts: dict[int, int] = {}
    for code in codes:
        if code >= 0:
            counts[code] = counts.get(code, 0) + 1
    m = sum(counts.values())
    if m < max(2, int(min_raters)):
        return -1, 0
    top_n = max(counts.values())
    top = min(code for code, n in counts.items() if n == top_n)
    if top_n == m:
        return top, PROVENANCE_CODES["unanimous"]
    if threshold < 1.0 and top_n >= threshold * m - 1e-9:
        return top, PROVENANCE_CODES["majority"]
    return -1, 0
