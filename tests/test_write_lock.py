"""What a save does while it holds SQLite's write lock (db/transactions.py: the writer queue, BEGIN IMMEDIATE ...
COMMIT): only what must be there. The saves of many annotators run through that lock one at a time, so its hold time
is their ceiling (issue 17; bench/bench_write_lock.py counts the work inside)."""
from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
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
        watch["user"] = ann.id
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


def _vm_steps(app, action: Callable[[Session], object]) -> dict[str, int]:
    """SQLite's virtual-machine steps of each statement `action` runs (by its text), whatever the machine's speed."""
    steps: dict[str, int] = {}
    current = [""]

    def trace(sql: str) -> None:
        current[0] = " ".join(sql.split())

    def step() -> int:
        steps[current[0]] = steps.get(current[0], 0) + 1
        return 0

    def connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.set_trace_callback(trace)
        dbapi_connection.set_progress_handler(step, 1)

    with app.app_context():
        event.listen(db.engine, "connect", connect)
        try:
            db.engine.dispose()
            db.session.remove()
            action(db.session)
        finally:
            event.remove(db.engine, "connect", connect)
            db.engine.dispose()
            db.session.remove()
    return steps


def test_a_saves_work_in_the_lock_does_not_grow_with_the_sentences_behind_it(app):
    """An annotator working in order through an article two others have labelled and marked: a save (a label and a
    span, as a batch) on sentence 280 does the same SQLite work as one on sentence 20 in how many annotators marked the
    span (it was a scan of the article's spans) and in deciding 'done' (it walked every sentence before the first gap)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("counts SQLite's virtual-machine steps")
    text = " ".join(f"Sentence number {i} says something." for i in range(300))
    with app.app_context():
        s = db.session
        users = [accounts.create_user(s, name, "annotator", None) for name in ("ann", "ben", "cat")]
        project = projects.create_project(s, "P", labelschema.preset("claims"), annotators_per_article=3)
        articles.store_articles(s, project, [ArticleRecord("a", "T", text)], "test")
        for user in users:
            assignment.assign_to_user(s, project.id, user, ["a"])
        s.flush()
        article = s.scalar(select(Article.id))
        sentences = s.execute(select(Sentence.id, Sentence.start).order_by(Sentence.index)).all()
        ann = users[0].id
        for user in users[1:]:  # the two others: every sentence labelled and a quote on each, the same (2 markers < 3)
            s.add_all(Annotation(user_id=user.id, sentence_id=sid, label="CFS", guidelines_version=1) for sid, _ in sentences)
            s.add_all(Span(article_id=article, user_id=user.id, label="QUOTE", start=start, end=start + 10) for _, start in sentences)
        s.commit()
        s.remove()

    def labelled_up_to(index: int) -> None:  # ann's labels and quotes on the sentences before `index`
        with app.app_context():
            s = db.session
            done = set(s.scalars(select(Annotation.sentence_id).where(Annotation.user_id == ann)))
            todo = [(sid, start) for sid, start in sentences[:index] if sid not in done]
            s.add_all(Annotation(user_id=ann, sentence_id=sid, label="CFS", guidelines_version=1) for sid, _ in todo)
            s.add_all(Span(article_id=article, user_id=ann, label="QUOTE", start=start, end=start + 10) for _, start in todo)
            s.commit()
            s.remove()

    def save_at(index: int) -> dict[str, int]:
        start = sentences[index][1]
        operations = [{"op": "put_label", "sentence_index": index, "label": "CFS"},
                      {"op": "create_span", "label": "SOURCE", "start": start, "end": start + 8}]
        steps = _vm_steps(app, lambda s: annotations.write(s, lambda: annotations.apply_changes(s, ann, article, operations)))
        kinds = {"markers": "SELECT (SELECT count(DISTINCT", "progress": "UPDATE assignments SET status=CASE"}
        return {kind: sum(n for sql, n in steps.items() if sql.startswith(prefix)) for kind, prefix in kinds.items()}

    labelled_up_to(20)
    early = save_at(20)
    labelled_up_to(280)
    late = save_at(280)
    assert all(early.values()), early
    # steps at sentence 20 and 280, before: markers 2,527 and 3,569 (a scan of the article's spans), progress 835 and
    # 4,830 (a walk of the sentences behind); now markers 45 and 45, progress 253 and 121 (at 20 it also leaves 'assigned')
    for kind in early:
        assert late[kind] <= early[kind] + 20, (kind, early, late)
    with app.app_context():
        assert db.session.scalar(select(Assignment.status).where(Assignment.user_id == ann)) == "in_progress"


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



def test_progress_stays_done_exactly_when_every_sentence_is_labelled_through_any_writes(app, two_annotators):
    """Labels put and removed one by one and in batches, anywhere in the article, and sentences split and merged under
    them: after each write the annotator's assignment is 'done' exactly when every sentence has their label (progress
    looks at the written sentence's neighbours first, then walks: the answer must not depend on where it looked)."""
    import random

    from annotator.db.transactions import transaction
    from annotator.domain import resegment

    text = " ".join(f"Sentence {i} of the article says a thing." for i in range(9))
    ann_id, bob_id, article = two_annotators(text)
    rng = random.Random(17)
    with app.app_context():
        s = db.session

        def count() -> int:
            return s.scalar(select(func.count()).select_from(Sentence).where(Sentence.article_id == article))

        def labelled() -> set[int]:
            return set(s.scalars(select(Sentence.index).join(Annotation, Annotation.sentence_id == Sentence.id)
                                 .where(Sentence.article_id == article, Annotation.user_id == ann_id)))

        seen = []
        for step in range(120):
            n, have = count(), labelled()
            s.rollback()
            roll = rng.random()
            if roll < 0.08:  # an admin's correction: a sentence split in two, or merged with the next
                sentences = s.execute(select(Sentence.id, Sentence.start, Sentence.end).where(Sentence.article_id == article)
                                      .order_by(Sentence.index)).all()
                sid, start, end = rng.choice(sentences[:-1])
                with transaction(s):
                    if roll < 0.04 and end - start > 12:
                        resegment.split_sentence(s, sid, text.index(" ", start + 5), None)
                    else:
                        resegment.merge_with_next(s, sid, None)
            elif roll < 0.2:  # a batch: several puts and deletes at once
                operations = []
                for index in rng.sample(range(n), 3):
                    if index in have and rng.random() < 0.5:
                        operations.append({"op": "delete_label", "sentence_index": index})
                    else:
                        operations.append({"op": "put_label", "sentence_index": index, "label": rng.choice(["CFS", "NFS"])})
                annotations.write(s, lambda ops=operations: annotations.apply_changes(s, ann_id, article, ops))
            else:
                # mostly where the work is: the sentences in order, with a gap here and there behind
                index = min(len(have) + rng.choice([0, 0, 1, -1]), n - 1) if rng.random() < 0.7 else rng.randrange(n)
                index = max(index, 0)
                if index in have and rng.random() < 0.3:
                    annotations.write(s, lambda at=index: annotations.delete_label(s, ann_id, article, at))
                else:
                    annotations.write(s, lambda at=index: annotations.put_label(s, ann_id, article, at, "CFS"))
                if rng.random() < 0.2:  # another annotator's label fills nothing of ann's
                    other = rng.randrange(n)
                    annotations.write(s, lambda at=other: annotations.put_label(s, bob_id, article, at, "UFS"))
            n, have = count(), labelled()
            status = s.scalar(select(Assignment.status).where(Assignment.user_id == ann_id))
            s.rollback()
            assert status == ("done" if len(have) == n else "in_progress"), (step, n, sorted(have), status)
            seen.append((status, n))
        assert {status for status, _ in seen} == {"done", "in_progress"} and len({n for _, n in seen}) > 2, seen


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


def test_a_save_waits_for_its_turn_no_longer_than_the_busy_timeout_and_answers_503(app, lock_watch, monkeypatch):
    """The writer queue's flock() waited with no limit: a turn held long (a writer outside the queue holding SQLite's
    lock, each queued writer then spending its whole busy timeout in turn) added up down the queue, eight writers
    giving up after 12 to 24 s on a 1 s busy timeout. A save waits for its turn as long as SQLite would (here 0.2 s),
    then answers the busy 503 the page sends again; once the turn is let go, the same save goes through."""
    monkeypatch.setattr(transactions, "QUEUE_TIMEOUT_S", 0.2)
    url = f"/api/articles/{lock_watch['article']}/labels/0"
    headers = {"Authorization": f"Bearer {lock_watch['token']}"}
    answers: list = []

    def save() -> None:
        response = app.test_client().put(url, headers=headers, json={"label": "CFS", "seconds": 1.0, "request_id": "save-0001"})
        answers.append((response.status_code, response.get_json()))

    holder = open(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///") + ".write-lock", "a+b")  # noqa: SIM115
    fcntl.flock(holder, fcntl.LOCK_EX)  # a turn that is not let go
    saving = threading.Thread(target=save, daemon=True)
    saving.start()
    try:
        saving.join(10)  # one wait of 0.2 s, on a loaded machine
        assert not saving.is_alive(), "the save still waits for its turn"
    finally:
        holder.close()
        saving.join(10)
    [(status, answer)] = answers[:1]
    assert status == 503 and "busy" in answer["error"], answer
    save()
    assert answers[1][0] == 200, answers[1]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Annotation)) == 1


@pytest.mark.parametrize("path", ["save", "write"])
def test_a_write_that_waited_its_whole_turn_is_not_tried_again(app, lock_watch, monkeypatch, path):
    """A busy database is a conflict like any other to run_write and the group commit, so a write that had waited its
    whole busy timeout for its turn waited it again on each of its three attempts: with the shipped 30 s, a save held
    up by a command's long transaction answered after 90 s (180 s when SQLite's own lock was held too), past a
    reverse proxy's read timeout, where the page would have resent it at once on a 503. Once a write has waited that
    long it answers 503 at once: one wait, on both paths (a request's save, grouped on SQLite; a plain write)."""
    monkeypatch.setattr(transactions, "QUEUE_TIMEOUT_S", 0.2)
    turns = []
    real = transactions._take_turn

    def counted(handle, seconds):  # noqa: ANN001, ANN202
        turns.append(seconds)
        return real(handle, seconds)

    monkeypatch.setattr(transactions, "_take_turn", counted)
    holder = open(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///") + ".write-lock", "a+b")  # noqa: SIM115
    fcntl.flock(holder, fcntl.LOCK_EX)  # a turn that is not let go
    try:
        with app.app_context():
            s = db.session
            user, article = lock_watch["user"], lock_watch["article"]
            action = lambda session: annotations.put_label(session, user, article, 0, "CFS", 1.0)  # noqa: E731
            with pytest.raises(annotations.AnnotationError) as refused:
                if path == "save":
                    annotations.save(s, action)
                else:
                    annotations.write(s, lambda: action(s))
            s.rollback()
    finally:
        holder.close()
    assert refused.value.status == 503
    assert len(turns) == 1, turns
