"""A label save's request id (annotations/idempotency.py): what it costs, and a repeat racing its own first attempt."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, text

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Annotation, Article, AuditEntry, LabelRequest, Project, User
from annotator.domain import accounts, assignment, projects
from annotator.domain.annotations import idempotency
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

TEXT = "One sentence here. Another one. Last one."


def annotator_and_article(app, text: str) -> dict[str, int]:
    """Project P with one article of `text` and its annotator ann: their ids ("ann", "article", "project")."""
    with app.app_context():
        s = db.session
        ann = accounts.create_user(s, "ann")
        project = projects.create_project(s, "P")
        articles.store_articles(s, project, [ArticleRecord("a", "T", text)], "test")
        assignment.assign_to_user(s, project.id, ann, ["a"])
        s.commit()
        return {"ann": ann.id, "article": s.scalar(select(Article.id)), "project": project.id}


@pytest.fixture
def world(app):
    """One article with three sentences, its annotator ann."""
    return annotator_and_article(app, TEXT)


@contextmanager
def counted(statements: list[str]):
    """Appends each statement sent to the database meanwhile (its first word) to `statements`."""

    def seen(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        statements.append(statement.split(None, 1)[0].upper())

    engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_a_request_id_costs_a_label_save_one_statement(app, world, monkeypatch):
    """The key is looked up by the save's access query and stored with its answer in one INSERT: one statement more
    than the same save without a request id (claiming it first and answering it after took two)."""
    monkeypatch.setattr(idempotency, "PRUNE_EVERY", 10**9)  # the 1-in-32 prune is apart
    ann, article = world["ann"], world["article"]
    with app.app_context():
        s = db.session
        annotations.write(s, lambda: annotations.put_label(s, ann, article, 0, "CFS", 1))
        annotations.write(s, lambda: annotations.put_label(s, ann, article, 1, "CFS", 1, request_id="first-0001"))
        plain: list[str] = []
        with counted(plain):
            annotations.write(s, lambda: annotations.put_label(s, ann, article, 0, "UFS", 1, version=1))
        keyed: list[str] = []
        with counted(keyed):
            annotations.write(s, lambda: annotations.put_label(s, ann, article, 1, "UFS", 1, version=1, request_id="save-0002"))
        assert len(keyed) == len(plain) + 1, (plain, keyed)
        assert sorted(keyed) == sorted([*plain, "INSERT"]), (plain, keyed)
        repeat: list[str] = []
        with counted(repeat):  # a repeat: its lookup alone, nothing written
            annotations.write(s, lambda: annotations.put_label(s, ann, article, 1, "UFS", 1, version=1, request_id="save-0002"))
        assert not {"INSERT", "UPDATE", "DELETE"} & set(repeat), repeat


def _backend_pid(s) -> int | None:
    return s.connection().execute(text("SELECT pg_backend_pid()")).scalar() if s.get_bind().dialect.name == "postgresql" else None


def _wait_until_blocked_by(app, pid: int | None) -> None:
    """Until a transaction waits on the one of backend `pid` (PostgreSQL); on SQLite (writers queue) a moment."""
    if pid is None:
        time.sleep(0.3)
        return
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    deadline = time.monotonic() + 30
    with app.app_context():
        while not db.session.scalar(query, {"pid": pid}):
            assert time.monotonic() < deadline, "the repeat never waited on the first"
            db.session.rollback()
            time.sleep(0.02)
        db.session.remove()


def held_save(app, save, into: dict[str, object], key: str, holding: threading.Event, go: threading.Event):
    """A thread's target: `save(session)` through annotations.write, its transaction (its key and rows locked) held
    open until `go`; its answer in into[key], the PostgreSQL backend that holds the locks in into["pid"]."""

    def run() -> None:
        with app.app_context():
            s = db.session

            def action():  # noqa: ANN202
                answer = save(s)
                into["pid"] = _backend_pid(s)
                holding.set()
                assert go.wait(30)
                return answer

            try:
                into[key] = annotations.write(s, action)
            finally:
                holding.set()
                db.session.remove()

    return run


@pytest.mark.parametrize("version", [None, 1], ids=["no-version", "version"])
def test_a_repeat_racing_its_first_attempt_waits_and_gets_the_first_answer(app, world, version):
    """The first attempt is still in its transaction when the repeat arrives. On PostgreSQL the repeat cannot see its
    key yet, so it does the work itself behind the first's row lock; when the first commits, it must throw that work
    away and answer with the first answer: its INSERT meets the key (no version sent), or its version check fails on
    the first's write and a second lookup finds the key (version sent). Either way the save counts once."""
    ann, article = world["ann"], world["article"]
    with app.app_context():
        s = db.session
        annotations.write(s, lambda: annotations.put_label(s, ann, article, 0, "CFS", 1))  # version 1
    body = dict(label="UFS", seconds=2, version=version, request_id="race-0001")
    started, release = threading.Event(), threading.Event()
    answers: dict[str, object] = {}
    first = held_save(app, lambda s: annotations.put_label(s, ann, article, 0, **body), answers, "first", started, release)

    def repeat() -> None:
        with app.app_context():
            s = db.session
            try:
                answers["repeat"] = annotations.write(s, lambda: annotations.put_label(s, ann, article, 0, **body))
            except annotations.AnnotationError as exc:
                answers["repeat"] = (exc.status, exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert started.wait(30)
    threads.append(threading.Thread(target=repeat))
    threads[1].start()
    try:
        _wait_until_blocked_by(app, answers.get("pid"))
    finally:
        release.set()
        for thread in threads:
            thread.join(60)
    assert "first" in answers and answers["repeat"] == answers["first"], answers
    with app.app_context():
        s = db.session
        label = s.execute(select(Annotation.label, Annotation.version, Annotation.seconds)).one()
        assert tuple(label) == ("UFS", 2, 3.0)  # one change, its seconds counted once
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity != "user")) == 2  # create + one update (not the users')
        assert s.scalar(select(Project.revision)) == 2
        assert s.scalar(select(func.count()).select_from(LabelRequest)) == 1


@pytest.mark.parametrize("parts", [
    (12, 3, "CFS", 1.5, None, (0, 18)),
    ("changes", 7, [{"op": "put_label", "label": "Ünï \u201cq\u201d", "sentence_index": 1, "x": {"b": 1, "a": [2.0, None, True]}}]),
])
def test_the_fingerprint_is_the_text_it_was(parts):
    """Keys stored before the fingerprint reused one encoder must still match their retries (else a 422)."""
    before = hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert idempotency.request_fingerprint(*parts) == before


@pytest.mark.parametrize("first_save", ["batch", "repeat"])
def test_a_keyed_save_out_of_attempts_answers_from_its_key_not_503(app, world, monkeypatch, first_save):
    """A batch and a label save sent with one request id at once deadlock on PostgreSQL (the save waits on the batch's
    claim, the batch on the save's label), and both retry into it again: 2 of 40 raced pairs ran out of attempts, a
    503, where the contract says 422 (the id was used for another save). Here the first save (a batch under the id, or
    the label save itself) holds its key until the second, allowed one attempt, waits on it; that attempt fails on the
    key, and the answer must come from the key: 422 for the batch's, the first answer for a repeat. (On SQLite writers
    queue, so the second reads the committed key in its one attempt: only PostgreSQL can fail this.)"""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's writers queue: the second save never meets the first's key in flight")
    import annotator.web.api as api_views

    monkeypatch.setattr(api_views, "save", lambda session, action, keyed=None: annotations.save(session, action, 1, keyed))
    ann, article = world["ann"], world["article"]
    with app.app_context():
        s = db.session
        token = accounts.issue_token(s, s.get(User, ann))
        s.commit()
    body = {"label": "CFS", "seconds": 1, "request_id": "shared-0001"}
    holding, go = threading.Event(), threading.Event()
    held: dict[str, object] = {}

    def save(s):  # noqa: ANN202
        if first_save == "batch":
            return annotations.apply_changes(s, ann, article, [{"op": "put_label", "sentence_index": 1, "label": "UFS"}], "shared-0001")
        return annotations.put_label(s, ann, article, 0, **body)

    first = held_save(app, save, held, "answer", holding, go)

    thread = threading.Thread(target=first)
    thread.start()
    answers: dict[str, object] = {}
    try:
        assert holding.wait(30)

        def second() -> None:
            response = app.test_client().put(f"/api/articles/{article}/labels/0", json=body, headers={"Authorization": f"Bearer {token}"})
            answers["second"] = (response.status_code, response.get_json())

        other = threading.Thread(target=second)
        other.start()
        _wait_until_blocked_by(app, held.get("pid"))
    finally:
        go.set()
        thread.join(60)
    other.join(60)
    status, answer = answers["second"]
    if first_save == "batch":
        assert status == 422 and "already used for a different save" in answer["error"], answers
    else:
        assert (status, answer) == (200, held["answer"]), answers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LabelRequest)) == 1
