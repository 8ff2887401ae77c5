"""The database handle (Flask-SQLAlchemy), its naming convention, and SQLite's connection settings.

The write-transaction rule is annotator.db.transactions; the schema's migrations (Alembic through Flask-Migrate,
which the web app never loads) are annotator.db.migrating.
"""
from __future__ import annotations

import sqlite3

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

SQLITE_BUSY_TIMEOUT_MS = 30_000

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
        tune_sqlite(db.engine)
    from annotator.db import models  # noqa: F401  (register the tables)


