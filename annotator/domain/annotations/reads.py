"""What an annotator reads back: an article with its sentences and only their own annotations (blind).

The four queries are Core statements built once, with bind parameters (statements.py does the same for
the save path): building them per request, `aliased(Span)` and all, cost more than running them.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam, select, type_coerce
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Relation, Sentence, Span, User
from annotator.domain.annotations.access import ArticleHead
from annotator.domain.annotations.article_labels import article_labels_of
from annotator.domain.annotations.statements import LABEL_COLUMNS, run
from annotator.domain.records import label_json as label_dict
from annotator.domain.records import origin_json as origin_dict
from annotator.domain.records import relation_json as relation_dict
from annotator.domain.records import span_json as span_dict

_sentences, _annotations, _spans, _relations = (m.__table__ for m in (Sentence, Annotation, Span, Relation))
_from_span, _to_span = _spans.alias("from_span"), _spans.alias("to_span")


def _origin_columns(table: Any) -> tuple[Any, Any, Any]:
    """Where an item came from: 'manual', or 'suggested' with the suggester's name and version."""
    return table.c.origin, table.c.suggester, table.c.suggester_version


SENTENCES = (
    select(_sentences.c.index, _sentences.c.start, _sentences.c.end)
    .where(_sentences.c.article_id == bindparam("article_id"))
    .order_by(_sentences.c.index)
)
# updated_at as the driver gives it, without SQLAlchemy's datetime processing (SQLite: text): records.timestamp()
# spells either the same, and parsing a datetime per label only to print it again was a third of the request.
_LABEL_COLUMNS = tuple(type_coerce(column, String) if column.name == "updated_at" else column for column in LABEL_COLUMNS[1:])
LABELS = (
    select(_sentences.c.index, *_LABEL_COLUMNS, *_origin_columns(_annotations))
    .select_from(_sentences.join(_annotations, _annotations.c.sentence_id == _sentences.c.id))
    .where(_sentences.c.article_id == bindparam("article_id"), _annotations.c.user_id == bindparam("user_id"))
    .order_by(_sentences.c.index)
)
SPANS = (
    select(_spans.c.uid, _spans.c.label, _spans.c.start, _spans.c.end, *_origin_columns(_spans))
    .where(_spans.c.article_id == bindparam("article_id"), _spans.c.user_id == bindparam("user_id"))
    .order_by(_spans.c.start, _spans.c.end, _spans.c.id)
)
RELATIONS = (
    select(_relations.c.uid, _relations.c.type, _from_span.c.uid, _to_span.c.uid, *_origin_columns(_relations))
    .select_from(
        _relations.join(_from_span, _from_span.c.id == _relations.c.from_span_id).join(_to_span, _to_span.c.id == _relations.c.to_span_id)
    )
    .where(_relations.c.article_id == bindparam("article_id"), _relations.c.user_id == bindparam("user_id"))
    .order_by(_relations.c.id)
)


def article_payload(session: Session, article: ArticleHead | Any, user: User) -> dict[str, Any]:
    """The GET /api/articles/<id> document: the article, its sentences, and only `user`'s annotations (blind).

    `article` is what readable_article returns, or an Article row (the same attributes).
    """
    project = article.project
    params = {"article_id": article.id, "user_id": user.id}
    sentences = run(session, SENTENCES, params).all()
    labels = run(session, LABELS, params).all()
    spans = run(session, SPANS, params).all()
    relations = run(session, RELATIONS, params).all()
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
            "labels": [{**label_dict(*row[:7]), **origin_dict(*row[7:])} for row in labels],
            "spans": [{**span_dict(*row[:4], text), **origin_dict(*row[4:])} for row in spans],
            "relations": [{**relation_dict(*row[:4]), **origin_dict(*row[4:])} for row in relations],
        },
    }
    if project.label_schema.get("article_labels"):  # only projects with article label groups: the others' documents read as before
        payload["annotations"]["article_labels"] = article_labels_of(session, article.id, user.id)
    return payload
