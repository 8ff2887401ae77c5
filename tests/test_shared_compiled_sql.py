"""conftest's _shared_compiled_sql: the suite's engines share SQLAlchemy's compiled statements, and run the same SQL."""
from __future__ import annotations

import inspect as pyinspect
import re

import pytest
from sqlalchemy import Integer, String, column, create_engine, event, insert, select, table
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ClauseElement, ColumnElement

from annotator.db import db

from .conftest import Browser, add_user, dialect_signature, make_app

_TOKEN = re.compile(r"[\w.-]{40,}")  # CSRF tokens and session ids, new each time


def _original_compile():  # noqa: ANN202
    assert ClauseElement._compile_w_cache.__name__ == "shared", "the shared compiled SQL is not in place"
    return pyinspect.getclosurevars(ClauseElement._compile_w_cache).nonlocals["compile_w_cache"]


def _session_of_pages(app) -> tuple[list[str], list[tuple[str, int, str]], list[object]]:
    """An admin's round of pages and writes: the SQL the engine ran, each page's status and text, and the compiled
    form of each statement."""
    statements: list[str] = []
    compiled: list[object] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        statements.append(statement)
        compiled.append(getattr(context, "compiled", None))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
    add_user(app, "admin", "admin")
    add_user(app, "ann")
    browser = Browser(app.test_client())
    browser.login("admin", "correct horse")
    pages = []
    made = browser.post("/admin/projects/new", {"name": "Shared", "schema_source": "preset", "preset": "claims",
                                                "annotators_per_article": "2", "majority_threshold": "1"})
    pages.append(("POST /admin/projects/new", made.status_code, made.headers.get("Location", "")))
    for url in ("/", "/admin/projects", "/admin/users", made.headers.get("Location", "/nowhere")):
        page = browser.get(url)
        pages.append((url, page.status_code, _TOKEN.sub("TOKEN", page.get_data(as_text=True))))
    return statements, pages, compiled


def test_a_second_engine_runs_the_first_engines_compiled_sql_and_the_same_statements(tmp_path, monkeypatch):
    original = _original_compile()
    first_sql, first_pages, first_compiled = _session_of_pages(make_app(f"sqlite:///{tmp_path / 'first.sqlite3'}"))
    second_sql, second_pages, second_compiled = _session_of_pages(make_app(f"sqlite:///{tmp_path / 'second.sqlite3'}"))
    reused = {id(c) for c in first_compiled if c is not None} & {id(c) for c in second_compiled if c is not None}
    assert len(reused) > 20, "the second engine compiled its statements again"

    monkeypatch.setattr(ClauseElement, "_compile_w_cache", original)  # each engine its own cache, as in production
    own_sql, own_pages, own_compiled = _session_of_pages(make_app(f"sqlite:///{tmp_path / 'own.sqlite3'}"))
    assert not {id(c) for c in own_compiled} & {id(c) for c in first_compiled + second_compiled if c is not None}
    assert [status for _, status, _ in own_pages] == [302, 200, 200, 200, 200]
    assert second_pages == own_pages == first_pages
    assert second_sql == own_sql == first_sql


def test_a_dialect_with_other_settings_compiles_its_own(tmp_path):
    """Two SQLite engines whose dialects differ in a setting that changes the SQL (the paramstyle) do not share:
    each runs SQL in its own style."""
    things = table("things", column("id", Integer), column("name", String))
    seen: list[str] = []
    for n, options in enumerate(({}, {"paramstyle": "named"}, {})):
        engine = create_engine(f"sqlite:///{tmp_path / f'{n}.sqlite3'}", **options)
        event.listen(engine, "before_cursor_execute", lambda c, cu, statement, *rest: seen.append(statement))
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE things (id INTEGER, name TEXT)")
            conn.execute(insert(things), [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
            assert conn.execute(select(things.c.name).where(things.c.id == 2)).scalars().all() == ["two"]
        engine.dispose()
    qmark, named, again = seen[1:3], seen[4:6], seen[7:9]
    assert "?" in qmark[1] and ":id_1" in named[1] and ":" not in qmark[1] and again == qmark
    signatures = {dialect_signature(create_engine("sqlite://", **options).dialect) for options in ({}, {"paramstyle": "named"})}
    assert len(signatures) == 2


class _Refused(ColumnElement):
    """A clause whose compilation fails."""

    inherit_cache = True
    type = Integer()


@compiles(_Refused)
def _refuse(element, compiler, **kw):  # noqa: ANN001, ANN202, ARG001
    raise CompileError("refused on purpose")


def test_a_statement_that_fails_to_compile_fails_on_every_engine(tmp_path):
    """Nothing of a failed compile is kept: each engine's attempt fails as its own would."""
    for n in range(2):
        engine = create_engine(f"sqlite:///{tmp_path / f'{n}.sqlite3'}")
        with engine.connect() as conn, pytest.raises(CompileError, match="refused on purpose"):
            conn.execute(select(_Refused()))
        engine.dispose()
