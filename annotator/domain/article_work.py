"""What counts as work on an article: what a REST delete (catalog.delete_article) will not destroy unasked and
what keeps an import update (dataset.articles) from changing the article's text under it.

One definition for both, so that neither forgets a kind of work the other guards: the annotators' answers
(sentence labels, spans, article labels) and a person's gold (sentence gold, gold spans, gold links and gold
article labels decided by a reviewer or imported as gold). Automatic gold (unanimous, majority) is not work of its
own: it is only derived from the answers, which count already, and is recomputed from whatever answers remain.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotator.db.models import (
    HUMAN_GOLD_PROVENANCE,
    Annotation,
    Article,
    ArticleLabel,
    GoldArticleLabel,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    Sentence,
    Span,
)


@dataclass(frozen=True)
class ArticleWork:
    """How much of each kind of work an article has (see the module docstring)."""

    labels: int
    spans: int
    article_labels: int
    gold_article_labels: int
    gold_labels: int
    gold_spans: int
    gold_links: int

    def __bool__(self) -> bool:
        return any(asdict(self).values())

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def locked_article_work(session: Session, article_id: int) -> ArticleWork:
    """The article's work, counted once no save can add to it until the caller's transaction ends: the article and its
    sentences are locked FOR UPDATE first (PostgreSQL; on SQLite BEGIN IMMEDIATE already keeps every other writer
    out). Every answer and gold row references one of them, and its insert takes a KEY SHARE lock on that row, which
    FOR UPDATE waits for: a save in flight commits first and is counted, a later one waits and then finds the
    article gone or its sentences replaced. Counted without the lock, such a save was destroyed by the delete's
    cascade a moment later, after it had answered 200."""
    session.execute(select(Article.id).where(Article.id == article_id).with_for_update())
    session.execute(select(Sentence.id).where(Sentence.article_id == article_id).order_by(Sentence.id).with_for_update())
    return article_work(session, article_id)


def article_work(session: Session, article_id: int) -> ArticleWork:
    """The article's work, counted in one statement (each count by an index on the article or its sentences)."""
    sentences = select(Sentence.id).where(Sentence.article_id == article_id)

    def count(model: type, *where: Any) -> Any:
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    human = HUMAN_GOLD_PROVENANCE
    row = session.execute(select(
        count(Annotation, Annotation.sentence_id.in_(sentences)),
        count(Span, Span.article_id == article_id),
        count(ArticleLabel, ArticleLabel.article_id == article_id),
        count(GoldArticleLabel, GoldArticleLabel.article_id == article_id),  # every row is a person's decision
        count(GoldLabel, GoldLabel.sentence_id.in_(sentences), GoldLabel.provenance.in_(human)),
        count(GoldSpan, GoldSpan.article_id == article_id, GoldSpan.provenance.in_(human)),
        count(GoldRelation, GoldRelation.article_id == article_id, GoldRelation.provenance.in_(human)),
    )).one()
    return ArticleWork(*(int(n or 0) for n in row))
