"""The label matrix: items x annotators category codes (-1 = missing), from rating dicts or SQL rows.

Every label metric accepts a list of ``{annotator: label}`` mappings or a
LabelMatrix, so the database layer can build the codes with SQLAlchemy Core
(``LabelMatrix.from_long``) and skip the dicts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np


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
