"""An annotator going through suggestions on the annotation page: what they see, and their accept / reject.

Only where the project has suggestions on (an admin's switch: off keeps a blind, unassisted
study possible), and only on an article the annotator is assigned to: the same access rule
as saving a span, so an article that is not theirs is the same 404 as one that does not exist.

The answer to an accept names, for every suggestion it took, the annotator's own label, span
or link that stands for it now, whether the accept made it or it was already theirs: a retried
accept gets the same answer, and the page can put the ids the server chose in place of its own.
"""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Project, Relation, Sentence, Span, Suggestion
from annotator.domain import annotations as ops
from annotator.domain import suggestions
from annotator.domain.suggestions import SuggestionError

DECISIONS = ("accept", "reject")
OFF_MESSAGE = "suggestions are turned off for this project (an admin turns them on in the project's settings)"


def enabled(session: Session, project_id: int) -> bool:
    return bool(session.scalar(select(Project.suggestions_enabled).where(Project.id == project_id)))


def pending(session: Session, user_id: int, article_id: int) -> dict[str, Any]:
    """The caller's undecided suggestions for the article, or `enabled: false` and nothing when the project has them off.

    `linked_spans` are span suggestions the caller already accepted that a pending link still names,
    so that the page can show both ends of that link.
    """
    access = ops.writable_article(session, user_id, article_id)
    if not enabled(session, access.project_id):
        return {"enabled": False, "labels": [], "spans": [], "relations": [], "linked_spans": []}
    index = dict(session.execute(select(Sentence.id, Sentence.index).where(Sentence.article_id == article_id)).all())
    found = suggestions.pending(session, user_id, article_id, access.text, index)
    shown = {s["id"] for s in found["spans"]}
    named = {uid for r in found["relations"] for uid in (r["from"], r["to"])} - shown
    linked = session.execute(
        select(Suggestion.uid, Suggestion.label, Suggestion.start, Suggestion.end)
        .where(Suggestion.article_id == article_id, Suggestion.kind == "span", Suggestion.uid.in_(sorted(named)))
        .order_by(Suggestion.start, Suggestion.id)
    ).all() if named else []
    return {"enabled": True, **found, "linked_spans": [ops.span_dict(*row, access.text) for row in linked]}


def decide(session: Session, user_id: int, article_id: int, decision: str, uids: Any) -> dict[str, Any]:
    """Accept or reject these suggestions for the caller (inside a write transaction); 409 when the project has them off."""
    if decision not in DECISIONS:
        raise ValueError(decision)
    access = ops.writable_article(session, user_id, article_id)
    if not isinstance(uids, list):
        raise SuggestionError(400, "ids must be a list of suggestion ids")
    if not enabled(session, access.project_id):
        raise SuggestionError(409, OFF_MESSAGE)
    if decision == "reject":
        return suggestions.reject(session, user_id, article_id, uids)
    suggestions.accept(session, user_id, article_id, uids)
    return _accepted(session, user_id, article_id, access.text, uids)


def _accepted(session: Session, user_id: int, article_id: int, text: str, uids: Iterable[str]) -> dict[str, Any]:
    """The caller's item for each accepted suggestion (the spans a link brought included), each naming its suggestion."""
    wanted = set(uids)
    rows = list(session.execute(select(Suggestion).where(Suggestion.article_id == article_id, Suggestion.uid.in_(sorted(wanted)))).scalars())
    ends = {u for s in rows if s.kind == "relation" for u in (s.from_uid, s.to_uid)} - wanted
    if ends:
        rows += session.execute(select(Suggestion).where(Suggestion.article_id == article_id, Suggestion.uid.in_(sorted(ends)))).scalars()
    rows.sort(key=lambda s: s.id)
    out: dict[str, list[dict[str, Any]]] = {"labels": [], "spans": [], "relations": []}
    span_of: dict[str, Any] = {}  # span suggestion uid -> the caller's span row
    for s in rows:
        if s.kind == "span" and (own := _own_span(session, user_id, article_id, s)) is not None:
            span_of[s.uid] = own
            out["spans"].append({**ops.span_dict(own.uid, own.label, own.start, own.end, text), **_origin(own), "suggestion": s.uid})
        elif s.kind == "label" and (label := _own_label(session, user_id, s)) is not None:
            out["labels"].append({**ops.label_dict(*label[:7]), **_origin(label), "suggestion": s.uid})
    for s in rows:
        if s.kind == "relation" and s.from_uid in span_of and s.to_uid in span_of:
            source, target = span_of[s.from_uid], span_of[s.to_uid]
            link = session.execute(
                select(Relation.uid, *_origin_columns(Relation))
                .where(Relation.from_span_id == source.id, Relation.to_span_id == target.id, Relation.type == s.label)
            ).first()
            if link is not None:
                out["relations"].append({**ops.relation_dict(link.uid, s.label, source.uid, target.uid), **_origin(link), "suggestion": s.uid})
    return out


def _own_span(session: Session, user_id: int, article_id: int, s: Suggestion) -> Any:
    """The caller's span with the suggestion's label and offsets (one annotator never has the same span twice)."""
    return session.execute(
        select(Span.id, Span.uid, Span.label, Span.start, Span.end, *_origin_columns(Span)).where(
            Span.article_id == article_id, Span.user_id == user_id, Span.label == s.label, Span.start == s.start, Span.end == s.end
        )
    ).first()


def _own_label(session: Session, user_id: int, s: Suggestion) -> Any:
    """The caller's label on the suggestion's sentence: the label_dict fields first, then the origin."""
    return session.execute(
        select(Sentence.index, Annotation.label, Annotation.seconds, Annotation.guidelines_version, Annotation.version,
               Annotation.updated_at, Annotation.needs_review, *_origin_columns(Annotation))
        .join(Sentence, Sentence.id == Annotation.sentence_id)
        .where(Annotation.user_id == user_id, Annotation.sentence_id == s.sentence_id)
    ).first()


def _origin_columns(model: Any) -> tuple[Any, Any, Any]:
    return model.origin, model.suggester, model.suggester_version


def _origin(row: Any) -> dict[str, Any]:
    return ops.origin_dict(row.origin, row.suggester, row.suggester_version)
