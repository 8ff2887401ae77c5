"""No GET request writes to the database (issue 16): every GET route of the URL map, as every role, counted.

Pages used to write on GET: the disagreement queue, the adjudication page and
the export refreshed automatic gold, the agreement page stored its figures.
Gold is now kept current by the writes and pages only read the figures'
cache, so a GET must issue no INSERT, UPDATE, DELETE or REPLACE at all. The
statements are counted on the engine (SQLAlchemy's before_cursor_execute),
so nothing can write behind the ORM's back either. The routes and their URL
arguments come from the route x role matrix (tests/test_route_matrix.py): a
new route is covered without anyone adding it here. Logging in is a POST and
happens before counting starts.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from annotator.db import db

from .test_route_matrix import BACKENDS, GET_CASES, ROLES, caller, find_rule, seeded_app, url_for_rule

WRITE = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE | re.DOTALL)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    with seeded_app(request.param, tmp_path_factory.mktemp("getwrites")) as (app, seeded):
        yield app, seeded, {role: caller(app, seeded, role) for role in ROLES}


class WriteCounter:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if WRITE.match(statement):
            self.writes.append(" ".join(statement.split())[:160])


def test_the_counter_sees_a_write(world):
    """The check itself: a write statement through the engine is counted, a read is not."""
    app, _, _ = world
    counter = WriteCounter()
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            db.session.execute(db.text("SELECT 1"))
            db.session.execute(db.text("UPDATE users SET active = active WHERE id = -1"))
            db.session.rollback()
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
    assert counter.writes == ["UPDATE users SET active = active WHERE id = -1"]


@pytest.mark.parametrize("case", GET_CASES, ids=lambda c: c.id)
def test_get_writes_nothing(world, case):
    app, seeded, callers = world
    rule = find_rule(app, case)
    paths = {url_for_rule(rule, seeded)}
    if rule.arguments:
        paths.add(url_for_rule(rule, seeded, shared=True))
    counter = WriteCounter()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        statuses = {}
        for role in ROLES:
            for path in sorted(paths):
                response = callers[role].client.get(path)
                response.get_data()  # a streamed answer (the export) runs its queries while it is read
                statuses[(role, path)] = response.status_code
                assert not counter.writes, f"{role} GET {path} ({response.status_code}) wrote: {counter.writes}"
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    assert all(status < 500 for status in statuses.values()), statuses
