"""What every gold write shares (the automatic refresh and the adjudication): the project's gold lock, bulk audit entries, new uids."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import Integer, bindparam, func, insert, literal_column, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Delete

from annotator.db.models import AuditEntry, Project
from annotator.db.prepared import Prepared, PreparedWrite
from annotator.stats.gold import AUTO_PROVENANCE

CHUNK = 5000  # ids per IN (...) / rows per executemany, well under every database's limit
_GOLD_LOCK_NAMESPACE = 0x60D  # first key of the PostgreSQL advisory lock: "gold writes of project N"
_ARTICLE_LOCK_NAMESPACE = 0x60E  # "automatic gold of article N"
# Prebuilt (every span save of a rater takes an article's lock): run on the session's connection.
# run on the driver's cursor (db/prepared.py): every annotation save on PostgreSQL takes an article's lock
_ADVISORY_LOCK = Prepared(select(func.pg_advisory_xact_lock(bindparam("namespace", type_=Integer), bindparam("key", type_=Integer))))
_ADVISORY_LOCKS = text("SELECT pg_advisory_xact_lock(CAST(:namespace AS integer), k) FROM unnest(CAST(:keys AS integer[])) AS k")
_AUDIT = PreparedWrite(insert(AuditEntry.__table__))
# Up to this many rows a gold write runs prebuilt on the driver's cursor (db/prepared.py), as a save's own writes do:
# a save that recomputes its article changes a row or two (a gold label, a gold span, their audit entries), and
# SQLAlchemy's execution of each write cost several times the write, inside the save's write turn. More rows (a
# project's refresh, an import's) go through SQLAlchemy's executemany (insertmanyvalues on PostgreSQL), in chunks.
FEW = 20


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_uid() -> str:
    return uuid.uuid4().hex


def lock_project(session: Session, project_id: int) -> None:
    """Serialise the gold writers (refresh, adjudication) of one project.

    SQLite: BEGIN IMMEDIATE (begin_write) already serialises every writer.
    PostgreSQL: a transaction-scoped advisory lock, not a row lock on the
    project: every writer takes the project row LAST (bump_revision), so a
    lock on it first could deadlock with them.
    """
    if session.get_bind().dialect.name == "postgresql":
        _ADVISORY_LOCK.rows(session, {"namespace": _GOLD_LOCK_NAMESPACE, "key": project_id})


def lock_articles(session: Session, article_ids: list[int]) -> None:
    """Serialise the automatic-gold writers of these articles (PostgreSQL; SQLite's BEGIN IMMEDIATE already does).

    Two annotators saving labels on one sentence at once each read the labels
    without the other's uncommitted one; whoever takes the article's lock
    second reads after the first committed, so the gold left is that of both
    labels. An annotation save takes one article's lock, before the project
    row (bump_revision, last); the refresh and the adjudication take the
    project's lock (lock_project) first, then the articles': no cycle.
    """
    if not article_ids or session.get_bind().dialect.name != "postgresql":
        return
    ordered = sorted(set(article_ids))
    if len(ordered) == 1:  # a save's one article: the prebuilt statement
        _ADVISORY_LOCK.rows(session.connection(), {"namespace": _ARTICLE_LOCK_NAMESPACE, "key": ordered[0]})
        return
    # A batch (an import's gold refresh): one statement for all, in id order (unnest yields the array's order), not one per
    # article: 1,500 round trips for a file of 1,500 articles.
    session.execute(_ADVISORY_LOCKS, {"namespace": _ARTICLE_LOCK_NAMESPACE, "keys": ordered}).all()


def bump_revision(session: Session, project_id: int) -> None:
    """The project's revision moved on (as projects.bump_revision; gold does not import projects, which imports gold)."""
    session.execute(update(Project).where(Project.id == project_id).values(revision=Project.revision + 1))


def chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for k in range(0, len(items), size):
        yield items[k:k + size]


def is_auto(provenance: Any) -> Any:
    """`provenance` IN the automatic provenances, written into the SQL (an IN of bound values is expanded again at
    every execution of a prebuilt statement)."""
    return provenance.in_([literal_column(f"'{name}'") for name in AUTO_PROVENANCE])


def audit_many(session: Session, entries: list[dict[str, Any]]) -> None:
    """Insert AuditEntry rows (dicts of its columns but `at`) in bulk, all at one time (a prebuilt Core insert)."""
    if entries:
        at = now()
        write_rows(session, _AUDIT, [{"at": at, **e} for e in entries])


def write_rows(session: Session, write: PreparedWrite, rows: list[dict[str, Any]]) -> None:
    """Run `write` once for each row of parameters: prebuilt for a few (FEW), through SQLAlchemy in chunks for more."""
    if not rows:
        return
    if len(rows) <= FEW:
        write.run(session, rows)
        return
    conn = session.connection()
    for chunk in chunks(rows):
        conn.execute(write.statement, chunk)


def delete_rows(session: Session, by_id: PreparedWrite, by_ids: Delete, ids: list[int]) -> None:
    """Delete rows by id: `by_id` (parameter `gid`) for each of a few ids, `by_ids` (an IN of `ids`) for more."""
    if len(ids) <= FEW:
        write_rows(session, by_id, [{"gid": i} for i in ids])
        return
    conn = session.connection()
    for chunk in chunks(ids):
        conn.execute(by_ids, {"ids": chunk})
