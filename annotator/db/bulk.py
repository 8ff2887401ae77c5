"""Bulk inserts of plain rows through the driver, in the session's transaction: many rows a statement, or COPY.

SQLAlchemy's executemany turns every row into a parameter dict and processes it
(construct_params, the types' bind processors) before the driver sees it, and
the driver's executemany then runs the statement once per row. For the 25,401
sentence rows of the peerbench harness's 1,000 articles (CPU, median of several):
SQLite: SQLAlchemy's executemany 60 ms, the driver's 31-36 ms, INSERT ...
VALUES of 249 rows a statement 16-20 ms; PostgreSQL (psycopg 3, client CPU /
wall): executemany 139 / 383 ms, VALUES 150 / 308 ms, COPY 9 / 140 ms. Rows
whose values the driver takes as they are (integers, strings) can skip all that.
"""
from __future__ import annotations

from itertools import chain
from typing import Any, Sequence

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# The parameter marker of each DB-API paramstyle that takes a sequence (psycopg's pyformat takes %s too).
_MARKERS = (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))
# Parameters in one statement: SQLite before 3.32 allowed 999 (PostgreSQL 65,535).
_MAX_PARAMETERS = 999


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """INSERT the rows (values in `columns` order, ready for the driver: no type conversion is applied) on the
    session's connection: with psycopg as one COPY, elsewhere as INSERT ... VALUES (...), (...), ... statements of
    as many rows as _MAX_PARAMETERS allows. A driver error is raised as SQLAlchemy's (IntegrityError ...), as
    Connection.execute raises it."""
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer
    target = f"{quote.format_table(table)} ({', '.join(quote.format_column(table.c[name]) for name in columns)})"
    cursor = connection.connection.dbapi_connection.cursor()
    statement = f"COPY {target} FROM STDIN" if dialect.driver == "psycopg" else f"INSERT INTO {target} VALUES"
    try:
        if dialect.driver == "psycopg":
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            _insert_values(cursor, statement, dict(_MARKERS)[dialect.paramstyle], len(columns), rows)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def _insert_values(cursor: Any, head: str, marker: str, width: int, rows: Sequence[Sequence[object]]) -> None:
    """`head` (INSERT INTO t (columns) VALUES) with up to _MAX_PARAMETERS // width rows a statement."""
    row = f"({', '.join([marker] * width)})"
    most = max(1, _MAX_PARAMETERS // width)
    full = f"{head} {', '.join([row] * most)}"
    for start in range(0, len(rows), most):
        batch = rows[start : start + most]
        cursor.execute(full if len(batch) == most else f"{head} {', '.join([row] * len(batch))}", list(chain.from_iterable(batch)))
