"""An article's sentences and what hangs on each (everyone's labels, the gold label): what the segmentation page shows.

Boundary corrections move labels with the text (see resegment); before choosing
one, an editor sees each sentence with the labels that would move.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, GoldLabel, Sentence, User


def sentences(session: Session, article: Article, skip: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """The article's sentences in order (or `limit` of them after the first `skip`): id, index, start, end and their text."""
    rows = session.execute(
        select(Sentence.id, Sentence.index, Sentence.start, Sentence.end)
        .where(Sentence.article_id == article.id)
        .order_by(Sentence.index)
        .offset(skip)
        .limit(limit)
    ).all()
    return [{"id": s.id, "index": s.index, "start": s.start, "end": s.end, "text": article.text[s.start:s.end]} for s in rows]


def count(session: Session, article_id: int) -> int:
    """How many sentences the article has."""
    return int(session.scalar(select(func.count()).select_from(Sentence).where(Sentence.article_id == article_id)) or 0)


def labels(session: Session, sentence_ids: list[int]) -> dict[int, list[tuple[str, str, bool]]]:
    """Per sentence: (annotator, label, to re-check) of every label on it, by annotator name."""
    found: dict[int, list[tuple[str, str, bool]]] = {i: [] for i in sentence_ids}
    for sentence_id, name, label, needs_review in session.execute(
        select(Annotation.sentence_id, User.name, Annotation.label, Annotation.needs_review)
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.sentence_id.in_(sentence_ids))
        .order_by(User.name)
    ).all():
        found[sentence_id].append((name, label, bool(needs_review)))
    return found


def gold(session: Session, sentence_ids: list[int]) -> dict[int, str]:
    """Per sentence that has one: its gold label."""
    return dict(session.execute(select(GoldLabel.sentence_id, GoldLabel.label).where(GoldLabel.sentence_id.in_(sentence_ids))).all())


def user_names(session: Session) -> dict[int, str]:
    """Every user's name by id (the correction log names the people whose labels moved)."""
    return dict(session.execute(select(User.id, User.name)).all())


def article_of(session: Session, sentence_id: int) -> int | None:
    """The id of the article a sentence is in; None when there is no such sentence."""
    return session.scalar(select(Sentence.article_id).where(Sentence.id == sentence_id))
