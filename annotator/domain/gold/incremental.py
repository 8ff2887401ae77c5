"""Automatic gold kept current as annotations change, in the writer's transaction: only what the write touched.

- a sentence label set, changed or removed (label_changed): that sentence's
  gold label, from its own labels (three reads by sentence id); when its
  article has annotator spans, the article's automatic spans and links too,
  since who labelled a sentence decides who must agree on a span over it;
- a span or a relation (article_changed), a segmentation correction, an
  import of annotations (articles_changed): the automatic gold of those
  articles, `batch_articles` at a time (memory of one batch).
Never the project: a reader finds gold current and writes nothing. Human gold
(adjudicated, imported) is never touched, as in the full refresh (refresh.py),
which `annotator gold rebuild` runs to check that both give the same.
Callers call these before the project's revision bump (the project row is
the last lock a writer takes; see writes.lock_articles).
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Span
from annotator.domain.agreement.loaders import project_head
from annotator.domain.gold.refresh import REFRESH_BATCH_ARTICLES, RefreshResult, refresh_articles, refresh_sentence_label
from annotator.domain.gold.writes import chunks, lock_articles


def label_changed(session: Session, project_id: int, article_id: int, sentence_id: int) -> RefreshResult:
    """A label of this sentence changed: its automatic gold (and its article's spans when it has any) made current."""
    lock_articles(session, [article_id])
    head = project_head(session, project_id)
    result = RefreshResult(revision=head.revision)
    if session.scalar(select(Span.id).where(Span.article_id == article_id).limit(1)) is None:
        # No annotator span in the article: no automatic span or link can be wanted, and none is
        # stored (the write that removed the last span recomputed the article): the label is all.
        refresh_sentence_label(session, head, article_id, sentence_id, result)
    else:
        refresh_articles(session, head, [article_id], result)
    return result


def article_changed(session: Session, project_id: int, article_id: int) -> RefreshResult:
    """A span or a relation of this article changed: its automatic gold made current."""
    return articles_changed(session, project_id, [article_id])


def articles_changed(
    session: Session, project_id: int, article_ids: Iterable[int], batch_articles: int = REFRESH_BATCH_ARTICLES
) -> RefreshResult:
    """The automatic gold of these articles made current, `batch_articles` at a time, in the caller's transaction."""
    head = project_head(session, project_id)
    result = RefreshResult(revision=head.revision)
    for batch in chunks(sorted(set(article_ids)), batch_articles):
        lock_articles(session, batch)
        refresh_articles(session, head, batch, result)
    session.flush()
    return result
