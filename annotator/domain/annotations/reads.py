"""What an annotator reads back: an article with its sentences and only their own annotations (blind)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from annotator.db.models import Annotation, Article, Relation, Sentence, Span, User
from annotator.domain.annotations.statements import LABEL_COLUMNS
from annotator.domain.records import label_json as label_dict
from annotator.domain.records import origin_json as origin_dict
from annotator.domain.records import relation_json as relation_dict
from annotator.domain.records import span_json as span_dict


def article_payload(session: Session, article: Article, user: User) -> dict[str, Any]:
    """The GET /api/articles/<id> document: the article, its sentences, and only `user`'s annotations (blind)."""
    project = article.project
    sentences = session.execute(
        select(Sentence.index, Sentence.start, Sentence.end).where(Sentence.article_id == article.id).order_by(Sentence.index)
    ).all()
    labels = session.execute(
        select(Sentence.index, *LABEL_COLUMNS[1:], *_origin_columns(Annotation))
        .join(Annotation, Annotation.sentence_id == Sentence.id)
        .where(Sentence.article_id == article.id, Annotation.user_id == user.id)
        .order_by(Sentence.index)
    ).all()
    spans = session.execute(
        select(Span.uid, Span.label, Span.start, Span.end, *_origin_columns(Span))
        .where(Span.article_id == article.id, Span.user_id == user.id)
        .order_by(Span.start, Span.end, Span.id)
    ).all()
    from_span, to_span = aliased(Span), aliased(Span)
    relations = session.execute(
        select(Relation.uid, Relation.type, from_span.uid, to_span.uid, *_origin_columns(Relation))
        .join(from_span, from_span.id == Relation.from_span_id)
        .join(to_span, to_span.id == Relation.to_span_id)
        .where(Relation.article_id == article.id, Relation.user_id == user.id)
        .order_by(Relation.id)
    ).all()
    text = article.text
    return {
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


def _origin_columns(model: Any) -> tuple[Any, Any, Any]:
    """Where an item came from: 'manual', or 'suggested' with the suggester's name and version."""
    return model.origin, model.suggester, model.suggester_version
