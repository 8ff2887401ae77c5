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

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import GoldArticleLabel, GoldLabel
from annotator.domain.gold.keys import GoldError
from annotator.stats.gold import HUMAN_PROVENANCE

NO_DECISION = "none"


def stamp(rows: list[Any]) -> str:
    """The stamp of a decision given as rows of plain values: NO_DECISION for none."""
    if not rows:
        return NO_DECISION
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()[:16]


def sentence_stamp(session: Session, sentence_id: int) -> str:
    row = session.execute(
        select(GoldLabel.label, GoldLabel.provenance, GoldLabel.reviewer_id, GoldLabel.reason, GoldLabel.updated_at)
        .where(GoldLabel.sentence_id == sentence_id, GoldLabel.provenance.in_(HUMAN_PROVENANCE))
    ).first()
    return stamp([] if row is None else [list(row)])


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
