"""The reused test databases (tests/schema_pool.py) are as fresh as made ones: same tables, nothing left over."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine, inspect, select, text

from annotator.db import db
from annotator.db.models import AuditEntry, User

from .conftest import ROOT, add_user, fresh_database, install_tables, make_app, schema_pool, sqlite_template


def _namespace(conn) -> tuple[int, int]:  # noqa: ANN001
    """The current schema's oid (kept by a rename, so it names the physical schema) and its tables' count."""
    oid = conn.execute(text("SELECT oid::int FROM pg_namespace WHERE nspname = current_schema()")).scalar()
    return oid, len(inspect(conn).get_table_names())


def _fill(app) -> None:  # noqa: ANN001
    from annotator.domain import projects

    add_user(app, "alice", "admin")
    with app.app_context():
        projects.create_project(db.session, "Leftovers")
        db.session.add(AuditEntry(entity="label", action="create"))
        db.session.commit()


@contextmanager
def _a_test(backend: str, folder: Path) -> Iterator[Any]:
    """What one test's `app` fixture does: its own database, the app on it, and the clean-up at its end."""
    folder.mkdir()
    with fresh_database(backend, folder) as uri:
        app = make_app(uri)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_test_after_one_that_wrote_everywhere_sees_empty_tables_and_fresh_sequences(backend, tmp_path):
    """Two tests in a row, in one test: the two would run in order on one worker only by chance in a parallel run.
    On PostgreSQL the second gets the first one's schema back (same oid), empty."""
    with _a_test(backend, tmp_path / "first") as app:
        _fill(app)
        with app.app_context():
            assert db.session.scalar(select(User.id).where(User.name == "alice")) == 1
            first = _namespace(db.session.connection()) if backend == "postgres" else None
    with _a_test(backend, tmp_path / "next") as app:
        with app.app_context():
            conn = db.session.connection()
            if backend == "postgres":
                assert _namespace(conn) == first, "the schema was not reused"
            for table in db.metadata.sorted_tables:
                assert conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar() == 0, table.name
        _fill(app)
        with app.app_context():
            assert db.session.scalar(select(User.id).where(User.name == "alice")) == 1  # ids start again at 1
            # the audit log is still append-only
            with pytest.raises(Exception, match="append-only"):
                db.session.execute(text("DELETE FROM audit_log"))
            db.session.rollback()


def _sqlite_schema(path: Path) -> tuple[list, str]:
    with sqlite3.connect(path) as conn:
        rows = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        return rows, conn.execute("PRAGMA journal_mode").fetchone()[0]


def test_the_sqlite_template_is_what_create_all_makes(tmp_path):
    copied, made = tmp_path / "copied.sqlite3", tmp_path / "made.sqlite3"
    assert sqlite_template().install(f"sqlite:///{copied}")
    app = make_app(f"sqlite:///{made}", create=False)
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    assert _sqlite_schema(copied) == _sqlite_schema(made)
    assert _sqlite_schema(copied)[1] == "wal"
    assert not sqlite_template().install(f"sqlite:///{copied}"), "an existing file is never overwritten"


@pytest.mark.postgres
def test_a_pooled_schema_has_the_catalog_create_all_makes(tmp_path):
    pool = schema_pool()
    if pool is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    with fresh_database("postgres", tmp_path) as made_uri, fresh_database("postgres", tmp_path) as pooled_uri:
        made = make_app(made_uri, create=False)
        with made.app_context():
            db.create_all()
            made_schema = db.session.execute(text("SELECT current_schema()")).scalar()
            db.session.remove()
            db.engine.dispose()
        pooled = make_app(pooled_uri)
        with pooled.app_context():
            pooled_schema = db.session.execute(text("SELECT current_schema()")).scalar()
            db.session.remove()
            db.engine.dispose()
        with pool.engine.connect() as conn:
            assert pool._catalog(conn, pooled_schema) == pool._catalog(conn, made_schema)
            assert len(pool._catalog(conn, made_schema)) > 100


@pytest.mark.postgres
@pytest.mark.parametrize("change", ["analyze", "ddl"])
def test_a_schema_that_is_not_as_made_is_dropped_not_pooled(tmp_path, change):
    pool = schema_pool()
    if pool is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    with fresh_database("postgres", tmp_path) as uri:
        app = make_app(uri)
        before = list(pool.ready)
        _fill(app)
        with app.app_context():
            oid = _namespace(db.session.connection())[0]
            db.session.execute(text("ANALYZE users" if change == "analyze" else "CREATE INDEX ix_extra ON users (role)"))
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
    assert pool.ready == before
    probe = create_engine(pool.url)
    with probe.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_namespace WHERE oid = :oid"), {"oid": oid}).scalar() == 0
    probe.dispose()



@pytest.mark.postgres
def test_a_test_database_commits_without_waiting_for_the_disk(tmp_path):
    """The suite's PostgreSQL sessions skip the WAL flush at commit (conftest.NO_COMMIT_FLUSH, ~4 ms a commit), and
    their schema still takes a pooled one's tables; the server's own default stays as it is."""
    pool = schema_pool()
    if pool is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    with fresh_database("postgres", tmp_path) as uri:
        assert install_tables(uri), "the pool did not recognise the test's schema in its URL"
        app = make_app(uri, create=False)
        with app.app_context():
            assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "off"
            assert "users" in inspect(db.session.connection()).get_table_names()
            db.session.remove()
            db.engine.dispose()
    with pool.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


# A test process as far as its schemas go: a pool (its owner lock held, its start's sweep done), one schema made;
# it prints its owner key and waits to be killed.
_OWNER = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from tests.schema_pool import SchemaPool
pool = SchemaPool(sys.argv[1], None)
pool.create(sys.argv[3])
print(pool.owner, flush=True)
time.sleep(600)
"""


def _schemas(pool, names: list[str]) -> set[str]:  # noqa: ANN001
    with pool.engine.connect() as conn:
        return set(conn.exec_driver_sql("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%(n)s)", {"n": names}).scalars())


@pytest.mark.postgres
def test_a_killed_runs_schemas_are_dropped_at_the_next_start_and_nobody_elses(tmp_path):
    """A run killed before its clean-up left its schemas in the database for good (hundreds, after a few Ctrl-Cs).
    Now the next process's start drops those whose owner is gone, and leaves those of a live one, this process's own
    and a schema without the mark."""
    pool = schema_pool()
    if pool is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    from tests.schema_pool import SchemaPool

    killed, live, unmarked, mine = (f"t_{uuid.uuid4().hex[:16]}" for _ in range(4))
    owners = {name: subprocess.Popen([sys.executable, "-c", _OWNER, pool.url, str(ROOT), name], stdout=subprocess.PIPE,
                                     text=True, start_new_session=True) for name in (killed, live)}
    next_run = None
    try:
        for process in owners.values():
            assert process.stdout.readline().strip().isdigit()  # its schema made, its lock held
        pool.create(mine)
        with pool.engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {unmarked}")
        owners[killed].kill()
        owners[killed].wait()
        next_run = SchemaPool(pool.url, None)  # the next run's start sweeps
        dropped = set(next_run.swept)
        deadline = time.monotonic() + 10
        while killed not in dropped and time.monotonic() < deadline:  # the server may take a moment to see the end
            time.sleep(0.1)
            dropped |= set(next_run.sweep())
        assert killed in dropped and not dropped & {live, unmarked, mine}
        assert _schemas(pool, [killed, live, unmarked, mine]) == {live, unmarked, mine}
        owners[live].kill()
        owners[live].wait()
        deadline = time.monotonic() + 10
        while live not in dropped and time.monotonic() < deadline:
            dropped |= set(next_run.sweep())
            time.sleep(0.1)
        assert _schemas(pool, [live, unmarked, mine]) == {unmarked, mine}
    finally:
        for process in owners.values():
            process.kill()
            process.wait()
        if next_run is not None:
            next_run.close()
        with pool.engine.connect() as conn:
            for name in (unmarked, mine):
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
