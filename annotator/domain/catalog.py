"""What a pipeline reads and changes over HTTP (web/rest.py): pages of projects, articles and users,
a project's description, an article's removal, and the stamp that says whether a project's data changed.

Plain functions over a Session, no Flask. Every list is one page in id order, with the total. A page is a
Window: the rows after an id (keyset: a script that walks the list by the last id it saw meets every row that
exists for the whole walk exactly once, whatever is added or deleted meanwhile), or after a count of rows
(the old `?page=`, which skips a row after a deletion before it and repeats one after an insertion).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from annotator.db.models import (
    Article,
    AuditEntry,
    CacheEntry,
    Project,
    ProjectMember,
    User,
)
from annotator.domain import progress
from annotator.domain.article_work import locked_article_work
from annotator.domain.dataset import articles
from annotator.domain.dataset.articles import OnDuplicate, StoreResult
from annotator.domain.dataset.ingest import IngestError, decode, parse_json_array, parse_jsonl
from annotator.domain.projects import ProjectError, bump_revision
from annotator.domain.records import timestamp
from annotator.domain.wording import counted


@dataclass(frozen=True)
class Window:
    """Which rows a page holds: up to `limit` of those with an id above `after`, past the first `skip` of them."""

    limit: int
    after: int = 0
    skip: int = 0


@dataclass(frozen=True)
class Page:
    """One page of a list: its items (each with its "id"), the total, and whether rows come after the last item."""

    items: list[dict[str, Any]]
    total: int
    more: bool


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)


def _windowed(query: Select, after: Any, window: Window) -> Select:
    """`query` (in id order) cut to the window (`after`: its rows with an id above window.after), with one row more
    than the page, which says whether more come."""
    return query.where(after).offset(window.skip).limit(window.limit + 1)


# ----------------------------------------------------------------- projects
def project_json(project: Project, articles: int | None = None) -> dict[str, Any]:
    doc = {
        "id": project.id,
        "name": project.name,
        "label_schema": project.label_schema,
        "annotators_per_article": project.annotators_per_article,
        "majority": project.majority_threshold,
        "suggestions_enabled": bool(project.suggestions_enabled),
        "guidelines_version": project.guidelines_version,
        "revision": project.revision,
        "created_at": timestamp(project.created_at),
    }
    if articles is not None:
        doc["articles"] = articles
    return doc


def project_page(session: Session, only: set[int] | None, window: Window) -> Page:
    """Projects by id (all of them, or only those with these ids), each with its article count."""
    query = select(Project).order_by(Project.id)
    if only is not None:
        query = query.where(Project.id.in_(sorted(only)))
    found = list(session.scalars(_windowed(query, Project.id > window.after, window)))
    chosen = found[:window.limit]
    counts = dict(
        session.execute(
            select(Article.project_id, func.count()).where(Article.project_id.in_([p.id for p in chosen])).group_by(Article.project_id)
        ).all()
    ) if chosen else {}
    return Page([project_json(p, counts.get(p.id, 0)) for p in chosen], _count(session, query), len(found) > window.limit)


def article_count(session: Session, project_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Article).where(Article.project_id == project_id)) or 0)


def member_project_ids(session: Session, user_id: int) -> set[int]:
    return set(session.scalars(select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)))


# ----------------------------------------------------------------- articles
def article_page(session: Session, project_id: int, window: Window) -> Page:
    """The project's articles by id, each with its sentences and every assigned annotator's progress."""
    found = session.execute(_windowed(progress.project_articles(project_id), progress.articles_after(session.get_bind().dialect.name, project_id, window.after), window)).scalars().all()
    items = progress.article_progress(session, project_id, found[:window.limit])
    for item in items:
        item["id"] = item.pop("article_id")
    return Page(items, _count(session, select(Article.id).where(Article.project_id == project_id)), len(found) > window.limit)


def delete_article(session: Session, project_id: int, article_id: int, annotated_too: bool = False) -> str:
    """Delete an article of the project with its sentences, assignments and suggestions; returns its external id.

    An article with work on it (article_work: the answers, and a person's gold, which may stand where no answer does:
    imported, or the answers cleared since) is kept unless `annotated_too`: then that work goes with it and the
    deletion, with its counts, is written to the audit log. Either way cached figures go, as after an
    import, and the project's revision goes up (the export's ETag must change).
    """
    article = session.scalar(select(Article).where(Article.id == article_id, Article.project_id == project_id))
    if article is None:
        raise LookupError(f"no article {article_id} in project {project_id}")
    work = locked_article_work(session, article_id)
    external_id = article.external_id
    if work and not annotated_too:
        also = "".join(f" and {counted(n, what)}" for n, what in (
            (work.article_labels, "article label"), (work.gold_article_labels, "gold article label decision"),
            (work.gold_labels, "gold sentence label"), (work.gold_spans, "gold span"), (work.gold_links, "gold link"),
        ) if n)
        raise ProjectError(f"article {external_id!r} has {counted(work.labels, 'label')} and {counted(work.spans, 'span')}{also}; "
                           "to delete it with them, send ?annotated=delete")
    session.execute(delete(Article).where(Article.id == article_id))  # the rest goes by ON DELETE CASCADE
    session.execute(delete(CacheEntry).where(CacheEntry.project_id == project_id))
    if work:
        before = {"external_id": external_id, **work.as_dict()}
        session.add(AuditEntry(project_id=project_id, article_id=article_id, entity="article", entity_id=external_id[:64],
                               action="delete", before=before, after=None))
    # Always: the export's ETag counts articles and their largest id, and SQLite gives a deleted last row's id to
    # the next article, so a delete and an add of the same lengths would otherwise bring the old ETag back.
    bump_revision(session, project_id)
    session.flush()
    return external_id


# ----------------------------------------------------------------- users
def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "role": user.role, "active": bool(user.active)}


def user_page(session: Session, window: Window) -> Page:
    query = select(User).order_by(User.id)
    found = list(session.scalars(_windowed(query, User.id > window.after, window)))
    return Page([user_json(u) for u in found[:window.limit]], _count(session, query), len(found) > window.limit)


# ----------------------------------------------------------------- whether the data changed
def data_stamp(session: Session, project: Project, *what: Any) -> str:
    """A short hash that changes whenever an export of the project could: a saved label, span, link, gold
    decision or segmentation correction (each bumps the revision), a setting automatic gold or the records
    depend on, an article added, deleted or re-imported with other text or title; and `what` (the export's options).

    Cheap: the project's row and one aggregate over its articles (by the project index), nothing per label.
    """
    counts = session.execute(
        select(func.count(), func.max(Article.id), func.coalesce(func.sum(func.length(Article.text) + func.length(Article.title)), 0))
        .where(Article.project_id == project.id)
    ).one()
    parts = [
        project.id, project.revision, project.majority_threshold, project.annotators_per_article, project.label_schema,
        [int(counts[0] or 0), counts[1], int(counts[2] or 0)], list(what),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:32]


# ----------------------------------------------------------------- articles from a request body
BODY = "body"  # what errors call the request body: `body:7: missing 'text'` (JSONL), `body[3]: ...` (a JSON array)
BODY_KINDS = ("json", "jsonl")


def import_body(session: Session, project: Project, data: bytes, kind: str, on_duplicate: OnDuplicate = "error") -> StoreResult:
    """Articles sent in a request (`kind` json: a JSON array; jsonl: one object per line), stored as
    `annotator import` stores a file: the same records, errors and `on_duplicate`, all or nothing.

    Raises IngestError naming the line (JSONL) or the item (`body[3]`) when anything is wrong; nothing is stored then.
    """
    text = decode(data, BODY)
    if kind == "json":
        records = parse_json_array(text, BODY)
    else:
        records = parse_jsonl(text, BODY)
    try:
        return articles.import_records(session, project, records, BODY, on_duplicate)
    except IngestError as exc:
        if kind == "json" and exc.file == BODY and exc.line is not None:  # a record's `line` is its index in the array
            raise IngestError(f"{BODY}[{exc.line}]", None, exc.reason) from None
        raise
