"""Automatic gold kept current as annotations change, in the writer's transaction: only what the write touched.

- a sentence label set, changed or removed (label_changed): that sentence's
  gold label, from its own labels (two reads by sentence id); when a label
  was created or removed under an annotator span, the article's automatic
  spans and links too, since who labelled a sentence decides who must agree
  on a span over it;
- a span or a relation (article_changed), a segmentation correction, an
  import of annotations (articles_changed): the automatic gold of those
  articles, `batch_articles` at a time (memory of one batch);
- several of those on one article in one transaction (writes_changed: a
  batch of changes, annotations/batch.py): each sentence or the article once.
Never the project: a reader finds gold current and writes nothing. Human gold
(adjudicated, imported) is never touched, as in the full refresh (refresh.py),
which `annotator gold rebuild` runs to check that both give the same.
Callers call these before the project's revision bump (the project row is
the last lock a writer takes; see writes.lock_articles).
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from annotator.db.models import Sentence, Span
from annotator.domain.agreement.loaders import project_head
from annotator.domain.gold.refresh import REFRESH_BATCH_ARTICLES, RefreshResult, refresh_articles, refresh_sentence_label
from annotator.domain.gold.writes import chunks, lock_articles


def label_changed(session: Session, project_id: int, article_id: int, sentence_id: int, raters_changed: bool = True) -> RefreshResult:
    """A label of this sentence changed: its automatic gold made current, and its article's spans when they can change.

    Automatic spans depend on WHO labelled the sentences they overlap, not on
    the labels: a label changed to another value (`raters_changed` False) or a
    sentence no annotator span overlaps leaves them as they are, and only the
    sentence's label is recomputed (two small reads by sentence id). A label
    created or removed under a span recomputes the article.
    """
    lock_articles(session, [article_id])
    head = project_head(session, project_id)
    result = RefreshResult(revision=head.revision)
    if raters_changed and _spans_over(session, article_id, sentence_id):
        refresh_articles(session, head, [article_id], result)
    else:
        refresh_sentence_label(session, head, article_id, sentence_id, result)
    return result


def writes_changed(
    session: Session, project_id: int, article_id: int, label_sentences: Iterable[int], rater_sentences: Iterable[int], article: bool
) -> RefreshResult:
    """Several writes to one article at once (a batch of changes): what label_changed and article_changed would each
    have done, for the union of what they touched, under the article's lock taken once.

    `label_sentences`: a label's value changed there; `rater_sentences`: a label
    was created or removed there; `article`: a span or a relation changed. The
    article is recomputed when `article` says so or a rater changed under an
    annotator span (as label_changed decides, on the spans as the writes left
    them); else only the sentences' labels.
    """
    lock_articles(session, [article_id])
    head = project_head(session, project_id)
    result = RefreshResult(revision=head.revision)
    raters = sorted(set(rater_sentences))
    if article or any(_spans_over(session, article_id, sentence_id) for sentence_id in raters):
        refresh_articles(session, head, [article_id], result)
        session.flush()
    else:
        for sentence_id in sorted(set(label_sentences) | set(raters)):
            refresh_sentence_label(session, head, article_id, sentence_id, result)
    return result


# Prebuilt (it runs inside label saves): an annotator span of the article over the sentence.
_SPAN_OVER = (
    select(Span.__table__.c.id)
    .join(Sentence.__table__, Sentence.__table__.c.id == bindparam("sentence_id"))
    .where(Span.__table__.c.article_id == bindparam("article_id"), Span.__table__.c.start < Sentence.__table__.c.end,
           Span.__table__.c.end > Sentence.__table__.c.start)
    .limit(1)
)


def _spans_over(session: Session, article_id: int, sentence_id: int) -> bool:
    """Whether an annotator span of the article overlaps the sentence (automatic gold spans exist only where those do:
    the write that removed the last one recomputed the article)."""
    return session.connection().execute(_SPAN_OVER, {"article_id": article_id, "sentence_id": sentence_id}).first() is not None


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
