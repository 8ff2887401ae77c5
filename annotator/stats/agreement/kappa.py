"""Percent agreement and the kappa family: Fleiss' kappa, Gwet's AC1, Cohen's kappa.

Each coefficient is three functions over the row patterns (patterns.py):
per-pattern statistics that add up over items, a vectorised finaliser (NaN =
undefined) and the Result of one overall row.  The public functions give the
point estimate; bootstrap.py and report.py reuse the three for every resample.
"""
from __future__ import annotations

from typing import Any, Hashable

import numpy as np

from annotator.stats.agreement.matrix import LabelMatrix, _as_matrix
from annotator.stats.agreement.patterns import _div, _Enc
from annotator.stats.agreement.results import _R_NO_ITEMS, _R_NO_PAIRABLE, _R_ONE_CATEGORY, Result, _num

# --------------------------------------------------------------------------
# Metric specifications: additive statistics + vectorised finaliser + result
# --------------------------------------------------------------------------
#
# cols(enc, **params) -> (P, S) statistics of each row pattern, which add up
#   over items; stats(enc, g, G) sums them overall (g None: one row) or per
#   article.  finalize(s, **params) -> values over the leading axes of s (NaN =
#   undefined).  result(enc, s, **params) -> Result for one overall row.


def _pa_cols(enc: _Enc) -> np.ndarray:
    """Per pattern share of agreeing ordered annotator pairs (0 if unpairable)."""
    m = enc.m
    return np.nan_to_num(_div(enc.sumsq - m, m * (m - 1)), nan=0.0)


# ---- percent agreement ----------------------------------------------------


def _percent_cols(enc: _Enc, **_):
    return np.column_stack([_pa_cols(enc), enc.pairable]) if enc.P else np.zeros((0, 2))


def _percent_finalize(s, **_):
    return _div(s[..., 0], s[..., 1])


def _percent_result(enc: _Enc, s, **_):
    v = _num(_percent_finalize(s))
    reason = None
    if v is None:
        reason = _R_NO_ITEMS if enc.n == 0 else _R_NO_PAIRABLE
    used = int(round(float(s[1])))
    return Result(
        "percent_agreement",
        v,
        reason,
        n_items=enc.n,
        n_items_used=used,
        n_items_pairable=enc.n_pairable,
        n_left_out=enc.n - used,
        n_ratings=int(round(float(enc.H @ (enc.m * enc.pairable)))),
        details={"definition": "mean over items with 2+ labels of the share of agreeing annotator pairs"},
        per_pair=enc.per_pair(),
    )


# ---- Fleiss' kappa ----------------------------------------------------------


def _fleiss_raters(enc: _Enc, n_raters: int | None) -> int:
    return int(np.count_nonzero(enc.active)) if n_raters is None else int(n_raters)


def _fleiss_cols(enc: _Enc, n_raters: int, **_):
    full = (enc.m == n_raters).astype(float) if n_raters >= 2 else np.zeros(enc.P)
    return np.column_stack([full, enc.sumsq * full, enc.counts * full[:, None]]) if enc.P else np.zeros((0, 2 + enc.K))


def _fleiss_finalize(s, n_raters: int, **_):
    r = n_raters
    if r < 2:
        return np.full(s.shape[:-1], np.nan)
    n_full, S, Nc = s[..., 0], s[..., 1], s[..., 2:]
    T = n_full * r
    Q = (Nc * Nc).sum(axis=-1)
    # kappa = (P_bar - P_e) / (1 - P_e), P_bar = (S - T) / (T (r-1)), P_e = Q / T^2
    return _div((S - T) * T / (r - 1) - Q, T * T - Q)


def _fleiss_result(enc: _Enc, s, n_raters: int, **_):
    r = n_raters
    v = _num(_fleiss_finalize(s, n_raters=r))
    n_full = int(round(float(s[0])))
    reason = None
    p_o = p_e = None
    if enc.n == 0:
        reason = _R_NO_ITEMS
    elif enc.n_pairable == 0:
        reason = _R_NO_PAIRABLE
    elif r < 2:
        reason = "Fleiss' kappa needs at least two annotators"
    elif n_full == 0:
        reason = f"no item was labelled by all {r} annotators (Fleiss' kappa uses complete items only)"
    else:
        T = n_full * r
        p_o = float((s[1] - T) / (T * (r - 1)))
        p_e = float((s[2:] * s[2:]).sum() / (T * T))
        if v is None:
            reason = _R_ONE_CATEGORY
    return Result(
        "fleiss_kappa",
        v,
        reason,
        n_items=enc.n,
        n_items_used=n_full,
        n_items_pairable=enc.n_pairable,
        n_left_out=enc.n - n_full,
        n_ratings=n_full * max(r, 0),
        details={"n_raters": r, "p_o": p_o, "p_e": p_e},
        per_pair=enc.per_pair(),
    )


# ---- Gwet's AC1 -------------------------------------------------------------


def _ac1_cols(enc: _Enc, **_):
    if not enc.P:
        return np.zeros((0, 3 + enc.K))
    share = enc.counts / np.where(enc.m > 0, enc.m, 1)[:, None]
    return np.column_stack([enc.pairable, _pa_cols(enc), enc.rated, share])


def _ac1_finalize(s, n_categories: int, **_):
    q = n_categories
    if q < 2:
        return np.full(s.shape[:-1], np.nan)
    pa = _div(s[..., 1], s[..., 0])
    pi = _div(s[..., 3:], s[..., 2][..., None])
    pe = (pi * (1.0 - pi)).sum(axis=-1) / (q - 1)
    return (pa - pe) / (1.0 - pe)


def _ac1_result(enc: _Enc, s, n_categories: int, **_):
    q = n_categories
    v = _num(_ac1_finalize(s, n_categories=q))
    reason = None
    pa = pe = None
    if enc.n == 0:
        reason = _R_NO_ITEMS
    elif s[0] == 0:
        reason = _R_NO_PAIRABLE
    elif q < 2:
        reason = "only one category in the label set: AC1's chance agreement is undefined"
    else:
        pa = float(s[1] / s[0])
        pi = s[3:] / s[2]
        pe = float((pi * (1 - pi)).sum() / (q - 1))
    used = int(round(float(s[0])))
    return Result(
        "gwet_ac1",
        v,
        reason,
        n_items=enc.n,
        n_items_used=used,
        n_items_pairable=enc.n_pairable,
        n_left_out=enc.n - used,
        n_ratings=enc.n_ratings,
        details={"p_a": pa, "p_e": pe, "n_categories": q, "n_items_rated": enc.n_rated},
        per_pair=enc.per_pair(),
    )


# ---- Cohen's kappa ------------------------------------------------------------


def _cohen_cells(enc: _Enc, pair: tuple[int, int]) -> np.ndarray:
    """(P,) cell of each pattern in the flattened K x K table of a vs b; -1 if
    a or b did not label it."""
    i, j = pair
    if i < 0 or j < 0 or not enc.P:
        return np.full(enc.P, -1, dtype=np.int64)
    ui, uj = enc.columns[i], enc.columns[j]
    return np.where((ui >= 0) & (uj >= 0), ui * enc.K + uj, -1)


def _cohen_stats(enc: _Enc, g, G, pair: tuple[int, int], **_):
    """Confusion table of a vs b (K*K), overall (1, K*K) or per article (G, K*K)."""
    K2 = enc.K * enc.K
    cells = _cohen_cells(enc, pair)
    if g is None:
        ok = cells >= 0
        return np.bincount(cells[ok], weights=enc.H[ok], minlength=K2)[None, :]
    item_cells = cells[enc.inv] if enc.P else np.zeros(enc.n, dtype=np.int64) - 1
    ok = item_cells >= 0
    return np.bincount(g[ok] * K2 + item_cells[ok], minlength=G * K2).reshape(G, K2).astype(float)


def _cohen_finalize(s, n_categories: int, **_):
    K = n_categories
    C = s.reshape(s.shape[:-1] + (K, K))
    n = C.sum(axis=(-2, -1))
    agree = np.trace(C, axis1=-2, axis2=-1)
    pe = (C.sum(axis=-1) * C.sum(axis=-2)).sum(axis=-1)
    return _div(n * agree - pe, n * n - pe)


def _cohen_result(enc: _Enc, s, n_categories: int, pair, names, **_):
    K = n_categories
    v = _num(_cohen_finalize(s, n_categories=K))
    C = s.reshape(K, K)
    n = int(round(float(C.sum())))
    a, b = names
    reason = None
    p_o = p_e = None
    if n == 0:
        reason = _R_NO_ITEMS if enc.n == 0 else f"annotators {a!r} and {b!r} share no item"
    else:
        p_o = float(np.trace(C) / n)
        p_e = float((C.sum(axis=1) * C.sum(axis=0)).sum() / (n * n))
        if v is None:
            reason = "both annotators used the same single category, so expected disagreement is 0"
    i, j = pair
    has_a = enc.columns[i] >= 0 if i >= 0 else np.zeros(enc.P, dtype=bool)
    has_b = enc.columns[j] >= 0 if j >= 0 else np.zeros(enc.P, dtype=bool)
    only_a = int(round(float(enc.H[has_a & ~has_b].sum())))
    only_b = int(round(float(enc.H[has_b & ~has_a].sum())))
    return Result(
        "cohen_kappa",
        v,
        reason,
        n_items=enc.n,
        n_items_used=n,
        n_items_pairable=n,
        n_left_out=enc.n - n,
        n_ratings=2 * n,
        details={"a": a, "b": b, "p_o": p_o, "p_e": p_e},
        per_pair=[{"a": a, "b": b, "n_shared": n, "n_only_a": only_a, "n_only_b": only_b}],
    )


# --------------------------------------------------------------------------
# Public label metrics
# --------------------------------------------------------------------------


def percent_agreement(ratings: Any) -> Result:
    """Observed agreement: mean over items with 2+ labels of the share of
    annotator pairs that agree (for two annotators: share of items they agree on)."""
    enc = _Enc(_as_matrix(ratings))
    return _percent_result(enc, enc.total(_percent_cols(enc))[0])


def fleiss_kappa(ratings: Any, n_raters: int | None = None) -> Result:
    """Fleiss' (1971) kappa over complete items only.

    Complete means labelled by all ``n_raters`` annotators; by default all
    annotators who labelled anything.  Items with fewer (or other) numbers of
    labels are left out and counted in ``n_left_out``.
    """
    enc = _Enc(_as_matrix(ratings))
    r = _fleiss_raters(enc, n_raters)
    return _fleiss_result(enc, enc.total(_fleiss_cols(enc, n_raters=r))[0], n_raters=r)


def gwet_ac1(ratings: Any) -> Result:
    """Gwet's (2008) multi-rater AC1 with missing labels (Gwet 2014, ch. 4).

    p_a = mean over items with 2+ labels of sum_k r_ik (r_ik - 1) / (r_i (r_i - 1));
    pi_k = mean over items with 1+ labels of r_ik / r_i;
    p_e = sum_k pi_k (1 - pi_k) / (q - 1) with q the number of categories of the
    LabelMatrix (pass the full label set to count unused categories);
    AC1 = (p_a - p_e) / (1 - p_e).
    """
    lm = _as_matrix(ratings)
    enc = _Enc(lm)
    q = len(lm.categories)
    return _ac1_result(enc, enc.total(_ac1_cols(enc))[0], n_categories=q)


def _annotator_col(lm: LabelMatrix, a: Hashable) -> int:
    try:
        return lm.annotators.index(a)
    except ValueError:
        return -1


def cohen_kappa(ratings: Any, a: Hashable, b: Hashable) -> Result:
    """Cohen's kappa of annotators ``a`` and ``b`` over the items both labelled.

    An annotator who labelled nothing (or is unknown) shares no item: value None.
    """
    if a == b:
        raise ValueError("cohen_kappa needs two different annotators")
    lm = _as_matrix(ratings)
    enc = _Enc(lm)
    pair = (_annotator_col(lm, a), _annotator_col(lm, b))
    s = _cohen_stats(enc, None, 1, pair=pair)[0]
    return _cohen_result(enc, s, n_categories=enc.K, pair=pair, names=(a, b))
