"""What a database failure means, in one line a person can act on: the command line's message for it.

The kinds are the ones the web app tells apart (transactions.disk_full, lock_conflict, unreachable and read_only,
its 507 and 503s), and those a command meets before it gets that far: no schema yet, a file that is not a database. Told apart by the driver's error codes (SQLite's result code, PostgreSQL's SQLSTATE),
not by the wording, which changes between versions.
"""
from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

from annotator.db.transactions import DISK_FULL_MESSAGE, disk_full, driver_codes, lock_conflict, read_only, unreachable

_PG_UNDEFINED_TABLE, _PG_UNDEFINED_COLUMN = "42P01", "42703"


def reason(exc: BaseException) -> str:
    """The driver's own message, its first line (PostgreSQL adds a DETAIL and a HINT, SQLAlchemy its SQL)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def failure_line(exc: DBAPIError, database: str) -> str:
    """One line saying what kept the command from its database (`database`: the SQLite file, or the server's URL
    without its password), and what to do about it."""
    said = reason(exc)
    sqlite_code, sqlstate = driver_codes(exc)
    if disk_full(exc):
        return DISK_FULL_MESSAGE
    if lock_conflict(exc):
        return f"the database is busy: another process held it for longer than a command waits ({said}); run the command again"
    if read_only(exc):
        if sqlite_code is not None:
            return f"the database is read-only ({said}): nothing was written; {database} and its folder must be writable by this user"
        return f"the database is read-only ({said}): nothing was written; the server (a standby?) or this role takes no writes"
    if unreachable(exc):
        return f"cannot connect to the database server ({said}); is it running, and is DATABASE_URL ({database}) right?"
    if sqlite_code == sqlite3.SQLITE_NOTADB:
        return f"{database} is not a SQLite database ({said}); check DATABASE_URL"
    if sqlite_code == sqlite3.SQLITE_CANTOPEN:
        return f"cannot open the database file {database} ({said}); check DATABASE_URL and that its folder can be written"
    if sqlstate == _PG_UNDEFINED_TABLE or "no such table" in said:
        return f"the database has no schema yet ({said}); run `annotator init` first"
    if sqlstate == _PG_UNDEFINED_COLUMN or "no such column" in said:
        return f"the database's schema is older than this annotator ({said}); run `annotator init` to upgrade it"
    return f"database error: {said}"
