"""Planner statistics after bulk loads: ANALYZE the tables a bulk import filled (PostgreSQL).

Issue 16, measured on PostgreSQL with 360,000 freshly bulk-loaded labels:
nothing had analysed the tables, so the planner still took them for nearly
empty and planned a sequential scan of all sentences per batch of the gold
refresh; the review queue and the web export hit gunicorn's 30 s timeout.
Autovacuum analyses too, but only after its thresholds and naptime, and a
bulk import is followed at once by exactly the reads it would help. So the
bulk paths (an article import, an annotation import) of at least BULK_ROWS
articles run ANALYZE on the tables they filled, in the caller's transaction
(PostgreSQL's ANALYZE counts the transaction's own new rows).
SQLite is left alone: without sqlite_stat1 its planner prefers the indexes,
and ANALYZE there reads whole tables.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

BULK_ROWS = 200  # articles from which an import analyses what it filled


def analyzes(session: Session) -> bool:
    """Whether analyze() does anything on this database (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


def analyze(session: Session, tables: Iterable[str]) -> bool:
    """ANALYZE each table on PostgreSQL (inside the session's transaction); False elsewhere (nothing done)."""
    bind = session.get_bind()
    if not analyzes(session):
        return False
    quote = bind.dialect.identifier_preparer.quote
    for table in tables:
        session.execute(text(f"ANALYZE {quote(table)}"))
    return True
