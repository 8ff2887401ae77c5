"""The caller's spans: create (idempotent on the client's uid, one span per label and offsets), relabel or resize, delete."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, aliased

from annotator.db.models import Relation, Span, new_uid, utcnow
from annotator.domain import labelschema
from annotator.domain.annotations.access import Access, writable_article
from annotator.domain.annotations.statements import SAME_SPAN, SPAN_BY_UID, SPAN_BY_UID_LOCKED, insert_ignoring_conflict, run
from annotator.domain.annotations.trail import audit, changed
from annotator.domain.annotations.transaction import WRITE_ATTEMPTS
from annotator.domain.annotations.validation import AnnotationError, check_int, check_ref, check_span, check_str, check_uid, show, taken
from annotator.domain.gold.incremental import spans_can_be_gold
from annotator.domain.records import relation_json as relation_dict
from annotator.domain.records import span_json as span_dict


def _span_row(session: Session, article_id: int, uid: str, lock: bool = False) -> Any:
    return (SPAN_BY_UID_LOCKED if lock else SPAN_BY_UID).first(session, {"article_id": article_id, "uid": uid})


def _own_span(session: Session, access: Access, user_id: int, uid: str) -> Any:
    row = _span_row(session, access.article_id, uid, lock=True)
    if row is None or row.user_id != user_id:  # other annotators' spans do not exist for the caller
        raise AnnotationError(404, f"no span {show(uid)} of yours in this article")
    return row


def create_span(
    session: Session, user_id: int, article_id: int, label: Any, start: Any, end: Any, uid: Any = None
) -> tuple[dict[str, Any], bool]:
    """Create the caller's span; returns (span, created). Repeating a create with the same uid and content returns the first."""
    if uid is not None:
        check_uid(uid)
    check_str("label", label)
    check_int("start", start)
    check_int("end", end)
    access = writable_article(session, user_id, article_id)
    check_span(access.schema, len(access.text), label, start, end)
    uid = uid or new_uid()
    if session.get_bind().dialect.name not in ("sqlite", "postgresql"):  # other databases: check first, then a plain insert
        _refuse_same_span(session, access, user_id, uid, label, start, end)
    for _ in range(WRITE_ATTEMPTS):
        now = utcnow()
        values = dict(uid=uid, article_id=article_id, user_id=user_id, label=label, start=start, end=end, created_at=now, updated_at=now)
        # Nothing is inserted when the uid is taken (a retry) or the caller has this span already: the unique index
        # refuses it, so two tabs racing the same span get one row (PostgreSQL waits for the first to commit).
        inserted = insert_ignoring_conflict(session, Span, values)
        if inserted is not None:
            after = span_dict(uid, label, start, end, access.text)
            audit(session, user_id, access.project_id, article_id, "span", uid, "create", None, after)
            changed(session, access, user_id, gold_of="article" if spans_can_be_gold(session, article_id, [(label, start, end)]) else None)
            return after, True
        existing = _span_row(session, article_id, uid)
        if existing is None:
            _refuse_same_span(session, access, user_id, uid, label, start, end)  # not our id: the same span under another
            continue  # or deleted between our insert and our read: try again
        if existing.user_id == user_id and (existing.label, existing.start, existing.end) == (label, start, end):
            return span_dict(uid, label, start, end, access.text), False
        # Ids are unique per article (exports and imports rely on it), so an id another annotator uses is refused; in
        # the same words as one's own with other content, so the answer does not announce that somebody else has a span
        # here under that id (blind annotation). `current` only for one's own span: the caller's own data.
        own = {"current": span_dict(uid, existing.label, existing.start, existing.end, access.text)} if existing.user_id == user_id else {}
        raise AnnotationError(409, taken(uid, "span"), **own)
    raise AnnotationError(503, "the span kept changing under this request; try again")


def _refuse_same_span(session: Session, access: Access, user_id: int, uid: str, label: str, start: int, end: int) -> None:
    """409 when the caller already has a span with this label and these offsets under another id (two tabs
    marking the same text); `current` is that span, so a client can adopt its id."""
    other = run(session, SAME_SPAN, {"article_id": access.article_id, "user_id": user_id, "label": label, "start": start, "end": end, "uid": uid}).scalar()
    if other is not None:
        raise AnnotationError(
            409, f"you already have this {label} span (id {other!r})", current=span_dict(other, label, start, end, access.text), duplicate=True
        )


def update_span(
    session: Session, user_id: int, article_id: int, uid: Any, label: Any = None, start: Any = None, end: Any = None
) -> dict[str, Any]:
    """Relabel or resize the caller's span (None: keep). A relabel that would break one of its links is a 409."""
    check_ref(uid, "span id")
    if label is None and start is None and end is None:
        raise AnnotationError(400, "give at least one of label, start, end")
    if label is not None:
        check_str("label", label)
    if start is not None:
        check_int("start", start)
    if end is not None:
        check_int("end", end)
    access = writable_article(session, user_id, article_id)
    row = _own_span(session, access, user_id, uid)
    new_label = row.label if label is None else label
    new_start = row.start if start is None else start
    new_end = row.end if end is None else end
    check_span(access.schema, len(access.text), new_label, new_start, new_end)
    before = span_dict(uid, row.label, row.start, row.end, access.text)
    after = span_dict(uid, new_label, new_start, new_end, access.text)
    if before == after:
        return after
    _refuse_same_span(session, access, user_id, uid, new_label, new_start, new_end)
    if new_label != row.label:
        other = aliased(Span)
        links = session.execute(
            select(Relation.uid, Relation.type, Relation.from_span_id, other.label)
            .join(other, other.id == Relation.to_span_id)
            .where(Relation.from_span_id == row.id)
            .union_all(
                select(Relation.uid, Relation.type, Relation.from_span_id, other.label)
                .join(other, other.id == Relation.from_span_id)
                .where(Relation.to_span_id == row.id)
            )
        ).all()
        for rel_uid, rel_type, from_id, other_label in links:
            from_label, to_label = (new_label, other_label) if from_id == row.id else (other_label, new_label)
            reason = labelschema.relation_allows(access.schema, rel_type, from_label, to_label)
            if reason:
                raise AnnotationError(409, f"span {uid!r} is linked by relation {rel_uid!r}, which a {new_label} span cannot have: {reason}; delete the link first")
    gold_before = spans_can_be_gold(session, article_id, [(row.label, row.start, row.end)])  # while it stands
    # moved or relabelled by hand: the annotator's own span now, whatever suggestion it was accepted from
    session.execute(update(Span).where(Span.id == row.id).values(
        label=new_label, start=new_start, end=new_end, updated_at=utcnow(), origin="manual", suggester=None, suggester_version=None
    ))
    audit(session, user_id, access.project_id, article_id, "span", uid, "update", before, after)
    gold_after = gold_before or spans_can_be_gold(session, article_id, [(new_label, new_start, new_end)])
    changed(session, access, user_id, gold_of="article" if gold_after else None)
    return after


def delete_span(session: Session, user_id: int, article_id: int, uid: Any) -> None:
    """Delete the caller's span and the relations that use it, each audited."""
    check_ref(uid, "span id")
    access = writable_article(session, user_id, article_id)
    row = _own_span(session, access, user_id, uid)
    from_span, to_span = aliased(Span), aliased(Span)
    links = session.execute(
        select(Relation.id, Relation.uid, Relation.type, from_span.uid, to_span.uid)
        .join(from_span, from_span.id == Relation.from_span_id)
        .join(to_span, to_span.id == Relation.to_span_id)
        .where(or_(Relation.from_span_id == row.id, Relation.to_span_id == row.id))
        .with_for_update(of=Relation)
    ).all()
    gold_of = "article" if spans_can_be_gold(session, article_id, [(row.label, row.start, row.end)]) else None  # while it stands
    if links:
        session.execute(delete(Relation).where(Relation.id.in_([link[0] for link in links])))
    for _id, rel_uid, rel_type, from_uid, to_uid in links:
        audit(session, user_id, access.project_id, article_id, "relation", rel_uid, "delete", relation_dict(rel_uid, rel_type, from_uid, to_uid), None)
    session.execute(delete(Span).where(Span.id == row.id))
    audit(session, user_id, access.project_id, article_id, "span", uid, "delete", span_dict(uid, row.label, row.start, row.end, access.text), None)
    changed(session, access, user_id, gold_of=gold_of)
