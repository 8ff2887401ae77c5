"""Group commit (db/group_commit.py): the saves one worker's threads send at the same moment share one SQLite write
transaction, and each still gets its own answer, its own failure, and its own retries."""
from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from annotator.db import db, group_commit, transactions
from annotator.db.models import Annotation, AuditEntry, Project
from annotator.db.transactions import WriteConflict
from annotator.domain import annotations

from .test_request_ids import annotator_and_article

TEXT = "One is here. Two is here. Three is here. Four is here. Five is here. Six is here."
WAIT = 30  # seconds a thread may take on a loaded machine; a save that waits forever fails the test instead of hanging it


@pytest.fixture
def world(app):
    """One article of six sentences and its annotator."""
    return annotator_and_article(app, TEXT)


@pytest.fixture
def sqlite_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL groups its commits itself: saves there do not go through GroupCommit")


@pytest.fixture
def commits(monkeypatch) -> list[int]:
    """The number of saves in each SQLite transaction the group commit wrote, in order."""
    sizes: list[int] = []
    write = group_commit.GroupCommit._write

    def counted(self, session, group):  # noqa: ANN001, ANN202
        sizes.append(len(group))
        return write(self, session, group)

    monkeypatch.setattr(group_commit.GroupCommit, "_write", counted)
    return sizes


def in_threads(app, first: Callable[[Session], Any], others: list[Callable[[Session], Any]]) -> list[Any]:
    """Run `first` as a save, and while it is being written, the `others`, each as a save from a thread of its own
    (as a worker's request threads): each one's answer, or the exception its thread got, in their order."""
    answers: list[Any] = [None] * (1 + len(others))
    writing, release = threading.Event(), threading.Event()

    def held(session: Session) -> Any:
        writing.set()
        assert release.wait(WAIT)
        return first(session)

    def one(index: int, action: Callable[[Session], Any]) -> None:
        with app.app_context():
            try:
                answers[index] = annotations.save(db.session(), action)
            except Exception as exc:  # noqa: BLE001  (the test looks at it)
                answers[index] = exc

    threads = [threading.Thread(target=one, args=(0, held))]
    threads[0].start()
    assert writing.wait(WAIT)
    threads += [threading.Thread(target=one, args=(n + 1, action)) for n, action in enumerate(others)]
    for thread in threads[1:]:
        thread.start()
    with app.app_context():
        group = db.engine._annotator_group_commit
    deadline = time.monotonic() + WAIT
    while len(group._waiting) < len(others) and time.monotonic() < deadline:  # every other save queued behind the first
        time.sleep(0.005)
    release.set()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive(), "a save was never answered"
    return answers


def label(ann: int, article: int, index: int, value: str = "CFS") -> Callable[[Session], Any]:
    return lambda session: annotations.put_label(session, ann, article, index, value, 2)


def stored(app, world) -> dict[int, str]:
    with app.app_context():
        rows = db.session.execute(select(Annotation.sentence_id, Annotation.label).where(Annotation.user_id == world["ann"])).all()
        return {sentence: value for sentence, value in rows}


def audited(app) -> int:
    """The audit entries of saves (the world's own set-up leaves some of its own)."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity.in_(["label", "span"])))


def revision(app, world) -> int:
    with app.app_context():
        return db.session.get(Project, world["project"]).revision


def test_saves_that_come_while_one_is_written_share_the_next_commit_each_with_its_own_answer(app, world, sqlite_only, commits):
    ann, article = world["ann"], world["article"]
    before = revision(app, world)
    answers = in_threads(app, label(ann, article, 0), [label(ann, article, n, "UFS") for n in (1, 2, 3)])
    assert commits == [1, 3]  # the first alone (nobody waited when it began), then the three together
    assert [a["sentence"] for a in answers] == [0, 1, 2, 3]
    assert [a["label"] for a in answers] == ["CFS", "UFS", "UFS", "UFS"]
    assert sorted(stored(app, world).values()) == ["CFS", "UFS", "UFS", "UFS"]
    assert audited(app) == 4 and revision(app, world) == before + 4  # every save's own audit entry and revision bump


def test_a_save_that_fails_in_a_group_is_rolled_back_alone(app, world, sqlite_only, commits):
    """The failing batch wrote its label before its second operation failed: that label goes, the others' stay."""
    ann, article = world["ann"], world["article"]
    bad = [{"op": "put_label", "sentence_index": 2, "label": "CFS"}, {"op": "create_span", "label": "QUOTE", "start": 5, "end": 10**6}]
    answers = in_threads(app, label(ann, article, 0), [
        label(ann, article, 1), lambda session: annotations.apply_changes(session, ann, article, bad), label(ann, article, 3),
    ])
    assert commits == [1, 3]
    assert isinstance(answers[2], annotations.AnnotationError) and answers[2].status == 422
    assert "operation 1 (create_span)" in answers[2].message
    assert [answers[n]["sentence"] for n in (0, 1, 3)] == [0, 1, 3]
    with app.app_context():
        sentence_of = dict(db.session.execute(select(Annotation.sentence_id, Annotation.id)).all())
    assert len(sentence_of) == 3  # sentences 0, 1, 3: not the failed batch's 2
    assert audited(app) == 3


def test_a_conflict_in_a_group_runs_that_save_again_and_one_that_always_conflicts_is_a_503(app, world, sqlite_only, commits):
    ann, article = world["ann"], world["article"]
    tries = {"once": 0, "always": 0}

    def conflicts_once(session: Session) -> Any:
        tries["once"] += 1
        answer = annotations.put_label(session, ann, article, 1, "UFS", 2)  # written, then the conflict rolls it back
        if tries["once"] == 1:
            raise WriteConflict
        return answer

    def always(session: Session) -> Any:
        tries["always"] += 1
        annotations.put_label(session, ann, article, 2, "UFS", 2)
        raise WriteConflict

    answers = in_threads(app, label(ann, article, 0), [conflicts_once, always, label(ann, article, 3)])
    assert answers[1]["sentence"] == 1 and answers[1]["seconds"] == 2.0  # the second run's answer; the first's label was undone
    assert isinstance(answers[2], annotations.AnnotationError) and answers[2].status == 503
    assert tries == {"once": 2, "always": annotations.WRITE_ATTEMPTS}
    assert answers[3]["sentence"] == 3
    with app.app_context():
        labelled = set(db.session.scalars(select(Annotation.sentence_id)))
        first_sentence = db.session.scalar(select(func.min(Annotation.sentence_id)))
    assert labelled == {first_sentence, first_sentence + 1, first_sentence + 3}  # sentences 0, 1 and 3, never 2
    assert commits == [1, 3, 2, 1]  # then the two that conflicted, first in the next group; then the one left, alone


def test_a_commit_that_fails_fails_every_save_of_its_group_and_writes_none(app, world, sqlite_only, monkeypatch):
    """A full disk at the group's COMMIT: each of its saves' threads gets the 507 a save alone gets, none is stored."""
    ann, article = world["ann"], world["article"]
    commit = transactions._commit_driver
    fail = {"on": False}

    def full(session: Session) -> None:
        if fail["on"]:
            error = sqlite3.OperationalError("database or disk is full")
            error.sqlite_errorcode = sqlite3.SQLITE_FULL
            raise DBAPIError.instance("COMMIT", None, error, sqlite3.Error)
        commit(session)

    monkeypatch.setattr(transactions, "_commit_driver", full)

    def first(session: Session) -> Any:
        fail["on"] = True  # the first's own commit comes after this: it fails too, alone
        return annotations.put_label(session, ann, article, 0, "CFS", 2)

    answers = in_threads(app, first, [label(ann, article, n) for n in (1, 2, 3)])
    assert all(isinstance(a, annotations.AnnotationError) and a.status == 507 for a in answers), answers
    assert stored(app, world) == {} and audited(app) == 0


def test_on_postgresql_a_save_is_its_own_transaction(app, world):
    """No GroupCommit: PostgreSQL's row locks would make a group's saves wait on each other, and it groups commits itself."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    ann, article = world["ann"], world["article"]
    with app.app_context():
        answer = annotations.save(db.session(), label(ann, article, 0))
        assert answer["sentence"] == 0
        assert not hasattr(db.engine, "_annotator_group_commit")
    assert list(stored(app, world).values()) == ["CFS"]
