"""db/prepared.py: statements run on the driver's cursor must give what SQLAlchemy's execution gives, value for value
and type for type, on SQLite and PostgreSQL; and driver errors must come back as SQLAlchemy's."""
from __future__ import annotations

import importlib
import pkgutil
from datetime import timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, event, select, text, update

import annotator
from annotator.db import db
from annotator.db.models import Annotation, ApiToken, Article, Assignment, LabelRequest, Sentence, Span, utcnow
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
    assert {"_USER_FOR_TOKEN", "READABLE", "SENTENCES", "ANNOTATIONS", "ACCESS_SENTENCE", "LOCK_LABEL", "COUNT_LABELLED", "_HEAD", "_MARKERS"} <= names


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
        s.execute(update(ApiToken).values(last_used_at=utcnow() - timedelta(hours=2)))
        request = Request(zoe.id, "req-\u00e9", "f" * 64)
        row_id, _ = claim_request(s, request)
        s.execute(update(LabelRequest).where(LabelRequest.id == row_id).values(response={"results": [{"status": 200, "body": None}]}))
        s.commit()
        sentence = s.scalar(select(Sentence.id).where(Sentence.article_id == article, Sentence.index == 0))
        return {
            "user_id": zoe.id, "article_id": article, "sentence_index": 0, "sentence_id": sentence, "request_id": "req-\u00e9",
            "token_hash": accounts.hash_token(token), "uid": "quote-001",
            "assignment_id": s.scalar(select(Assignment.id)), "project_id": project.id, "label": "QUOTE", "start": quote, "end": quote + 16,
        }


def _typed(rows) -> list[list[tuple[type, object]]]:
    return [[(type(value), value) for value in row] for row in rows]


@pytest.mark.parametrize(("name", "prepared"), PREPARED, ids=[name for name, _ in PREPARED])
def test_rows_are_sqlalchemys_rows(app, seeded, name, prepared):
    wanted = set(prepared.statement.compile().params)
    params = {key: seeded[key] for key in wanted}
    with app.app_context():
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


def test_statement_listeners_see_prepared_statements(app, seeded):
    """With an execution listener on the engine (tests that count or EXPLAIN statements, query recording), the statement
    goes through SQLAlchemy, so the listener sees it; the rows are the same."""
    from annotator.domain.annotations.reads import SENTENCES

    with app.app_context():
        without = SENTENCES.rows(db.session, {"article_id": seeded["article_id"]})
        seen = []

        def listener(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            with_listener = SENTENCES.rows(db.session, {"article_id": seeded["article_id"]})
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
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

