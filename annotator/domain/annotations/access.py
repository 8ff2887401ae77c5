"""Which article a caller may write to or read: one query for a write, a 404 that tells nothing for the rest."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Iterator

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from annotator.db.models import Article, Assignment, Project, ProjectMember, User, visible_articles
from annotator.db.prepared import Prepared
from annotator.domain.annotations.idempotency import Request, check_earlier, look_up
from annotator.domain.annotations.statements import ACCESS, ACCESS_SENTENCE, ACCESS_SENTENCE_REQUEST
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


def writable_article(
    session: Session, user_id: int, article_id: int, sentence_index: int | None = None, request: Request | None = None
) -> Access:
    """The article if `user_id` is assigned to it (404 when unknown or not assigned: the same answer, so an annotator
    cannot tell another's article from a missing one); with the sentence's id when asked.

    With a label save's `request` (and its sentence), the same query looks its idempotency key up, first: a repeat
    raises idempotency.Repeated with its first answer, whatever became of the article since (idempotency.once).
    """
    _check_db_id(article_id, "article")
    memo = session.info.get(_REMEMBERED)
    if memo is not None and sentence_index is None and (user_id, article_id) in memo:
        return memo[(user_id, article_id)]
    params: dict[str, Any] = {"user_id": user_id, "article_id": article_id}
    if sentence_index is not None:
        _check_db_id(sentence_index, "sentence")
        params["sentence_index"] = sentence_index
    if request is None:
        row = (ACCESS if sentence_index is None else ACCESS_SENTENCE).first(session, params)
    else:
        assert sentence_index is not None and request.user_id == user_id
        row = ACCESS_SENTENCE_REQUEST.first(session, {**params, "request_id": request.request_id})
        if row is None:  # no such article (any more): a repeat still gets its first answer
            look_up(session, request)
        else:
            check_earlier(request, row[10], row[11])
    if row is None or row[5] is None:
        raise AnnotationError(404, _no_article(article_id))
    access = Access(*row[:7], sentence_id=row[7], sentence_bounds=(row[8], row[9])) if sentence_index is not None else Access(*row[:7])
    if sentence_index is not None and access.sentence_id is None:
        raise AnnotationError(404, f"article {article_id} has no sentence {sentence_index}")
    if memo is not None:
        memo[(user_id, article_id)] = replace(access, sentence_id=None, sentence_bounds=None)
    return access


_REMEMBERED = "annotator.access.remembered"  # session.info key: the article accesses a batch has read


@contextmanager
def remembered(session: Session) -> Iterator[None]:
    """Within the block, writable_article reads an article's access once: a batch's operations (one annotator's, on
    one article, in one transaction) each asked for it, the same row every time (nothing a batch writes changes
    it). Kept in session.info, per session and so per request, and forgotten when the block ends. Not nested."""
    if _REMEMBERED in session.info:
        raise RuntimeError("article accesses are already remembered in this session")
    session.info[_REMEMBERED] = {}
    try:
        yield
    finally:
        del session.info[_REMEMBERED]


@dataclass(frozen=True)
class ProjectHead:
    """What reading an article needs of its project (the attribute names of Project)."""

    id: int
    name: str
    label_schema: dict[str, Any]
    guidelines_version: int


@dataclass(frozen=True)
class ArticleHead:
    """An article as readable_article finds it, with its project (the attribute names of Article)."""

    id: int
    external_id: str
    title: str | None
    text: str
    meta: dict[str, Any] | None
    project_id: int
    project: ProjectHead


_articles, _projects, _assignments, _members = (m.__table__ for m in (Article, Project, Assignment, ProjectMember))
# The article, its project, and whether the caller is assigned to it or a member of its project: one query, built once.
# A Core statement escapes models._hide_staged_articles: it says visible_articles itself.
READABLE = Prepared(
    select(
        _articles.c.id, _articles.c.external_id, _articles.c.title, _articles.c.text, _articles.c.meta, _articles.c.project_id,
        _projects.c.name, _projects.c.label_schema, _projects.c.guidelines_version, _assignments.c.id, _members.c.user_id,
    )
    .select_from(
        _articles.join(_projects, _projects.c.id == _articles.c.project_id)
        .outerjoin(_assignments, and_(_assignments.c.article_id == _articles.c.id, _assignments.c.user_id == bindparam("user_id")))
        .outerjoin(_members, and_(_members.c.project_id == _articles.c.project_id, _members.c.user_id == bindparam("user_id")))
    )
    .where(_articles.c.id == bindparam("article_id"), visible_articles(_articles.c))  # a staged import's articles: not yet
)  # run on the driver's cursor (db/prepared.py): it runs for every article the page or the API reads


def readable_article(session: Session, user: User, article_id: int) -> ArticleHead:
    """The article for reading: annotators only when assigned, reviewers only in the projects they are members of
    (else the same 404 as for a missing id); admins always."""
    _check_db_id(article_id, "article")
    row = READABLE.first(session, {"article_id": article_id, "user_id": user.id})
    if row is None:
        raise AnnotationError(404, _no_article(article_id, user))
    assigned, member = row[9] is not None, row[10] is not None
    allowed = user.role == "admin" or (user.role == "annotator" and assigned) or (user.role == "reviewer" and member)
    if not allowed:
        raise AnnotationError(404, _no_article(article_id, user))
    return ArticleHead(*row[:6], project=ProjectHead(row[5], *row[6:9]))


def _no_article(article_id: int, user: User | None = None) -> str:
    if user is not None and user.role == "reviewer":
        return f"no article {article_id} in your projects"
    return f"no article {article_id} among the ones assigned to you"
