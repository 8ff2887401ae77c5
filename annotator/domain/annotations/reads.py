"""What an annotator reads back: an article with its sentences and only their own annotations (blind).

Two Core statements built once, with bind parameters (statements.py does the same for the save path): building
the reads per request, `aliased(Span)` and all, cost more than running them; the sentences, then the user's
labels, spans and relations in one statement. Both run on the driver's cursor (db/prepared.py): the page and the
API read them on every article opened, and SQLAlchemy's execution cost more than the statements' own work.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, Integer, String, bindparam, cast, literal_column, null, select, type_coerce, union_all
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Relation, Sentence, Span, User
from annotator.db.prepared import Prepared, session_connection
from annotator.domain.annotations.access import ArticleHead
from annotator.domain.annotations.article_labels import article_labels_of
from annotator.domain.records import label_json as label_dict
from annotator.domain.records import origin_json as origin_dict
from annotator.domain.records import relation_json as relation_dict
from annotator.domain.records import span_json as span_dict

_sentences, _annotations, _spans, _relations = (m.__table__ for m in (Sentence, Annotation, Span, Relation))
_from_span, _to_span = _spans.alias("from_span"), _spans.alias("to_span")


SENTENCES = Prepared(
    select(_sentences.c.index, _sentences.c.start, _sentences.c.end)
    .where(_sentences.c.article_id == bindparam("article_id"))
    .order_by(_sentences.c.index)
)

# The user's labels, spans and relations on the article: one statement, not three. Each statement run costs
# ~12 us of SQLAlchemy's execution machinery on top of the database's work (bench: three 92-100 us, one 66-68 us,
# in process). Each row says what it is (`kind`) and carries its columns in the slots below; the slots an item
# does not use are NULL cast to the slot's type, so that every branch gives a column the same type (PostgreSQL
# requires it). Rows come kind by kind, each in its order: labels by sentence index, spans by start, end and
# id, relations by id (`a`, `b`, `c` hold those keys). The sentences stay a statement of their own: a row as
# wide as these costs more per sentence than the statement it would save.
LABEL, SPAN, RELATION = range(3)
_SLOTS = {
    "a": Integer, "b": Integer, "c": Integer, "s1": String, "s2": String, "s3": String, "s4": String, "seconds": Float, "review": Boolean,
    "stamp": _annotations.c.updated_at.type, "origin": String, "suggester": String, "suggester_version": String,
}


def _branch(kind: int, table: Any, **slots: Any) -> Any:
    """The SELECT of one kind of item of `table`: its columns in their slots, NULL (of the slot's type) in the others.

    `stamp` (a label's updated_at) is read as the driver gives it, without SQLAlchemy's datetime processing
    (SQLite: text): records.timestamp() spells either the same, and parsing a datetime per label only to print
    it again was a third of the request.
    """
    slots.update(origin=table.c.origin, suggester=table.c.suggester, suggester_version=table.c.suggester_version)
    columns = [literal_column(str(kind), Integer).label("kind")]
    for name, type_ in _SLOTS.items():
        column = slots[name] if name in slots else cast(null(), type_)
        columns.append((type_coerce(column, String) if name == "stamp" else column).label(name))
    return select(*columns)


_article_is, _user_is = bindparam("article_id"), bindparam("user_id")
# A label is found by (user_id, sentence_id) among the article's sentences. Written as a join of sentences and
# annotations, SQLite's planner (no statistics) chose to walk all of the user's annotations in every project
# unless an ORDER BY on sentences.index tipped it towards the article's sentences (tests/test_read_path.py).
_article_sentences = select(_sentences.c.id).where(_sentences.c.article_id == _article_is)
_sentence_index = select(_sentences.c.index).where(_sentences.c.id == _annotations.c.sentence_id).scalar_subquery()
ANNOTATIONS = Prepared(union_all(
    _branch(
        LABEL, _annotations, a=_sentence_index, b=_annotations.c.guidelines_version, c=_annotations.c.version, s1=_annotations.c.label,
        seconds=_annotations.c.seconds, review=_annotations.c.needs_review, stamp=_annotations.c.updated_at,
    ).where(_annotations.c.user_id == _user_is, _annotations.c.sentence_id.in_(_article_sentences)),
    _branch(SPAN, _spans, a=_spans.c.start, b=_spans.c.end, c=_spans.c.id, s1=_spans.c.uid, s2=_spans.c.label)
    .where(_spans.c.article_id == _article_is, _spans.c.user_id == _user_is),
    _branch(RELATION, _relations, a=_relations.c.id, s1=_relations.c.uid, s2=_relations.c.type, s3=_from_span.c.uid, s4=_to_span.c.uid)
    .select_from(
        _relations.join(_from_span, _from_span.c.id == _relations.c.from_span_id).join(_to_span, _to_span.c.id == _relations.c.to_span_id)
    )
    .where(_relations.c.article_id == _article_is, _relations.c.user_id == _user_is),
).order_by(*(literal_column(name) for name in ("kind", "a", "b", "c"))))


def article_payload(session: Session, article: ArticleHead | Any, user: User) -> dict[str, Any]:
    """The GET /api/articles/<id> document: the article, its sentences, and only `user`'s annotations (blind).

    `article` is what readable_article returns, or an Article row (the same attributes).
    """
    project = article.project
    params = {"article_id": article.id, "user_id": user.id}
    connection = session_connection(session)  # the transaction's connection, without session.connection()'s ~40 calls
    sentences = SENTENCES.rows(connection, params)
    labels: list[Any] = []
    spans: list[Any] = []
    relations: list[Any] = []
    by_kind = (labels, spans, relations)
    for row in ANNOTATIONS.rows(connection, params):
        by_kind[row.kind].append(row)
    text = article.text
    payload = {
        "article": {
            "id": article.id,
            "external_id": article.external_id,
            "title": article.title,
            "text": text,
            "meta": article.meta or {},
            "project": project.name,
        },
        "sentences": [{"index": i, "start": s, "end": e} for i, s, e in sentences],
        "schema": project.label_schema,
        "guidelines_version": project.guidelines_version,
        "annotations": {
            "labels": [
                {**label_dict(row.a, row.s1, row.seconds, row.b, row.c, row.stamp, row.review), **origin_dict(*row[-3:])} for row in labels
            ],
            "spans": [{**span_dict(row.s1, row.s2, row.a, row.b, text), **origin_dict(*row[-3:])} for row in spans],
            "relations": [{**relation_dict(row.s1, row.s2, row.s3, row.s4), **origin_dict(*row[-3:])} for row in relations],
        },
    }
    if project.label_schema.get("article_labels"):  # only projects with article label groups: the others' documents read as before
        payload["annotations"]["article_labels"] = article_labels_of(session, article.id, user.id)
    return payload
