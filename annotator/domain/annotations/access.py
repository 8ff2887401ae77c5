"""Which article a caller may write to or read: one query for a write, a 404 that tells nothing for the rest."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Article, Assignment, User
from annotator.domain import projects
from annotator.domain.annotations.statements import ACCESS, ACCESS_SENTENCE, run
from annotator.domain.annotations.validation import AnnotationError, is_int, show
from annotator.stats.textcheck import MAX_DB_INT


@dataclass(frozen=True)
class Access:
    """What a write needs to know about the article, read in one query."""

    article_id: int
    project_id: int
    text: str
    schema: dict[str, Any]
    guidelines_version: int
    assignment_id: int | None
    assignment_status: str | None
    sentence_id: int | None = None
    sentence_bounds: tuple[int, int] | None = None


def _check_db_id(value: int, what: str) -> None:
    if not is_int(value) or not 0 <= value <= MAX_DB_INT:
        raise AnnotationError(404, f"no {what} {show(value)}")


def writable_article(session: Session, user_id: int, article_id: int, sentence_index: int | None = None) -> Access:
    """The article if `user_id` is assigned to it (404 when unknown or not assigned: the same answer, so an annotator
    cannot tell another's article from a missing one); with the sentence's id when asked."""
    _check_db_id(article_id, "article")
    params = {"user_id": user_id, "article_id": article_id}
    if sentence_index is not None:
        _check_db_id(sentence_index, "sentence")
        params["sentence_index"] = sentence_index
    row = run(session, ACCESS if sentence_index is None else ACCESS_SENTENCE, params).first()
    if row is None or row[5] is None:
        raise AnnotationError(404, _no_article(article_id))
    access = Access(*row[:7], sentence_id=row[7], sentence_bounds=(row[8], row[9])) if sentence_index is not None else Access(*row[:7])
    if sentence_index is not None and access.sentence_id is None:
        raise AnnotationError(404, f"article {article_id} has no sentence {sentence_index}")
    return access


def readable_article(session: Session, user: User, article_id: int) -> Article:
    """The article for reading: annotators only when assigned, reviewers only in the projects they are members of
    (else the same 404 as for a missing id); admins always."""
    _check_db_id(article_id, "article")
    article = session.get(Article, article_id)
    if article is None:
        raise AnnotationError(404, _no_article(article_id, user))
    if user.role == "annotator":
        assigned = session.scalar(select(Assignment.id).where(Assignment.article_id == article_id, Assignment.user_id == user.id))
        if assigned is None:
            raise AnnotationError(404, _no_article(article_id, user))
    elif user.role != "admin" and not projects.can_open(session, user, article.project_id):
        raise AnnotationError(404, _no_article(article_id, user))
    return article


def _no_article(article_id: int, user: User | None = None) -> str:
    if user is not None and user.role == "reviewer":
        return f"no article {article_id} in your projects"
    return f"no article {article_id} among the ones assigned to you"
