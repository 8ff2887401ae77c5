"""What a database failure means, in one line a person can act on: the command line's message for it.

The kinds are the ones the web app tells apart (transactions.disk_full and lock_conflict, its 507 and 503),
and those a command meets before it gets that far: no schema yet, no server, a database it may only read, a file
that is not a database. Told apart by the driver's error codes (SQLite's result code, PostgreSQL's SQLSTATE),
not by the wording, which changes between versions.
"""
from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

from annotator.db.transactions import DISK_FULL_MESSAGE, disk_full, lock_conflict

_PG_UNDEFINED_TABLE, _PG_UNDEFINED_COLUMN, _PG_READ_ONLY = "42P01", "42703", "25006"
# PostgreSQL's connection exceptions (class 08), and a server shutting down or starting up (57P01-57P03)
_PG_UNREACHABLE = ("08", "57P01", "57P02", "57P03")


def reason(exc: BaseException) -> str:
    """The driver's own message, its first line (PostgreSQL adds a DETAIL and a HINT, SQLAlchemy its SQL)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def failure_line(exc: DBAPIError, database: str) -> str:
    """One line saying what kept the command from its database (`database`: the SQLite file, or the server's URL
    without its password), and what to do about it."""
    orig = getattr(exc, "orig", None)
    said = reason(exc)
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if disk_full(exc):
        return DISK_FULL_MESSAGE
    if lock_conflict(exc):
        return f"the database is busy: another process held it for longer than a command waits ({said}); run the command again"
    if sqlite_code is not None:
        code = sqlite_code & 0xFF
        if code == sqlite3.SQLITE_READONLY:
            return f"the database is read-only ({said}): nothing was written; {database} and its folder must be writable by this user"
        if code == sqlite3.SQLITE_NOTADB:
            return f"{database} is not a SQLite database ({said}); check DATABASE_URL"
        if code == sqlite3.SQLITE_CANTOPEN:
            return f"cannot open the database file {database} ({said}); check DATABASE_URL and that its folder can be written"
    elif orig is not None:  # PostgreSQL: no SQLSTATE at all when no connection was made (refused, unknown host, bad password)
        if (not sqlstate and exc.statement is None) or sqlstate.startswith(_PG_UNREACHABLE):
            return f"cannot connect to the database server ({said}); is it running, and is DATABASE_URL ({database}) right?"
        if sqlstate == _PG_READ_ONLY:
            return f"the database is read-only ({said}): nothing was written; the server (a standby?) or this role takes no writes"
    if sqlstate == _PG_UNDEFINED_TABLE or "no such table" in said:
        return f"the database has no schema yet ({said}); run `annotator init` first"
    if sqlstate == _PG_UNDEFINED_COLUMN or "no such column" in said:
        return f"the database's schema is older than this annotator ({said}); run `annotator init` to upgrade it"
    return f"database error: {said}"
