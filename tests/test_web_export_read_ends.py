"""The web export's read (one snapshot, by a session of the answer's own: web/dataset_export.py) ends however the answer
ends: streamed to the end, never read, read part-way and closed, stopped by an error, a 304, a 400, a HEAD. A read
left open holds its locks: on PostgreSQL the test schema's DROP waited for one forever (the suite hung at 90 %), and
on SQLite it keeps the write-ahead log from being emptied."""
from __future__ import annotations

import sqlite3
from typing import Any, Callable

import pytest
from sqlalchemy import event, make_url, text

from annotator.db import db
from annotator.domain import accounts, labelschema, projects
from annotator.domain.dataset import articles, export
from annotator.domain.dataset.ingest import ArticleRecord


def _project(app) -> tuple[int, dict[str, str]]:
    """Three articles of two sentences (six records, one line each), and the headers of rita, a reviewer of the project."""
    with app.app_context():
        project = projects.create_project(db.session, "news", labelschema.preset("claims"))
        records = [ArticleRecord(f"a{i}", f"A {i}", f"Article {i} begins. It ends here.", {}) for i in range(3)]
        articles.store_articles(db.session, project, records, "test")
        rita = accounts.create_user(db.session, "rita", "reviewer", "correct horse")
        projects.add_members(db.session, project.id, [rita])
        token = accounts.issue_token(db.session, rita)
        db.session.commit()
        return project.id, {"Authorization": f"Bearer {token}"}


def _watching(app) -> list[int]:
    """The PostgreSQL backends the app's connections from now on are (other tests' share the server): a new pool."""
    pids: list[int] = []
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return pids
        db.engine.dispose()
        event.listen(db.engine, "connect", lambda connection, _record: pids.append(connection.info.backend_pid))
    return pids


def _reads_left(app, pids: list[int]) -> list[Any]:
    """What is left reading: connections still out of the app's pool, and on PostgreSQL the app's backends idle in a
    transaction (pg_stat_activity); on SQLite a reader keeps a TRUNCATE checkpoint from completing (busy = 1)."""
    with app.app_context():
        left: list[Any] = [f"{db.engine.pool.checkedout()} connection(s) out of the pool"] if db.engine.pool.checkedout() else []
        if db.engine.dialect.name == "postgresql":
            idle = db.session.execute(
                text("SELECT pid, query FROM pg_stat_activity WHERE pid = ANY(:pids) AND state LIKE 'idle in transaction%'"),
                {"pids": pids},
            ).all()
            db.session.rollback()
            return left + [tuple(row) for row in idle]
        path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    with sqlite3.connect(path, timeout=0) as connection:  # no waiting: a reader makes it busy at once
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return left + (["a read transaction keeps the write-ahead log (checkpoint busy)"] if busy else [])


def _read_halfway_and_closed(client, url: str, headers: dict[str, str]) -> int:
    response = client.get(url, headers=headers)
    chunks = iter(response.response)
    assert next(chunks) and next(chunks)  # two of the six lines (the test client took the first already)
    response.close()  # as a server closes the answer of a client that went away
    return response.status_code


def _stopped_by_an_error(client, url: str, headers: dict[str, str]) -> int:
    response = client.get(url, headers=headers)
    with pytest.raises(RuntimeError, match="a record that cannot be written"):
        response.get_data()
    return response.status_code


def _not_modified(client, url: str, headers: dict[str, str]) -> int:
    first = client.get(url, headers=headers)
    first.get_data()
    return client.get(url, headers={**headers, "If-None-Match": first.get_etag()[0]}).status_code


def _never_iterated(client, url: str, headers: dict[str, str]) -> int:
    """The answer as the view made it, let go without a server ever iterating or closing it (a middleware's error)."""
    with client.application.test_request_context(url, headers=headers):
        status = client.application.full_dispatch_request().status_code
    return status


ENDINGS: dict[str, tuple[str, Callable[[Any, str, dict[str, str]], int], int]] = {
    # how the answer ends: (query, the request, its status)
    "read to the end": ("", lambda c, url, h: c.get(url, headers=h, buffered=True).status_code, 200),
    "never read, let go": ("", lambda c, url, h: c.get(url, headers=h).status_code, 200),
    "never read, closed": ("", lambda c, url, h: _closed(c.get(url, headers=h)), 200),
    "never iterated, let go": ("", _never_iterated, 200),
    "read halfway and closed": ("", _read_halfway_and_closed, 200),
    "stopped by an error": ("", _stopped_by_an_error, 200),
    "304": ("", _not_modified, 304),
    "400": ("?labels=NOPE", lambda c, url, h: c.get(url, headers=h).status_code, 400),
    "HEAD": ("", lambda c, url, h: c.head(url, headers=h).status_code, 200),
}


def _closed(response) -> int:
    response.close()  # as a server closes the answer of a client that went away
    return response.status_code


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_the_export_read_ends_however_the_answer_ends(app, monkeypatch, ending):
    """A session of the answer's own, closed only when the answer was (call_on_close), stayed idle in its transaction
    after a 304 (which no server iterates) and after an answer a client never read (a generator never started runs no
    finally). Now every way an answer ends leaves no read open, on PostgreSQL and SQLite alike."""
    query, request, status = ENDINGS[ending]
    project_id, headers = _project(app)
    if ending == "stopped by an error":
        dumpb = export.dumpb
        written: list[bytes] = []

        def dump_then_fail(record: dict[str, Any]) -> bytes:
            if written:
                raise RuntimeError("a record that cannot be written")
            written.append(dumpb(record))
            return written[0]

        monkeypatch.setattr(export, "dumpb", dump_then_fail)
    pids = _watching(app)
    assert request(app.test_client(), f"/api/projects/{project_id}/export.jsonl{query}", headers) == status
    assert _reads_left(app, pids) == [], f"a read left open after the answer ({ending})"
