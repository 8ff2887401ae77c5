"""A project's annotations read fast into arrays: the label matrix, spans, sentences.

Plain functions over a SQLAlchemy session; no Flask. What the figures, the
disagreement queue and the automatic-gold refresh all start from:

- labels come from ONE SQLAlchemy Core query (labels joined to sentences and
  articles) selecting integer columns only: the label is turned into its code
  in SQL (CASE over the schema's labels), sentence / article / user ids are
  mapped to dense item and annotator codes with NumPy. No ORM objects, no Row
  objects: rows are read from the DBAPI cursor straight into an array;
- every loader reads the whole project, or one range of its article ids, so
  that work over a big project (automatic gold) can go a batch at a time;
- the project's head (annotator.domain.project_head) is read first: its
  revision and fingerprint key the cache (cache.py) and the automatic-gold
  marker (gold/refresh.py).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, String, case, cast, func, literal, select
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, Relation, Sentence, Span, User, visible_articles
from annotator.domain.project_head import ProjectHead
from annotator.stats import agreement as ag

# An inclusive range of article ids (first, last), or a list of article ids (the
# articles a write touched: incremental gold): the loaders below read the whole
# project, or only its articles in that range or list when one is given.
ArticleRange = tuple[int, int] | list[int]


def article_clause(articles: ArticleRange) -> Any:
    """Article.id in the range (a tuple) or among the ids (a list)."""
    return Article.id.in_(articles) if isinstance(articles, list) else Article.id.between(*articles)


def in_scope(head: ProjectHead, articles: ArticleRange | None) -> list[Any]:
    """WHERE clauses (on Article) for the project's articles, or those of them in `articles`."""
    clauses = [Article.project_id == head.id, visible_articles()]  # Core statements: the ORM's filter of staged imports does not apply
    if articles is not None:
        clauses.append(article_clause(articles))
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


def dense_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
            .where(*in_scope(head, articles))
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
        return statement.select_from(Sentence).join(Article, Article.id == Sentence.article_id).where(*in_scope(head, articles))

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
    sentence_ids, item = dense_ids(data[:, 0])
    user_ids, column = dense_ids(data[:, 1])
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
        .where(*in_scope(head, articles), Annotation.label.not_in(categories) if categories else True)
    ).all()
    extra = sorted({label for _, _, label in rows})
    categories = list(categories) + extra
    code_of = {(s, u): categories.index(label) for s, u, label in rows}
    codes = data[:, 2].copy()
    for k in np.flatnonzero(codes < 0):
        codes[k] = code_of[(int(data[k, 0]), int(data[k, 1]))]
    return categories, codes


# ----------------------------------------------------------------- spans and relations
@dataclass(frozen=True)
class ProjectSpans:
    """Every annotator span and relation of a project, as plain tuples."""

    spans: list[tuple[int, int, int, str, int, int]]  # (span id, article, user, label, start, end)
    relations: list[tuple[int, int, str, int, int]]  # (article, user, type, from span id, to span id)


def load_spans(session: Session, head: ProjectHead, articles: ArticleRange | None = None) -> ProjectSpans:
    """Core queries on the session's connection (plain tuples, no ORM row handling)."""
    in_project = select(Article.id).where(*in_scope(head, articles))
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


# ----------------------------------------------------------------- sentences
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
        .where(*in_scope(head, articles))
        .order_by(Sentence.article_id, Sentence.start)
    )
    data = _fetch_ints(session, statement, 5)
    return SentenceRows(*(data[:, k].copy() for k in range(5)))


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

