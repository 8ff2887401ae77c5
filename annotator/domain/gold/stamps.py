"""What a reviewer's page saw of the stored decision, as a short stamp sent back with the save.

Two reviewers on the same sentence (or article) must not overwrite each other silently: the page carries the stamp
of the human decision it showed, and the save is refused when the stored one has a different stamp now. Only human
gold counts (automatic gold moves with every annotator's save); "none" is the stamp of no decision, so a page that
saw none and finds one conflicts too. Every reviewer's save rewrites updated_at, which the stamp includes.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from annotator.db.models import GoldArticleLabel, GoldLabel, GoldRelation, GoldSpan, Sentence
from annotator.domain.gold.keys import GoldError
from annotator.stats.gold import HUMAN_PROVENANCE

NO_DECISION = "none"


def stamp(rows: list[Any]) -> str:
    """The stamp of a decision given as rows of plain values: NO_DECISION for none."""
    if not rows:
        return NO_DECISION
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()[:16]


def sentence_stamp(session: Session, sentence_id: int) -> str:
    """The sentence's human gold label, and the human gold spans a save of its page replaces (those overlapping it) with
    their links: another reviewer's link from a sentence nearby can add a quote here, which the page did not show and
    a save of it would drop."""
    label = session.execute(
        select(GoldLabel.label, GoldLabel.provenance, GoldLabel.reviewer_id, GoldLabel.reason, GoldLabel.updated_at)
        .where(GoldLabel.sentence_id == sentence_id, GoldLabel.provenance.in_(HUMAN_PROVENANCE))
    ).first()
    within = select(GoldSpan.id).join(Sentence, Sentence.article_id == GoldSpan.article_id).where(
        Sentence.id == sentence_id, GoldSpan.start < Sentence.end, GoldSpan.end > Sentence.start)
    spans = session.execute(
        select(GoldSpan.id, GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance, GoldSpan.reviewer_id)
        .where(GoldSpan.id.in_(within), GoldSpan.provenance.in_(HUMAN_PROVENANCE)).order_by(GoldSpan.id)
    ).all()
    links = session.execute(
        select(GoldRelation.id, GoldRelation.type, GoldRelation.from_span_id, GoldRelation.to_span_id, GoldRelation.provenance)
        .where(or_(GoldRelation.from_span_id.in_(within), GoldRelation.to_span_id.in_(within)),
               GoldRelation.provenance.in_(HUMAN_PROVENANCE)).order_by(GoldRelation.id)
    ).all()
    rows = ([] if label is None else [["label", *label]]) + [["span", *row] for row in spans] + [["link", *row] for row in links]
    return stamp(rows)


def article_stamp(session: Session, article_id: int) -> str:
    rows = session.execute(
        select(GoldArticleLabel.group, GoldArticleLabel.values, GoldArticleLabel.provenance, GoldArticleLabel.reviewer_id,
               GoldArticleLabel.reason, GoldArticleLabel.updated_at)
        .where(GoldArticleLabel.article_id == article_id).order_by(GoldArticleLabel.group)
    ).all()
    return stamp([[g, sorted(v), *rest] for g, v, *rest in rows])


def check_seen(seen: str | None, now: str) -> None:
    """GoldError 409 when the page saw another decision than the stored one (no stamp sent: no check, as for the CLI)."""
    if seen and seen != now:
        raise GoldError("Another reviewer saved a decision here since this page was opened: nothing was saved. "
                        "The page now shows the stored decision; your choices are kept below: save again to replace it.", 409)
