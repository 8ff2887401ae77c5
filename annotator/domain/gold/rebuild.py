"""`gold rebuild`: all automatic gold recomputed from scratch, compared with what the writes kept, and fixed on request.

The writes keep automatic gold current article by article (incremental.py);
this recomputes every article of the project with the full refresh
(refresh.py), a batch of articles at a time, each batch in its own write
transaction under the same locks as the writes (so a save meanwhile is seen
whole or not at all). What the refresh would change is the difference: its
audit entries say exactly what (created, updated, removed, and before and
after). Without `fix` each batch is rolled back; with it, committed. Memory
is one batch's plus the first `show` differences; the others are counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Article
from annotator.db.transactions import transaction
from annotator.domain.gold.refresh import REFRESH_BATCH_ARTICLES, RefreshResult, refresh_articles
from annotator.domain.gold.writes import chunks, lock_articles, lock_project
from annotator.domain.project_head import project_head

SHOWN = 50


class _DryRun(Exception):
    """Raised inside a batch's transaction to roll it back (rebuild without fix)."""


@dataclass
class RebuildReport:
    articles: int = 0
    differences: int = 0
    shown: list[str] = field(default_factory=list)
    fixed: bool = False


def rebuild(session: Session, project_id: int, fix: bool = False, batch_articles: int = REFRESH_BATCH_ARTICLES,
            show: int = SHOWN) -> RebuildReport:
    """Compare (and with `fix`, make) every article's automatic gold with what the rule gives from scratch."""
    project_head(session, project_id)  # ProjectNotFound before any work
    ids = list(session.scalars(select(Article.id).where(Article.project_id == project_id).order_by(Article.id)))
    report = RebuildReport(articles=len(ids), fixed=fix)
    for batch in chunks(ids, batch_articles):
        changes: list[dict[str, Any]] = []
        try:
            with transaction(session, queue=True):
                lock_project(session, project_id)
                lock_articles(session, batch)
                refresh_articles(session, project_head(session, project_id), batch, RefreshResult(), changes)
                if not fix:
                    raise _DryRun
        except _DryRun:
            pass  # rolled back: the comparison only
        report.differences += len(changes)
        report.shown += [describe(c) for c in changes[: max(0, show - len(report.shown))]]
    return report


def describe(change: dict[str, Any]) -> str:
    """One line: what is stored and what the rule gives instead (from a refresh's audit entry)."""
    before, after = change["before"], change["after"]
    if change["entity"] == "gold_label":
        def label(doc: dict[str, Any] | None) -> str:
            return "none" if doc is None else f"{doc['label']} ({doc['provenance']})"
        return f"article {change['article_id']}, sentence id {change['entity_id']}: gold label stored {label(before)}, the rule gives {label(after)}"
    what = "gold span" if change["entity"] == "gold_span" else "gold link"
    doc = before or after
    shape = f"{doc['label']} {doc['start']}-{doc['end']}" if what == "gold span" else f"{doc['type']} {doc['from']} -> {doc['to']}"
    state = "stored, the rule does not give it" if after is None else "missing, the rule gives it"
    return f"article {change['article_id']}: {what} {shape} {state}"
