"""A project's agreement figures, computed from the database and cached per project revision.

Plain functions over a SQLAlchemy session; no Flask. The statistics are
annotator.stats.agreement's; this module gets the data there fast and shapes the
results for the reviewer page, the CLI and the disagreement queue:

- labels come from ONE SQLAlchemy Core query (labels joined to sentences and
  articles) selecting integer columns only: the label is turned into its code
  in SQL (CASE over the schema's labels), sentence / article / user ids are
  mapped to dense item and annotator codes with NumPy. No ORM objects, no Row
  objects: rows are read from the DBAPI cursor straight into an array;
- results are cached in the `cache_entries` table under
  (project id, Project.revision, kind, settings fingerprint). Every annotation
  write bumps Project.revision in its own transaction (annotations.py,
  import_annotations.py, resegment.py, gold.adjudicate), so a new revision
  means a new key: every gunicorn worker on every host sees the same
  invalidation; nothing is kept in process memory. The fingerprint covers what
  changes figures without a revision bump (label schema, majority threshold,
  annotators per article, the format of this module's output); an article
  import (no annotations, but more sentences to count) deletes the project's
  entries in its own transaction (articles.record_import);
- the revision is read BEFORE the data: the data are then at least as new as
  the key they are stored under, so a reader of that revision never gets older
  figures than its own (a write racing the computation only leaves an entry
  that nobody asks for once the revision has moved on).

Gold in the figures = human gold (adjudicated, imported) from gold_labels,
plus automatic gold computed here from the same label matrix by gold.py's
rule: the figures never depend on whether gold.ensure_auto_gold has run yet.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
from sqlalchemy import BigInteger, String, case, cast, delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, CacheEntry, GoldLabel, Project, Relation, Sentence, Span, User, visible_articles
from annotator.db.transactions import begin_write, writer_queue
from annotator.domain import labelschema
from annotator.stats import agreement as ag
from annotator.stats import gold as gold_rules

# Bump when the shape or the meaning of the cached figures changes: old entries then miss.
FORMAT = 4
N_BOOT = 1000
SEED = 13
CONFIDENCE = 0.95
SPAN_MODES = ("exact", "overlap")
_INT32 = 2**31


class ProjectNotFound(LookupError):
    """No such project; the message says which."""


# ----------------------------------------------------------------- the project
@dataclass(frozen=True)
class ProjectHead:
    """What the figures depend on, read in one small query (no ORM object)."""

    id: int
    name: str
    revision: int
    schema: dict[str, Any]
    majority_threshold: float
    annotators_per_article: int

    @property
    def categories(self) -> list[str]:
        return labelschema.names(self.schema, "sentence_labels")

    @property
    def span_labels(self) -> list[str]:
        return labelschema.names(self.schema, "span_labels")

    @property
    def min_raters(self) -> int:
        """Annotators a sentence needs before it can become gold automatically."""
        return max(2, int(self.annotators_per_article))

    def fingerprint(self) -> str:
        settings = {
            "format": FORMAT,
            "schema": self.schema,
            "majority_threshold": self.majority_threshold,
            "annotators_per_article": self.annotators_per_article,
            "n_boot": N_BOOT,
            "seed": SEED,
        }
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


_HEAD_COLUMNS = (Project.id, Project.name, Project.revision, Project.label_schema, Project.majority_threshold, Project.annotators_per_article)


def project_head(session: Session, project_id: int) -> ProjectHead:
    if not isinstance(project_id, int) or not 0 < project_id < _INT32:
        raise ProjectNotFound(f"no project {project_id!r}")
    row = session.execute(select(*_HEAD_COLUMNS).where(Project.id == project_id)).first()
    if row is None:
        raise ProjectNotFound(f"no project {project_id}")
    return ProjectHead(*row)


# An inclusive range of article ids (first, last): the loaders below read the
# whole project, or only its articles in that range when one is given, so
# that work over a big project (automatic gold) can go a batch at a time.
ArticleRange = tuple[int, int]


def _in_scope(head: ProjectHead, articles: ArticleRange | None) -> list[Any]:
    """WHERE clauses (on Article) for the project's articles, or those of them with ids in `articles`."""
    clauses = [Article.project_id == head.id, visible_articles()]  # Core statements: the ORM's filter of staged imports does not apply
    if articles is not None:
        clauses.append(Article.id.between(*articles))
    return clauses


# ----------------------------------------------------------------- labels as arrays
@dataclass(frozen=True, eq=False)
class ProjectLabels:
    """A project's sentence labels as arrays: items are the sentences with at least one label.

    ``sentence_ids`` is sorted ascending (item i is sentence ``sentence_ids[i]``);
    ``matrix.annotators`` are user names, column j is user ``user_ids[j]``;
    ``seconds[i, j]`` is the time user j spent on item i (NaN: no label).
    """

    matrix: ag.LabelMatrix
    sentence_ids: np.ndarray
    article_ids: np.ndarray
    user_ids: np.ndarray
    seconds: np.ndarray | None

    @property
    def codes(self) -> np.ndarray:
        return self.matrix.codes

    @property
    def names(self) -> list[str]:
        return list(self.matrix.annotators)

    def items_of(self, sentence_ids: np.ndarray) -> np.ndarray:
        """Item index of each sentence id, -1 for sentences nobody labelled."""
        sentence_ids = np.asarray(sentence_ids, dtype=np.int64)
        pos = np.searchsorted(self.sentence_ids, sentence_ids)
        pos = np.minimum(pos, max(len(self.sentence_ids) - 1, 0))
        found = len(self.sentence_ids) > 0
        ok = (self.sentence_ids[pos] == sentence_ids) if found else np.zeros(len(sentence_ids), dtype=bool)
        return np.where(ok, pos, -1)


def _dense(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value among them): a bincount over the
    id range when ids are dense enough (they are: autoincrement keys), else np.unique."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.intp)
    lo, hi = int(values.min()), int(values.max())
    span = hi - lo + 1
    if span <= 4 * len(values) + 4096:
        offset = values - lo
        present = np.zeros(span, dtype=bool)
        present[offset] = True
        rank = np.cumsum(present) - 1
        return np.flatnonzero(present).astype(np.int64) + lo, rank[offset].astype(np.intp)
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq.astype(np.int64), inverse.ravel().astype(np.intp)


def _fetch_ints(session: Session, statement: Any, width: int) -> np.ndarray:
    """Run a Core statement whose columns are all integers into an (n, width) int64 array.

    The rows are read from the DBAPI cursor: SQLAlchemy's Row objects would cost
    more than the query itself at a million rows, and integers need no
    result processing.
    """
    result = session.connection().execute(statement)
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=len(rows) * width)
    return flat.reshape(len(rows), width)


def _fetch_packed(session: Session, value: Any, *joins_and_where: Any) -> np.ndarray | None:
    """One integer expression per row, aggregated by the database into ONE comma-separated
    string (group_concat on SQLite, string_agg on PostgreSQL) and parsed by NumPy.

    At a million labels this is several times faster than fetching rows: the
    values cross the driver as one string instead of a million Python tuples.
    None when the string cannot be parsed (an id too large for the packing),
    so the caller can fetch rows instead.
    """
    statement = select(func.aggregate_strings(value if isinstance(value.type, String) else cast(value, String), ","))
    for part in joins_and_where:
        statement = part(statement)
    text = session.connection().execute(statement).scalar()
    if not text:
        return np.zeros(0, dtype=np.int64)
    try:
        return np.fromstring(text, sep=",", dtype=np.int64)
    except ValueError:  # e.g. an overflowing product came back as a float
        return None


def _label_code(categories: list[str]) -> Any:
    return case({name: i for i, name in enumerate(categories)}, value=Annotation.label, else_=-1) if categories else literal(-1)


# Label rows are packed as ((sentence_id * 2**20 + user_id) * 2**8 + code + 1): 31 + 20 + 8 bits.
_USER_BITS, _CODE_BITS = 20, 8
_ARTICLE_BITS = 31


def _labels_of_project(
    session: Session, head: ProjectHead, categories: list[str], with_seconds: bool, articles: ArticleRange | None = None
) -> np.ndarray:
    """(n, 3 or 4) int64: sentence id, user id, label code (-1: not in the schema), [milliseconds]."""
    def in_project(statement: Any) -> Any:
        return (
            statement.select_from(Annotation)
            .join(Sentence, Sentence.id == Annotation.sentence_id)
            .join(Article, Article.id == Sentence.article_id)
            .where(*_in_scope(head, articles))
        )

    code = _label_code(categories)
    max_user = session.scalar(select(func.max(User.id))) or 0
    if len(categories) < 2**_CODE_BITS - 1 and max_user < 2**_USER_BITS:
        packed = (cast(Annotation.sentence_id, BigInteger) * 2**_USER_BITS + Annotation.user_id) * 2**_CODE_BITS + code + 1
        value = cast(packed, String)
        if with_seconds:  # two numbers per label: the packed one, then milliseconds
            value = value + "," + cast(cast(func.round(Annotation.seconds * 1000), BigInteger), String)
        flat = _fetch_packed(session, value, in_project)
        if flat is not None:
            flat = flat.reshape(-1, 2) if with_seconds else flat.reshape(-1, 1)
            packed_values = flat[:, 0]
            user_and_sentence = packed_values >> _CODE_BITS
            out = np.empty((len(flat), 4 if with_seconds else 3), dtype=np.int64)
            out[:, 0] = user_and_sentence >> _USER_BITS
            out[:, 1] = user_and_sentence & (2**_USER_BITS - 1)
            out[:, 2] = (packed_values & (2**_CODE_BITS - 1)) - 1
            if with_seconds:
                out[:, 3] = flat[:, 1]
            return out
    columns = [Annotation.sentence_id, Annotation.user_id, code]  # fallback: plain integer rows
    if with_seconds:
        columns.append(cast(func.round(Annotation.seconds * 1000), BigInteger))
    return _fetch_ints(session, in_project(select(*columns)), len(columns))


def _article_of_sentences(session: Session, head: ProjectHead, articles: ArticleRange | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sentence ids sorted, their article ids) of the project, in one aggregated query."""
    def in_project(statement: Any) -> Any:
        return statement.select_from(Sentence).join(Article, Article.id == Sentence.article_id).where(*_in_scope(head, articles))

    flat = _fetch_packed(session, cast(Sentence.id, BigInteger) * 2**_ARTICLE_BITS + Sentence.article_id, in_project)
    if flat is not None:
        ids, articles = flat >> _ARTICLE_BITS, flat & (2**_ARTICLE_BITS - 1)
    else:
        rows = _fetch_ints(session, in_project(select(Sentence.id, Sentence.article_id)), 2)
        ids, articles = rows[:, 0], rows[:, 1]
    order = np.argsort(ids, kind="stable")
    return ids[order], articles[order]


def load_labels(session: Session, head: ProjectHead, with_seconds: bool = True, articles: ArticleRange | None = None) -> ProjectLabels:
    """Every sentence label of the project as a LabelMatrix plus ids.

    One query reads the labels joined to sentences and articles, each label as
    one integer (sentence id, user id and label code packed together; the
    label is turned into its code in SQL), the database aggregating them into
    one string that NumPy parses; a second one reads each sentence's article
    the same way. Annotators and sentences get dense codes with NumPy.

    Categories are the schema's sentence labels in schema order (AC1's chance
    term needs the full list); a stored label the schema no longer lists (it
    cannot happen through update_project, but a database is not a promise) is
    appended as an extra category rather than dropped.
    """
    categories = head.categories
    data = _labels_of_project(session, head, categories, with_seconds, articles)
    codes = data[:, 2]
    if (codes < 0).any():
        categories, codes = _with_unknown_labels(session, head, data, categories, articles)
    sentence_ids, item = _dense(data[:, 0])
    user_ids, column = _dense(data[:, 1])
    all_ids, all_articles = _article_of_sentences(session, head, articles)
    article_ids = all_articles[np.searchsorted(all_ids, sentence_ids)] if len(sentence_ids) else np.zeros(0, dtype=np.int64)
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids.tolist()))).all()) if len(user_ids) else {}
    annotators = [names.get(int(u), f"user {int(u)}") for u in user_ids]
    matrix = ag.LabelMatrix.from_long(item, column, codes, len(sentence_ids), annotators, categories)
    seconds = None
    if with_seconds:
        seconds = np.full(matrix.codes.shape, np.nan)
        seconds[item, column] = data[:, 3] / 1000.0
    return ProjectLabels(matrix, sentence_ids, article_ids, user_ids, seconds)


def _with_unknown_labels(
    session: Session, head: ProjectHead, data: np.ndarray, categories: list[str], articles: ArticleRange | None = None
) -> tuple[list[str], np.ndarray]:
    rows = session.execute(
        select(Annotation.sentence_id, Annotation.user_id, Annotation.label)
        .join(Sentence, Sentence.id == Annotation.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(*_in_scope(head, articles), Annotation.label.not_in(categories) if categories else True)
    ).all()
    extra = sorted({label for _, _, label in rows})
    categories = list(categories) + extra
    code_of = {(s, u): categories.index(label) for s, u, label in rows}
    codes = data[:, 2].copy()
    for k in np.flatnonzero(codes < 0):
        codes[k] = code_of[(int(data[k, 0]), int(data[k, 1]))]
    return categories, codes


def fleiss_raters(labels: ProjectLabels, annotators_per_article: int) -> int | None:
    """Fleiss' kappa needs a fixed number of labels per sentence (not the same annotators):
    the project's annotators per article when sentences have that many, else the most
    common number of labels among sentences with two or more."""
    m = (labels.codes >= 0).sum(axis=1)
    if annotators_per_article >= 2 and (m == annotators_per_article).any():
        return int(annotators_per_article)
    counts = np.bincount(m[m >= 2]) if (m >= 2).any() else np.zeros(0)
    return int(counts.argmax()) if counts.size else None


# ----------------------------------------------------------------- gold
def item_gold(session: Session, head: ProjectHead, labels: ProjectLabels) -> tuple[np.ndarray, np.ndarray]:
    """Gold code and provenance code of every item: human gold from the table, automatic gold by gold.py's rule."""
    gold, provenance = gold_rules.auto_gold_labels(labels.codes, head.majority_threshold, head.min_raters)
    code_of = {c: i for i, c in enumerate(labels.matrix.categories)}
    rows = session.execute(
        select(GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance)
        .join(Sentence, Sentence.id == GoldLabel.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == head.id, GoldLabel.provenance.in_(gold_rules.HUMAN_PROVENANCE))
    ).all()
    if rows:
        items = labels.items_of(np.array([r[0] for r in rows], dtype=np.int64))
        for item, (_, label, prov) in zip(items.tolist(), rows):
            if item >= 0 and label in code_of:
                gold[item] = code_of[label]
                provenance[item] = gold_rules.PROVENANCE_CODES[prov]
    return gold, provenance


# ----------------------------------------------------------------- label figures
EXPLANATIONS = {
    "percent_agreement": (
        "Share of annotator pairs that gave a sentence the same label, averaged over sentences with two or more labels. "
        "Not corrected for chance: with one very common label it is high even when annotators guess. "
        "Undefined when no sentence has two labels."
    ),
    "fleiss_kappa": (
        "Chance-corrected agreement (1 perfect, 0 chance level, below 0 worse than chance) over the sentences labelled "
        "by exactly {r} annotators (others are left out). Undefined when no sentence has {r} labels or only one label is used."
    ),
    "gwet_ac1": (
        "Chance-corrected agreement whose chance term does not collapse when one label dominates (check-worthy "
        "claims are rare); counts every label of the schema as possible. Undefined when no sentence has two labels."
    ),
    "krippendorff_alpha": (
        "Chance-corrected agreement that allows missing labels (nominal): 1 perfect, 0 chance level, below 0 "
        "systematic disagreement; 0.8 or more is usually taken as reliable, 0.667 as the lowest acceptable. "
        "Undefined when only one label is used or no sentence has two labels."
    ),
}


# What each coefficient's item count counts, in the agreement page's words: (items used, items left out).
# An item is a labelled sentence; {r} is the number of annotators per sentence Fleiss' kappa takes.
ITEM_COUNTS = {
    "percent_agreement": ("sentences labelled by two or more annotators", "labelled by one annotator only"),
    "fleiss_kappa": ("sentences labelled by exactly {r} annotators", "labelled, but not labelled by exactly {r}"),
    "gwet_ac1": ("sentences labelled by two or more annotators", "labelled by one annotator only"),
    "krippendorff_alpha": ("sentences labelled by two or more annotators", "labelled by one annotator only"),
}
ITEMS_NOTE = (
    "An item is a sentence with at least one label. A coefficient compares annotators, so it uses the sentences "
    "labelled by two or more of them (Fleiss' kappa: by exactly {r}, as it needs the same number on every sentence); "
    "a sentence labelled by one annotator only has nothing to agree with and is left out."
)


def label_figures(labels: ProjectLabels, head: ProjectHead, n_boot: int = N_BOOT, seed: int = SEED) -> tuple[dict[str, Any], ag.LabelReport]:
    """Overall coefficients with bootstrap CIs over articles, per label figures and the Cohen's kappa matrix."""
    r = fleiss_raters(labels, head.annotators_per_article)
    report = ag.label_report(labels.matrix, n_raters=r, groups=labels.article_ids, n_boot=n_boot, seed=seed, confidence=CONFIDENCE)
    doc = report.to_dict()
    overall = {
        key: {**doc[key], "explanation": EXPLANATIONS[key].format(r=r if r is not None else "N")}
        for key in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha")
    }
    codes = labels.codes
    K = len(labels.matrix.categories)
    rated = codes >= 0
    m = rated.sum(axis=1)
    counts = _category_counts(codes, K)
    ratings_per_label = counts.sum(axis=0)
    total = int(ratings_per_label.sum())
    pairable = m >= 2
    per_label = []
    alpha_rows = {row["label"]: row for row in doc["alpha_per_label"]}
    for c, name in enumerate(labels.matrix.categories):
        used = counts[:, c] > 0
        per_label.append(
            {
                "label": name,
                "n_ratings": int(ratings_per_label[c]),
                "share": (int(ratings_per_label[c]) / total) if total else None,
                "n_sentences_used": int(used.sum()),
                "n_sentences_unanimous": int((pairable & (counts[:, c] == m)).sum()),
                "n_sentences_split": int((pairable & used & (counts[:, c] < m)).sum()),
                "alpha": alpha_rows[name],
            }
        )
    matrix = report.cohen_kappa.matrix()
    figures = {
        "n_items": report.n_items,
        "n_ratings": report.n_ratings,
        "n_pairable": int(pairable.sum()),
        "annotators": labels.names,
        "categories": list(labels.matrix.categories),
        "fleiss_n_raters": r,
        "overall": overall,
        "per_label": per_label,
        "cohen_kappa": {"annotators": labels.names, "matrix": matrix, "pairs": doc["cohen_kappa"]["pairs"]},
    }
    return figures, report


def _category_counts(codes: np.ndarray, K: int) -> np.ndarray:
    """(items, K) how many annotators gave each label."""
    n = codes.shape[0]
    if n == 0 or codes.shape[1] == 0 or K == 0:
        return np.zeros((n, K), dtype=np.int64)
    flat = (codes.astype(np.int64) + 1) + (np.arange(n, dtype=np.int64) * (K + 1))[:, None]
    return np.bincount(flat.ravel(), minlength=n * (K + 1)).reshape(n, K + 1)[:, 1:]


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def annotator_figures(labels: ProjectLabels, report: ag.LabelReport, gold: np.ndarray, provenance: np.ndarray) -> list[dict[str, Any]]:
    """Per annotator: work done, time, agreement with the others and with gold."""
    codes = labels.codes
    K = len(labels.matrix.categories)
    counts = _category_counts(codes, K)
    m = (codes >= 0).sum(axis=1)
    alpha_all = report.krippendorff_alpha.value
    human = provenance >= gold_rules.PROVENANCE_CODES["adjudicated"]
    out = []
    for j, name in enumerate(labels.names):
        mine = codes[:, j]
        rated = mine >= 0
        n_done = int(rated.sum())
        seconds = labels.seconds[rated, j] if labels.seconds is not None else np.zeros(0)
        # pairs (this annotator, another) on shared sentences, and how many agree
        with_others = rated & (m >= 2)
        same = counts[with_others, mine[with_others]] - 1 if with_others.any() else np.zeros(0)
        n_pairs = int((m[with_others] - 1).sum())
        kappas = []
        for other in labels.names:
            if other != name:
                res = report.cohen_kappa.get(name, other)
                kappas.append(res.value if res is not None else None)
        others = [k for k in range(len(labels.names)) if k != j]
        if others:
            alpha_without = ag.krippendorff_alpha(ag.LabelMatrix(codes[:, others], [labels.names[k] for k in others], labels.matrix.categories))
        else:
            alpha_without = ag.Result("krippendorff_alpha", None, "no other annotator")
        out.append(
            {
                "annotator": name,
                "user_id": int(labels.user_ids[j]),
                "n_items": n_done,
                "median_seconds": float(np.median(seconds)) if seconds.size else None,
                "label_counts": {c: int((mine == k).sum()) for k, c in enumerate(labels.matrix.categories)},
                "n_items_shared": int(with_others.sum()),
                "pair_agreement": {
                    "value": float(same.sum()) / n_pairs if n_pairs else None,
                    "n_pairs": n_pairs,
                    "n_agreeing_pairs": int(same.sum()),
                    "reason": None if n_pairs else "no sentence labelled by this annotator and another",
                },
                "mean_kappa": {
                    "value": _mean(kappas),
                    "n_pairs": len(kappas),
                    "n_defined": sum(k is not None for k in kappas),
                    "reason": None if _mean(kappas) is not None else "no defined Cohen's kappa with another annotator",
                },
                "alpha_without": {**alpha_without.to_dict(), "alpha_all": alpha_all,
                                  "delta": (alpha_all - alpha_without.value) if alpha_all is not None and alpha_without.value is not None else None},
                "gold": _against_gold(mine, gold, name, labels.matrix.categories),
                "adjudicated": _against_gold(mine, np.where(human, gold, -1), name, labels.matrix.categories),
            }
        )
    return out


def _against_gold(mine: np.ndarray, gold: np.ndarray, name: str, categories: list) -> dict[str, Any]:
    both = (mine >= 0) & (gold >= 0)
    n = int(both.sum())
    agree = int((mine[both] == gold[both]).sum())
    kappa = ag.cohen_kappa(ag.LabelMatrix(np.stack([mine[both], gold[both]], axis=1), [name, "\x00gold"], categories), name, "\x00gold")
    return {
        "n": n,
        "n_agree": agree,
        "value": agree / n if n else None,
        "kappa": kappa.value,
        "kappa_reason": (kappa.reason or "").replace("'\x00gold'", "gold") or None,
        "reason": None if n else "no sentence this annotator labelled has gold of this kind",
    }


def gold_counts(labels: ProjectLabels, provenance: np.ndarray) -> dict[str, int]:
    names = {v: k for k, v in gold_rules.PROVENANCE_CODES.items()}
    counts = np.bincount(provenance, minlength=len(names)) if len(provenance) else np.zeros(len(names), dtype=np.int64)
    return {names[k]: int(counts[k]) for k in range(1, len(names))}


# ----------------------------------------------------------------- spans and relations
@dataclass(frozen=True)
class ProjectSpans:
    """Every annotator span and relation of a project, as plain tuples."""

    spans: list[tuple[int, int, int, str, int, int]]  # (span id, article, user, label, start, end)
    relations: list[tuple[int, int, str, int, int]]  # (article, user, type, from span id, to span id)


def load_spans(session: Session, head: ProjectHead, articles: ArticleRange | None = None) -> ProjectSpans:
    """Core queries on the session's connection (plain tuples, no ORM row handling)."""
    in_project = select(Article.id).where(*_in_scope(head, articles))
    conn = session.connection()
    spans = conn.execute(
        select(Span.id, Span.article_id, Span.user_id, Span.label, Span.start, Span.end).where(Span.article_id.in_(in_project))
    ).all()
    relations = conn.execute(
        select(Relation.article_id, Relation.user_id, Relation.type, Relation.from_span_id, Relation.to_span_id).where(
            Relation.article_id.in_(in_project)
        )
    ).all()
    return ProjectSpans([tuple(r) for r in spans], [tuple(r) for r in relations])


def _articles_by_user(labels: ProjectLabels, data: ProjectSpans) -> dict[int, set[int]]:
    """The articles each user worked on (a label or a span there)."""
    out: dict[int, set[int]] = defaultdict(set)
    for j, uid in enumerate(labels.user_ids.tolist()):
        out[uid].update(np.unique(labels.article_ids[labels.codes[:, j] >= 0]).tolist())
    for _, art, user, *_rest in data.spans:
        out[user].add(art)
    return out


def span_figures(session: Session, head: ProjectHead, labels: ProjectLabels, data: ProjectSpans) -> tuple[dict[str, Any], dict[str, Any]]:
    """Span F1 per span label and annotator pair (exact and overlap), and quote -> source
    relation F1 with attribution agreement per relation type, each pair compared on the
    articles both of them worked on."""
    span_labels = head.span_labels
    known = set(span_labels)
    span_labels = span_labels + sorted({s[3] for s in data.spans} - known)
    relation_types = head.schema.get("relation_types", [])
    worked = _articles_by_user(labels, data)
    users = sorted(worked)
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(users))).all()) if users else {}
    users.sort(key=lambda u: names.get(u, ""))
    by_id = {s[0]: s for s in data.spans}
    spans_of: dict[int, list[tuple]] = defaultdict(list)
    for _sid, art, user, label, start, end in data.spans:
        spans_of[user].append((art, label, start, end))
    rels_of: dict[tuple[int, str], list[tuple]] = defaultdict(list)
    for art, user, rtype, f, t in data.relations:
        if f in by_id and t in by_id:
            a, b = by_id[f], by_id[t]
            rels_of[(user, rtype)].append(((art, a[3], a[4], a[5]), (art, b[3], b[4], b[5])))

    span_pairs, rel_pairs = [], []
    pooled: dict[tuple[str, str], list[ag.F1Result]] = defaultdict(list)
    rel_pooled: dict[str, list[ag.F1Result]] = defaultdict(list)
    attr_pooled: dict[str, list[ag.AttributionResult]] = defaultdict(list)
    for i, ua in enumerate(users):
        for ub in users[i + 1:]:
            shared = worked[ua] & worked[ub]
            pair = {"a": names.get(ua, f"user {ua}"), "b": names.get(ub, f"user {ub}"), "n_shared_articles": len(shared)}
            if not shared:
                span_pairs.append({**pair, "reason": "these annotators share no article"})
                rel_pairs.append({**pair, "reason": "these annotators share no article"})
                continue
            sa = [s for s in spans_of[ua] if s[0] in shared]
            sb = [s for s in spans_of[ub] if s[0] in shared]
            entry: dict[str, Any] = {**pair, "overall": {}, "per_label": {}}
            for mode in SPAN_MODES:
                per_label = ag.span_f1_per_label(sa, sb, mode, labels=span_labels)
                # spans only match within a label, so the overall (micro) counts are the labels' counts added up
                entry["overall"][mode] = ag.combine_f1(per_label.values()).to_dict()
                for label, res in per_label.items():
                    entry["per_label"].setdefault(label, {})[mode] = res.to_dict()
                    pooled[(label, mode)].append(res)
            span_pairs.append(entry)
            rentry: dict[str, Any] = {**pair, "per_type": {}}
            for rel in relation_types:
                rtype = rel["name"]
                ra = [r for r in rels_of[(ua, rtype)] if r[0][0] in shared]
                rb = [r for r in rels_of[(ub, rtype)] if r[0][0] in shared]
                f1 = ag.relation_f1(ra, rb)
                attribution = ag.attribution_agreement(
                    ra, rb,
                    quotes_a=[s for s in sa if s[1] in rel["from"]], quotes_b=[s for s in sb if s[1] in rel["from"]],
                    sources_a=[s for s in sa if s[1] in rel["to"]], sources_b=[s for s in sb if s[1] in rel["to"]],
                )
                rentry["per_type"][rtype] = {"f1": f1.to_dict(), "attribution": attribution.to_dict()}
                rel_pooled[rtype].append(f1)
                attr_pooled[rtype].append(attribution)
            rel_pairs.append(rentry)

    span_doc = {
        "labels": span_labels,
        "modes": list(SPAN_MODES),
        "n_spans": len(data.spans),
        "pooled": {
            label: {mode: _pool(pooled[(label, mode)], mode, label) for mode in SPAN_MODES} for label in span_labels
        },
        "pairs": span_pairs,
    }
    rel_doc = {
        "types": [{"name": r["name"], "from": r["from"], "to": r["to"]} for r in relation_types],
        "n_relations": len(data.relations),
        "pooled": {
            r["name"]: {"f1": _pool(rel_pooled[r["name"]], "relation", None, "relation"), "attribution": _pool_attribution(attr_pooled[r["name"]])}
            for r in relation_types
        },
        "pairs": rel_pairs,
    }
    return span_doc, rel_doc


def _pool(results: list[ag.F1Result], mode: str, label: Any, what: str = "span") -> dict[str, Any]:
    """Micro F1 over annotator pairs (tp / fp / fn added up)."""
    if not results:
        return {"mode": mode, "f1": None, "precision": None, "recall": None, "tp": 0, "fp": 0, "fn": 0, "n_a": 0, "n_b": 0,
                "label": label, "reason": "no pair of annotators shares an article"}
    return ag.combine_f1(results).to_dict()


def _pool_attribution(results: list[ag.AttributionResult]) -> dict[str, Any]:
    same = sum(r.n_same_source for r in results)
    considered = sum(r.n_considered for r in results)
    reason = None
    if not results:
        reason = "no pair of annotators shares an article"
    elif not considered:
        reason = "no quote was marked by two annotators"
    return {
        "value": same / considered if considered else None,
        "reason": reason,
        "n_considered": considered,
        "n_same_source": same,
        "n_different_source": sum(r.n_different_source for r in results),
        "n_both_unattributed": sum(r.n_both_unattributed for r in results),
        "n_quotes_matched": sum(r.n_quotes_matched for r in results),
    }


# ----------------------------------------------------------------- per article
def article_figures(session: Session, head: ProjectHead, labels: ProjectLabels) -> list[dict[str, Any]]:
    """Per article: sentences, annotators, percent agreement and nominal alpha (vectorised over articles)."""
    codes = labels.codes
    K = len(labels.matrix.categories)
    counts = _category_counts(codes, K).astype(float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    art, g = _dense(labels.article_ids)
    G = len(art)
    with np.errstate(divide="ignore", invalid="ignore"):
        agree_i = np.where(pairable, ((counts * (counts - 1)).sum(axis=1)) / (m * (m - 1)), 0.0)
        o_i = np.where(pairable, ((counts * (counts - 1)).sum(axis=1)) / (m - 1), 0.0)
    n_items = np.bincount(g, minlength=G)
    n_pairable = np.bincount(g, weights=pairable.astype(float), minlength=G)
    pa_sum = np.bincount(g, weights=agree_i, minlength=G)
    n_val = np.bincount(g, weights=np.where(pairable, m, 0.0), minlength=G)
    o_diag = np.bincount(g, weights=o_i, minlength=G)
    nc = np.zeros((G, K))
    for c in range(K):
        nc[:, c] = np.bincount(g, weights=np.where(pairable, counts[:, c], 0.0), minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_e = n_val * n_val - (nc * nc).sum(axis=1)
        alpha = 1.0 - (n_val - 1.0) * (n_val - o_diag) / d_e
        percent = pa_sum / n_pairable
    raters = np.zeros(G, dtype=np.int64)
    for j in range(codes.shape[1]):
        raters += np.bincount(g[codes[:, j] >= 0], minlength=G) > 0
    info = dict(
        (r[0], r[1:]) for r in session.execute(select(Article.id, Article.external_id, Article.title).where(Article.project_id == head.id))
    )
    totals = dict(
        session.execute(
            select(Sentence.article_id, func.count()).join(Article, Article.id == Sentence.article_id).where(Article.project_id == head.id).group_by(Sentence.article_id)
        ).all()
    )
    out = []
    for k, aid in enumerate(art.tolist()):
        reason_pa = reason_alpha = None
        if n_pairable[k] == 0:
            reason_pa = reason_alpha = "no sentence of this article has labels from two or more annotators"
        elif d_e[k] == 0:
            reason_alpha = "only one label is used in this article, so expected disagreement is 0 and alpha is undefined"
        external_id, title = info.get(aid, (str(aid), ""))
        out.append(
            {
                "article_id": aid,
                "external_id": external_id,
                "title": title,
                "n_sentences": int(totals.get(aid, 0)),
                "n_items": int(n_items[k]),
                "n_pairable": int(n_pairable[k]),
                "n_annotators": int(raters[k]),
                "percent_agreement": {"value": _finite(percent[k]), "reason": reason_pa},
                "krippendorff_alpha": {"value": _finite(alpha[k]) if reason_alpha is None else None, "reason": reason_alpha},
            }
        )
    out.sort(key=lambda row: (math.inf if row["krippendorff_alpha"]["value"] is None else row["krippendorff_alpha"]["value"], row["external_id"]))
    return out


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------- disagreements per sentence
@dataclass(frozen=True)
class SentenceRows:
    """The project's sentences (article order) with their offsets: overlap lookups for spans."""

    ids: np.ndarray
    article_ids: np.ndarray
    index: np.ndarray
    starts: np.ndarray
    ends: np.ndarray


def load_sentences(session: Session, head: ProjectHead, articles: ArticleRange | None = None) -> SentenceRows:
    statement = (
        select(Sentence.id, Sentence.article_id, Sentence.index, Sentence.start, Sentence.end)
        .join(Article, Article.id == Sentence.article_id)
        .where(*_in_scope(head, articles))
        .order_by(Sentence.article_id, Sentence.start)
    )
    data = _fetch_ints(session, statement, 5)
    return SentenceRows(*(data[:, k].copy() for k in range(5)))


def overlapped_sentences(sentences: SentenceRows, article_id: int, start: int, end: int) -> list[int]:
    """Positions (in SentenceRows) of the sentences of an article that [start, end) overlaps."""
    rows = span_sentence_rows(sentences, np.array([article_id]), np.array([start]), np.array([end]))[1]
    return rows.tolist()


_OFFSET_BITS = 32  # article texts are shorter than 2**32 code points


def span_sentence_rows(sentences: SentenceRows, articles: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (span, sentence) pair where span k = [starts[k], ends[k]) of articles[k] overlaps a
    sentence, vectorised: (span indexes, sentence positions in SentenceRows).

    The sentences of an article do not overlap one another (segmentation cuts
    the text into consecutive pieces), so per article both their starts and
    their ends are sorted, and the sentences a span touches are a contiguous
    run found with two binary searches.
    """
    if len(articles) == 0 or len(sentences.ids) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    articles = np.asarray(articles, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    base = sentences.article_ids << _OFFSET_BITS
    first = np.searchsorted(base + sentences.ends, (articles << _OFFSET_BITS) + starts, side="right")
    stop = np.searchsorted(base + sentences.starts, (articles << _OFFSET_BITS) + ends, side="left")
    counts = np.maximum(stop - first, 0)
    span_index = np.repeat(np.arange(len(articles)), counts)
    rows = np.repeat(first, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    keep = (sentences.article_ids[rows] == articles[span_index]) & (sentences.starts[rows] < ends[span_index]) & (sentences.ends[rows] > starts[span_index])
    return span_index[keep].astype(np.intp), rows[keep].astype(np.intp)


def disagreement_rows(session: Session, head: ProjectHead, labels: ProjectLabels, data: ProjectSpans) -> list[dict[str, Any]]:
    """Sentences labelled by two or more annotators who disagree on the label, a span or a link,
    least agreement first.

    A span (label, start, end) belongs to one sentence, the first it overlaps
    that two or more annotators labelled (so a quote that runs into the next
    sentence is one dispute, not one per sentence); it is disputed there
    unless every annotator who labelled that sentence marked exactly it. A
    link belongs to the sentence its first span (the quote) belongs to; it is
    disputed unless every annotator of the sentence made the same link (same
    type, same two spans exactly). Order: label agreement
    (share of agreeing annotator pairs) ascending, then disputed spans + links
    descending, then article and position.
    """
    codes = labels.codes
    K = len(labels.matrix.categories)
    counts = _category_counts(codes, K)
    m = counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        agree = np.where(m >= 2, (counts * (counts - 1)).sum(axis=1) / (m * (m - 1)), np.nan)
    column_of = {int(u): j for j, u in enumerate(labels.user_ids.tolist())}
    sentences = load_sentences(session, head)
    item_of_row = labels.items_of(sentences.ids)

    def raters(item: int) -> int:
        return sum(1 << j for j in np.flatnonzero(codes[item] >= 0).tolist())

    span_marks: dict[tuple[int, tuple], int] = defaultdict(int)
    by_id = {s[0]: s for s in data.spans}
    home: dict[int, int] = {}  # span id -> the one item (sentence) it counts in
    if data.spans:
        cols = list(zip(*data.spans))
        span_k, rows = span_sentence_rows(sentences, np.array(cols[1]), np.array(cols[4]), np.array(cols[5]))
        # (span, sentence) pairs come span by span, each span's sentences in text order
        for k, item in zip(span_k.tolist(), item_of_row[rows].tolist()):
            sid = data.spans[k][0]
            if item >= 0 and m[item] >= 2 and sid not in home:
                home[sid] = item
    for sid, art, user, label, start, end in data.spans:
        item = home.get(sid)
        if item is not None:
            bit = 1 << column_of[user] if user in column_of else 0
            span_marks[(item, (label, start, end))] |= bit
    link_marks: dict[tuple[int, tuple], int] = defaultdict(int)
    for _art, user, rtype, f, t in data.relations:
        if f not in by_id or t not in by_id:
            continue
        item = home.get(f)
        if item is None:
            continue
        a, b = by_id[f], by_id[t]
        key = (rtype, a[3:6], b[3:6])
        bit = 1 << column_of[user] if user in column_of else 0
        link_marks[(item, key)] |= bit
    span_disputes = np.zeros(len(m), dtype=np.int64)
    link_disputes = np.zeros(len(m), dtype=np.int64)
    rater_cache: dict[int, int] = {}
    for marks, disputes in ((span_marks, span_disputes), (link_marks, link_disputes)):
        for (item, _key), mask in marks.items():
            if m[item] < 2:
                continue
            r = rater_cache.get(item)
            if r is None:
                r = rater_cache[item] = raters(item)
            if r & ~mask:
                disputes[item] += 1
    disputed = (m >= 2) & ((agree < 1) | (span_disputes > 0) | (link_disputes > 0))
    gold, provenance = item_gold(session, head, labels)
    prov_name = {v: k for k, v in gold_rules.PROVENANCE_CODES.items()}
    row_of_item = np.full(len(m), -1, dtype=np.int64)
    ok = item_of_row >= 0
    row_of_item[item_of_row[ok]] = np.flatnonzero(ok)
    rows = []
    categories = labels.matrix.categories
    for item in np.flatnonzero(disputed).tolist():
        pos = int(row_of_item[item])
        rows.append(
            {
                "sentence_id": int(labels.sentence_ids[item]),
                "article_id": int(labels.article_ids[item]),
                "index": int(sentences.index[pos]) if pos >= 0 else None,
                "n_annotators": int(m[item]),
                "label_agreement": float(agree[item]),
                "labels": {categories[c]: int(counts[item, c]) for c in range(K) if counts[item, c]},
                "span_disputes": int(span_disputes[item]),
                "link_disputes": int(link_disputes[item]),
                "gold": categories[gold[item]] if gold[item] >= 0 else None,
                "gold_provenance": prov_name[int(provenance[item])] or None,
            }
        )
    rows.sort(key=lambda r: (r["label_agreement"], -(r["span_disputes"] + r["link_disputes"]), r["article_id"], r["index"] or 0))
    return rows


# ----------------------------------------------------------------- the cache
def cache_key(head: ProjectHead, kind: str) -> str:
    return f"agreement:{kind}:{head.id}:{head.revision}:{head.fingerprint()}"


def cached(session: Session, head: ProjectHead, kind: str, compute: Callable[[], Any], use_cache: bool = True) -> Any:
    """The cached value of (project, revision, kind), computing and storing it on a miss.

    Storing is its own short write transaction (begin_write ends whatever the
    session had open, which only read). Two workers missing together both
    compute; the second insert is ignored (same key, same value). Entries of
    older revisions of the same kind are deleted on the way. The cache is only
    a shortcut: when the database is too busy to store the entry, the figures
    are returned all the same.
    """
    key = cache_key(head, kind)
    if use_cache:
        value = session.scalar(select(CacheEntry.value).where(CacheEntry.key == key))
        if value is not None:
            return value
    value = compute()
    if not use_cache:
        return value
    try:
        with writer_queue(session):  # in turn with the annotators' saves (SQLite), not polling past them
            begin_write(session)
            session.execute(
                delete(CacheEntry).where(
                    CacheEntry.project_id == head.id,
                    CacheEntry.key.like(f"agreement:{kind}:{head.id}:%"),
                    CacheEntry.key != key,
                )
            )
            _insert_ignoring_conflict(session, {"key": key, "project_id": head.id, "revision": head.revision, "value": value,
                                                "created_at": datetime.now(timezone.utc)})
            session.commit()
    except (OperationalError, IntegrityError):
        session.rollback()
    except Exception:
        session.rollback()
        raise
    return value


def _insert_ignoring_conflict(session: Session, values: dict[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        session.execute(insert(CacheEntry).values(**values))
        return
    session.execute(dialect_insert(CacheEntry).values(**values).on_conflict_do_nothing())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ----------------------------------------------------------------- what pages and the CLI ask for
def compute_summary(session: Session, head: ProjectHead, n_boot: int = N_BOOT, seed: int = SEED) -> dict[str, Any]:
    """Everything the agreement page shows, as plain JSON-able data."""
    labels = load_labels(session, head)
    figures, report = label_figures(labels, head, n_boot, seed)
    gold, provenance = item_gold(session, head, labels)
    spans = load_spans(session, head)
    span_doc, rel_doc = span_figures(session, head, labels, spans)
    n_sentences = session.scalar(
        select(func.count(Sentence.id)).join(Article, Article.id == Sentence.article_id).where(Article.project_id == head.id)
    )
    return {
        "project": {"id": head.id, "name": head.name, "revision": head.revision},
        "computed_at": _now(),
        "n_sentences": int(n_sentences or 0),
        **figures,
        "annotator_figures": annotator_figures(labels, report, gold, provenance),
        "gold": gold_counts(labels, provenance),
        "spans": span_doc,
        "relations": rel_doc,
        "bootstrap": {"n_resamples": n_boot, "seed": seed, "confidence": CONFIDENCE, "unit": "article",
                      "n_articles": int(len(np.unique(labels.article_ids)))},
    }


def summary(session: Session, project_id: int, use_cache: bool = True) -> dict[str, Any]:
    head = project_head(session, project_id)
    return cached(session, head, "summary", lambda: compute_summary(session, head), use_cache)


def articles(session: Session, project_id: int, use_cache: bool = True) -> list[dict[str, Any]]:
    head = project_head(session, project_id)
    return cached(session, head, "articles", lambda: article_figures(session, head, load_labels(session, head, with_seconds=False)), use_cache)


def disagreements(session: Session, project_id: int, use_cache: bool = True) -> list[dict[str, Any]]:
    """Every disputed sentence of the project, least agreement first (see disagreement_rows)."""
    head = project_head(session, project_id)

    def compute() -> list[dict[str, Any]]:
        labels = load_labels(session, head, with_seconds=False)
        return disagreement_rows(session, head, labels, load_spans(session, head))

    return cached(session, head, "queue", compute, use_cache)


def label_metrics(session: Session, project_id: int) -> ag.LabelReport:
    """All label metrics (no intervals) straight from the database: the benchmarked path."""
    head = project_head(session, project_id)
    labels = load_labels(session, head, with_seconds=False)
    return ag.label_report(labels.matrix, n_raters=fleiss_raters(labels, head.annotators_per_article))


__all__ = [
    "ProjectHead", "ProjectLabels", "ProjectNotFound", "ProjectSpans", "article_figures", "articles", "annotator_figures",
    "cached", "compute_summary", "disagreement_rows", "disagreements", "item_gold", "label_figures",
    "label_metrics", "load_labels", "load_spans", "project_head", "span_figures", "summary",
]
