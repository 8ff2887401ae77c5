"""Inter-annotator agreement: sentence labels, spans and quote -> source relations.

Pure functions: no Flask, no database, no module-level mutable state.

Label agreement
===============
Ratings are a list of items, each a mapping ``annotator -> label``.  An
annotator who did not rate an item is absent from its mapping; a label of
``None`` (or a float NaN) counts as absent too.  Labels are hashable: strings
usually, numbers for the ordinal / interval / ratio levels of alpha.

Every label metric accepts either that list of mappings or a
:class:`LabelMatrix` (``codes``: an ``(n_items, n_annotators)`` integer array of
category codes, ``-1`` = missing), so the database layer can build arrays with
SQLAlchemy Core and skip the dicts.  Internally everything is vectorised NumPy
with no Python loop over items: every item statistic depends only on the
item's row of codes, so rows are histogrammed once by pattern (one
``np.bincount`` over a mixed-radix row id; ``np.unique`` when there are too many
possible rows), and the category counts, the coincidence matrix (weighted by
``1 / (m_i - 1)``), pairwise confusion tables (a bincount per annotator pair)
and the other per-item terms are computed on the few distinct patterns.

Each coefficient is computed from per-item statistics that add up over items.
That makes :func:`bootstrap_ci` cheap: statistics are summed per article once,
each resample is a vector of article multiplicities, and all resamples are one
matrix product followed by a vectorised finaliser.

Undefined cases (no items, no item with two ratings, only one category used,
two annotators who share no item, ...) give ``value=None`` and a human
``reason``; they never raise and never invent a 0 or a 1.  Invalid *arguments*
(an unknown alpha level, interval alpha over non-numeric labels, malformed
spans) raise ``ValueError``.

Span and relation agreement
===========================
A span is ``(label, start, end)`` or ``(article, label, start, end)``, offsets
in code points, ``end`` exclusive (Python slicing).  Spans with different
articles never match.  Spans given as 3-tuples all belong to one (unnamed)
article: either pass 4-tuples, or call once per article and add the counts
with :func:`combine_f1` (micro F1 over articles).  Two spans *overlap* when
they share at least one code point (``a.start < b.end and b.start < a.end``).

Runtime dependencies: numpy; scipy (``scipy.optimize.linear_sum_assignment``)
for the one-to-one maximum matching of the ``overlap`` span mode, relation F1
and attribution agreement.  scipy is imported lazily, only by those functions.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, Sequence

import numpy as np

__all__ = [
    "LEVELS",
    "SPAN_MODES",
    "AttributionResult",
    "F1Result",
    "LabelMatrix",
    "LabelReport",
    "PairwiseKappa",
    "Result",
    "alpha_per_label",
    "attribution_agreement",
    "bootstrap_ci",
    "cohen_kappa",
    "combine_f1",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "label_report",
    "percent_agreement",
    "relation_f1",
    "span_f1",
    "span_f1_pairs",
    "span_f1_per_label",
]

LEVELS = ("nominal", "ordinal", "interval", "ratio")
SPAN_MODES = ("exact", "overlap", "character")

# Human reasons for undefined values.
_R_NO_ITEMS = "no items"
_R_NO_PAIRABLE = "no item has labels from two or more annotators"
_R_ONE_CATEGORY = (
    "only one category is used, so expected disagreement is 0 and the "
    "coefficient is undefined"
)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _jsonable(x: Any) -> Any:
    """Convert a result tree to plain JSON types (numpy scalars, tuples, keys)."""
    if isinstance(x, Mapping):
        return {(k if isinstance(k, str) else _key_str(k)): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _key_str(k: Any) -> str:
    if isinstance(k, tuple):
        return "|".join(str(v) for v in k)
    return str(k)


def _num(x: Any) -> float | None:
    """Python float or None for NaN."""
    x = float(x)
    return x if math.isfinite(x) else None


def _absent(label: Any) -> bool:
    return label is None or (isinstance(label, float) and label != label)


def _ordered(values: list) -> list:
    """Sorted if the values are mutually comparable, else first-seen order."""
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def _code_dtype(n_categories: int) -> np.dtype:
    if n_categories <= np.iinfo(np.int8).max:
        return np.dtype(np.int8)
    if n_categories <= np.iinfo(np.int16).max:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den == 0 (no warnings)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One agreement coefficient with the counts behind it.

    ``value`` is None when the coefficient is undefined; ``reason`` says why.
    ``n_items``: items given (rows), ``n_items_used``: items that entered the
    coefficient, ``n_left_out = n_items - n_items_used``,
    ``n_items_pairable``: items with labels from two or more annotators (for
    Cohen's kappa: items both annotators rated), ``n_ratings``: labels that
    entered the coefficient.  ``details`` holds the observed and chance terms
    (``p_o``/``p_e`` for the kappa family, ``d_o``/``d_e`` disagreements for
    alpha).  ``per_pair`` lists, for each annotator pair, how many items they
    share (and, for Cohen's kappa, how many only one of them rated).  ``ci`` is
    a bootstrap percentile interval ``(low, high)`` when requested, described
    by ``ci_info``.
    """

    metric: str
    value: float | None
    reason: str | None = None
    n_items: int = 0
    n_items_used: int = 0
    n_items_pairable: int = 0
    n_left_out: int = 0
    n_ratings: int = 0
    details: dict = field(default_factory=dict)
    per_pair: list | None = None
    ci: tuple[float, float] | None = None
    ci_info: dict | None = None

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


@dataclass(frozen=True)
class PairwiseKappa:
    """Cohen's kappa for every annotator pair; ``results[(a, b)]`` for a before b."""

    annotators: list
    results: dict

    def get(self, a: Hashable, b: Hashable) -> Result | None:
        return self.results.get((a, b)) or self.results.get((b, a))

    def matrix(self) -> list[list[float | None]]:
        """Square symmetric matrix of kappa values (None: undefined / diagonal)."""
        m: list[list[float | None]] = [[None] * len(self.annotators) for _ in self.annotators]
        pos = {a: i for i, a in enumerate(self.annotators)}
        for (a, b), r in self.results.items():
            m[pos[a]][pos[b]] = m[pos[b]][pos[a]] = r.value
        return m

    def to_dict(self) -> dict:
        return {
            "annotators": _jsonable(self.annotators),
            "pairs": [{"a": _jsonable(a), "b": _jsonable(b), **r.to_dict()} for (a, b), r in self.results.items()],
        }


@dataclass(frozen=True)
class LabelReport:
    """All label metrics of one project, computed from one encoding."""

    n_items: int
    n_ratings: int
    annotators: list
    categories: list
    level: str
    percent_agreement: Result
    fleiss_kappa: Result
    gwet_ac1: Result
    krippendorff_alpha: Result
    alpha_per_label: dict
    cohen_kappa: PairwiseKappa

    def to_dict(self) -> dict:
        return {
            "n_items": self.n_items,
            "n_ratings": self.n_ratings,
            "annotators": _jsonable(self.annotators),
            "categories": _jsonable(self.categories),
            "level": self.level,
            "percent_agreement": self.percent_agreement.to_dict(),
            "fleiss_kappa": self.fleiss_kappa.to_dict(),
            "gwet_ac1": self.gwet_ac1.to_dict(),
            "krippendorff_alpha": self.krippendorff_alpha.to_dict(),
            "alpha_per_label": [
                {"label": _jsonable(k), **v.to_dict()} for k, v in self.alpha_per_label.items()
            ],
            "cohen_kappa": self.cohen_kappa.to_dict(),
        }


@dataclass(frozen=True)
class F1Result:
    """Span or relation F1 with its counts.

    ``a`` plays the prediction and ``b`` the reference: precision is the share
    of a's units matched, recall the share of b's (F1 is symmetric).  Units are
    spans (exact / overlap), code points (character) or relations.
    """

    mode: str
    f1: float | None
    precision: float | None
    recall: float | None
    tp: int
    fp: int
    fn: int
    reason: str | None = None
    label: Any = None

    @property
    def value(self) -> float | None:
        return self.f1

    @property
    def n_a(self) -> int:
        return self.tp + self.fp

    @property
    def n_b(self) -> int:
        return self.tp + self.fn

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["n_a"], d["n_b"] = self.n_a, self.n_b
        return _jsonable(d)


@dataclass(frozen=True)
class AttributionResult:
    """Among quotes both annotators marked, the share attributed to the same source."""

    value: float | None
    reason: str | None
    n_quotes_a: int
    n_quotes_b: int
    n_quotes_matched: int
    n_considered: int
    n_same_source: int
    n_different_source: int
    n_both_unattributed: int

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LabelMatrix:
    """Items x annotators array of category codes (``-1`` = missing).

    ``codes[i, j]`` is the index into ``categories`` of the label annotator
    ``annotators[j]`` gave item ``i``.  The order of ``categories`` is the
    order used by ordinal alpha; interval / ratio alpha use the categories as
    numbers.  Categories that nobody used may be listed: they change nothing
    except Gwet's AC1, whose chance term depends on the number of categories
    (as Gwet recommends, pass the full label set of the scheme).
    """

    codes: np.ndarray
    annotators: list
    categories: list

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        if codes.ndim != 2:
            raise ValueError(f"codes must be 2-D (items x annotators), got shape {codes.shape}")
        if not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(f"codes must be an integer array, got {codes.dtype}")
        annotators, categories = list(self.annotators), list(self.categories)
        if len(annotators) != codes.shape[1]:
            raise ValueError(f"{len(annotators)} annotators for {codes.shape[1]} columns")
        if len(set(annotators)) != len(annotators):
            raise ValueError("duplicate annotators")
        if len(set(categories)) != len(categories):
            raise ValueError("duplicate categories")
        if codes.size:
            lo, hi = int(codes.min()), int(codes.max())
            if lo < -1 or hi >= len(categories):
                raise ValueError(f"codes must lie in [-1, {len(categories) - 1}], got [{lo}, {hi}]")
        view = codes.view()
        view.flags.writeable = False
        object.__setattr__(self, "codes", view)
        object.__setattr__(self, "annotators", annotators)
        object.__setattr__(self, "categories", categories)

    @property
    def n_items(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_annotators(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_ratings(self) -> int:
        return int(np.count_nonzero(self.codes >= 0))

    @classmethod
    def from_ratings(
        cls,
        ratings: Iterable[Mapping[Hashable, Hashable]],
        annotators: Sequence[Hashable] | None = None,
        categories: Sequence[Hashable] | None = None,
    ) -> "LabelMatrix":
        """Encode a list of ``{annotator: label}`` mappings.

        Without ``annotators`` / ``categories`` they are the ones seen, sorted
        when comparable (else in first-seen order).  When given, they fix the
        column / code order, and an unknown annotator or label raises
        ``ValueError``.
        """
        fixed_ann = annotators is not None
        fixed_cat = categories is not None
        ann_pos: dict = {a: i for i, a in enumerate(annotators)} if fixed_ann else {}
        cat_pos: dict = {c: i for i, c in enumerate(categories)} if fixed_cat else {}
        rows: list[int] = []
        cols: list[int] = []
        labs: list[int] = []
        n = 0
        for n, item in enumerate(ratings, start=1):
            for a, lab in item.items():
                if _absent(lab):
                    continue
                if fixed_ann:
                    if a not in ann_pos:
                        raise ValueError(f"unknown annotator {a!r}")
                    ai = ann_pos[a]
                else:
                    ai = ann_pos.setdefault(a, len(ann_pos))
                if fixed_cat:
                    if lab not in cat_pos:
                        raise ValueError(f"label {lab!r} is not among the categories")
                    ci = cat_pos[lab]
                else:
                    ci = cat_pos.setdefault(lab, len(cat_pos))
                rows.append(n - 1)
                cols.append(ai)
                labs.append(ci)

        ann_list = list(annotators) if fixed_ann else _ordered(list(ann_pos))
        cat_list = list(categories) if fixed_cat else _ordered(list(cat_pos))
        # provisional (first-seen) positions -> final positions
        final_ann = {a: i for i, a in enumerate(ann_list)}
        final_cat = {c: i for i, c in enumerate(cat_list)}
        col_map = np.array([final_ann[a] for a in ann_pos], dtype=np.intp)
        cat_map = np.array([final_cat[c] for c in cat_pos], dtype=np.intp)
        dtype = _code_dtype(len(cat_list))
        codes = np.full((n, len(ann_list)), -1, dtype=dtype)
        if rows:
            r = np.asarray(rows, dtype=np.intp)
            codes[r, col_map[np.asarray(cols, dtype=np.intp)]] = cat_map[np.asarray(labs, dtype=np.intp)]
        return cls(codes, ann_list, cat_list)

    @classmethod
    def from_long(
        cls,
        item_index: np.ndarray,
        annotator_index: np.ndarray,
        label_codes: np.ndarray,
        n_items: int,
        annotators: Sequence[Hashable],
        categories: Sequence[Hashable],
    ) -> "LabelMatrix":
        """Build from long-format arrays, e.g. rows of a SQL query.

        ``item_index``, ``annotator_index`` and ``label_codes`` are parallel
        integer arrays (one entry per rating); each (item, annotator) pair must
        occur at most once.
        """
        item_index = np.asarray(item_index, dtype=np.intp)
        annotator_index = np.asarray(annotator_index, dtype=np.intp)
        label_codes = np.asarray(label_codes)
        codes = np.full((int(n_items), len(annotators)), -1, dtype=_code_dtype(len(categories)))
        codes[item_index, annotator_index] = label_codes
        return cls(codes, list(annotators), list(categories))

    def take(self, rows: np.ndarray) -> "LabelMatrix":
        """A matrix of the given rows (repeats allowed), same annotators and categories."""
        return LabelMatrix(self.codes[np.asarray(rows, dtype=np.intp)], self.annotators, self.categories)

    def to_ratings(self) -> list[dict]:
        """Back to a list of ``{annotator: label}`` dicts (for debugging / export)."""
        out = []
        for row in self.codes.tolist():
            out.append({self.annotators[j]: self.categories[c] for j, c in enumerate(row) if c >= 0})
        return out


def _as_matrix(data: Any) -> LabelMatrix:
    if isinstance(data, LabelMatrix):
        return data
    return LabelMatrix.from_ratings(data)


class _Enc:
    """The distinct row patterns of a LabelMatrix and how often each occurs.

    Every per-item statistic used here depends only on the item's row of
    codes, so the items are histogrammed by row pattern once (one
    ``np.bincount`` over a mixed-radix row id when the number of possible rows
    is small, ``np.unique`` otherwise) and all statistics are computed on the
    ``P`` distinct patterns ``U`` weighted by their counts ``H``.  With three
    annotators and three labels there are at most 64 patterns, whatever the
    number of items.
    """

    def __init__(self, lm: LabelMatrix):
        self.lm = lm
        codes = lm.codes
        self.n, self.A = (int(x) for x in codes.shape)
        self.K = len(lm.categories)
        n, A, K1 = self.n, self.A, self.K + 1
        self._ids: np.ndarray | None = None
        self._inv: np.ndarray | None = None
        self._table: tuple | None = None  # (g, G, article x pattern counts)
        bins = K1**A
        if n == 0 or A == 0:
            self.U = np.zeros((0, A), dtype=np.int64)
            self.H = np.zeros(0)
            self._inv = np.zeros(n, dtype=np.intp)
            if n and A == 0:  # every item unrated: one empty pattern
                self.U = np.zeros((1, 0), dtype=np.int64)
                self.H = np.array([float(n)])
            return
        if bins < 2**62:
            ids = codes[:, 0].astype(np.int64)
            ids += 1
            scale = 1
            for a in range(1, A):
                scale *= K1
                col = codes[:, a].astype(np.int64)
                col += 1
                col *= scale
                ids += col
            if bins <= max(1 << 16, 2 * n):
                hist = np.bincount(ids, minlength=bins)
                pid = np.flatnonzero(hist)
                self.H = hist[pid].astype(float)
                self._ids = ids
                self._rank_size = bins
            else:
                pid, inv, cnt = np.unique(ids, return_inverse=True, return_counts=True)
                self.H = cnt.astype(float)
                self._inv = inv.ravel().astype(np.intp)
            U = np.empty((len(pid), A), dtype=np.int64)
            rest = pid.copy()
            for a in range(A):
                U[:, a] = rest % K1 - 1
                rest //= K1
            self._pid = pid
            self.U = U
        else:
            U, inv, cnt = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
            self.U = U.astype(np.int64)
            self.H = cnt.astype(float)
            self._inv = inv.ravel().astype(np.intp)

    @property
    def P(self) -> int:
        return int(self.U.shape[0])

    @cached_property
    def columns(self) -> np.ndarray:
        """U transposed and contiguous: fast access to one annotator's codes."""
        return np.ascontiguousarray(self.U.T)

    @property
    def inv(self) -> np.ndarray:
        """Pattern index of each item (only needed for per-article sums)."""
        if self._inv is None:
            rank = np.zeros(self._rank_size, dtype=np.intp)
            rank[self._pid] = np.arange(len(self._pid))
            self._inv = rank[self._ids]
        return self._inv

    def total(self, cols: np.ndarray) -> np.ndarray:
        """(1, S) sum over items of per-pattern statistics cols (P, S)."""
        return (self.H @ cols)[None, :]

    def grouped(self, cols: np.ndarray, g: np.ndarray, G: int) -> np.ndarray:
        """(G, S) sum per group (article) of per-pattern statistics cols (P, S)."""
        P, S = cols.shape
        if G * P <= 1 << 24:
            if self._table is None or self._table[0] is not g or self._table[1] != G:
                T = np.bincount(g * P + self.inv, minlength=G * P).reshape(G, P).astype(float)
                self._table = (g, G, T)
            return self._table[2] @ cols
        inv = self.inv
        if S == 0:
            return np.zeros((G, 0))
        return np.stack([np.bincount(g, weights=cols[inv, j], minlength=G) for j in range(S)], axis=1)

    def sums(self, cols: np.ndarray, g: np.ndarray | None, G: int) -> np.ndarray:
        return self.total(cols) if g is None else self.grouped(cols, g, G)

    @cached_property
    def counts(self) -> np.ndarray:
        """(P, K) float: how many annotators gave category c in pattern p."""
        P, K = self.P, self.K
        if P == 0 or K == 0 or self.A == 0:
            return np.zeros((P, K))
        flat = self.U + 1 + (np.arange(P, dtype=np.int64) * (K + 1))[:, None]
        return np.bincount(flat.ravel(), minlength=P * (K + 1)).reshape(P, K + 1)[:, 1:].astype(float)

    @cached_property
    def m(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    @cached_property
    def pairable(self) -> np.ndarray:
        return (self.m >= 2).astype(float)

    @cached_property
    def rated(self) -> np.ndarray:
        return (self.m >= 1).astype(float)

    @cached_property
    def n_pairable(self) -> int:
        return int(round(float(self.H @ self.pairable)))

    @cached_property
    def n_rated(self) -> int:
        return int(round(float(self.H @ self.rated)))

    @cached_property
    def n_ratings(self) -> int:
        return int(round(float(self.H @ self.m)))

    @cached_property
    def sumsq(self) -> np.ndarray:
        c = self.counts
        return (c * c).sum(axis=1)

    @cached_property
    def active(self) -> np.ndarray:
        """Annotator columns with at least one rating."""
        return (self.U >= 0).any(axis=0) if self.P else np.zeros(self.A, dtype=bool)

    @cached_property
    def pair_shared(self) -> np.ndarray:
        """(A, A) number of items each annotator pair both rated."""
        p = (self.U >= 0).astype(float)
        return np.rint((p * self.H[:, None]).T @ p).astype(np.int64)

    def per_pair(self) -> list[dict]:
        ann, s = self.lm.annotators, self.pair_shared
        return [
            {"a": ann[i], "b": ann[j], "n_shared": int(s[i, j])}
            for i in range(self.A)
            for j in range(i + 1, self.A)
        ]


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


# --------------------------------------------------------------------------
# Bootstrap over articles
# --------------------------------------------------------------------------


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


def _metric_name(metric: Any) -> str | None:
    if isinstance(metric, str):
        if metric not in _METRIC_NAMES:
            raise ValueError(f"unknown metric {metric!r}; one of {sorted(_METRIC_NAMES)} or a callable")
        return _METRIC_NAMES[metric]
    name = getattr(metric, "__name__", None)
    if getattr(metric, "__module__", None) == __name__ and name in _METRIC_NAMES:
        return _METRIC_NAMES[name]
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


def _attach_ci(res: Result, vals: np.ndarray, confidence: float, n: int, seed: int, G: int) -> Result:
    info = {"method": "percentile bootstrap over articles", "confidence": confidence,
            "n_resamples": n, "seed": seed, "n_groups": G}
    if res.value is None:
        return dataclasses.replace(res, ci=None, ci_info={**info, "n_undefined": None,
                                                          "reason": "the coefficient itself is undefined"})
    ci, n_undef = _percentile_ci(vals, confidence)
    info["n_undefined"] = n_undef
    if ci is None:
        info["reason"] = "the coefficient is undefined in every resample"
    return dataclasses.replace(res, ci=ci, ci_info=info)


FEW_ARTICLES = "bootstrap over articles needs at least two articles with a sentence labelled by two or more annotators"


def _informative_groups(codes: np.ndarray, g: np.ndarray, columns: tuple[int, int] | None = None) -> int:
    """Articles with at least one item rated by two or more annotators (of `columns`, for a pair).

    Only they carry agreement: with one of them, every resample that draws it
    gives the same value (or one moved by small-sample terms only), an
    interval of no width that says nothing about uncertainty.
    """
    rated = (codes >= 0) if columns is None else (codes[:, list(columns)] >= 0)
    return len(np.unique(g[rated.sum(axis=1) >= 2]))


def _no_ci(res: Result, reason: str, confidence: float, n: int, seed: int, G: int) -> Result:
    return dataclasses.replace(res, ci=None, ci_info={
        "method": "percentile bootstrap over articles", "confidence": confidence, "n_resamples": n,
        "seed": seed, "n_groups": G, "n_undefined": None, "reason": reason})


def bootstrap_ci(
    ratings: Any,
    groups: Sequence[Hashable] | np.ndarray,
    metric: str | Callable = "krippendorff_alpha",
    n: int = 1000,
    seed: int = 13,
    confidence: float = 0.95,
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
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    lm = _as_matrix(ratings)
    g, G = _encode_groups(groups, lm.n_items)
    name = _metric_name(metric)
    if name is None:
        return _bootstrap_generic(lm, g, G, metric, n, seed, confidence, metric_kwargs)
    enc = _Enc(lm)
    params = _resolve_params(name, lm, enc, metric_kwargs)
    stats_fn, fin_fn, res_fn = _spec(name)
    point = res_fn(enc, stats_fn(enc, None, 1, **params)[0], **params)
    if G < 2 or _informative_groups(lm.codes, g, params.get("pair")) < 2:
        reason = FEW_ARTICLES
        if name == "alpha_per_label":
            return {k: _no_ci(r, reason, confidence, n, seed, G) for k, r in point.items()}
        return _no_ci(point, reason, confidence, n, seed, G)
    gs = stats_fn(enc, g, G, **params)
    vals = np.concatenate([fin_fn(W @ gs, **params) for W in _resample_weights(G, n, seed)], axis=0)
    if name == "alpha_per_label":
        return {k: _attach_ci(r, vals[:, c], confidence, n, seed, G) for c, (k, r) in enumerate(point.items())}
    return _attach_ci(point, vals, confidence, n, seed, G)


def _bootstrap_generic(lm, g, G, metric, n, seed, confidence, kw) -> Result:
    def score(m: LabelMatrix) -> float:
        r = metric(m, **kw)
        v = r.value if isinstance(r, Result) else r
        return np.nan if v is None else float(v)

    point = metric(lm, **kw)
    if not isinstance(point, Result):
        v = None if point is None or not math.isfinite(float(point)) else float(point)
        point = Result(getattr(metric, "__name__", "metric"), v,
                       None if v is not None else "undefined", n_items=lm.n_items)
    if G < 2 or _informative_groups(lm.codes, g) < 2:
        return _no_ci(point, FEW_ARTICLES, confidence, n, seed, G)
    order = np.argsort(g, kind="stable")
    starts = np.searchsorted(g[order], np.arange(G))
    sizes = np.bincount(g, minlength=G)
    vals = []
    for W in _resample_weights(G, n, seed):
        for w in W.astype(np.intp):
            rows = np.concatenate([np.tile(order[starts[k]:starts[k] + sizes[k]], w[k]) for k in np.flatnonzero(w)])
            vals.append(score(lm.take(rows)))
    return _attach_ci(point, np.asarray(vals, dtype=float), confidence, n, seed, G)


# --------------------------------------------------------------------------
# All label metrics at once
# --------------------------------------------------------------------------


def label_report(
    ratings: Any,
    *,
    level: str = "nominal",
    n_raters: int | None = None,
    groups: Sequence[Hashable] | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 13,
    confidence: float = 0.95,
) -> LabelReport:
    """Percent agreement, Fleiss' kappa, AC1, alpha (at ``level``), one-vs-rest
    alpha per label and pairwise Cohen's kappa, sharing one encoding.

    With ``groups`` (article of each item) every coefficient also gets a
    bootstrap CI; all coefficients are scored on the same resamples.
    """
    lm = _as_matrix(ratings)
    values = _alpha_level_values(lm, level)
    enc = _Enc(lm)
    K, A = enc.K, enc.A
    r = _fleiss_raters(enc, n_raters)
    pairs = [(i, j) for i in range(A) for j in range(i + 1, A)]
    p_fl = {"n_raters": r}
    p_ac = {"n_categories": K}
    p_al = {"n_categories": K, "level": level, "values": values}

    # one (P, S) block of per-pattern statistics for the multi-rater metrics;
    # Cohen's tables come from one bincount per annotator pair
    blocks = [_percent_cols(enc), _fleiss_cols(enc, **p_fl), _ac1_cols(enc), _alpha_cols(enc)]
    edges = np.cumsum([0] + [b.shape[1] for b in blocks] + [K * K] * len(pairs))
    cols = np.concatenate(blocks, axis=1)

    def split(stats: np.ndarray) -> list[np.ndarray]:
        return [stats[..., edges[k] : edges[k + 1]] for k in range(len(edges) - 1)]

    def all_stats(g, G) -> np.ndarray:
        parts = [enc.sums(cols, g, G)] + [_cohen_stats(enc, g, G, pair=pq) for pq in pairs]
        return np.concatenate(parts, axis=1)

    tot = split(all_stats(None, 1)[0])
    res_pa = _percent_result(enc, tot[0])
    res_fl = _fleiss_result(enc, tot[1], **p_fl)
    res_ac = _ac1_result(enc, tot[2], **p_ac)
    res_al = _alpha_result(enc, tot[3], **p_al)
    res_lab = _alpha_label_results(enc, tot[3], n_categories=K)
    cohen = {}
    for k, (i, j) in enumerate(pairs):
        names = (lm.annotators[i], lm.annotators[j])
        cohen[names] = _cohen_result(enc, tot[4 + k], n_categories=K, pair=(i, j), names=names)

    if groups is not None:
        g, G = _encode_groups(groups, enc.n)
        fix = lambda res: _no_ci(res, FEW_ARTICLES, confidence, n_boot, seed, G)  # noqa: E731
        if G < 2 or _informative_groups(lm.codes, g) < 2:
            res_pa, res_fl, res_ac, res_al = fix(res_pa), fix(res_fl), fix(res_ac), fix(res_al)
            res_lab = {k: fix(v) for k, v in res_lab.items()}
            cohen = {k: fix(v) for k, v in cohen.items()}
        else:
            gs = all_stats(g, G)
            outs: list[list[np.ndarray]] = [[] for _ in range(5 + len(pairs))]
            for W in _resample_weights(G, n_boot, seed):
                part = split(W @ gs)
                outs[0].append(_percent_finalize(part[0]))
                outs[1].append(_fleiss_finalize(part[1], **p_fl))
                outs[2].append(_ac1_finalize(part[2], **p_ac))
                outs[3].append(_alpha_finalize(part[3], **p_al))
                outs[4].append(_alpha_label_finalize(part[3], n_categories=K))
                for k in range(len(pairs)):
                    outs[5 + k].append(_cohen_finalize(part[4 + k], n_categories=K))
            v = [np.concatenate(o, axis=0) for o in outs]
            att = lambda res, vals: _attach_ci(res, vals, confidence, n_boot, seed, G)  # noqa: E731
            res_pa, res_fl, res_ac, res_al = att(res_pa, v[0]), att(res_fl, v[1]), att(res_ac, v[2]), att(res_al, v[3])
            res_lab = {k: att(r_, v[4][:, c]) for c, (k, r_) in enumerate(res_lab.items())}
            cohen = {
                k: att(r_, v[5 + c]) if _informative_groups(lm.codes, g, pairs[c]) >= 2 else fix(r_)
                for c, (k, r_) in enumerate(cohen.items())
            }

    return LabelReport(
        n_items=enc.n,
        n_ratings=enc.n_ratings,
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


# --------------------------------------------------------------------------
# Spans
# --------------------------------------------------------------------------


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
    return _f1(mode, sum(r.tp for r in results), sum(r.fp for r in results), sum(r.fn for r in results), label)


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
        return list(zip(r.tolist(), c.tolist()))
    from scipy.optimize import linear_sum_assignment

    gain = np.where(edge, gain, 0).astype(float)
    big = float(gain.sum()) + 1.0  # more than any matching's total gain
    weight = np.where(edge, big + gain, 0.0)
    r, c = linear_sum_assignment(weight, maximize=True)
    keep = edge[r, c]
    return list(zip(r[keep].tolist(), c[keep].tolist()))


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


# --------------------------------------------------------------------------
# Relations (quote -> source)
# --------------------------------------------------------------------------


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

    def universe(rels, extra_q, extra_s):
        quotes = list(dict.fromkeys([q for q, _ in rels] + _norm_spans(extra_q)))
        sources = list(dict.fromkeys([s for _, s in rels] + _norm_spans(extra_s)))
        qpos = {q: i for i, q in enumerate(quotes)}
        spos = {s: i for i, s in enumerate(sources)}
        links: dict[int, set[int]] = defaultdict(set)
        for q, s in rels:
            links[qpos[q]].add(spos[s])
        return quotes, sources, links

    qa, sa, la = universe(ra, quotes_a, sources_a)
    qb, sb, lb = universe(rb, quotes_b, sources_b)
    qmatch = _match_spans(qa, qb)
    smap = dict(_match_spans(sa, sb))
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
