"""Krippendorff's alpha (nominal, ordinal, interval, ratio) and one-vs-rest alpha per label.

Built like kappa.py: coincidences per row pattern that add up over items, a
vectorised finaliser, the Result of one overall row.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from annotator.stats.agreement.matrix import LabelMatrix, _as_matrix
from annotator.stats.agreement.patterns import _div, _Enc
from annotator.stats.agreement.results import _R_NO_ITEMS, _R_NO_PAIRABLE, _R_ONE_CATEGORY, Result, _num

LEVELS = ("nominal", "ordinal", "interval", "ratio")

# ---- Krippendorff's alpha ------------------------------------------------


def _alpha_cols(enc: _Enc, **_):
    """[coincidences (K*K), pairable values per category (K)] of each pattern.

    o_ck = sum over items of (n_ic n_ik - [c == k] n_ic) / (m_i - 1).
    """
    K, P = enc.K, enc.P
    if not P:
        return np.zeros((0, K * K + K))
    N = enc.counts
    w = np.zeros(P)
    np.divide(1.0, enc.m - 1, out=w, where=enc.m >= 2)
    O = N[:, :, None] * N[:, None, :]
    O[:, np.arange(K), np.arange(K)] -= N
    O *= w[:, None, None]
    return np.concatenate([O.reshape(P, K * K), N * enc.pairable[:, None]], axis=1)


def _delta(level: str, values: np.ndarray | None, nc: np.ndarray) -> np.ndarray:
    """Squared distance between categories, shape (..., K, K)."""
    K = nc.shape[-1]
    if level == "nominal":
        return 1.0 - np.eye(K)
    if level == "ordinal":
        cum = np.cumsum(nc, axis=-1)
        # (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 = (cum_k - cum_c + (n_c - n_k)/2)^2
        d = cum[..., None, :] - cum[..., :, None] + (nc[..., :, None] - nc[..., None, :]) / 2.0
        return d * d
    v = values
    diff = v[:, None] - v[None, :]
    if level == "interval":
        return diff * diff
    tot = v[:, None] + v[None, :]  # ratio
    r = np.zeros_like(diff)
    np.divide(diff, tot, out=r, where=tot != 0)
    return r * r


def _alpha_finalize(s, n_categories: int, level: str = "nominal", values=None, **_):
    K = n_categories
    O = s[..., : K * K].reshape(s.shape[:-1] + (K, K))
    nc = s[..., K * K :]
    n = nc.sum(axis=-1)
    d = _delta(level, values, nc)
    d_o = (O * d).sum(axis=(-2, -1))
    d_e = (nc[..., :, None] * nc[..., None, :] * d).sum(axis=(-2, -1))
    return 1.0 - (n - 1.0) * _div(d_o, d_e)


def _alpha_level_values(lm: LabelMatrix, level: str) -> np.ndarray | None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if level in ("interval", "ratio"):
        try:
            return np.array([float(c) for c in lm.categories], dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{level} alpha needs numeric labels, got {lm.categories!r}") from None
    return None


def _alpha_result(enc: _Enc, s, n_categories: int, level: str = "nominal", values=None, **_):
    K = n_categories
    v = _num(_alpha_finalize(s, n_categories=K, level=level, values=values))
    nc = s[K * K :]
    n = float(nc.sum())
    reason = None
    d_o = d_e = None
    if enc.n == 0:
        reason = _R_NO_ITEMS
    elif n == 0:
        reason = _R_NO_PAIRABLE
    else:
        d = _delta(level, values, nc)
        d_o = float((s[: K * K].reshape(K, K) * d).sum() / n)
        d_e = float((nc[:, None] * nc[None, :] * d).sum() / (n * (n - 1)))
        if v is None:
            reason = _R_ONE_CATEGORY
    return Result(
        "krippendorff_alpha",
        v,
        reason,
        n_items=enc.n,
        n_items_used=enc.n_pairable,
        n_items_pairable=enc.n_pairable,
        n_left_out=enc.n - enc.n_pairable,
        n_ratings=int(round(n)),
        details={"level": level, "d_o": d_o, "d_e": d_e},
        per_pair=enc.per_pair(),
    )


# ---- alpha per label (one vs rest) ------------------------------------------


def _alpha_label_finalize(s, n_categories: int, **_):
    """Binary (label vs rest) nominal alpha for every label, shape (..., K).

    Merging categories adds up coincidence cells, so the 2 x 2 coincidence
    matrix of "label c vs the rest" is read off the full one.
    """
    K = n_categories
    O = s[..., : K * K].reshape(s.shape[:-1] + (K, K))
    nc = s[..., K * K :]
    n = nc.sum(axis=-1)[..., None]
    diag = np.diagonal(O, axis1=-2, axis2=-1)
    o_cr = nc - diag  # coincidences of label c with any other label
    return 1.0 - (n - 1.0) * _div(o_cr, nc * (n - nc))


def _alpha_label_results(enc: _Enc, s, n_categories: int, **_) -> dict:
    K = n_categories
    vals = _alpha_label_finalize(s, n_categories=K)
    nc = s[K * K :]
    n = float(nc.sum())
    out = {}
    for c, lab in enumerate(enc.lm.categories):
        v = _num(vals[c])
        reason = None
        if enc.n == 0:
            reason = _R_NO_ITEMS
        elif n == 0:
            reason = _R_NO_PAIRABLE
        elif nc[c] == 0:
            reason = f"label {lab!r} does not occur on items with two or more labels (expected disagreement 0)"
        elif nc[c] == n:
            reason = f"every label on items with two or more labels is {lab!r} (expected disagreement 0)"
        out[lab] = Result(
            "krippendorff_alpha_one_vs_rest",
            v,
            reason,
            n_items=enc.n,
            n_items_used=enc.n_pairable,
            n_items_pairable=enc.n_pairable,
            n_left_out=enc.n - enc.n_pairable,
            n_ratings=int(round(n)),
            details={"label": lab, "level": "nominal", "n_label": int(round(float(nc[c])))},
        )
    return out


def krippendorff_alpha(ratings: Any, level: str = "nominal") -> Result:
    """Krippendorff's alpha with missing data; level nominal, ordinal, interval or ratio.

    Ordinal uses the order of ``LabelMatrix.categories`` (sorted labels by
    default; pass ``categories=`` to ``LabelMatrix.from_ratings`` to set it);
    interval and ratio use the labels as numbers.
    """
    lm = _as_matrix(ratings)
    values = _alpha_level_values(lm, level)
    enc = _Enc(lm)
    K = enc.K
    return _alpha_result(enc, enc.total(_alpha_cols(enc))[0], n_categories=K, level=level, values=values)


def alpha_per_label(ratings: Any) -> dict:
    """One-vs-rest nominal alpha for each label: ``{label: Result}``."""
    enc = _Enc(_as_matrix(ratings))
    return _alpha_label_results(enc, enc.total(_alpha_cols(enc))[0], n_categories=enc.K)
