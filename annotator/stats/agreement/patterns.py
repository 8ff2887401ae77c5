"""Row patterns: the distinct rows of a label matrix and how often each occurs.

Every per-item statistic depends only on the item's row of codes, so items are
histogrammed by row once and each coefficient is computed on the few distinct
rows. The statistics add up over items, which makes the bootstrap one matrix
product.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from annotator.stats.agreement.matrix import LabelMatrix


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den == 0 (no warnings)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


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
