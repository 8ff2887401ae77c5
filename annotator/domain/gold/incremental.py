"""Automatic gold kept current as annotations change, in the writer's transaction: only what the write touched.

- a sentence label set, changed or removed (label_changed): that sentence's
  gold label, from its own labels (one read by sentence id); when a label
  was created or removed under an exact span that enough annotators marked
  to be gold, the article's automatic spans and links too, since who
  labelled a sentence decides who must agree on a span over it;
- a span or a relation (article_changed) that could be gold
  (spans_can_be_gold: one small count), a segmentation correction, an
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

from sqlalchemy import bindparam, distinct, func, select
from sqlalchemy.orm import Session

from annotator.db.models import Article, Project, Span
from annotator.db.prepared import Prepared
from annotator.domain.gold.one_article import refresh_article
from annotator.domain.gold.refresh import (
    REFRESH_BATCH_ARTICLES,
    RefreshResult,
    SentenceGold,
    refresh_articles,
    refresh_sentence_label,
    sentence_gold,
)
from annotator.domain.gold.writes import chunks, lock_articles
from annotator.domain.project_head import ProjectHead, min_raters, project_head


def label_changed(session: Session, project_id: int, article_id: int, sentence_id: int, raters_changed: bool = True) -> RefreshResult:
    """A label of this sentence changed: its automatic gold made current, and its article's spans when they can change.

    Automatic spans depend on WHO labelled the sentences they overlap, not on
    the labels: a label changed to another value (`raters_changed` False) or a
    sentence that no exact span marked by min_raters annotators overlaps leaves
    them as they are, and only the sentence's label is recomputed, from one
    read by sentence id (refresh.sentence_gold: the project's settings, the
    gold row, the labels and, when raters changed, whether such a span
    overlaps). A label created or removed under such a span recomputes the
    article.
    """
    lock_articles(session, [article_id])
    inputs = sentence_gold(session, project_id, sentence_id, with_spans=raters_changed)
    if inputs is not None and not inputs.spans_over:
        result = RefreshResult(revision=inputs.revision)
        refresh_sentence_label(session, project_id, article_id, sentence_id, result, inputs)
        return result
    head = project_head(session, project_id)
    result = RefreshResult(revision=head.revision)
    if inputs is not None:  # (no such sentence: nothing to recompute)
        _refresh(session, head, [article_id], result)
    return result


def writes_changed(
    session: Session, project_id: int, article_id: int, label_sentences: Iterable[int], rater_sentences: Iterable[int], article: bool
) -> RefreshResult:
    """Several writes to one article at once (a batch of changes): what label_changed and article_changed would each
    have done, for the union of what they touched, under the article's lock taken once.

    `label_sentences`: a label's value changed there; `rater_sentences`: a label
    was created or removed there; `article`: a span or a relation changed. The
    article is recomputed when `article` says so or a rater changed under a span
    that can be gold (as label_changed decides, on the spans as the writes left
    them); else only the sentences' labels.
    """
    lock_articles(session, [article_id])
    raters = sorted(set(rater_sentences))
    inputs: dict[int, SentenceGold | None] = {}
    if not article:
        for sentence_id in raters:  # first: one under a span that can be gold makes it the article's recomputation
            inputs[sentence_id] = found = sentence_gold(session, project_id, sentence_id, with_spans=True)
            if found is not None and found.spans_over:
                article = True
                break
    if article:
        head = project_head(session, project_id)
        result = RefreshResult(revision=head.revision)
        _refresh(session, head, [article_id], result)
        session.flush()
        return result
    for sentence_id in sorted(set(label_sentences) - set(raters)):
        inputs[sentence_id] = sentence_gold(session, project_id, sentence_id)
    read = [found for found in inputs.values() if found is not None]
    result = RefreshResult(revision=read[0].revision if read else project_head(session, project_id).revision)
    for sentence_id in sorted(inputs):
        if inputs[sentence_id] is not None:
            refresh_sentence_label(session, project_id, article_id, sentence_id, result, inputs[sentence_id])
    return result


# Prebuilt (it runs inside span and link saves): how many annotators marked exactly this span of the article, and the
# project's annotators per article (which sets the rule's min_raters). One seek on ix_spans_article_offsets_label_user,
# whatever the article's size (on the per-annotator index it read every span of the article).
_span, _article, _project = Span.__table__, Article.__table__, Project.__table__
_MARKERS = Prepared(select(
    select(func.count(distinct(_span.c.user_id)))
    .where(_span.c.article_id == bindparam("article_id"), _span.c.label == bindparam("label"), _span.c.start == bindparam("start"),
           _span.c.end == bindparam("end"))
    .scalar_subquery(),
    select(_project.c.annotators_per_article)
    .join(_article, _article.c.project_id == _project.c.id)
    .where(_article.c.id == bindparam("article_id"))
    .scalar_subquery(),
))  # run on the driver's cursor (db/prepared.py): a span save runs it

SpanKey = tuple[str, int, int]  # (label, start, end) of an annotator span in the article


def spans_can_be_gold(session: Session, article_id: int, keys: Iterable[SpanKey]) -> bool:
    """Whether every one of these exact spans is marked by enough annotators to be automatic gold.

    An automatic gold span needs every rater of its sentences, at least
    min_raters of them, to have marked it exactly (auto_spans.py), and a link
    needs both its spans to be such. So a span created, or one about to be
    deleted or moved away, with fewer markers than that was not gold before
    the write and is not after it, nor is any link over it: the article's
    automatic gold cannot change, and the save skips its recomputation. Ask
    while the span still stands (after a create, before a delete or a move).
    """
    conn = session.connection()
    for label, start, end in keys:
        markers, per_article = _MARKERS.rows(conn, {"article_id": article_id, "label": label, "start": start, "end": end})[0]
        if markers < min_raters(per_article):
            return False
    return True


def _refresh(session: Session, head: ProjectHead, articles: list[int], result: RefreshResult) -> None:
    """The articles' automatic gold made current: a save's one article by one_article.py (one read, no NumPy), several
    by refresh_articles' batch path."""
    if len(articles) == 1:
        refresh_article(session, head, articles[0], result, None)
    else:
        refresh_articles(session, head, articles, result)


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
        _refresh(session, head, batch, result)
    session.flush()
    return result
