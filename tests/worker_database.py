"""Each parallel test worker (pytest-xdist, see pyproject's addopts) on a PostgreSQL database of its own.

Test schemas have names of their own already, but PostgreSQL's advisory locks are one space per database, and the
app takes them by project, article and user id, ids that start at 1 in every test's schema: two workers' tests
saving "article 1" at once would wait on each other, and a test that holds such a lock on purpose (to see another
request wait) could find its request waiting on the other worker instead. A database per worker keeps its locks,
like its schemas, to itself: DATABASE_URL's database name with the worker's id appended (`test_gw0`), made once
from template0 and kept for the next run.
"""
from __future__ import annotations

import warnings

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

_DUPLICATE_DATABASE = "42P04"


def worker_database(url: str, worker: str | None) -> str:
    """`url` with the worker's own database (made if missing); `url` itself outside a parallel run, or when this
    user may not create databases (with a warning: the workers then share the database and its advisory locks)."""
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar() is None:
                _create(conn, name)
    except DBAPIError as exc:
        warnings.warn(f"test worker {worker} shares {parsed.database}: cannot create {name} ({exc.orig})", stacklevel=2)
        return url
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _create(conn, name: str) -> None:  # noqa: ANN001
    """template0: nobody connects to it, so two workers (or two runs) copying it at once do not refuse each other."""
    quoted = '"' + name.replace('"', '""') + '"'
    try:
        conn.exec_driver_sql(f"CREATE DATABASE {quoted} TEMPLATE template0")
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != _DUPLICATE_DATABASE:  # another run made it meanwhile: use it
            raise
