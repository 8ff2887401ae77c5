"""Percentile bootstrap over articles, every resample scored at once.

Statistics are summed per article once; a resample is a vector of article
multiplicities, so all resamples are one matrix product followed by the
metric's vectorised finaliser.  Seeded: the same seed, articles and number of
resamples always give the same interval.
"""
from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType
from typing import Any, Callable, Hashable, Iterator, Sequence

import numpy as np

from annotator.stats.agreement.alpha import (
    _alpha_cols,
    _alpha_finalize,
    _alpha_label_finalize,
    _alpha_label_results,
    _alpha_level_values,
    _alpha_result,
    alpha_per_label,
    krippendorff_alpha,
)
from annotator.stats.agreement.kappa import (
    _ac1_cols,
    _ac1_finalize,
    _ac1_result,
    _annotator_col,
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
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    percent_agreement,
)
from annotator.stats.agreement.matrix import LabelMatrix, _as_matrix
from annotator.stats.agreement.patterns import _Enc
from annotator.stats.agreement.results import Result


def _encode_groups(groups: Any, n: int) -> tuple[np.ndarray, int]:
    """Group ids numbered in order of first appearance (same for lists and arrays)."""
    if isinstance(groups, np.ndarray) and np.issubdtype(groups.dtype, np.integer) and groups.ndim == 1:
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} items")
        if n == 0:
            return np.zeros(0, dtype=np.intp), 0
        _, first, inv = np.unique(groups, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.intp)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        return rank[inv.ravel()], len(first)
    pos: dict = {}
    g = np.fromiter((pos.setdefault(x, len(pos)) for x in groups), dtype=np.intp)
    if len(g) != n:
        raise ValueError(f"groups has {len(g)} entries for {n} items")
    return g, len(pos)


def _resample_weights(G: int, n: int, seed: int) -> Iterator[np.ndarray]:
    """Article multiplicities of ``n`` bootstrap resamples, in chunks of rows.

    Resample b draws G articles with replacement; row b counts how often each
    was drawn.  The chunking depends on G and n only, so the same seed, number
    of articles and number of resamples always give the same resamples.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n, (1 << 22) // max(G, 1)))
    done = 0
    while done < n:
        c = min(chunk, n - done)
        draws = rng.integers(0, G, size=(c, G))
        draws += (np.arange(c) * G)[:, None]
        yield np.bincount(draws.ravel(), minlength=c * G).reshape(c, G).astype(float)
        done += c


def _percentile_ci(vals: np.ndarray, confidence: float) -> tuple[tuple[float, float] | None, int]:
    ok = np.isfinite(vals)
    n_undef = int(vals.shape[0] - np.count_nonzero(ok))
    if not ok.any():
        return None, n_undef
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(vals[ok], [tail, 1.0 - tail])
    return (float(lo), float(hi)), n_undef


def _from_cols(cols_fn: Callable) -> Callable:
    def stats(enc: _Enc, g, G, **params):
        return enc.sums(cols_fn(enc, **params), g, G)

    return stats


def _spec(name: str):
    """(stats, finalize, result) functions of a metric."""
    specs = {
        "percent_agreement": (_from_cols(_percent_cols), _percent_finalize, _percent_result),
        "fleiss_kappa": (_from_cols(_fleiss_cols), _fleiss_finalize, _fleiss_result),
        "gwet_ac1": (_from_cols(_ac1_cols), _ac1_finalize, _ac1_result),
        "krippendorff_alpha": (_from_cols(_alpha_cols), _alpha_finalize, _alpha_result),
        "alpha_per_label": (_from_cols(_alpha_cols), _alpha_label_finalize, _alpha_label_results),
        "cohen_kappa": (_cohen_stats, _cohen_finalize, _cohen_result),
    }
    return specs[name]


_METRIC_NAMES = MappingProxyType(
    {
        "percent_agreement": "percent_agreement",
        "percent": "percent_agreement",
        "fleiss_kappa": "fleiss_kappa",
        "fleiss": "fleiss_kappa",
        "gwet_ac1": "gwet_ac1",
        "ac1": "gwet_ac1",
        "krippendorff_alpha": "krippendorff_alpha",
        "alpha": "krippendorff_alpha",
        "alpha_per_label": "alpha_per_label",
        "cohen_kappa": "cohen_kappa",
        "cohen": "cohen_kappa",
    }
)

# The metric functions run vectorised when passed as `metric` (any other callable runs once per resample).
_VECTORISED = (percent_agreement, fleiss_kappa, gwet_ac1, krippendorff_alpha, alpha_per_label, cohen_kappa)


def _metric_name(metric: Any) -> str | None:
    if isinstance(metric, str):
        if metric not in _METRIC_NAMES:
            raise ValueError(f"unknown metric {metric!r}; one of {sorted(_METRIC_NAMES)} or a callable")
        return _METRIC_NAMES[metric]
    if any(metric is f for f in _VECTORISED):
        return _METRIC_NAMES[metric.__name__]
    return None


def _resolve_params(name: str, lm: LabelMatrix, enc: _Enc, kw: dict) -> dict:
    """Fix every data-dependent parameter from the full data, so that each
    resample is scored under the same definition as the point estimate."""
    allowed = {"fleiss_kappa": {"n_raters"}, "krippendorff_alpha": {"level"}, "cohen_kappa": {"a", "b"}}
    unexpected = set(kw) - allowed.get(name, set())
    if unexpected:
        raise TypeError(f"{name} takes no argument(s) {sorted(unexpected)}")
    if name == "fleiss_kappa":
        return {"n_raters": _fleiss_raters(enc, kw.get("n_raters"))}
    if name == "gwet_ac1":
        return {"n_categories": enc.K}
    if name == "krippendorff_alpha":
        level = kw.get("level", "nominal")
        return {"n_categories": enc.K, "level": level, "values": _alpha_level_values(lm, level)}
    if name == "alpha_per_label":
        return {"n_categories": enc.K}
    if name == "cohen_kappa":
        if "a" not in kw or "b" not in kw:
            raise ValueError("cohen_kappa needs a= and b=")
        a, b = kw["a"], kw["b"]
        if a == b:
            raise ValueError("cohen_kappa needs two different annotators")
        return {"n_categories": enc.K, "pair": (_annotator_col(lm, a), _annotator_col(lm, b)), "names": (a, b)}
    return {}


# Fewer articles that carry agreement than this: no interval. A percentile bootstrap over G articles
# treats their spread as the population's, which shrinks intervals by about sqrt((G - 1) / G) and more
# (a resample can only repeat the articles there are): in a simulation (two annotators, ten sentences an
# article, agreement varying between articles) the 95 % interval held the true kappa in 82 % of samples of
# 4 articles, 89 % of 6 and 91 % of 10 to 20 (94 % of 30). Below 10 it says too little to be shown as 95 %.
MIN_ARTICLES = 10


def few_articles(n_informative: int, min_articles: int, pair: bool = False, exactly: int | None = None) -> str:
    """Why there is no interval: only `n_informative` articles carry agreement (of the pair, for Cohen's kappa;
    with sentences of `exactly` labels, for Fleiss' kappa)."""
    if pair:
        what = "a sentence both annotators labelled"
    elif exactly is not None:
        what = f"a sentence labelled by exactly {exactly} annotators"
    else:
        what = "a sentence labelled by two or more annotators"
    articles = {0: "no article has", 1: "only 1 article has"}.get(n_informative, f"only {n_informative} articles have")
    return (f"{articles} {what}: an interval needs at least {min_articles} such articles, "
            f"as a bootstrap over fewer gives one narrower than the uncertainty")


def _info(confidence: float, n: int, seed: int, G: int, n_informative: int, min_articles: int) -> dict:
    return {"method": "percentile bootstrap over articles", "confidence": confidence, "n_resamples": n, "seed": seed,
            "n_groups": G, "n_informative": n_informative, "min_articles": min_articles}


def _attach_ci(res: Result, vals: np.ndarray, info: dict) -> Result:
    if res.value is None:
        return dataclasses.replace(res, ci=None, ci_info={**info, "n_undefined": None,
                                                          "reason": "the coefficient itself is undefined"})
    ci, n_undef = _percentile_ci(vals, info["confidence"])
    info = {**info, "n_undefined": n_undef}
    if ci is None:
        info["reason"] = "the coefficient is undefined in every resample"
    return dataclasses.replace(res, ci=ci, ci_info=info)


def _informative_groups(codes: np.ndarray, g: np.ndarray, columns: tuple[int, int] | None = None, exactly: int | None = None) -> int:
    """Articles with at least one item rated by two or more annotators (of `columns`, for a pair; by
    `exactly` that many, for Fleiss' kappa, which uses only those items).

    Only they carry agreement: with one of them, every resample that draws it
    gives the same value (or one moved by small-sample terms only), an
    interval of no width that says nothing about uncertainty.
    """
    rated = ((codes >= 0) if columns is None else (codes[:, list(columns)] >= 0)).sum(axis=1)
    return len(np.unique(g[rated >= 2 if exactly is None else rated == exactly]))


def _no_ci(res: Result, info: dict, pair: bool = False, exactly: int | None = None) -> Result:
    reason = few_articles(info["n_informative"], info["min_articles"], pair, exactly)
    return dataclasses.replace(res, ci=None, ci_info={**info, "n_undefined": None, "reason": reason})


def _check_min_articles(min_articles: int) -> None:
    if min_articles < 2:
        raise ValueError("min_articles must be at least 2: one article gives no spread to resample")


def bootstrap_ci(
    ratings: Any,
    groups: Sequence[Hashable] | np.ndarray,
    metric: str | Callable = "krippendorff_alpha",
    n: int = 1000,
    seed: int = 13,
    confidence: float = 0.95,
    min_articles: int = MIN_ARTICLES,
    **metric_kwargs: Any,
) -> Result | dict:
    """Point estimate plus a percentile bootstrap CI, resampling articles.

    ``groups[i]`` is the article of item i.  Each of the ``n`` resamples draws
    as many articles as there are, with replacement, and keeps all items of a
    drawn article (as often as it was drawn).  Seeded and reproducible.

    ``metric`` is a name (``"krippendorff_alpha"``/``"alpha"``,
    ``"fleiss_kappa"``, ``"gwet_ac1"``, ``"percent_agreement"``,
    ``"cohen_kappa"`` with ``a=``, ``b=``, ``"alpha_per_label"``) or one of
    this module's metric functions: those run vectorised (per-article sums of
    additive statistics, one matrix product for all resamples).  Any other
    callable ``f(LabelMatrix, **metric_kwargs) -> Result | float`` is run once
    per resample on the resampled rows (slow path).  Returns the metric's
    Result with ``ci`` and ``ci_info`` filled (a ``{label: Result}`` dict for
    alpha_per_label).  Resamples where the coefficient is undefined are left
    out of the percentiles and counted in ``ci_info["n_undefined"]``.

    Fewer than ``min_articles`` articles with an item rated by two or more
    annotators (by both, for Cohen's kappa) give no interval, ``ci_info["reason"]``
    saying why (see MIN_ARTICLES).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    _check_min_articles(min_articles)
    lm = _as_matrix(ratings)
    g, G = _encode_groups(groups, lm.n_items)
    name = _metric_name(metric)
    if name is None:
        return _bootstrap_generic(lm, g, G, metric, n, seed, confidence, min_articles, metric_kwargs)
    enc = _Enc(lm)
    params = _resolve_params(name, lm, enc, metric_kwargs)
    stats_fn, fin_fn, res_fn = _spec(name)
    point = res_fn(enc, stats_fn(enc, None, 1, **params)[0], **params)
    exactly = params["n_raters"] if name == "fleiss_kappa" and params["n_raters"] >= 2 else None
    info = _info(confidence, n, seed, G, _informative_groups(lm.codes, g, params.get("pair"), exactly), min_articles)
    if info["n_informative"] < min_articles:
        if name == "alpha_per_label":
            return {k: _no_ci(r, info) for k, r in point.items()}
        return _no_ci(point, info, pair=name == "cohen_kappa", exactly=exactly)
    gs = stats_fn(enc, g, G, **params)
    vals = np.concatenate([fin_fn(W @ gs, **params) for W in _resample_weights(G, n, seed)], axis=0)
    if name == "alpha_per_label":
        return {k: _attach_ci(r, vals[:, c], info) for c, (k, r) in enumerate(point.items())}
    return _attach_ci(point, vals, info)


def _bootstrap_generic(lm, g, G, metric, n, seed, confidence, min_articles, kw) -> Result:
    def score(m: LabelMatrix) -> float:
        r = metric(m, **kw)
        v = r.value if isinstance(r, Result) else r
        return np.nan if v is None else float(v)

    point = metric(lm, **kw)
    if not isinstance(point, Result):
        v = None if point is None or not math.isfinite(float(point)) else float(point)
        point = Result(getattr(metric, "__name__", "metric"), v,
                       None if v is not None else "undefined", n_items=lm.n_items)
    info = _info(confidence, n, seed, G, _informative_groups(lm.codes, g), min_articles)
    if info["n_informative"] < min_articles:
        return _no_ci(point, info)
    order = np.argsort(g, kind="stable")
    starts = np.searchsorted(g[order], np.arange(G))
    sizes = np.bincount(g, minlength=G)
    vals = []
    for W in _resample_weights(G, n, seed):
        for w in W.astype(np.intp):
            rows = np.concatenate([np.tile(order[starts[k]:starts[k] + sizes[k]], w[k]) for k in np.flatnonzero(w)])
            vals.append(score(lm.take(rows)))
    return _attach_ci(point, np.asarray(vals, dtype=float), info)
