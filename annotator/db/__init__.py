"""The database handle, SQLite tuning, and the write-transaction rule.

SQLite runs in WAL mode with foreign keys on and a busy timeout. Transactions
start as plain deferred BEGIN, so readers never queue; code that will write
calls `begin_write()` first, which on SQLite starts with BEGIN IMMEDIATE: a
deferred transaction that reads and then writes can fail at once with
"database is locked" when another worker committed in between, and the busy
timeout cannot help it. On PostgreSQL `begin_write()` is a plain BEGIN; row
conflicts are handled by the statements themselves (upserts, row locks).
"""
from __future__ import annotations

import fcntl
import logging
import sqlite3
from contextlib import contextmanager
from typing import Iterator

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

from annotator import app_folder

SQLITE_BUSY_TIMEOUT_MS = 30_000

log = logging.getLogger(__name__)
DISK_FULL_MESSAGE = "the database's disk is full: nothing was saved; an administrator must free disk space, then try again"
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()

_IMMEDIATE = "annotator_sqlite_immediate"


def tune_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, busy timeout, and BEGIN issued by us (see module doc)."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_annotator_tuned", False):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    engine._annotator_tuned = True  # type: ignore[attr-defined]


def begin_write(session: Session | scoped_session) -> None:
    """Start a transaction that will write; call before the first query of the unit of work.

    Whatever the session had open (typically the read that loaded the logged-in
    user) is ended first: it only read, so nothing is lost.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        if _reuse_read_transaction(session):
            return
        session.commit()
    session.connection(execution_options={_IMMEDIATE: True})


def _reuse_read_transaction(session: Session) -> bool:
    """Turn the open read transaction into the write one without the ORM's commit-and-begin.

    Every API save reads the caller's token first, in a read transaction, then
    writes. The ORM's commit-and-begin cost about 0.12 ms of the ~1.4 ms a save
    takes in the app (bench/bench_api.py). When the session holds no objects
    (nothing read before could be stale), the same can be had for less:
    - SQLite: end the read transaction and BEGIN IMMEDIATE on the same connection;
    - PostgreSQL (READ COMMITTED): keep the transaction; every statement sees
      what was committed before it began, as in a new transaction.
    Otherwise the ORM commits as usual.
    """
    if session.identity_map or session.new or session.deleted:
        return False
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return connection.default_isolation_level == "READ COMMITTED" and "isolation_level" not in connection.get_execution_options()
    if dialect != "sqlite":
        return False
    driver = connection.connection.dbapi_connection
    try:
        if driver.in_transaction:
            driver.execute("COMMIT")
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:  # busy past the timeout: the error callers handle, as from SQLAlchemy
        raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
    return True


def disk_full(exc: BaseException) -> bool:
    """True when a database error (SQLAlchemy's or the driver's) says the disk is full (SQLITE_FULL, PostgreSQL 53100)."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_FULL
    return getattr(orig, "sqlstate", None) == _POSTGRES_DISK_FULL


def log_disk_full(exc: BaseException, doing: str) -> None:
    """Said once per failure, at error level: a full disk needs a person, unlike a busy database."""
    orig = getattr(exc, "orig", None) or exc
    log.error("the database's disk is full while %s: %s", doing, str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__)


def init_app(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app_folder("migrations")), render_as_batch=True)
    with app.app_context():
        tune_sqlite(db.engine)
    from annotator.db import models  # noqa: F401  (register the tables)


@contextmanager
def writer_queue(session: Session) -> Iterator[None]:
    """On a SQLite file, wait for our turn to write on an OS file lock (a no-op elsewhere).

    SQLite lets one writer in at a time; the others poll with growing sleeps
    (1, 2, 5, 10 ... 100 ms) although the lock is held for about a
    millisecond, which makes the slowest saves slow. Waiting on flock() wakes
    the next writer the moment the previous one commits, in turn. Measured
    with bench/bench_api.py, alternating runs with and without it on the busy
    2-core machine: about the same saves/s, p99 47-55 ms against 61-83 ms.
    The lock lives in the file system next to the database, so every worker
    process shares it. The annotation writes, the automatic-gold refresh and
    the agreement cache take it; writers that do not (the CLI, admin pages,
    login) are still serialised by SQLite itself.
    """
    bind = session.get_bind()
    database = bind.url.database if bind.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{database}.write-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def checkpoint(session: Session | scoped_session) -> None:
    """On SQLite, copy the write-ahead log into the database now, without blocking anyone (PASSIVE); elsewhere nothing.

    A bulk writer (a big import) calls it after each of its commits: otherwise
    the log grows by megabytes a chunk, and the automatic checkpoint (every
    1,000 pages) runs inside whichever commit crosses the mark, often a save,
    which then took hundreds of milliseconds (bench/bench_upload_vs_saves.py).
    Call it outside any transaction.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.get_bind().dialect.name != "sqlite" or session.in_transaction():
        return
    session.connection().exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    session.rollback()
