"""db/prepared.py: statements run on the driver's cursor must give what SQLAlchemy's execution gives, value for value
and type for type, on SQLite and PostgreSQL; and driver errors must come back as SQLAlchemy's."""
from __future__ import annotations

import importlib
import pkgutil
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, event, select, text, update

import annotator
from annotator.db import db
from annotator.db.models import Annotation, ApiToken, Article, Assignment, GoldSpan, LabelRequest, Sentence, Span, utcnow
from annotator.db.prepared import Prepared
from annotator.domain import accounts, annotations, assignment, projects
from annotator.domain.annotations.idempotency import Request, claim_request
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

TEXT = "Prices rose. \u201cThey will fall,\u201d said Ms. \u00c5berg. Nobody \U0001f600 believed it."
SCHEMA = {
    "sentence_labels": [{"name": "CFS", "key": "1"}, {"name": "NFS", "key": "2"}],
    "span_labels": [{"name": "QUOTE", "key": "q"}, {"name": "SOURCE", "key": "s"}],
    "relation_types": [{"name": "attributed_to", "key": "l", "from": ["QUOTE"], "to": ["SOURCE"]}],
}


def every_prepared() -> list[tuple[str, Prepared]]:
    """Every Prepared statement the package defines at module level (a new one is covered without adding it here)."""
    found = {}
    for module in pkgutil.walk_packages(annotator.__path__, "annotator."):
        if module.name.startswith(("annotator.cli", "annotator.web", "annotator.gunicorn_conf", "annotator.__main__")):
            continue
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if isinstance(value, Prepared):
                found.setdefault(id(value), (f"{module.name}.{name}", value))
    return sorted(found.values(), key=lambda pair: pair[0])


PREPARED = every_prepared()


def test_the_hot_statements_are_prepared():
    names = {name.rsplit(".", 1)[1] for name, _ in PREPARED}
    assert {"_USER_FOR_TOKEN", "READABLE", "SENTENCES", "ANNOTATIONS", "ACCESS_SENTENCE", "LOCK_LABEL", "ALL_LABELLED", "_HEAD", "_MARKERS"} <= names


@pytest.fixture
def seeded(app) -> dict:
    """One annotator's article with every kind of value the prepared statements return: labels (one needing review),
    spans, a relation, a token that expires and was used, an answered request id, JSON meta and schema."""
    with app.app_context():
        s = db.session
        zoe = accounts.create_user(s, "zoe", "annotator", "a long enough password")
        project = projects.create_project(s, "Pr\u00f8ject", SCHEMA)
        articles.store_articles(s, project, [ArticleRecord("x-1", "T\u00eetre", TEXT, meta={"source": "\u00c5", "n": 1.5})], "test")
        assignment.assign_to_user(s, project.id, zoe, ["x-1"])
        token = accounts.issue_token(s, zoe, expires_days=3)
        s.commit()
        article = s.scalar(select(Article.id))
        quote = TEXT.index("\u201c")
        for action in (
            lambda: annotations.put_label(s, zoe.id, article, 0, "CFS", 2.5),
            lambda: annotations.put_label(s, zoe.id, article, 1, "NFS", 1),
            lambda: annotations.create_span(s, zoe.id, article, "QUOTE", quote, quote + 16, "quote-001"),
            lambda: annotations.create_span(s, zoe.id, article, "SOURCE", quote + 22, quote + 33, "source-01"),
            lambda: annotations.create_relation(s, zoe.id, article, "attributed_to", "quote-001", "source-01", "relation-1"),
        ):
            annotations.write(s, action)
        s.execute(update(Annotation).where(Annotation.user_id == zoe.id).values(needs_review=True))
        s.add(GoldSpan(article_id=article, label="QUOTE", start=quote, end=quote + 16, provenance="unanimous"))  # automatic gold
        s.execute(update(ApiToken).values(last_used_at=utcnow() - timedelta(hours=2)))
        request = Request(zoe.id, "req-\u00e9", "f" * 64, article)
        row_id, _ = claim_request(s, request)
        s.execute(update(LabelRequest).where(LabelRequest.id == row_id).values(response={"results": [{"status": 200, "body": None}]}))
        s.commit()
        sentence = s.scalar(select(Sentence.id).where(Sentence.article_id == article, Sentence.index == 0))
        return {
            "user_id": zoe.id, "article_id": article, "sentence_index": 0, "sentence_id": sentence, "request_id": "req-\u00e9",
            "token_hash": accounts.hash_token(token), "uid": "quote-001",
            "assignment_id": s.scalar(select(Assignment.id)), "project_id": project.id, "label": "QUOTE", "start": quote, "end": quote + 16,
            "key": article, "namespace": 7,  # the advisory locks (held until the rollback)
        }


def _typed(rows) -> list[list[tuple[type, object]]]:
    return [[(type(value), value) for value in row] for row in rows]


@pytest.mark.parametrize(("name", "prepared"), PREPARED, ids=[name for name, _ in PREPARED])
def test_rows_are_sqlalchemys_rows(app, seeded, name, prepared):
    binds = prepared.statement.compile().binds  # the caller's parameters: those without a value of their own
    params = {name: seeded[name] for name, bind in binds.items() if bind.required or bind.value is None and bind.callable is None}
    with app.app_context():
        if "pg_advisory" in str(prepared.statement) and db.engine.dialect.name != "postgresql":
            pytest.skip("an advisory lock is PostgreSQL's")
        connection = db.session.connection()
        expected = connection.execute(prepared.statement, params).all()
        got = prepared.rows(connection, params)
        assert expected, f"{name}: the seeded data gives no row, so the comparison would prove nothing"
        assert _typed(got) == _typed(expected)
        for key in got[0]._fields:  # by name too, as callers read SQLAlchemy's rows (a name namedtuple refused is _N)
            if not key.startswith("_"):
                assert getattr(got[0], key) == getattr(expected[0], key), key
        assert prepared.first(connection, params) == got[0]
        assert prepared.scalar(connection, params) == got[0][0]
        db.session.rollback()


def test_a_missing_row_is_none(app, seeded):
    from annotator.domain.annotations.reads import SENTENCES
    from annotator.domain.annotations.statements import LOCK_LABEL

    with app.app_context():
        assert SENTENCES.rows(db.session, {"article_id": seeded["article_id"] + 1000}) == []
        assert LOCK_LABEL.first(db.session, {"user_id": seeded["user_id"] + 1000, "sentence_id": seeded["sentence_id"]}) is None
        assert LOCK_LABEL.scalar(db.session, {"user_id": seeded["user_id"] + 1000, "sentence_id": seeded["sentence_id"]}) is None
        db.session.rollback()


@contextmanager
def statements_seen() -> Iterator[list[str]]:
    """The statements SQLAlchemy sends while the block runs: a before_cursor_execute listener on the app's engine."""
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def test_statement_listeners_see_prepared_statements(app, seeded):
    """With an execution listener on the engine (tests that count or EXPLAIN statements, query recording), the statement
    goes through SQLAlchemy, so the listener sees it; the rows are the same."""
    from annotator.domain.annotations.reads import SENTENCES

    with app.app_context():
        without = SENTENCES.rows(db.session, {"article_id": seeded["article_id"]})
        with statements_seen() as seen:
            with_listener = SENTENCES.rows(db.session, {"article_id": seeded["article_id"]})
        assert len(seen) == 1 and "FROM sentences" in seen[0]
        assert with_listener == without and len(without) == 3
        db.session.rollback()


def test_a_listener_on_the_connection_alone_sees_prepared_statements(app, seeded):
    """_watched asks the engine's dispatch unless the connection has listeners of its own: those count too."""
    from annotator.domain.annotations.reads import SENTENCES

    with app.app_context():
        connection = db.session.connection()
        seen = []
        event.listen(connection, "before_cursor_execute", lambda *args: seen.append(args[2]))
        assert SENTENCES.rows(db.session, {"article_id": seeded["article_id"]}) == SENTENCES.rows(db.engine.connect(), {"article_id": seeded["article_id"]})
        assert len(seen) == 1 and "FROM sentences" in seen[0]
        db.session.rollback()


def test_a_driver_error_is_sqlalchemys(app):
    from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

    missing = Prepared(select(Table("no_such_table", MetaData(), Column("id", Integer)).c.id).where(text("1 = 1")))
    with app.app_context():
        with pytest.raises(DBAPIError) as caught:
            missing.rows(db.session, {})
        assert isinstance(caught.value, (OperationalError, ProgrammingError)) and "no_such_table" in str(caught.value)
        db.session.rollback()


def test_a_lost_connection_is_invalidated(app):
    """PostgreSQL: a backend that went away is a disconnect: the pool forgets that connection, and the next request
    gets a working one (as SQLAlchemy's own execution does)."""
    from sqlalchemy.exc import DBAPIError

    from annotator.domain.annotations.reads import SENTENCES

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("terminating a backend is PostgreSQL's")
        connection = db.session.connection()
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with db.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        with pytest.raises(DBAPIError) as caught:
            SENTENCES.rows(connection, {"article_id": 1})
        assert caught.value.connection_invalidated
        db.session.rollback()
        assert SENTENCES.rows(db.session, {"article_id": 1}) == []


def test_only_plain_parameters_can_be_prepared(app):
    with app.app_context():
        expanding = Prepared(select(Span.id).where(Span.id.in_(bindparam("ids", expanding=True))))
        with pytest.raises(ValueError, match="plain named"):
            expanding.rows(db.session, {"ids": [1, 2]})



# ----------------------------------------------------------------------------------------------- PreparedWrite
def _span_values(article_id: int, user_id: int, uid: str, start: int) -> dict:
    now = utcnow()
    return {"uid": uid, "article_id": article_id, "user_id": user_id, "label": "QUOTE", "start": start, "end": start + 3,
            "created_at": now, "updated_at": now}


def _row(table, row_id: int) -> dict:
    return dict(db.session.execute(select(table).where(table.c.id == row_id)).one()._mapping)


def test_a_prepared_insert_stores_the_row_sqlalchemy_stores(app, seeded):
    """The columns the caller leaves out get their Python defaults (origin 'manual'), the returned id is the row's,
    and the row is SQLAlchemy's value for value and type for type; a conflict returns no row."""
    from sqlalchemy.dialects import postgresql, sqlite

    from annotator.domain.annotations.statements import _insert_ignoring_conflict

    spans = Span.__table__
    with app.app_context():
        dialect = db.engine.dialect.name
        prepared = _insert_ignoring_conflict(dialect, "spans")
        plain = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(spans).on_conflict_do_nothing().returning(spans.c.id)
        mine = prepared.run(db.session, _span_values(seeded["article_id"], seeded["user_id"], "prepared-1", 1))
        theirs = db.session.execute(plain, _span_values(seeded["article_id"], seeded["user_id"], "sqlalchemy-1", 5)).all()
        assert mine.rowcount == 1 and len(mine.rows) == 1 and mine.scalar() == mine.rows[0].id
        ours, expected = _row(spans, mine.scalar()), _row(spans, theirs[0][0])
        assert ours["origin"] == "manual" and ours["suggester"] is None
        for key in ("id", "uid", "start", "end", "created_at", "updated_at"):
            assert type(ours[key]) is type(expected[key]), key
            ours.pop(key), expected.pop(key)
        assert _typed([ours.values()]) == _typed([expected.values()])
        again = prepared.run(db.session, _span_values(seeded["article_id"], seeded["user_id"], "prepared-1", 2))  # the uid is taken
        assert again.rows == [] and again.scalar() is None
        db.session.rollback()


def test_a_prepared_update_fills_in_onupdate_and_counts_rows(app, seeded):
    from annotator.db.prepared import PreparedWrite

    spans = Span.__table__
    relabel = PreparedWrite(update(spans).where(spans.c.uid == bindparam("the_uid")).values(label=bindparam("new_label")))
    with app.app_context():
        before = db.session.execute(select(spans.c.label, spans.c.updated_at).where(spans.c.uid == seeded["uid"])).one()
        done = relabel.run(db.session, {"the_uid": seeded["uid"], "new_label": "SOURCE"})
        after = db.session.execute(select(spans.c.label, spans.c.updated_at).where(spans.c.uid == seeded["uid"])).one()
        assert done.rowcount == 1 and done.rows == []
        assert after.label == "SOURCE" and after.updated_at > before.updated_at  # Span.updated_at's onupdate=utcnow
        assert relabel.run(db.session, {"the_uid": "no-such-span", "new_label": "SOURCE"}).rowcount == 0
        db.session.rollback()


def test_a_list_of_parameters_is_one_executemany(app, seeded):
    """Audit entries with JSON documents, several at once: stored as SQLAlchemy stores them."""
    from annotator.db.models import AuditEntry
    from annotator.domain.annotations.statements import AUDIT_INSERT

    audit = AuditEntry.__table__
    entries = [{"at": utcnow(), "user_id": seeded["user_id"], "project_id": seeded["project_id"], "article_id": seeded["article_id"],
                "entity": "span", "entity_id": f"e-{n}", "action": "create", "before": None, "after": {"text": "\u00c5 \U0001f600", "n": n}}
               for n in range(3)]
    with app.app_context():
        done = AUDIT_INSERT.run(db.session, entries)
        assert done.rows == [] and done.rowcount in (3, -1)  # psycopg's executemany may not count
        stored = db.session.execute(select(audit.c.entity_id, audit.c.after, audit.c.before).where(audit.c.entity_id.like("e-%"))
                                    .order_by(audit.c.id)).all()
        assert [tuple(row) for row in stored] == [(f"e-{n}", {"text": "\u00c5 \U0001f600", "n": n}, None) for n in range(3)]
        with pytest.raises(ValueError, match="executemany"):
            AUDIT_INSERT.run(db.session, [])
        db.session.rollback()


def test_statement_listeners_see_prepared_writes(app, seeded):
    from annotator.domain.annotations.statements import BUMP_REVISION

    with app.app_context():
        with statements_seen() as seen:
            done = BUMP_REVISION.run(db.session, {"project_id": seeded["project_id"]})
        assert done.rowcount == 1 and len(seen) == 1 and seen[0].startswith("UPDATE projects")
        db.session.rollback()


def test_a_prepared_write_conflict_is_sqlalchemys_integrity_error(app, seeded):
    """run_write retries an IntegrityError: a unique key broken on the driver's cursor must raise SQLAlchemy's."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from annotator.db.prepared import PreparedWrite

    plain = PreparedWrite(insert(Span.__table__))
    with app.app_context():
        with pytest.raises(IntegrityError):
            plain.run(db.session, _span_values(seeded["article_id"], seeded["user_id"], seeded["uid"], 1))
        db.session.rollback()


def test_a_default_that_needs_sqlalchemys_context_is_refused(app):
    from sqlalchemy import insert

    from annotator.db.prepared import PreparedWrite

    table = Table("with_context_default", MetaData(), Column("id", Integer, primary_key=True),
                  Column("n", Integer, default=lambda context: context.get_current_parameters()["id"]))
    with app.app_context():
        with pytest.raises(ValueError, match="needs SQLAlchemy's execution"):
            PreparedWrite(insert(table)).run(db.session, {"id": 1})
        db.session.rollback()


def test_a_batch_save_runs_no_statement_through_sqlalchemys_execution(app, seeded, monkeypatch):
    """Every statement of a batch save (a label, two spans, a request id: the page's save queue) runs on the driver's
    cursor: SQLAlchemy's execution of a statement cost more Python calls than the statement's own work
    (bench/bench_request_cpu.py). Counted on Connection.execute, which every SQLAlchemy statement execution goes through."""
    from sqlalchemy.engine import Connection

    from annotator.domain.annotations.batch import apply_changes

    quote = TEXT.index("\u201c")
    operations = [
        {"op": "put_label", "sentence_index": 2, "label": "CFS", "seconds": 1.5},
        {"op": "create_span", "id": "batch-quote", "label": "QUOTE", "start": quote + 1, "end": quote + 10},
        {"op": "create_span", "id": "batch-source", "label": "SOURCE", "start": quote + 23, "end": quote + 30},
    ]
    with app.app_context():
        executed = []
        real = Connection.execute

        def counting(self, statement, *args, **kwargs):  # noqa: ANN001, ANN202
            executed.append(str(statement).split("\n")[0][:80])
            return real(self, statement, *args, **kwargs)

        monkeypatch.setattr(Connection, "execute", counting)
        answer = annotations.write(db.session, lambda: apply_changes(db.session, seeded["user_id"], seeded["article_id"], operations, "batch-request"))
        monkeypatch.undo()
        assert [result["status"] for result in answer["results"]] == [200, 201, 201]
        assert executed == []


def test_a_literal_none_in_a_write_is_written(app, seeded):
    """`.values(column=None)` binds None with the statement: the caller need not give it (the automatic gold's UPDATE)."""
    from annotator.db.prepared import PreparedWrite

    spans = Span.__table__
    clear = PreparedWrite(update(spans).where(spans.c.uid == bindparam("the_uid")).values(suggester=None, label=bindparam("new_label")))
    with app.app_context():
        assert clear.run(db.session, {"the_uid": seeded["uid"], "new_label": "SOURCE"}).rowcount == 1
        assert db.session.execute(select(spans.c.label, spans.c.suggester).where(spans.c.uid == seeded["uid"])).one() == ("SOURCE", None)
        db.session.rollback()


def test_a_statement_in_a_transaction_runs_on_its_connection_without_asking_the_session(app, seeded, monkeypatch):
    """Inside a save's transaction every Prepared run after the first reuses the transaction's connection without
    session.connection()'s checks (a cost paid inside the write lock); the connection is the one it would give, and a
    transaction that cannot go on still refuses, as session.connection() does."""
    from sqlalchemy.exc import IntegrityError, PendingRollbackError
    from sqlalchemy.orm import Session

    from annotator.db import prepared
    from annotator.db.models import User

    with app.app_context():
        s = db.session()
        first = s.connection()
        asked: list[int] = []
        real = Session.connection
        monkeypatch.setattr(Session, "connection", lambda self, *a, **k: asked.append(1) or real(self, *a, **k))
        READ = Prepared(select(Article.id).where(Article.id == bindparam("article_id")))
        assert READ.first(s, {"article_id": seeded["article_id"]}) == (seeded["article_id"],)
        assert not asked
        assert prepared.session_connection(s) is first
        s.add(User(name="zoe", role="annotator"))  # a duplicate name: the flush fails, the transaction must roll back
        with pytest.raises(IntegrityError):
            s.flush()
        with pytest.raises(PendingRollbackError):
            READ.first(s, {"article_id": seeded["article_id"]})
        s.rollback()
        assert READ.first(s, {"article_id": seeded["article_id"]}) == (seeded["article_id"],)  # a new transaction: asked
        assert asked


def test_without_statement_listeners_no_listener_list_is_asked(app, seeded):
    """With no statement listener on the engine or the connection (the server's case), a Prepared run decides so from
    SQLAlchemy's flags, without walking the listener lists (several Python calls per statement, inside the write lock);
    test_statement_listeners_see_prepared_statements covers the other case."""
    import cProfile
    import pstats

    with app.app_context():
        s = db.session()
        connection = s.connection()
        assert not connection._has_events and not connection.engine._has_events
        profile = cProfile.Profile()
        profile.enable()
        row = Prepared(select(Article.id).where(Article.id == bindparam("article_id"))).first(s, {"article_id": seeded["article_id"]})
        profile.disable()
        assert row == (seeded["article_id"],)
        called = {f"{path}:{name}" for path, _, name in pstats.Stats(profile).stats}
        assert not [name for name in called if "sqlalchemy/event/" in name], sorted(called)
