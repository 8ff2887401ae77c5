"""Bulk inserts of plain rows through the driver's own executemany, in the session's transaction.

SQLAlchemy's executemany turns every row into a parameter dict and processes it
(construct_params, the types' bind processors) before the driver sees it: for
the ~25,000 sentence rows of a 1,000-article import that took longer than
SQLite's own work of inserting them (bench/bench_upload_import.py). Rows whose
values the driver takes as they are (integers, strings) can skip all that.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# The parameter marker of each DB-API paramstyle that takes a sequence per row (psycopg's pyformat takes %s too).
_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """INSERT each row (values in `columns` order, ready for the driver: no type conversion is applied) with one
    executemany on the session's connection. A driver error is raised as SQLAlchemy's (IntegrityError ...), as
    Connection.execute raises it."""
    connection = session.connection()
    dialect = connection.dialect
    marker = _MARKERS[dialect.paramstyle]
    quote = dialect.identifier_preparer
    statement = (
        f"INSERT INTO {quote.format_table(table)} ({', '.join(quote.format_column(table.c[name]) for name in columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.executemany(statement, rows)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
