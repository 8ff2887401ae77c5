"""Reading what the export needs: a project's articles in id order, batch by batch, each with all it carries.

Each batch is loaded with one SQLAlchemy Core query per table (no ORM objects, no query per article),
run on the driver's own cursor so that rows stay plain tuples (see _rows): memory stays flat whatever
the project's size, and the time is the database's rather than SQLAlchemy's per-row work.  Values come
as the driver gives them (SQLite's text timestamps and 0/1 booleans, psycopg's datetimes and bools):
shape.py spells them, through records.py.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from sqlalchemy import Select, String, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from annotator.db.models import (
    Annotation,
    Article,
    ArticleLabel,
    GoldArticleLabel,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    ProjectMember,
    Relation,
    Sentence,
    Span,
    Suggestion,
    User,
    visible_articles,
)
from annotator.domain.progress import articles_after

BATCH_SIZE = 500
# A server's streamed export (web/dataset_export.py) reads smaller batches: a batch's rows and tuples are most of
# an export's memory (about 10 MB live at 500 articles of news, 2 MB at 100) and a long-lived worker keeps the
# heap it grew to, so every worker that served an export stayed ~20 MB bigger (bench/bench_server_memory.py).
STREAM_BATCH_SIZE = 100
_IN_CHUNK = 5_000


@dataclass
class Batch:
    """One batch of articles and everything they carry, as plain tuples grouped by article id.

    articles:       (id, external_id, title, text, meta)
    sentences:      (index, start, end)
    labels:         (sentence index, annotator, label, seconds, guidelines_version, updated_at, needs_review, *origin)
    spans:          (db id, uid, annotator, label, start, end, *origin)
    relations:      (uid, annotator, type, from db id, to db id, *origin)
    (origin: the three values (origin, suggester, suggester_version) that records.origin_json spells)
    gold_labels:    sentence index -> (label, provenance, reviewer, reason, updated_at)
    gold_spans:     (db id, uid, label, start, end, provenance, reviewer, updated_at)
    gold_relations: (uid, type, from db id, to db id, provenance, reviewer)
    suggestions:    (kind, uid, suggester, version, label, sentence index, start, end, from uid, to uid, score),
                    only when asked for (the article unit); a label's sentence index, else None
    article_labels: (annotator, group, sorted values), every annotator's (the automatic gold counts them all)
    gold_article_labels: group -> (sorted values, provenance, reviewer, reason, updated_at): a reviewer's decisions
    """

    articles: list[tuple]
    sentences: dict[int, list[tuple[int, int, int]]]
    labels: dict[int, list[tuple]]
    spans: dict[int, list[tuple]]
    relations: dict[int, list[tuple]]
    gold_labels: dict[int, dict[int, tuple]]
    gold_spans: dict[int, list[tuple]]
    gold_relations: dict[int, list[tuple]]
    suggestions: dict[int, list[tuple]]
    article_labels: dict[int, list[tuple]] = field(default_factory=dict)
    gold_article_labels: dict[int, dict[str, tuple]] = field(default_factory=dict)


def count_articles(session: Session, project_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Article).where(Article.project_id == project_id)) or 0


def article_ranges(session: Session, project_id: int, parts: int) -> list[tuple[int, int | None]]:
    """Cut the project's articles into `parts` id ranges (after, last] of about equal counts, in order."""
    total = count_articles(session, project_id)
    parts = max(1, min(parts, total))
    bounds: list[int] = []
    for k in range(1, parts):
        last = session.scalar(
            select(Article.id).where(Article.project_id == project_id).order_by(Article.project_id, Article.id).offset(total * k // parts - 1).limit(1)
        )
        if last is not None and (not bounds or last > bounds[-1]):
            bounds.append(last)
    edges = [0, *bounds]
    return [(edges[k], edges[k + 1] if k + 1 < len(edges) else None) for k in range(len(edges))]


def people_named(project_id: int, names: Iterable[str]) -> Select:
    """The names among `names` of the project's people: its members and anyone with a label or span in it."""
    in_project = Article.project_id == project_id
    labelled = select(Annotation.id).join(Sentence, Sentence.id == Annotation.sentence_id).join(Article, Article.id == Sentence.article_id)
    marked = select(Span.id).join(Article, Article.id == Span.article_id)
    return select(User.name).where(
        User.name.in_(list(names)),
        or_(
            select(ProjectMember.user_id).where(ProjectMember.project_id == project_id, ProjectMember.user_id == User.id).exists(),
            labelled.where(in_project, Annotation.user_id == User.id).exists(),
            marked.where(in_project, Span.user_id == User.id).exists(),
        ),
    )


def batches(
    session: Session,
    project_id: int,
    annotators: tuple[str, ...],
    batch_size: int,
    id_range: tuple[int, int | None] = (0, None),
    with_suggestions: bool = False,
) -> Iterator[Batch]:
    """Articles in id order, batch by batch (keyset pagination), each with all it carries.

    annotators: only these annotators' labels, spans and relations (all when empty).
    id_range (after, last): only articles with after < id <= last (last None: no bound).
    with_suggestions: also the articles' suggestions (one more query per batch; the sentence unit has none).
    """
    conn = session.connection()
    names: dict[int, str] = dict(conn.execute(select(User.id, User.name)).all())
    chosen = set(annotators)
    chosen_users = [uid for uid, name in names.items() if name in chosen] if annotators else None
    last_id, until_id = id_range
    while True:
        articles = _articles(conn, project_id, last_id, until_id, batch_size)
        if not articles:
            return
        last_id = articles[-1][0]
        yield _batch(conn, articles, names, chosen_users, with_suggestions)
        del articles  # not held while the next batch loads


def _articles(conn: Any, project_id: int, after: int, until: int | None, limit: int) -> list[tuple]:
    query = (
        select(Article.id, Article.external_id, Article.title, Article.text, Article.meta)
        .where(articles_after(conn.dialect.name, project_id, after), visible_articles())  # run on the cursor: no ORM filter
        .order_by(Article.project_id, Article.id)  # a seek in the (project_id, id) index: no other project's rows read
        .limit(limit)
    )
    if until is not None:
        query = query.where(Article.id <= until)
    return [(a, e, t, x, json.loads(m) if isinstance(m, str) else m) for a, e, t, x, m in _rows(conn, query)]


def _batch(conn: Any, articles: list[tuple], names: dict[int, str], chosen_users: list[int] | None, with_suggestions: bool) -> Batch:
    """Everything the batch's articles carry: a handful of queries, none per article."""
    ids = [a[0] for a in articles]
    wanted = set(ids)
    sentences, where_sentence = _sentences(conn, ids, wanted)
    sentence_ids = sorted(where_sentence)
    return Batch(
        articles,
        sentences,
        _labels(conn, sentence_ids, where_sentence, names, chosen_users),
        _spans(conn, ids, wanted, names, chosen_users),
        _relations(conn, ids, wanted, names, chosen_users),
        _gold_labels(conn, sentence_ids, where_sentence, names),
        _gold_spans(conn, ids, wanted, names),
        _gold_relations(conn, ids, wanted, names),
        _suggestions(conn, ids, wanted, where_sentence) if with_suggestions else {},
        _article_labels(conn, ids, wanted, names),
        _gold_article_labels(conn, ids, wanted, names),
    )


def _sentences(conn: Any, ids: list[int], wanted: set[int]) -> tuple[dict[int, list[tuple[int, int, int]]], dict[int, tuple[int, int]]]:
    """(article id -> its sentences in order, sentence db id -> (article id, index))."""
    sentences: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    where_sentence: dict[int, tuple[int, int]] = {}
    for clause in _id_filter(Sentence.article_id, ids):
        for sentence_id, article_id, index, start, end in _rows(
            conn,
            select(Sentence.id, Sentence.article_id, Sentence.index, Sentence.start, Sentence.end).where(clause)
        ):
            if article_id in wanted:
                sentences[article_id].append((index, start, end))
                where_sentence[sentence_id] = (article_id, index)
    for rows in sentences.values():
        rows.sort()
    return sentences, where_sentence


def _labels(
    conn: Any, sentence_ids: list[int], where_sentence: dict[int, tuple[int, int]], names: dict[int, str], chosen_users: list[int] | None
) -> dict[int, list[tuple]]:
    labels: dict[int, list[tuple]] = defaultdict(list)
    if not sentence_ids:
        return labels
    for clause in _id_filter(Annotation.sentence_id, sentence_ids):
        query = select(
            Annotation.sentence_id,
            Annotation.user_id,
            Annotation.label,
            Annotation.seconds,
            Annotation.guidelines_version,
            _timestamp(Annotation.updated_at),
            Annotation.needs_review,
            *_origin(Annotation),
        ).where(clause)
        if chosen_users is not None:
            query = query.where(Annotation.user_id.in_(chosen_users))
        for sentence_id, user_id, label, seconds, version, updated_at, needs_review, origin, suggester, suggester_version in _rows(conn, query):
            place = where_sentence.get(sentence_id)
            if place is not None:
                labels[place[0]].append(
                    (place[1], names[user_id], label, seconds, version, updated_at, needs_review, origin, suggester, suggester_version)
                )
    return labels


def _gold_labels(
    conn: Any, sentence_ids: list[int], where_sentence: dict[int, tuple[int, int]], names: dict[int, str]
) -> dict[int, dict[int, tuple]]:
    gold_labels: dict[int, dict[int, tuple]] = defaultdict(dict)
    if not sentence_ids:
        return gold_labels
    for clause in _id_filter(GoldLabel.sentence_id, sentence_ids):
        for sentence_id, label, provenance, reviewer_id, reason, updated_at in _rows(
            conn,
            select(
                GoldLabel.sentence_id,
                GoldLabel.label,
                GoldLabel.provenance,
                GoldLabel.reviewer_id,
                GoldLabel.reason,
                _timestamp(GoldLabel.updated_at),
            ).where(clause)
        ):
            place = where_sentence.get(sentence_id)
            if place is not None:
                reviewer = names.get(reviewer_id) if reviewer_id is not None else None
                gold_labels[place[0]][place[1]] = (label, provenance, reviewer, reason, updated_at)
    return gold_labels


def _spans(conn: Any, ids: list[int], wanted: set[int], names: dict[int, str], chosen_users: list[int] | None) -> dict[int, list[tuple]]:
    spans: dict[int, list[tuple]] = defaultdict(list)
    for clause in _id_filter(Span.article_id, ids):
        query = select(Span.id, Span.uid, Span.article_id, Span.user_id, Span.label, Span.start, Span.end, *_origin(Span)).where(clause)
        if chosen_users is not None:
            query = query.where(Span.user_id.in_(chosen_users))
        for span_id, uid, article_id, user_id, label, start, end, origin, suggester, suggester_version in _rows(conn, query):
            if article_id in wanted:
                spans[article_id].append((span_id, uid, names[user_id], label, start, end, origin, suggester, suggester_version))
    return spans


def _relations(conn: Any, ids: list[int], wanted: set[int], names: dict[int, str], chosen_users: list[int] | None) -> dict[int, list[tuple]]:
    relations: dict[int, list[tuple]] = defaultdict(list)
    for clause in _id_filter(Relation.article_id, ids):
        query = select(
            Relation.uid, Relation.article_id, Relation.user_id, Relation.type, Relation.from_span_id, Relation.to_span_id, *_origin(Relation)
        ).where(clause)
        if chosen_users is not None:
            query = query.where(Relation.user_id.in_(chosen_users))
        for uid, article_id, user_id, rel_type, source, target, origin, suggester, suggester_version in _rows(conn, query):
            if article_id in wanted:
                relations[article_id].append((uid, names[user_id], rel_type, source, target, origin, suggester, suggester_version))
    return relations


def _gold_spans(conn: Any, ids: list[int], wanted: set[int], names: dict[int, str]) -> dict[int, list[tuple]]:
    gold_spans: dict[int, list[tuple]] = defaultdict(list)
    for clause in _id_filter(GoldSpan.article_id, ids):
        for span_id, uid, article_id, label, start, end, provenance, reviewer_id, updated_at in _rows(
            conn,
            select(
                GoldSpan.id,
                GoldSpan.uid,
                GoldSpan.article_id,
                GoldSpan.label,
                GoldSpan.start,
                GoldSpan.end,
                GoldSpan.provenance,
                GoldSpan.reviewer_id,
                _timestamp(GoldSpan.updated_at),
            ).where(clause)
        ):
            if article_id in wanted:
                reviewer = names.get(reviewer_id) if reviewer_id is not None else None
                gold_spans[article_id].append((span_id, uid, label, start, end, provenance, reviewer, updated_at))
    return gold_spans


def _gold_relations(conn: Any, ids: list[int], wanted: set[int], names: dict[int, str]) -> dict[int, list[tuple]]:
    gold_relations: dict[int, list[tuple]] = defaultdict(list)
    for clause in _id_filter(GoldRelation.article_id, ids):
        for uid, article_id, rel_type, source, target, provenance, reviewer_id in _rows(
            conn,
            select(
                GoldRelation.uid,
                GoldRelation.article_id,
                GoldRelation.type,
                GoldRelation.from_span_id,
                GoldRelation.to_span_id,
                GoldRelation.provenance,
                GoldRelation.reviewer_id,
            ).where(clause)
        ):
            if article_id in wanted:
                reviewer = names.get(reviewer_id) if reviewer_id is not None else None
                gold_relations[article_id].append((uid, rel_type, source, target, provenance, reviewer))
    return gold_relations


def _suggestions(conn: Any, ids: list[int], wanted: set[int], where_sentence: dict[int, tuple[int, int]]) -> dict[int, list[tuple]]:
    """The articles' suggestions: nobody's annotation, the article's own (a label names its sentence's index)."""
    found: dict[int, list[tuple]] = defaultdict(list)
    for clause in _id_filter(Suggestion.article_id, ids):
        for article_id, kind, uid, suggester, version, label, sentence_id, start, end, from_uid, to_uid, score in _rows(
            conn,
            select(
                Suggestion.article_id,
                Suggestion.kind,
                Suggestion.uid,
                Suggestion.suggester,
                Suggestion.version,
                Suggestion.label,
                Suggestion.sentence_id,
                Suggestion.start,
                Suggestion.end,
                Suggestion.from_uid,
                Suggestion.to_uid,
                Suggestion.score,
            ).where(clause)
        ):
            if article_id not in wanted:
                continue
            index = None
            if sentence_id is not None:
                place = where_sentence.get(sentence_id)
                if place is None:
                    continue
                index = place[1]
            found[article_id].append((kind, uid, suggester, version, label, index, start, end, from_uid, to_uid, score))
    return found


def _origin(model: Any) -> tuple[Any, Any, Any]:
    """Where an annotator's label, span or relation came from, read in the same query as the item."""
    return model.origin, model.suggester, model.suggester_version


def _article_labels(conn: Any, ids: list[int], wanted: set[int], names: dict[int, str]) -> dict[int, list[tuple]]:
    article_labels: dict[int, list[tuple]] = defaultdict(list)
    for clause in _id_filter(ArticleLabel.article_id, ids):
        query = select(ArticleLabel.article_id, ArticleLabel.user_id, ArticleLabel.group, ArticleLabel.values).where(clause)
        for article_id, user_id, group, values in _rows(conn, query):
            if article_id in wanted:
                article_labels[article_id].append((names[user_id], group, sorted(json.loads(values) if isinstance(values, str) else values)))
    return article_labels


def _gold_article_labels(conn: Any, ids: list[int], wanted: set[int], names: dict[int, str]) -> dict[int, dict[str, tuple]]:
    gold: dict[int, dict[str, tuple]] = defaultdict(dict)
    for clause in _id_filter(GoldArticleLabel.article_id, ids):
        query = select(GoldArticleLabel.article_id, GoldArticleLabel.group, GoldArticleLabel.values, GoldArticleLabel.provenance,
                       GoldArticleLabel.reviewer_id, GoldArticleLabel.reason, _timestamp(GoldArticleLabel.updated_at)).where(clause)
        for article_id, group, values, provenance, reviewer_id, reason, updated_at in _rows(conn, query):
            if article_id in wanted:
                values = sorted(json.loads(values) if isinstance(values, str) else values)
                gold[article_id][group] = (values, provenance, names.get(reviewer_id), reason, updated_at)
    return gold


def _id_filter(column: Any, ids: list[int]) -> list[Any]:
    """WHERE clauses selecting `ids` (sorted): one range scan when they are nearly contiguous
    (rows of other ids in the range are dropped by the caller), else IN lists of bounded size."""
    lo, hi = ids[0], ids[-1]
    if hi - lo + 1 <= 2 * len(ids) + 1_000:
        return [column.between(lo, hi)]
    return [column.in_(ids[k : k + _IN_CHUNK]) for k in range(0, len(ids), _IN_CHUNK)]


def _timestamp(column: Any) -> Any:
    """The column without SQLAlchemy's datetime processing: records.timestamp() spells what the driver gives."""
    return type_coerce(column, String)


def _rows(conn: Any, query: Any) -> list[tuple]:
    """Run a Core query on the driver's own cursor and return plain tuples.

    The export reads millions of rows; SQLAlchemy's per-row work (Row objects,
    result processors) would cost more than the database does. Every literal
    in these queries is an integer id, so rendering them inline is safe. The
    values come as the driver gives them: records.timestamp() and the shapers
    handle both SQLite's text/integers and psycopg's datetimes/booleans/parsed JSON.
    """
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()
