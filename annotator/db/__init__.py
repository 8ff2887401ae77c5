"""The database handle (Flask-SQLAlchemy), its naming convention, and SQLite's connection settings.

The write-transaction rule is annotator.db.transactions; the schema's migrations (Alembic through Flask-Migrate,
which the web app never loads) are annotator.db.migrating.
"""
from __future__ import annotations

import sqlite3

import flask_sqlalchemy.session
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLite's own checkpoint, which copies the write-ahead log into the database file, runs inside whichever COMMIT
# takes the log past this many pages: on the hot path that commit holds the writer queue (db/transactions.py), so
# the copy and its two fsyncs stalled every other writer. The queued writes checkpoint after letting the queue go
# (CHECKPOINT_EVERY); this high mark is the backstop (40 MB of 4 KB pages) for writers that never do, and for a
# steady stream of saves, which adds to the log before it can start again (README: about once in 600 saves).
SQLITE_AUTOCHECKPOINT_PAGES = 10_000
# A queued write checkpoints, after the queue is let go, with probability 1 / CHECKPOINT_EVERY: a save adds about
# 16 pages to the log, so about 800 pages lie between checkpoints on average, as with
# SQLite's default mark of 1,000, but none of them inside the lock. A chance, not a count: a count would be state
# shared between the workers. 0: never (tests that count statements set it).
CHECKPOINT_EVERY = 50

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Session(flask_sqlalchemy.session.Session):
    """Flask-SQLAlchemy's session, with its engine looked up once.

    Its get_bind finds the app's engines through the app context on every call, and the session asks for its bind
    at every statement, flush and connection() (two dozen times a batch save: a twentieth of its Python calls,
    issue 17). A session lives in one app context (the scoped session's key), so the app's engine cannot change
    under it; with one database (no SQLALCHEMY_BINDS) every mapper and clause goes to that engine.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
        if bind is not None:
            return bind
        engine = self.__dict__.get("_annotator_engine")
        if engine is None:
            engines = self._db.engines
            if len(engines) != 1 or None not in engines:
                return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
            engine = self.__dict__["_annotator_engine"] = engines[None]
        return engine


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})


def tune_sqlite(engine: Engine, checkpoint_every: int = CHECKPOINT_EVERY) -> None:
    """WAL, foreign keys, busy timeout, checkpoints left to the writers (with a backstop), and BEGIN issued by us
    (see module doc)."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_annotator_tuned", False):
        return
    engine._annotator_checkpoint_every = checkpoint_every  # type: ignore[attr-defined]  (read by transactions)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    def begin(dbapi_connection) -> None:  # noqa: ANN001  (the pool's connection proxy)
        """BEGIN (deferred) on the driver's connection, as the dialect's own begin: SQLAlchemy's recipe for this is a
        "begin" event listener, but any statement-level event on the engine makes every statement, commit and
        rollback walk joined listener lists (and Prepared statements check them), which was a tenth of a save's
        Python calls (issue 17). begin_write turns it into BEGIN IMMEDIATE when the transaction will write. A
        failure (a full disk) is raised as SQLAlchemy would have raised it, which is what callers handle."""
        try:
            dbapi_connection.dbapi_connection.execute("BEGIN")
        except sqlite3.Error as exc:
            raise DBAPIError.instance("BEGIN", None, exc, sqlite3.Error) from exc

    engine.dialect.do_begin = begin  # this engine's dialect instance only

    engine._annotator_tuned = True  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        tune_sqlite(db.engine, app.config.get("SQLITE_CHECKPOINT_EVERY", CHECKPOINT_EVERY))
    from annotator.db import models  # noqa: F401  (register the tables)


