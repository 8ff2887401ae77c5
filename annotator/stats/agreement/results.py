"""What every agreement function returns: the value, the counts behind it, and why it is undefined.

Frozen dataclasses; ``to_dict()`` gives plain JSON types (numpy scalars, NaN and
tuple keys converted) for the API, the CLI and the export.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping

import numpy as np

# Human reasons for undefined values.
_R_NO_ITEMS = "no items"
_R_NO_PAIRABLE = "no item has labels from two or more annotators"
_R_ONE_CATEGORY = (
    "only one category is used, so expected disagreement is 0 and the "
    "coefficient is undefined"
)


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
