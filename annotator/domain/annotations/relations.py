"""The caller's relations between two of their spans: create (idempotent on the client's uid) and delete."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, aliased

from annotator.db.models import Relation, Span, new_uid, utcnow
from annotator.domain.annotations.access import writable_article
from annotator.domain.annotations.statements import insert_ignoring_conflict
from annotator.domain.annotations.trail import audit, changed
from annotator.domain.annotations.transaction import WRITE_ATTEMPTS
from annotator.domain.annotations.validation import AnnotationError, check_ref, check_relation, check_str, check_uid, show, taken
from annotator.domain.gold.incremental import spans_can_be_gold
from annotator.domain.records import relation_json as relation_dict


def create_relation(
    session: Session, user_id: int, article_id: int, rel_type: Any, from_uid: Any, to_uid: Any, uid: Any = None
) -> tuple[dict[str, Any], bool]:
    """Link two of the caller's spans in this article; returns (relation, created). Idempotent on uid like create_span."""
    if uid is not None:
        check_uid(uid)
    check_str("type", rel_type)
    check_ref(from_uid, "from")
    check_ref(to_uid, "to")
    if from_uid == to_uid:
        raise AnnotationError(422, "a relation links two different spans")
    access = writable_article(session, user_id, article_id)
    ends = {
        row.uid: row
        for row in session.execute(
            select(Span.id, Span.uid, Span.label, Span.start, Span.end).where(Span.article_id == article_id, Span.user_id == user_id, Span.uid.in_([from_uid, to_uid]))
        )
    }
    for name, ref in (("from", from_uid), ("to", to_uid)):
        if ref not in ends:
            raise AnnotationError(422, f"{name}: no span {show(ref)} of yours in this article")
    check_relation(access.schema, rel_type, ends[from_uid].label, ends[to_uid].label)
    uid = uid or new_uid()
    wanted = relation_dict(uid, rel_type, from_uid, to_uid)
    for _ in range(WRITE_ATTEMPTS):
        values = dict(
            uid=uid, article_id=article_id, user_id=user_id, type=rel_type,
            from_span_id=ends[from_uid].id, to_span_id=ends[to_uid].id, created_at=utcnow(),
        )
        if insert_ignoring_conflict(session, Relation, values) is not None:
            audit(session, user_id, access.project_id, article_id, "relation", uid, "create", None, wanted)
            keys = [(end.label, end.start, end.end) for end in ends.values()]
            changed(session, access, user_id, gold_of="article" if spans_can_be_gold(session, article_id, keys) else None)
            return wanted, True
        existing = _relation_where(session, Relation.article_id == article_id, Relation.uid == uid)
        if existing is not None:
            if existing[1] == user_id and existing[0] == wanted:
                return wanted, False
            # another annotator's id: the same answer as one's own with other content (see spans.create_span)
            raise AnnotationError(409, taken(uid, "relation"), **({"current": existing[0]} if existing[1] == user_id else {}))
        same = _relation_where(
            session, Relation.from_span_id == ends[from_uid].id, Relation.to_span_id == ends[to_uid].id, Relation.type == rel_type
        )
        if same is not None:
            raise AnnotationError(409, f"these spans are already linked by relation {same[0]['id']!r}", current=same[0])
    raise AnnotationError(503, "the relation kept changing under this request; try again")


def _relation_where(session: Session, *conditions: Any) -> tuple[dict[str, Any], int] | None:
    from_span, to_span = aliased(Span), aliased(Span)
    row = session.execute(
        select(Relation.uid, Relation.type, from_span.uid, to_span.uid, Relation.user_id)
        .join(from_span, from_span.id == Relation.from_span_id)
        .join(to_span, to_span.id == Relation.to_span_id)
        .where(*conditions)
    ).first()
    return None if row is None else (relation_dict(row[0], row[1], row[2], row[3]), row[4])


def delete_relation(session: Session, user_id: int, article_id: int, uid: Any) -> None:
    """Delete the caller's relation (404 when it is not there)."""
    check_ref(uid, "relation id")
    access = writable_article(session, user_id, article_id)
    found = _relation_where(session, Relation.article_id == article_id, Relation.uid == uid, Relation.user_id == user_id)
    if found is None:
        raise AnnotationError(404, f"no relation {show(uid)} of yours in this article")
    session.execute(delete(Relation).where(Relation.article_id == article_id, Relation.uid == uid, Relation.user_id == user_id))
    audit(session, user_id, access.project_id, article_id, "relation", uid, "delete", found[0], None)
    keys = session.execute(
        select(Span.label, Span.start, Span.end).where(Span.article_id == article_id, Span.uid.in_([found[0]["from"], found[0]["to"]]))
    ).all()
    changed(session, access, user_id, gold_of="article" if spans_can_be_gold(session, article_id, keys) else None)  # a link over spans
    # that cannot be gold was not gold either
