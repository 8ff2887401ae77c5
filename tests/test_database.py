"""The schema: migrations match the models, and the database itself enforces the rules."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import DatabaseError, IntegrityError

from annotator import create_app
from annotator.db import db
from annotator.db.models import Annotation, Article, AuditEntry, Project, Sentence, Span, User


def seed(app):
    with app.app_context():
        user = User(name="ann", role="annotator")
        project = Project(name="p", label_schema={"sentence_labels": []}, guidelines="", guidelines_version=1)
        db.session.add_all([user, project])
        db.session.flush()
        article = Article(project_id=project.id, external_id="a", title="t", text="Hello world.", meta={}, sha256="x")
        db.session.add(article)
        db.session.flush()
        sentence = Sentence(article_id=article.id, index=0, start=0, end=12)
        db.session.add(sentence)
        db.session.commit()
        return user.id, article.id, sentence.id


def test_migrations_build_the_same_schema_as_the_models(database_uri):
    """`annotator db upgrade` on an empty database gives exactly the tables the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_migrate import downgrade

    from annotator.db.migrating import upgrade_schema

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        upgrade_schema()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        assert "audit_log" in inspect(db.engine).get_table_names()
        # the append-only guard is installed by the migration too
        db.session.add(AuditEntry(entity="label", action="create"))
        db.session.commit()
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text("DELETE FROM audit_log"))
        db.session.rollback()
        downgrade(revision="base")
        assert "articles" not in inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_span_offsets_are_checked_by_the_database(app):
    user_id, article_id, _ = seed(app)
    with app.app_context():
        db.session.add(Span(article_id=article_id, user_id=user_id, label="QUOTE", start=5, end=5))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.add(Span(article_id=article_id, user_id=user_id, label="QUOTE", start=-1, end=3))
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_one_annotation_per_annotator_per_sentence(app):
    user_id, _, sentence_id = seed(app)
    with app.app_context():
        db.session.add(Annotation(user_id=user_id, sentence_id=sentence_id, label="CFS", guidelines_version=1))
        db.session.commit()
        db.session.add(Annotation(user_id=user_id, sentence_id=sentence_id, label="NFS", guidelines_version=1))
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_audit_log_is_append_only(app):
    with app.app_context():
        db.session.add(AuditEntry(entity="label", action="create", after={"label": "CFS"}))
        db.session.commit()
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text("UPDATE audit_log SET action = 'delete'"))
        db.session.rollback()
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text("DELETE FROM audit_log"))
        db.session.rollback()
        assert db.session.query(AuditEntry).count() == 1


def test_deleting_an_article_removes_its_sentences(app):
    _, article_id, _ = seed(app)
    with app.app_context():
        db.session.execute(text("DELETE FROM articles WHERE id = :id"), {"id": article_id})
        db.session.commit()
        assert db.session.query(Sentence).count() == 0


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/w.sqlite3", "SECRET_KEY": "x"})
    with app.app_context():
        db.create_all()
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        db.engine.dispose()


def test_timestamps_come_back_timezone_aware(app):
    user_id, _, _ = seed(app)
    with app.app_context():
        db.session.expire_all()
        user = db.session.get(User, user_id)
        assert user.created_at.tzinfo is not None and user.created_at.utcoffset().total_seconds() == 0


def test_database_url_maps_postgres_to_psycopg3(monkeypatch):
    from annotator.config import database_url

    monkeypatch.setenv("DATABASE_URL", "postgres://u@h:5432/db")
    assert database_url("/x") == "postgresql+psycopg://u@h:5432/db"
    monkeypatch.delenv("DATABASE_URL")
    assert database_url("/inst") == "sqlite:////inst/annotator.sqlite3"


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    from annotator.config import secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = secret_key(str(tmp_path))
    assert len(first) == 64
    assert secret_key(str(tmp_path)) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert secret_key(str(tmp_path)) == "from-env"


def _sqlite_app(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/w.sqlite3", "SECRET_KEY": "x"})
    with app.app_context():
        db.create_all()
        db.session.add(Project(name="p", label_schema={"sentence_labels": []}, guidelines="", guidelines_version=1))
        db.session.commit()
    return app


@pytest.mark.parametrize("holding_objects", [False, True], ids=["empty session", "session holds objects"])
def test_begin_write_after_a_read_sees_what_others_committed_meanwhile(app, database_uri, holding_objects):
    """A save reads (the caller's token), then writes: the write transaction must not keep the read's old snapshot,
    and on SQLite must hold the write lock, whether the read transaction is reused or committed by the ORM."""
    from annotator.db.transactions import begin_write

    with app.app_context():
        db.session.add(Project(name="p", label_schema={"sentence_labels": []}, guidelines="", guidelines_version=1))
        db.session.commit()
        db.session.remove()
    sqlite = database_uri.startswith("sqlite")
    other = create_engine(database_uri, connect_args={"timeout": 0.05} if sqlite else {})
    with app.app_context():
        project = db.session.scalars(db.select(Project)).one() if holding_objects else None  # kept: the identity map is weak
        if project is not None:
            assert project.revision == 0
        else:
            assert db.session.execute(text("SELECT revision FROM projects")).scalar() == 0  # the read transaction's snapshot
        with other.begin() as conn:  # another worker commits meanwhile
            conn.execute(text("UPDATE projects SET revision = 7"))
        begin_write(db.session)
        assert db.session.execute(text("SELECT revision FROM projects")).scalar() == 7
        if sqlite:
            with pytest.raises(DatabaseError, match="locked"):  # we hold the write lock: nobody else may start writing
                with other.begin() as conn:
                    conn.execute(text("UPDATE projects SET revision = 8"))
        db.session.execute(text("UPDATE projects SET revision = 9"))
        db.session.commit()
        assert db.session.execute(text("SELECT revision FROM projects")).scalar() == 9
        db.session.remove()
    other.dispose()


def test_begin_write_on_a_busy_sqlite_raises_sqlalchemys_error(tmp_path):
    """Busy past the timeout: the same OperationalError that annotations.write() retries, never a raw driver error."""
    from sqlalchemy.exc import OperationalError

    from annotator.db.transactions import begin_write

    app = _sqlite_app(tmp_path)
    blocker = create_engine(f"sqlite:///{tmp_path}/w.sqlite3")
    with app.app_context(), blocker.connect() as holder:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        db.session.execute(text("PRAGMA busy_timeout = 50"))  # this test's connection only; disposed below
        db.session.execute(text("SELECT 1"))  # a read transaction is open, as after the token lookup
        with pytest.raises(OperationalError, match="locked"):
            begin_write(db.session)
        db.session.rollback()
        holder.exec_driver_sql("ROLLBACK")
        begin_write(db.session)  # usable again once the lock is free
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    blocker.dispose()


def test_sqlite_begins_on_the_driver_and_a_busy_begin_raises_sqlalchemys_error(tmp_path):
    """BEGIN is issued on the driver's connection, not executed through SQLAlchemy (~10 us a transaction, every
    request's first read included: issue 17); a BEGIN IMMEDIATE busy past the timeout is still the OperationalError
    that annotations.write() retries, never a raw driver error, and the session is usable after it."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from annotator.db.transactions import transaction

    app = _sqlite_app(tmp_path)
    blocker = create_engine(f"sqlite:///{tmp_path}/w.sqlite3")
    with app.app_context(), blocker.connect() as holder:
        executed: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda _c, _k, statement, *_a: executed.append(statement))
        db.session.execute(text("SELECT 1"))
        assert executed == ["SELECT 1"] and db.session.connection().connection.dbapi_connection.in_transaction
        db.session.rollback()
        db.engine.dispose()
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        db.session.execute(text("PRAGMA busy_timeout = 50"))
        db.session.rollback()
        with pytest.raises(OperationalError, match="locked"):
            with transaction(db.session):  # BEGIN IMMEDIATE at the start of the session's transaction
                pass
        holder.exec_driver_sql("ROLLBACK")
        with transaction(db.session):
            db.session.execute(text("UPDATE projects SET revision = 1"))
        db.session.remove()
        db.engine.dispose()
    blocker.dispose()


def test_the_apps_engine_has_no_statement_listeners(app):
    """SQLite's BEGIN is the dialect's, not a "begin" listener: a listener on the engine makes every statement, commit
    and rollback walk joined listener lists, and Prepared statements go through SQLAlchemy (issue 17)."""
    with app.app_context():
        assert not db.engine._has_events
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            assert not connection._has_events


def test_each_apps_session_writes_to_its_own_database_even_in_nested_contexts(tmp_path):
    """The session keeps its engine once found (db.Session.get_bind): one app's must never serve another's, even
    with one app's context pushed inside the other's in the same thread, before and after either has been used."""
    from sqlalchemy import select

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = _sqlite_app(tmp_path / "one"), _sqlite_app(tmp_path / "two")
    with one.app_context():
        db.session.scalar(select(Project.id))
        with two.app_context():
            assert db.session.get_bind() is db.engine and str(db.engine.url).endswith("two/w.sqlite3")
            db.session.execute(text("UPDATE projects SET name = 'two'"))
            db.session.commit()
        assert str(db.session.get_bind().url).endswith("one/w.sqlite3")
        assert db.session.scalar(select(Project.name)) == "p"
        db.session.execute(text("UPDATE projects SET name = 'one'"))
        db.session.commit()
    for app, name in ((one, "one"), (two, "two")):
        with app.app_context():
            assert db.session.scalar(select(Project.name)) == name
            db.session.remove()
            db.engine.dispose()


def test_upgrading_to_project_members_keeps_everyone_where_they_were(database_uri):
    """0004 on a database with work in it: annotators join the projects they worked on, reviewers every project."""
    from annotator.db.migrating import upgrade_schema as upgrade
    from annotator.db.models import ProjectMember
    from annotator.domain import assignment, projects

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        upgrade(revision="0003")
        now = "2026-01-02 03:04:05"
        rows = [
            "INSERT INTO users (id, name, role, active, created_at) VALUES "
            f"(1, 'assigned', 'annotator', true, '{now}'), (2, 'labelled', 'annotator', true, '{now}'), (3, 'marked', 'annotator', false, '{now}'), "
            f"(4, 'idle', 'annotator', true, '{now}'), (5, 'rev', 'reviewer', true, '{now}'), (6, 'root', 'admin', true, '{now}')",
            "INSERT INTO projects (id, name, label_schema, guidelines, guidelines_version, annotators_per_article, majority_threshold, revision, created_at) "
            f"VALUES (1, 'news', '{{}}', '', 1, 2, 1.0, 0, '{now}'), (2, 'sport', '{{}}', '', 1, 2, 1.0, 0, '{now}')",
            "INSERT INTO articles (id, project_id, external_id, title, text, meta, sha256, created_at) VALUES "
            f"(1, 1, 'n1', '', 'One. Two.', '{{}}', 'x', '{now}'), (2, 2, 's1', '', 'Three.', '{{}}', 'y', '{now}')",
            'INSERT INTO sentences (id, article_id, "index", start, "end") VALUES (1, 1, 0, 0, 4), (2, 2, 0, 0, 6)',
            f"INSERT INTO assignments (id, user_id, article_id, status, created_at) VALUES (1, 1, 1, 'assigned', '{now}')",
            "INSERT INTO annotations (id, user_id, sentence_id, label, seconds, guidelines_version, version, needs_review, updated_at) "
            f"VALUES (1, 2, 2, 'CFS', 1.0, 1, 1, false, '{now}')",
            f"INSERT INTO spans (id, uid, article_id, user_id, label, start, \"end\", created_at, updated_at) VALUES (1, 'u1', 1, 3, 'QUOTE', 0, 3, '{now}', '{now}')",
        ]
        with db.engine.begin() as conn:
            for statement in rows:
                conn.execute(text(statement))
        upgrade()
        got = set(db.session.execute(select_members()).all())
        assert got == {("news", "assigned"), ("sport", "labelled"), ("news", "marked"), ("news", "rev"), ("sport", "rev")}
        # the pool for assignment is the project's active member annotators; the reviewer opens both projects
        assert [u.name for u in assignment.project_annotators(db.session, 1)] == ["assigned"]
        rev = db.session.get(User, 5)
        assert projects.visible_project_ids(db.session, rev) == {1, 2}
        assert db.session.query(ProjectMember).count() == 5
        db.session.remove()
        db.engine.dispose()


def test_upgrading_repairs_lone_surrogates_and_nul_stored_before_the_boundaries_refused_them(database_uri):
    """A schema stored with a lone surrogate made every page showing it a 500, the admin page that could repair
    it included; meta with one broke the export. 0007 turns each into U+FFFD, and the pages work again."""
    from annotator.db.migrating import upgrade_schema as upgrade
    from annotator.db.models import Project

    from .conftest import Browser, add_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "x", "TESTING": True})
    schema = ('{"sentence_labels": [{"name": "CFS", "description": "bad \\ud800 text", "color": "#d62728", "key": "1"}, '
              '{"name": "NFS", "description": "fine \\ud83d\\ude00 emoji", "color": "#2ca02c", "key": "2"}], '
              '"span_labels": [], "relation_types": []}')
    with app.app_context():
        upgrade(revision="0006")
        now = "2026-01-02 03:04:05"
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO projects (id, name, label_schema, guidelines, guidelines_version, annotators_per_article, majority_threshold, revision, created_at) "
                f"VALUES (1, 'news', :schema, '', 1, 2, 1.0, 0, '{now}')"), {"schema": schema})
            conn.execute(text(
                "INSERT INTO articles (id, project_id, external_id, title, text, meta, sha256, created_at) "
                f"VALUES (1, 1, 'n1', '', 'One. Two.', :meta, 'x', '{now}')"), {"meta": '{"desk": "a\\u0000b", "ok": "\\u00e9"}'})
        upgrade()
        project = db.session.get(Project, 1)
        descriptions = [label["description"] for label in project.label_schema["sentence_labels"]]
        assert descriptions == ["bad \ufffd text", "fine \U0001F600 emoji"]  # a valid pair is left alone
        meta = db.session.execute(text("SELECT meta FROM articles WHERE id = 1")).scalar()
        assert (json.loads(meta) if isinstance(meta, str) else meta) == {"desk": "a\ufffdb", "ok": "\u00e9"}
        db.session.remove()
    add_user(app, "root", role="admin")
    browser = Browser(app.test_client())
    assert browser.login("root", "correct horse").status_code == 302
    assert browser.get("/admin/projects/1").status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_upgrading_merges_an_annotators_duplicate_spans_before_the_unique_index(database_uri):
    """0010 on a database where two tabs stored the same span twice: the oldest stays and takes over the others' links
    (a link it would then have twice, or to itself, goes); other annotators' and other spans are untouched."""
    from annotator.db.migrating import upgrade_schema as upgrade
    from annotator.db.models import Relation

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        upgrade(revision="0008")
        now = "2026-01-02 03:04:05"
        span = "({id}, 'span-{id}', 1, {user}, '{label}', {start}, {end}, '{now}', '{now}')"
        spans = [  # (id, user, label, start, end): 1, 2, 3 the same span of ann; 4 bob's; 5 ann's source; 6 ann's other quote; 7 = 5
            (1, 1, "QUOTE", 0, 4), (2, 1, "QUOTE", 0, 4), (3, 1, "QUOTE", 0, 4), (4, 2, "QUOTE", 0, 4),
            (5, 1, "SOURCE", 5, 8), (6, 1, "QUOTE", 0, 3), (7, 1, "SOURCE", 5, 8),
        ]
        relations = [  # (id, from, to): 1 and 2 become the same link (2 goes); 3 moves to 6 -> 5; 4 is 1 -> 1 once merged (goes)
            (1, 1, 5), (2, 2, 5), (3, 6, 7), (4, 2, 3),
        ]
        rows = [
            f"INSERT INTO users (id, name, role, active, created_at) VALUES (1, 'ann', 'annotator', true, '{now}'), (2, 'bob', 'annotator', true, '{now}')",
            "INSERT INTO projects (id, name, label_schema, guidelines, guidelines_version, annotators_per_article, majority_threshold, revision, created_at) "
            f"VALUES (1, 'news', '{{}}', '', 1, 2, 1.0, 0, '{now}')",
            f"INSERT INTO articles (id, project_id, external_id, title, text, meta, sha256, created_at) VALUES (1, 1, 'n1', '', 'Some text.', '{{}}', 'x', '{now}')",
            'INSERT INTO spans (id, uid, article_id, user_id, label, start, "end", created_at, updated_at) VALUES '
            + ", ".join(span.format(id=i, user=u, label=label, start=a, end=b, now=now) for i, u, label, a, b in spans),
            "INSERT INTO relations (id, uid, article_id, user_id, type, from_span_id, to_span_id, created_at) VALUES "
            + ", ".join(f"({i}, 'rel-{i}', 1, 1, 'attributed_to', {a}, {b}, '{now}')" for i, a, b in relations),
        ]
        with db.engine.begin() as conn:
            for statement in rows:
                conn.execute(text(statement))
        upgrade()
        assert sorted(db.session.execute(select(Span.id)).scalars()) == [1, 4, 5, 6]
        assert sorted(db.session.execute(select(Relation.id, Relation.from_span_id, Relation.to_span_id)).all()) == [(1, 1, 5), (3, 6, 5)]
        db.session.add(Span(uid="again-1", article_id=1, user_id=1, label="QUOTE", start=0, end=4))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def select_members():
    from sqlalchemy import select

    from annotator.db.models import ProjectMember

    return (
        select(Project.name, User.name)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .join(User, User.id == ProjectMember.user_id)
    )


# ----------------------------------------------------------------- a full disk (SQLite: SQLITE_FULL)
def _fill_the_disk(app) -> None:
    """Every new connection may not grow the database file past what it holds now: the next page it needs is
    SQLITE_FULL, as on a full disk."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

        @event.listens_for(engine, "connect")
        def _limit(dbapi_connection, _record):  # noqa: ANN001
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        engine.dispose()


@pytest.fixture
def full_disk_world(tmp_path):
    from tests.test_route_matrix import caller
    from tests.test_route_matrix import seed as seed_world

    from .conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'full.sqlite3'}", PROPAGATE_EXCEPTIONS=False)
    world = seed_world(app)
    yield app, world, {role: caller(app, world, role) for role in ("annotator", "admin")}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _counts(app) -> dict[str, int]:
    from tests.test_bad_input import row_counts

    return row_counts(app)


def test_a_save_on_a_full_disk_says_disk_full_and_is_logged(full_disk_world, caplog):
    """Was: 503 "the database is busy with other writes", and nothing in the log."""
    app, world, callers = full_disk_world
    _fill_the_disk(app)
    annotator = callers["annotator"]
    caplog.set_level("ERROR")
    for i in range(500):  # the first saves may fit in the pages' free room; each one adds rows until one needs a page
        before = _counts(app)
        response = annotator.send_json("POST", f"/api/articles/{world.article_a}/spans", {"label": "CUE", "start": i % 100, "end": i % 100 + 1 + i // 100, "id": f"full-disk-{i:04d}"})
        if response.status_code != 201:
            break
    else:
        pytest.fail("500 saves fitted: the database never filled up")
    assert response.status_code == 507, response.get_data(as_text=True)
    assert "disk is full" in response.get_json()["error"]
    assert _counts(app) == before  # the refused save left nothing
    assert any(r.levelname == "ERROR" and "disk is full" in r.getMessage() for r in caplog.records), caplog.text


def test_an_upload_on_a_full_disk_says_disk_full_and_stores_nothing(full_disk_world, caplog):
    import io

    app, world, callers = full_disk_world
    _fill_the_disk(app)
    caplog.set_level("ERROR")
    before = _counts(app)
    lines = "\n".join(f'{{"id": "big-{i}", "text": "Article number {i} is long enough to need pages. {"Filler words here. " * 40}"}}' for i in range(50))
    admin = callers["admin"]
    response = admin.post(f"/admin/projects/{world.project}/upload", {"files": [(io.BytesIO(lines.encode()), "big.jsonl")], "on_duplicate": "error"},
                          content_type="multipart/form-data")
    assert response.status_code == 507, response.status_code
    assert "disk is full" in response.get_data(as_text=True)
    assert _counts(app) == before
    assert any(r.levelname == "ERROR" and "disk is full" in r.getMessage() for r in caplog.records), caplog.text


def test_a_cli_import_on_a_full_disk_is_one_line_saying_disk_full(full_disk_world, tmp_path, caplog):
    from click.testing import CliRunner

    from annotator.cli import AnnotatorGroup

    app, world, _ = full_disk_world
    _fill_the_disk(app)
    caplog.set_level("ERROR")
    before = _counts(app)
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(f'{{"id": "cli-{i}", "text": "Article {i}. {"More filler text. " * 40}"}}' for i in range(50)))
    with app.app_context():
        project_name = db.session.get(Project, world.project).name
    result = CliRunner().invoke(AnnotatorGroup(create_app=lambda: app), ["import", project_name, str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "disk is full" in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert _counts(app) == before
    assert any(r.levelname == "ERROR" and "disk is full" in r.getMessage() for r in caplog.records), caplog.text


def _moved(browser, app):
    """The same logged-in browser (its session cookie and CSRF token) talking to another app on the same secret."""
    from .conftest import Browser

    moved = Browser(app.test_client())
    moved.client.set_cookie("session", browser.client.get_cookie("session").value)
    moved.token = browser.token
    return moved


def test_a_database_that_takes_no_writes_is_a_503_that_says_so(database_uri, caplog):
    """A SQLite file opened read-only and a PostgreSQL server whose transactions are all read-only (a standby): a save
    and an admin form were a 500, "something went wrong on our side". Now a 503 naming it, which the page's save queue
    sends again; reads go on; nothing is written; the log has a warning."""
    from tests.test_route_matrix import caller
    from tests.test_route_matrix import seed as seed_world

    from .conftest import make_app

    app = make_app(database_uri, PROPAGATE_EXCEPTIONS=False)
    world = seed_world(app)
    callers = {role: caller(app, world, role) for role in ("annotator", "admin")}
    if database_uri.startswith("sqlite"):
        readonly = f"sqlite:///file:{database_uri.removeprefix('sqlite:///')}?mode=ro&uri=true"
    else:
        readonly = database_uri + "%20-cdefault_transaction_read_only%3Don"
    standby = make_app(readonly, create=False, PROPAGATE_EXCEPTIONS=False)
    annotator, admin = (_moved(callers[role], standby) for role in ("annotator", "admin"))
    before = _counts(app)
    caplog.set_level("WARNING")
    assert annotator.client.get(f"/api/articles/{world.article_a}").status_code == 200
    response = annotator.send_json("POST", f"/api/articles/{world.article_a}/spans", {"label": "CUE", "start": 0, "end": 1, "id": "read-only-1"})
    assert response.status_code == 503 and response.headers["Retry-After"], response.get_data(as_text=True)
    assert response.get_json()["error"].startswith("The database takes no changes at the moment. Nothing was saved.")
    response = admin.post("/admin/users", {"name": "newcomer", "role": "annotator", "password": "a long password"})
    assert response.status_code == 503 and "The database takes no changes at the moment" in response.get_data(as_text=True)
    assert _counts(app) == before
    assert any(r.levelname == "WARNING" and "takes no writes" in r.getMessage() for r in caplog.records), caplog.text
    with standby.app_context():
        db.engine.dispose()


def test_a_database_server_that_cannot_be_reached_is_a_503_that_says_so(tmp_path):
    """PostgreSQL down: a logged-in page, a token's API call and a login were a 500 (the error page itself tried to
    load the user from the database that had failed)."""
    from tests.test_cli_database_failures import closed_port
    from tests.test_route_matrix import caller
    from tests.test_route_matrix import seed as seed_world

    from .conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'up.sqlite3'}")
    world = seed_world(app)
    down = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/annotator", create=False, PROPAGATE_EXCEPTIONS=False)
    reviewer = _moved(caller(app, world, "reviewer"), down)
    response = reviewer.client.get("/")
    assert response.status_code == 503 and "The database cannot be reached" in response.get_data(as_text=True)
    response = down.test_client().get("/api/projects", headers={"Authorization": "Bearer ann_" + "x" * 43})
    assert response.status_code == 503 and response.get_json()["error"].startswith("The database cannot be reached. Nothing was changed.")
    visitor = _moved(caller(app, world, "anonymous"), down)
    response = visitor.post("/login", {"name": "someone", "password": "a long password"})
    assert response.status_code == 503 and response.headers["Retry-After"]
