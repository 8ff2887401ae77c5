"""A project's figures per revision: the entry points the pages and the CLI call, cached in cache_entries.

Results are cached in the `cache_entries` table under (project id,
Project.revision, kind, settings fingerprint). Every annotation write bumps
Project.revision in its own transaction (annotations.py,
import_annotations.py, resegment.py, gold.adjudicate), so a new revision
means a new key: every gunicorn worker on every host sees the same
invalidation; nothing is kept in process memory. The fingerprint covers what
changes figures without a revision bump (label schema, majority threshold,
annotators per article, the format of the output); an article import (no
annotations, but more sentences to count) deletes the project's entries in
its own transaction (articles.record_import).

Only writers store: a page (a GET) passes store=False and computes what is
not cached without storing it (GET requests never write); the command line
(`annotator agreement`) and other callers fill the cache.

The revision is read BEFORE the data: the data are then at least as new as
the key they are stored under, so a reader of that revision never gets older
figures than its own (a write racing the computation only leaves an entry
that nobody asks for once the revision has moved on).
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from annotator.db.models import CacheEntry
from annotator.db.transactions import transaction
from annotator.domain.agreement.figures import article_figures, compute_summary, now_iso
from annotator.domain.agreement.loaders import ProjectLabels, load_labels, load_spans
from annotator.domain.agreement.origin_figures import compute_origin_figures, suggestion_stamp
from annotator.domain.agreement.queue import disagreement_rows
from annotator.domain.project_head import ProjectHead, project_head


def cache_key(head: ProjectHead, kind: str, stamp: str = "") -> str:
    key = f"agreement:{kind}:{head.id}:{head.revision}:{head.fingerprint()}"
    return f"{key}:{hashlib.sha256(stamp.encode()).hexdigest()[:16]}" if stamp else key


def cached(
    session: Session, head: ProjectHead, kind: str, compute: Callable[[], Any], use_cache: bool = True, stamp: str = "", store: bool = True
) -> Any:
    """The cached value of (project, revision, kind), computing and storing it on a miss.

    Storing is its own short write transaction (begin_write ends whatever the
    session had open, which only read). Two workers missing together both
    compute; the second insert is ignored (same key, same value). Entries of
    older revisions of the same kind are deleted on the way. The cache is only
    a shortcut: when the database is too busy to store the entry, the figures
    are returned all the same. `stamp` keys what else the value depends on (see origin_figures.suggestion_stamp).
    `store=False` (a page's read): an entry there is used, a miss is computed and not stored.
    """
    key = cache_key(head, kind, stamp)
    if use_cache:
        value = session.scalar(select(CacheEntry.value).where(CacheEntry.key == key))
        if value is not None:
            return value
    value = compute()
    if not use_cache or not store:
        return value
    try:
        with transaction(session, queue=True):  # in turn with the annotators' saves (SQLite), not polling past them
            session.execute(
                delete(CacheEntry).where(
                    CacheEntry.project_id == head.id,
                    CacheEntry.key.like(f"agreement:{kind}:{head.id}:%"),
                    CacheEntry.key != key,
                )
            )
            _insert_ignoring_conflict(session, {"key": key, "project_id": head.id, "revision": head.revision, "value": value,
                                                "created_at": datetime.now(timezone.utc)})
    except (OperationalError, IntegrityError):
        pass  # rolled back: the figures are returned uncached
    return value


def _insert_ignoring_conflict(session: Session, values: dict[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        session.execute(insert(CacheEntry).values(**values))
        return
    session.execute(dialect_insert(CacheEntry).values(**values).on_conflict_do_nothing())


def summary(session: Session, project_id: int, use_cache: bool = True, store: bool = True) -> dict[str, Any]:
    """Everything the agreement page shows (figures.compute_summary) for the project's current revision."""
    head = project_head(session, project_id)
    return _summary(session, head, lambda: load_labels(session, head), use_cache, store)


def suggestions(session: Session, project_id: int, use_cache: bool = True, store: bool = True) -> dict[str, Any] | None:
    """Per annotator: work from suggestions, decisions, agreement on suggested and manual work apart
    (origin_figures); None when the project has no suggestions at all.

    Cached as the other figures, under a key that also carries the suggestions' and decisions'
    stamp: a rejection or a new run of a suggester changes these figures without an annotation
    write, so without a revision bump.
    """
    head = project_head(session, project_id)
    return _suggestions(session, head, lambda: load_labels(session, head, with_seconds=False), use_cache, store)


def articles(session: Session, project_id: int, use_cache: bool = True, store: bool = True) -> list[dict[str, Any]]:
    """Per-article figures (figures.article_figures) for the project's current revision."""
    head = project_head(session, project_id)
    return _articles(session, head, lambda: load_labels(session, head, with_seconds=False), use_cache, store)


@dataclass(frozen=True)
class PageFigures:
    """The agreement page's figures: the summary, the suggestions' (None without any) and the rows per article (None
    when not asked for)."""

    summary: dict[str, Any]
    suggestions: dict[str, Any] | None
    articles: list[dict[str, Any]] | None

    def document(self, by_article: bool = False) -> dict[str, Any]:
        """The summary, with `articles` when asked (and computed) and `suggestions` when the project has any."""
        doc = dict(self.summary)
        if by_article and self.articles is not None:
            doc["articles"] = self.articles
        if self.suggestions is not None:
            doc["suggestions"] = self.suggestions
        return doc


def page_figures(session: Session, project_id: int, by_article: bool = True, use_cache: bool = True, store: bool = True) -> PageFigures:
    """summary(), suggestions() and, with `by_article`, articles() together: one read of the project's head, each part
    from its cache entry, and the parts missing computed from one read of the labels (the summary's, with seconds).
    Called one after the other, each read every label of the project on a miss: the agreement page, with nothing
    cached, read them twice (three times with suggestions)."""
    head = project_head(session, project_id)
    labels = functools.cache(lambda: load_labels(session, head))
    return PageFigures(
        summary=_summary(session, head, labels, use_cache, store),
        suggestions=_suggestions(session, head, labels, use_cache, store),
        articles=_articles(session, head, labels, use_cache, store) if by_article else None,
    )


def _summary(session: Session, head: ProjectHead, labels: Callable[[], ProjectLabels], use_cache: bool, store: bool) -> dict[str, Any]:
    return cached(session, head, "summary", lambda: compute_summary(session, head, labels=labels()), use_cache, store=store)


def _suggestions(session: Session, head: ProjectHead, labels: Callable[[], ProjectLabels], use_cache: bool,
                 store: bool) -> dict[str, Any] | None:
    stamp = suggestion_stamp(session, head)

    def compute() -> dict[str, Any]:
        figures = compute_origin_figures(session, head, read_labels=labels)
        return {"shown": False} if figures is None else {"shown": True, "computed_at": now_iso(), **figures}

    value = cached(session, head, "suggestions", compute, use_cache, stamp, store)
    return {k: v for k, v in value.items() if k != "shown"} if value.get("shown") else None


def _articles(session: Session, head: ProjectHead, labels: Callable[[], ProjectLabels], use_cache: bool, store: bool) -> list[dict[str, Any]]:
    return cached(session, head, "articles", lambda: article_figures(session, head, labels()), use_cache, store=store)


def disagreements(session: Session, project_id: int, use_cache: bool = True, store: bool = True) -> list[dict[str, Any]]:
    """Every disputed sentence of the project, least agreement first (see queue.disagreement_rows)."""
    head = project_head(session, project_id)

    def compute() -> list[dict[str, Any]]:
        labels = load_labels(session, head, with_seconds=False)
        return disagreement_rows(session, head, labels, load_spans(session, head))

    return cached(session, head, "queue", compute, use_cache, store=store)


def document(session: Session, project_id: int, by_article: bool = False, store: bool = True) -> dict[str, Any]:
    """What `annotator agreement --json` prints (and GET /api/projects/{id}/agreement answers, with store=False): the
    summary, with `articles` when asked and `suggestions` when the project has any."""
    return page_figures(session, project_id, by_article=by_article, store=store).document(by_article)
