"""What a save does while it holds SQLite's write lock (db/transactions.py: the writer queue, BEGIN IMMEDIATE ...
COMMIT): only what must be there. The saves of many annotators run through that lock one at a time, so its hold time
is their ceiling (issue 17; bench/bench_write_lock.py counts the work inside)."""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from annotator.db import SQLITE_AUTOCHECKPOINT_PAGES, db, transactions
from annotator.db.models import Annotation, Article, Assignment, Sentence, Span
from annotator.domain import accounts, annotations, assignment, labelschema, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

TEXT = "Fares will rise, the minister said. Critics said they would not. Nobody \U0001f600 believed it."


@pytest.fixture
def lock_watch(app, monkeypatch) -> Iterator[dict]:
    """SQLite only. Seeds an annotator's article and token, and records, while the app runs: every statement the
    driver runs (`statements`: (held, sql)), every ORM commit (`orm_commits`: held) and `held`, whether the writer
    queue is held now (its block is the locked region: it holds BEGIN IMMEDIATE ... COMMIT)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    watch: dict = {"held": False, "statements": [], "sql": [], "orm_commits": []}
    queue = transactions.writer_queue

    @contextmanager
    def watched_queue(session):
        with queue(session):
            watch["held"] = True
            try:
                yield
            finally:
                watch["held"] = False

    monkeypatch.setattr(transactions, "writer_queue", watched_queue)
    with app.app_context():
        s = db.session
        ann = accounts.create_user(s, "ann", "annotator", None)
        project = projects.create_project(s, "P", labelschema.preset("claims"))
        articles.store_articles(s, project, [ArticleRecord("a", "T", TEXT)], "test")
        assignment.assign_to_user(s, project.id, ann, ["a"])
        watch["token"] = accounts.issue_token(s, ann)
        s.commit()
        watch["article"] = s.scalar(select(Article.id))
        watch["starts"] = s.scalars(select(Sentence.start).order_by(Sentence.index)).all()
        engine = db.engine

        def trace(sql: str) -> None:
            watch["statements"].append((watch["held"], sql.split()[0] + (" IMMEDIATE" if "IMMEDIATE" in sql else "")))
            watch["sql"].append((watch["held"], " ".join(sql.split())))

        def connect(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.set_trace_callback(trace)

        def orm_commit(_session) -> None:  # noqa: ANN001
            watch["orm_commits"].append(watch["held"])

        event.listen(engine, "connect", connect)
        event.listen(Session, "after_commit", orm_commit)
        engine.dispose()  # every connection from now on is traced
        s.remove()
    try:
        yield watch
    finally:
        event.remove(Session, "after_commit", orm_commit)
        event.remove(engine, "connect", connect)


def _batch(app, watch: dict, request_id: str = "batch-0001") -> tuple[int, dict]:
    start = watch["starts"][1]
    operations = [
        {"op": "put_label", "sentence_index": 1, "label": "CFS", "seconds": 2.5},
        {"op": "create_span", "id": "quote-0001", "label": "QUOTE", "start": start, "end": start + 10},
        {"op": "create_span", "id": "source-001", "label": "SOURCE", "start": start + 12, "end": start + 20},
    ]
    client = app.test_client()
    watch["statements"].clear()
    watch["sql"].clear()
    watch["orm_commits"].clear()
    response = client.post(f"/api/articles/{watch['article']}/changes", headers={"Authorization": f"Bearer {watch['token']}"},
                           data=json.dumps({"request_id": request_id, "operations": operations}), content_type="application/json")
    return response.status_code, response.get_json()


def test_a_save_holds_the_lock_from_begin_immediate_to_its_commit_only(app, lock_watch):
    status, answer = _batch(app, lock_watch)
    assert status == 200, answer
    assert [result["status"] for result in answer["results"]] == [200, 201, 201]
    inside = [sql for held, sql in lock_watch["statements"] if held]
    outside = [sql for held, sql in lock_watch["statements"] if not held]
    # the token's read transaction ends before the queue; the save's own transaction is all the lock holds
    assert inside[0] == "BEGIN IMMEDIATE" and inside[-1] == "COMMIT" and inside.count("COMMIT") == 1 and "BEGIN" not in inside, inside
    assert "BEGIN" in outside and outside.index("COMMIT") > outside.index("BEGIN"), outside
    # the ORM's commit (expiring, returning the connection) comes after the lock is let go, and commits nothing then
    assert lock_watch["orm_commits"] and not any(lock_watch["orm_commits"])
    # the assignment's progress is one UPDATE (SQLite's writers run one at a time: no read of it first)
    progress = [sql for held, sql in lock_watch["sql"] if held and sql.startswith(("SELECT assignments", "UPDATE assignments"))]
    assert len(progress) == 1 and progress[0].startswith("UPDATE assignments SET status="), progress
    with app.app_context():  # and it was committed: another connection sees it
        assert db.session.scalar(select(func.count()).select_from(Span)) == 2
        assert db.session.scalar(select(func.count()).select_from(Annotation)) == 1
    assert _batch(app, lock_watch) == (status, answer)  # a retry still answers the first answer, writing nothing
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Span)) == 2


def test_a_batch_is_checked_and_fingerprinted_before_the_lock(app, lock_watch, monkeypatch):
    from annotator.domain.annotations import batch

    calls: list[tuple[str, bool]] = []

    def spy(name: str):  # noqa: ANN202
        real = getattr(batch, name)

        def called(*args):  # noqa: ANN002, ANN202
            calls.append((name, lock_watch["held"]))
            return real(*args)

        return called

    for name in ("check_operations", "request_fingerprint"):
        monkeypatch.setattr(batch, name, spy(name))
    status, answer = _batch(app, lock_watch)
    assert status == 200, answer
    assert {name for name, _ in calls} == {"check_operations", "request_fingerprint"}
    assert not any(held for _, held in calls), calls


def test_a_failed_save_rolls_back_inside_the_lock_and_stores_nothing(app, lock_watch):
    lock_watch["starts"][1] = 10_000  # past the text: the first span fails after the label was written
    status, answer = _batch(app, lock_watch)
    assert status == 422 and answer["index"] == 1, answer
    inside = [sql for held, sql in lock_watch["statements"] if held]
    assert inside[0] == "BEGIN IMMEDIATE" and "COMMIT" not in inside and inside[-1] == "ROLLBACK", inside
    assert not any(lock_watch["orm_commits"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Annotation)) == 0


@pytest.fixture
def two_annotators(app) -> Callable[[str], tuple[int, int, int]]:
    """Makes the article both progress tests label: one project, its one article of `text` assigned to the annotators
    ann and bob (so another's label is there to be ignored). Returns (ann's id, bob's id, the article's id)."""

    def make(text: str) -> tuple[int, int, int]:
        with app.app_context():
            s = db.session
            ann, bob = (accounts.create_user(s, name, "annotator", None) for name in ("ann", "bob"))
            project = projects.create_project(s, "P", labelschema.preset("claims"))
            articles.store_articles(s, project, [ArticleRecord("a", "T", text)], "test")
            assignment.assign_to_user(s, project.id, ann, ["a"])
            assignment.assign_to_user(s, project.id, bob, ["a"])
            s.commit()
            made = ann.id, bob.id, s.scalar(select(Article.id))
            s.remove()
            return made

    return make


def test_progress_is_decided_without_looking_up_every_sentence(app, two_annotators):
    """A label save decides 'done' inside the lock: it must stop at the first sentence without the caller's label, not
    look up all of a long article's (SQLite's virtual-machine steps count it, whatever the machine's speed)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("counts SQLite's virtual-machine steps")
    ann_id, _, article = two_annotators(" ".join(f"Sentence number {i} says something." for i in range(300)))
    with app.app_context():
        s = db.session
        count = s.scalar(select(func.count()).select_from(Sentence))
        assert count >= 250
        steps: dict[str, int] = {}
        current = [""]

        def trace(sql: str) -> None:
            current[0] = sql

        def step() -> int:
            steps[current[0]] = steps.get(current[0], 0) + 1
            return 0

        def connect(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.set_trace_callback(trace)
            dbapi_connection.set_progress_handler(step, 1)

        event.listen(db.engine, "connect", connect)
        try:
            db.engine.dispose()
            s.remove()
            s = db.session
            annotations.write(s, lambda: annotations.put_label(s, ann_id, article, 5, "CFS"))
        finally:
            event.remove(db.engine, "connect", connect)
            db.engine.dispose()
        progress = [n for sql, n in steps.items() if sql.startswith(("SELECT count(sentences.id)", "SELECT EXISTS (SELECT *", "UPDATE assignments SET status=CASE"))]
        assert len(progress) == 1 and progress[0] < 200, [(sql[:80], n) for sql, n in steps.items()]  # counting each sentence's labels took ~16 steps a sentence
        s.remove()


def test_progress_is_done_exactly_when_every_sentence_has_the_callers_label(app, two_annotators):
    ann_id, bob_id, article = two_annotators(TEXT)
    with app.app_context():
        s = db.session

        def status(user_id: int) -> str:
            value = s.scalar(select(Assignment.status).where(Assignment.user_id == user_id))
            s.rollback()
            return value

        def label(user_id: int, index: int) -> None:
            annotations.write(s, lambda: annotations.put_label(s, user_id, article, index, "CFS"))

        for index in (2, 0):
            label(ann_id, index)
        assert status(ann_id) == "in_progress"
        label(bob_id, 1)  # another annotator's label on the gap does not fill it
        assert status(ann_id) == "in_progress"
        assert status(bob_id) == "in_progress"
        label(ann_id, 1)
        assert status(ann_id) == "done"
        annotations.write(s, lambda: annotations.delete_label(s, ann_id, article, 0))
        assert status(ann_id) == "in_progress"
        annotations.write(s, lambda: annotations.apply_changes(s, ann_id, article, [{"op": "put_label", "sentence_index": 0, "label": "NFS"}]))
        assert status(ann_id) == "done"


# Checkpoints of the write-ahead log run outside the writer queue (transactions.checkpoint_now_and_then), not inside
# the COMMIT that holds it (bench/bench_write_lock.py counts the fsyncs inside the lock).

def test_connections_leave_the_checkpoint_to_the_writers_with_a_high_backstop(app, lock_watch):
    with app.app_context():
        assert db.session.scalar(text("PRAGMA wal_autocheckpoint")) == SQLITE_AUTOCHECKPOINT_PAGES


def test_a_queued_save_checkpoints_only_after_the_lock_is_let_go(app, lock_watch, monkeypatch):
    monkeypatch.setattr(transactions.random, "random", lambda: 0.0)  # this save's draw: checkpoint
    with app.app_context():
        db.engine._annotator_checkpoint_every = 50
    status, answer = _batch(app, lock_watch)
    assert status == 200, answer
    sql = lock_watch["sql"]
    checkpoints = [i for i, (held, statement) in enumerate(sql) if statement.startswith("PRAGMA wal_checkpoint")]
    assert len(checkpoints) == 1, sql
    held, _ = sql[checkpoints[0]]
    last_commit_inside = max(i for i, (held, statement) in enumerate(sql) if held and statement == "COMMIT")
    assert not held and checkpoints[0] > last_commit_inside, sql
    assert not any(statement.startswith("PRAGMA wal_checkpoint") for held, statement in sql if held)


def test_most_saves_leave_the_checkpoint_to_a_later_one(app, lock_watch, monkeypatch):
    monkeypatch.setattr(transactions.random, "random", lambda: 0.5)  # 0.5 * 50 >= 1: not this one
    with app.app_context():
        db.engine._annotator_checkpoint_every = 50
    status, answer = _batch(app, lock_watch)
    assert status == 200, answer
    assert not any(statement.startswith("PRAGMA wal_checkpoint") for _, statement in lock_watch["sql"]), lock_watch["sql"]


def test_the_checkpoint_copies_the_saves_into_the_database_file(app, lock_watch):
    with app.app_context():
        db.engine._annotator_checkpoint_every = 1  # every write: a draw below 1 / 1 always
    status, answer = _batch(app, lock_watch)
    assert status == 200, answer
    path = app.config["SQLALCHEMY_DATABASE_URI"].split("sqlite:///", 1)[1]
    with sqlite3.connect(path) as raw:  # nothing left in the log for a checkpoint to copy
        raw.execute("PRAGMA wal_autocheckpoint = 0")
        busy, logged, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and logged == copied


def test_a_failed_checkpoint_leaves_the_save_done(app, lock_watch, monkeypatch, caplog):
    with app.app_context():
        db.engine._annotator_checkpoint_every = 1

    def full_disk(session):  # noqa: ANN001
        session.connection()  # as the real one: a transaction is open when the PRAGMA fails
        raise OperationalError("PRAGMA wal_checkpoint(PASSIVE)", None, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(transactions, "checkpoint", full_disk)
    status, answer = _batch(app, lock_watch)
    assert status == 200, answer
    assert "checkpoint after a write failed" in caplog.text and "disk is full" in caplog.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Annotation)) == 1
    assert _batch(app, lock_watch, "batch-0002")[0] == 200  # the session it used is fine for the next request
