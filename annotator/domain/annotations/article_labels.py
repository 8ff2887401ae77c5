"""An annotator's article-level labels (a stance, a document class): set a group's value(s), or clear it.

One row per (article, annotator, group) holding the sorted list of values, so a
group's answer is written whole, like a sentence label: last write wins, or a
409 when the client sends the `version` it saw and the row moved on (for a
put and for a removal alike). Every write
leaves an audit entry (entity "article_label", entity id the group's name) and
bumps the project revision; article labels do not count towards an assignment
being done (that is every sentence labelled).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from annotator.db.models import ArticleLabel, utcnow
from annotator.domain import labelschema
from annotator.domain.annotations.access import Access, writable_article
from annotator.domain.annotations.statements import insert_ignoring_conflict
from annotator.domain.annotations.trail import audit, changed
from annotator.domain.annotations.transaction import WRITE_ATTEMPTS
from annotator.domain.annotations.validation import AnnotationError, check_str, check_version, show
from annotator.domain.records import article_label_json


def check_values(schema: dict[str, Any], group: Any, values: Any) -> list[str]:
    """The group's values as a sorted list, checked against the schema (400 for a bad shape, 422 for what the schema refuses)."""
    check_str("group", group)
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise AnnotationError(400, f"values must be a list of texts (got {show(values)})")
    if len(set(values)) != len(values):
        raise AnnotationError(422, f"values must not repeat (got {show(values)})")
    reason = labelschema.check_article_values(schema, group, values)
    if reason:
        raise AnnotationError(422, reason)
    return sorted(values)


def _locked(session: Session, user_id: int, article_id: int, group: str) -> ArticleLabel | None:
    return session.scalar(
        select(ArticleLabel)
        .where(ArticleLabel.article_id == article_id, ArticleLabel.user_id == user_id, ArticleLabel.group == group)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _as_json(row: ArticleLabel) -> dict[str, Any]:
    return article_label_json(row.group, row.values, row.guidelines_version, row.version, row.updated_at)


def put_article_label(session: Session, user_id: int, article_id: int, group: Any, values: Any, version: Any = None) -> dict[str, Any]:
    """Set the caller's value(s) in an article label group, by hand (origin 'manual'); returns the stored answer (with its `version`)."""
    expected = check_version(version)
    access = writable_article(session, user_id, article_id)
    checked = check_values(access.schema, group, values)
    for _ in range(WRITE_ATTEMPTS):
        current = _locked(session, user_id, article_id, group)
        if expected is not None and expected != (current.version if current else 0):
            raise AnnotationError(
                409, f"article label {group!r} was changed elsewhere (another tab?) since you loaded it",
                current=_as_json(current) if current else None,
            )
        if current is not None:
            return _update(session, access, user_id, current, checked)
        created = _create(session, access, user_id, group, checked)
        if created is not None:
            return created
        # another request created it a moment ago: read it and update it instead
    raise AnnotationError(503, "the article label kept changing under this request; try again")


def _create(session: Session, access: Access, user_id: int, group: str, values: list[str]) -> dict[str, Any] | None:
    now = utcnow()
    row = dict(article_id=access.article_id, user_id=user_id, group=group, values=values, guidelines_version=access.guidelines_version,
               version=1, origin="manual", suggester=None, suggester_version=None, updated_at=now)
    if insert_ignoring_conflict(session, ArticleLabel, row) is None:
        return None
    after = article_label_json(group, values, access.guidelines_version, 1, now)
    audit(session, user_id, access.project_id, access.article_id, "article_label", group, "create", None, after)
    changed(session, access, user_id)
    return after


def _update(session: Session, access: Access, user_id: int, current: ArticleLabel, values: list[str]) -> dict[str, Any]:
    now = utcnow()
    before = _as_json(current)
    session.execute(
        update(ArticleLabel).where(ArticleLabel.id == current.id).values(
            values=values, guidelines_version=access.guidelines_version, version=current.version + 1,
            origin="manual", suggester=None, suggester_version=None, updated_at=now,
        ).execution_options(synchronize_session=False)
    )
    after = article_label_json(current.group, values, access.guidelines_version, current.version + 1, now)
    audit(session, user_id, access.project_id, access.article_id, "article_label", current.group, "update", before, after)
    changed(session, access, user_id)
    return after


def delete_article_label(session: Session, user_id: int, article_id: int, group: str, version: Any = None) -> None:
    """Clear the caller's answer in a group (404 when there is none).

    `version`, the answer's version the client last saw, makes a removal over an answer changed meanwhile (another
    tab) a 409 with `current`, as for a put: a stale tab (or its undo) never clears an answer set elsewhere since.
    """
    expected = check_version(version)
    access = writable_article(session, user_id, article_id)
    current = _locked(session, user_id, article_id, group)
    if current is None:
        raise AnnotationError(404, f"article {article_id} has no article label {show(group)} of yours")
    if expected is not None and expected != current.version:
        raise AnnotationError(409, f"article label {group!r} was changed elsewhere (another tab?) since you loaded it", current=_as_json(current))
    before = _as_json(current)
    session.execute(delete(ArticleLabel).where(ArticleLabel.id == current.id).execution_options(synchronize_session=False))
    audit(session, user_id, access.project_id, article_id, "article_label", group, "delete", before, None)
    changed(session, access, user_id)


def article_labels_of(session: Session, article_id: int, user_id: int) -> list[dict[str, Any]]:
    """The annotator's answers on the article, by group name, with where each came from."""
    rows = session.scalars(
        select(ArticleLabel).where(ArticleLabel.article_id == article_id, ArticleLabel.user_id == user_id).order_by(ArticleLabel.group)
    ).all()
    return [{**_as_json(row), "origin": row.origin or "manual", "suggester": row.suggester, "suggester_version": row.suggester_version}
            for row in rows]
