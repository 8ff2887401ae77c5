"""ONE automatic-gold rule: the scalar path a label save runs (auto_gold_label) gives what the vectorised one gives.

Rows of label codes (-1 = missing) drawn at random, with thresholds around
the edges (exactly 2/3, just above 0.5, 1 = unanimous only, and below 0.5
where ties decide the label), and min_raters from 0 up: every row's
(gold, provenance) must be the same from both, alone and in a matrix.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.stats.gold import auto_gold_label, auto_gold_labels

thresholds = st.one_of(
    st.sampled_from([1.0, 2 / 3, 0.66, 0.75, 0.5 + 1e-12, 0.5, 0.34]),
    st.floats(min_value=0.01, max_value=1.0, allow_nan=False),
)


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(min_value=-1, max_value=4), min_size=1, max_size=7), min_size=1, max_size=12),
    threshold=thresholds,
    min_raters=st.integers(min_value=0, max_value=6),
)
def test_scalar_rule_equals_the_vectorised_rule(rows, threshold, min_raters):
    width = max(len(r) for r in rows)
    matrix = np.array([r + [-1] * (width - len(r)) for r in rows], dtype=np.int64)
    gold, provenance = auto_gold_labels(matrix, threshold, min_raters)
    for k, row in enumerate(rows):
        assert auto_gold_label(row, threshold, min_raters) == (int(gold[k]), int(provenance[k])), row
        one_gold, one_prov = auto_gold_labels(np.array([row], dtype=np.int64), threshold, min_raters)
        assert auto_gold_label(row, threshold, min_raters) == (int(one_gold[0]), int(one_prov[0])), row


def test_scalar_rule_cases():
    assert auto_gold_label([0, 0, 0], 1.0, 3) == (0, 1)  # unanimous
    assert auto_gold_label([1, 1, 0], 1.0, 3) == (-1, 0)  # unanimous only
    assert auto_gold_label([1, 1, 0], 0.66, 3) == (1, 2)  # majority
    assert auto_gold_label([1, 1, -1], 1.0, 3) == (-1, 0)  # two raters of three needed
    assert auto_gold_label([2, 1], 0.5, 2) == (1, 2)  # a tie below 0.5: the lowest code, as argmax
    assert auto_gold_label([], 1.0, 0) == (-1, 0)
