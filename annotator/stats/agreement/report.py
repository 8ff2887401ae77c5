"""All label metrics of a project at once: one encoding, one block of statistics, the same resamples.

The project page shows every coefficient side by side; computing them from one
set of per-pattern statistics (and, with articles, scoring them all on the
same bootstrap resamples) costs little more than computing one.
"""
from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np

from annotator.stats.agreement.alpha import (
    _alpha_cols,
    _alpha_finalize,
    _alpha_label_finalize,
    _alpha_label_results,
    _alpha_level_values,
    _alpha_result,
)
from annotator.stats.agreement.bootstrap import (
    MIN_ARTICLES,
    _attach_ci,
    _check_min_articles,
    _encode_groups,
    _info,
    _informative_groups,
    _no_ci,
    _resample_weights,
)
from annotator.stats.agreement.kappa import (
    _ac1_cols,
    _ac1_finalize,
    _ac1_result,
    _cohen_finalize,
    _cohen_result,
    _cohen_stats,
    _fleiss_cols,
    _fleiss_finalize,
    _fleiss_raters,
    _fleiss_result,
    _percent_cols,
    _percent_finalize,
    _percent_result,
)
from annotator.stats.agreement.matrix import _as_matrix
from annotator.stats.agreement.patterns import _Enc
from annotator.stats.agreement.results import LabelReport, PairwiseKappa


def label_report(
    ratings: Any,
    *,
    level: str = "nominal",
    n_raters: int | None = None,
    groups: Sequence[Hashable] | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 13,
    confidence: float = 0.95,
    min_articles: int = MIN_ARTICLES,
) -> LabelReport:
    """Percent agreement, Fleiss' kappa, AC1, alpha (at ``level``), one-vs-rest
    alpha per label and pairwise Cohen's kappa, sharing one encoding.

    With ``groups`` (article of each item) every coefficient also gets a
    bootstrap CI; all coefficients are scored on the same resamples. Fewer than
    ``min_articles`` articles that carry agreement (for a pair: its own) give
    no interval, and the reason (bootstrap.MIN_ARTICLES).
    """
    _check_min_articles(min_articles)
    lm = _as_matrix(ratings)
    values = _alpha_level_values(lm, level)
    layout = _Layout(_Enc(lm), level, values, n_raters)
    results = layout.results()
    if groups is not None:
        results = _with_intervals(layout, results, groups, n_boot, seed, confidence, min_articles)
    res_pa, res_fl, res_ac, res_al, res_lab, cohen = results
    return LabelReport(
        n_items=layout.enc.n,
        n_ratings=layout.enc.n_ratings,
        annotators=list(lm.annotators),
        categories=list(lm.categories),
        level=level,
        percent_agreement=res_pa,
        fleiss_kappa=res_fl,
        gwet_ac1=res_ac,
        krippendorff_alpha=res_al,
        alpha_per_label=res_lab,
        cohen_kappa=PairwiseKappa(list(lm.annotators), cohen),
    )


class _Layout:
    """Where each metric's statistics sit in the one block all label metrics share.

    The multi-rater metrics' per-pattern columns stand side by side (one
    (P, S) block); Cohen's tables follow, one K x K table per annotator pair,
    each from one bincount.
    """

    def __init__(self, enc: _Enc, level: str, values: np.ndarray | None, n_raters: int | None) -> None:
        K, A = enc.K, enc.A
        self.enc = enc
        self.pairs = [(i, j) for i in range(A) for j in range(i + 1, A)]
        self.p_fl = {"n_raters": _fleiss_raters(enc, n_raters)}
        self.p_ac = {"n_categories": K}
        self.p_al = {"n_categories": K, "level": level, "values": values}
        blocks = [_percent_cols(enc), _fleiss_cols(enc, **self.p_fl), _ac1_cols(enc), _alpha_cols(enc)]
        self.edges = np.cumsum([0] + [b.shape[1] for b in blocks] + [K * K] * len(self.pairs))
        self.cols = np.concatenate(blocks, axis=1)

    def split(self, stats: np.ndarray) -> list[np.ndarray]:
        """The block cut back into each metric's statistics (percent, Fleiss, AC1, alpha, Cohen per pair)."""
        edges = self.edges
        return [stats[..., edges[k] : edges[k + 1]] for k in range(len(edges) - 1)]

    def stats(self, g: np.ndarray | None, G: int) -> np.ndarray:
        """The whole block summed overall (g None: one row) or per article (G rows)."""
        enc = self.enc
        parts = [enc.sums(self.cols, g, G)] + [_cohen_stats(enc, g, G, pair=pq) for pq in self.pairs]
        return np.concatenate(parts, axis=1)

    def results(self) -> list:
        """[percent, Fleiss, AC1, alpha, {label: alpha}, {(a, b): Cohen}] over all items."""
        enc, K = self.enc, self.enc.K
        tot = self.split(self.stats(None, 1)[0])
        cohen = {}
        for k, (i, j) in enumerate(self.pairs):
            names = (enc.lm.annotators[i], enc.lm.annotators[j])
            cohen[names] = _cohen_result(enc, tot[4 + k], n_categories=K, pair=(i, j), names=names)
        return [
            _percent_result(enc, tot[0]),
            _fleiss_result(enc, tot[1], **self.p_fl),
            _ac1_result(enc, tot[2], **self.p_ac),
            _alpha_result(enc, tot[3], **self.p_al),
            _alpha_label_results(enc, tot[3], n_categories=K),
            cohen,
        ]

    def resampled(self, g: np.ndarray, G: int, n_boot: int, seed: int) -> list[np.ndarray]:
        """Every metric's values over the resamples, in the order of results() (Cohen: one entry per pair)."""
        K = self.enc.K
        gs = self.stats(g, G)
        outs: list[list[np.ndarray]] = [[] for _ in range(5 + len(self.pairs))]
        for W in _resample_weights(G, n_boot, seed):
            part = self.split(W @ gs)
            outs[0].append(_percent_finalize(part[0]))
            outs[1].append(_fleiss_finalize(part[1], **self.p_fl))
            outs[2].append(_ac1_finalize(part[2], **self.p_ac))
            outs[3].append(_alpha_finalize(part[3], **self.p_al))
            outs[4].append(_alpha_label_finalize(part[3], n_categories=K))
            for k in range(len(self.pairs)):
                outs[5 + k].append(_cohen_finalize(part[4 + k], n_categories=K))
        return [np.concatenate(o, axis=0) for o in outs]


def _with_intervals(layout: _Layout, results: list, groups: Any, n_boot: int, seed: int, confidence: float, min_articles: int) -> list:
    """results with a bootstrap CI each, or with the reason there is none (too few articles that carry agreement)."""
    codes = layout.enc.lm.codes
    g, G = _encode_groups(groups, layout.enc.n)
    res_pa, res_fl, res_ac, res_al, res_lab, cohen = results
    info = _info(confidence, n_boot, seed, G, _informative_groups(codes, g), min_articles)
    pair_info = [{**info, "n_informative": _informative_groups(codes, g, pq)} for pq in layout.pairs]
    r = layout.p_fl["n_raters"] if layout.p_fl["n_raters"] >= 2 else None  # under 2: Fleiss' kappa is undefined anyway
    fleiss_info = {**info, "n_informative": _informative_groups(codes, g, exactly=r)}

    if info["n_informative"] < min_articles:
        return [_no_ci(res_pa, info), _no_ci(res_fl, fleiss_info, exactly=r), _no_ci(res_ac, info), _no_ci(res_al, info),
                {k: _no_ci(v, info) for k, v in res_lab.items()},
                {k: _no_ci(v, pair_info[c], pair=True) for c, (k, v) in enumerate(cohen.items())}]
    v = layout.resampled(g, G, n_boot, seed)
    return [
        _attach_ci(res_pa, v[0], info),
        _attach_ci(res_fl, v[1], fleiss_info) if fleiss_info["n_informative"] >= min_articles else _no_ci(res_fl, fleiss_info, exactly=r),
        _attach_ci(res_ac, v[2], info),
        _attach_ci(res_al, v[3], info),
        {k: _attach_ci(r_, v[4][:, c], info) for c, (k, r_) in enumerate(res_lab.items())},
        {
            k: _attach_ci(r_, v[5 + c], pair_info[c]) if pair_info[c]["n_informative"] >= min_articles else _no_ci(r_, pair_info[c], pair=True)
            for c, (k, r_) in enumerate(cohen.items())
        },
    ]
