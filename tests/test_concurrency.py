"""Concurrent saves through a real server: gunicorn with 4 workers, on SQLite and (with DATABASE_URL) PostgreSQL.

8 annotators save labels and spans at once on a shared article with API
tokens, and one more annotator saves the same sentence (and the same span ids)
from 3 threads at once, like autosave bursts from two tabs. Afterwards the
database must hold exactly the last write of each, the audit log every write,
and no request may have failed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, AuditEntry, Project, Sentence, Span, User
from annotator.domain import accounts, assignment, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import localhost_socket, make_app
from .races import holding_writer, postgres_only, take_turns

ROOT = Path(__file__).resolve().parents[1]
ANNOTATORS = 8
TAB_THREADS = 3
ROUNDS = 10
LABELS = ("CFS", "UFS", "NFS")
TEXT = " ".join(f"Sentence number {i} says that the rate rose by {i} percent." for i in range(12))


def start_gunicorn(database_uri: str, log: Path, workers: int = 4) -> tuple[subprocess.Popen, str]:
    """`gunicorn -w N 'annotator:create_app()'` on a free port; returns once /healthz answers."""
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "concurrency-test"}
    handle = log.open("w")
    with localhost_socket() as sock:
        port = sock.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"fd://{sock.fileno()}", "--log-level", "warning", "annotator:create_app()"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),),
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()}")
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except requests.RequestException:  # not listening yet, or a worker still loading the app
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"gunicorn did not start: {log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def set_up(database_uri: str) -> dict:
    app = make_app(database_uri)
    with app.app_context():
        s = db.session
        project = projects.create_project(s, "Concurrency")
        articles.store_articles(s, project, [ArticleRecord("shared", "Shared", TEXT)], "test")
        users = [accounts.create_user(s, f"ann{i}") for i in range(ANNOTATORS)] + [accounts.create_user(s, "tabs")]
        for user in users:
            assignment.assign_to_user(s, project.id, user, ["shared"])
        tokens = {user.name: accounts.issue_token(s, user) for user in users}
        s.commit()
        article = s.scalar(select(Article.id))
        sentences = s.scalar(select(func.count()).select_from(Sentence))
        db.session.remove()
        db.engine.dispose()
    return {"app": app, "tokens": tokens, "article": article, "sentences": sentences}


def test_concurrent_saves_lose_nothing_and_duplicate_nothing(database_uri, tmp_path):
    world = set_up(database_uri)
    process, base = start_gunicorn(database_uri, tmp_path / "gunicorn.log")
    article, sentences = world["article"], world["sentences"]
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    last_label: dict[tuple[str, int], str] = {}
    puts: Counter[tuple[str, int]] = Counter()
    spans_sent: dict[str, set[str]] = defaultdict(set)
    lock = threading.Lock()
    start_line = threading.Barrier(ANNOTATORS + TAB_THREADS)

    def record(name: str, response: requests.Response, expected: tuple[int, ...]) -> None:
        with lock:
            statuses[response.status_code] += 1
            if response.status_code not in expected:
                failures.append(f"{name} {response.request.method} {response.request.url}: {response.status_code} {response.text[:200]}")

    def annotator(k: int) -> None:
        name = f"ann{k}"
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {world['tokens'][name]}"
        start_line.wait()
        for i in range(ROUNDS):
            sentence = (i + k) % sentences
            label = LABELS[(i * 7 + k) % 3]
            record(name, http.put(f"{base}/api/articles/{article}/labels/{sentence}", json={"label": label, "seconds": 1}), (200,))
            with lock:
                last_label[(name, sentence)] = label
                puts[(name, sentence)] += 1
            uid = f"{name}-span-{i:03d}"
            body = {"label": "QUOTE", "start": i, "end": i + 5 + k, "id": uid}
            record(name, http.post(f"{base}/api/articles/{article}/spans", json=body), (201,))
            if i % 4 == 0:  # a retry after a lost response: the same span again
                record(name, http.post(f"{base}/api/articles/{article}/spans", json=body), (200,))
            spans_sent[name].add(uid)

    def tab(t: int) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {world['tokens']['tabs']}"
        start_line.wait()
        for i in range(ROUNDS):
            label = LABELS[(i + t) % 3]
            record("tabs", http.put(f"{base}/api/articles/{article}/labels/0", json={"label": label, "seconds": 1}), (200,))
            # every tab sends the same span ids at about the same time: one row each, the others get 200
            body = {"label": "SOURCE", "start": 2 * i, "end": 2 * i + 3, "id": f"tabs-span-{i:03d}"}
            record("tabs", http.post(f"{base}/api/articles/{article}/spans", json=body), (200, 201))
            with lock:
                spans_sent["tabs"].add(body["id"])

    threads = [threading.Thread(target=annotator, args=(k,)) for k in range(ANNOTATORS)]
    threads += [threading.Thread(target=tab, args=(t,)) for t in range(TAB_THREADS)]
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        elapsed = time.monotonic() - began
    finally:
        stop(process)
    log = (tmp_path / "gunicorn.log").read_text()
    assert not failures, "\n".join(failures[:20]) + "\n" + log[-3000:]
    assert not any(code >= 500 for code in statuses), statuses
    assert "Traceback" not in log, log[-3000:]

    app = world["app"]
    with app.app_context():
        s = db.session
        names = dict(s.execute(select(User.id, User.name)).all())
        stored = {(names[u], i): (label, version, seconds) for u, i, label, version, seconds in s.execute(
            select(Annotation.user_id, Sentence.index, Annotation.label, Annotation.version, Annotation.seconds).join(Sentence)
        )}
        audit = s.execute(select(AuditEntry.user_id, AuditEntry.entity, AuditEntry.action, AuditEntry.entity_id, AuditEntry.after).order_by(AuditEntry.id)).all()
        span_rows = s.execute(select(Span.user_id, Span.uid)).all()
        revision = s.scalar(select(Project.revision))
        db.session.remove()
        db.engine.dispose()

    # automatic gold (issue 16) is written by the saves themselves, as the system (no user): set apart here
    gold_audit = [row for row in audit if row[1].startswith("gold_")]
    assert all(user is None for user, *_ in gold_audit)
    # the world's users were made as the command line makes them: their account entries (no actor) are not the saves'
    audit = [row for row in audit if not row[1].startswith("gold_") and row[1] != "user"]
    # labels: the last write of each single-threaded annotator, its version counting every write
    for (name, sentence), label in last_label.items():
        assert stored[(name, sentence)] == (label, puts[(name, sentence)], float(puts[(name, sentence)])), (name, sentence)
    # the sentence saved from 3 threads at once: every write counted, none lost, one row
    tab_writes = TAB_THREADS * ROUNDS
    tab_label, tab_version, tab_seconds = stored[("tabs", 0)]
    assert (tab_version, tab_seconds) == (tab_writes, float(tab_writes))
    tab_audit = [after for user, entity, _, _, after in audit if names[user] == "tabs" and entity == "label"]
    assert sorted(after["version"] for after in tab_audit) == list(range(1, tab_writes + 1))
    assert tab_audit[-1]["label"] == tab_label and tab_audit[-1]["version"] == tab_writes
    assert len(stored) == len(last_label) + 1
    # the audit log has every label write and every span creation, and nothing else
    label_audit = Counter(names[user] for user, entity, *_ in audit if entity == "label")
    assert label_audit == Counter({name: sum(n for (who, _), n in puts.items() if who == name) for name in {w for w, _ in puts}} | {"tabs": tab_writes})
    # spans: exactly one row per id sent, however often and from however many threads it was sent
    rows = Counter((names[user], uid) for user, uid in span_rows)
    assert all(count == 1 for count in rows.values())
    assert {name: {uid for who, uid in rows if who == name} for name in spans_sent} == dict(spans_sent)
    assert Counter(entity for _, entity, *_ in audit) == Counter({"label": sum(label_audit.values()), "span": len(span_rows)})
    assert revision == len(audit)
    print(f"\n{sum(statuses.values())} requests in {elapsed:.1f}s on {database_uri.split(':')[0]}: {dict(statuses)}")


# ----------------------------------------------------------------- a large import does not stall saves
def big_corpus(path: Path, n: int, prefix: str = "big") -> list[str]:
    """One JSONL file of n short news-like articles; returns their ids."""
    ids = [f"{prefix}-{i:05d}" for i in range(n)]
    with path.open("w", encoding="utf-8") as fh:
        for i, external_id in enumerate(ids):
            text = " ".join(f"Item {i} notes that the council spent {i % 90 + s}.{s} million on road {s}." for s in range(5))
            fh.write(f'{{"id": "{external_id}", "title": "Item {i}", "text": "{text}"}}\n')
    return ids


def test_a_save_completes_while_a_large_import_is_in_progress(tmp_path):
    """SQLite: the import segments outside the write lock and commits in chunks, so a save waits for one chunk, not the file."""
    import sqlite3

    database = tmp_path / "big.sqlite3"
    app = make_app(f"sqlite:///{database}")
    with app.app_context():
        projects.create_project(db.session, "Big")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    big_corpus(tmp_path / "big.jsonl", 6000)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "concurrency-test"}
    process = subprocess.Popen([sys.executable, "-m", "annotator", "import", "Big", str(tmp_path / "big.jsonl")], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait until the import is writing: BEGIN IMMEDIATE without waiting is refused while it holds the lock
        probe = sqlite3.connect(database, timeout=0, isolation_level=None)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError:
                break
            time.sleep(0.001)
        probe.close()
        assert process.poll() is None, "the import finished before it was seen writing: make the file bigger"
        # a save from another connection, waiting as long as the app would (busy timeout 30 s)
        writer = sqlite3.connect(database, timeout=30, isolation_level=None)
        started = time.perf_counter()
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE projects SET revision = revision + 1")
        writer.execute("COMMIT")
        waited = time.perf_counter() - started
        writer.close()
        still_importing = process.poll() is None
    finally:
        out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    assert "imported 6000 new" in out, out
    # One file's write transaction, not the whole import (which the next line checks was still running): the bound
    # leaves room for a neighbouring pytest-xdist worker on the same cores.
    assert waited < 1.5, f"the save waited {waited:.2f} s for the import"
    assert still_importing, f"the save only went through when the import had finished (after {waited:.2f} s)"


# ----------------------------------------------------------------- retries and racing tabs count once (issue 16)
RACE_ROUNDS = 12


def test_a_retried_save_counts_once_and_two_tabs_racing_one_span_make_one(database_uri, tmp_path):
    """Through gunicorn's workers, each round at once from two threads: the same label save (same request id, as a
    retry racing its own first attempt) and the same span under two ids (two tabs). Each save counts once, with one
    audit entry; each span is one row, and the tab that lost gets the 409 naming the winner's span."""
    world = set_up(database_uri)
    process, base = start_gunicorn(database_uri, tmp_path / "gunicorn.log", workers=2)
    article = world["article"]
    answers: dict[int, list[requests.Response]] = defaultdict(list)
    span_answers: dict[int, list[requests.Response]] = defaultdict(list)
    lock = threading.Lock()
    start_line = threading.Barrier(2)

    def tab(t: int) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {world['tokens']['tabs']}"
        for i in range(RACE_ROUNDS):
            start_line.wait()
            body = {"label": LABELS[i % 3], "seconds": 1.5, "request_id": f"race-save-{i:04d}"}
            saved = http.put(f"{base}/api/articles/{article}/labels/0", json=body)
            start_line.wait()
            marked = http.post(f"{base}/api/articles/{article}/spans", json={"label": "QUOTE", "start": i, "end": i + 4, "id": f"tab{t}-span-{i:03d}"})
            with lock:
                answers[i].append(saved)
                span_answers[i].append(marked)

    threads = [threading.Thread(target=tab, args=(t,)) for t in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        stop(process)
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    for i in range(RACE_ROUNDS):
        assert [r.status_code for r in answers[i]] == [200, 200], [r.text for r in answers[i]]
        assert answers[i][0].json() == answers[i][1].json()  # the repeat got the first answer
        assert answers[i][0].json()["version"] == i + 1
        codes = sorted(r.status_code for r in span_answers[i])
        assert codes == [201, 409], [r.text for r in span_answers[i]]
        winner = next(r.json() for r in span_answers[i] if r.status_code == 201)
        loser = next(r.json() for r in span_answers[i] if r.status_code == 409)
        assert loser["duplicate"] is True and loser["current"] == winner

    app = world["app"]
    with app.app_context():
        s = db.session
        tabs = s.scalar(select(User.id).where(User.name == "tabs"))
        label = s.execute(select(Annotation.version, Annotation.seconds).where(Annotation.user_id == tabs)).one()
        audit = Counter(s.execute(select(AuditEntry.entity).where(AuditEntry.user_id == tabs)).scalars())
        spans = Counter(s.execute(select(Span.start).where(Span.user_id == tabs)).scalars())
        db.session.remove()
        db.engine.dispose()
    assert tuple(label) == (RACE_ROUNDS, 1.5 * RACE_ROUNDS)
    assert audit == Counter({"label": RACE_ROUNDS, "span": RACE_ROUNDS})
    assert spans == Counter(range(RACE_ROUNDS))


@pytest.mark.parametrize("how", ["role", "deactivate"])
def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, how):
    """Each counted the active admins (two) in its own transaction and went ahead: on PostgreSQL both commits left no
    admin at all, though the last active admin can never be demoted or deactivated. The second now waits for the
    first's admin rows and counts again: one admin stays, and the second is told why."""
    postgres_only(app)
    with app.app_context():
        first_admin, second_admin = (accounts.create_user(db.session, name, "admin", "correct horse").id for name in ("adm1", "adm2"))
        db.session.commit()
    holding, go = threading.Event(), threading.Event()
    outcome: dict[str, str] = {}
    errors: list[BaseException] = []

    def demote(target: int) -> str:
        user = db.session.get(User, target)
        if how == "role":
            accounts.set_role(db.session, user, "annotator")
        else:
            accounts.set_active(db.session, user, False)
        return "done"

    take_turns(app, holding_writer(app, lambda: demote(second_admin), "first", outcome, errors, accounts.AccountError, holding, go), holding, go,
               holding_writer(app, lambda: demote(first_admin), "second", outcome, errors, accounts.AccountError),
               "the second admin's change waits for the admin rows the first holds")
    assert not errors, errors
    last = "cannot change the role of the last active admin" if how == "role" else "cannot deactivate the last active admin"
    assert outcome == {"first": "done", "second": last}
    with app.app_context():
        assert db.session.scalars(select(User.name).where(User.role == "admin", User.active.is_(True))).all() == ["adm1"]


@pytest.mark.parametrize("edited_from", [None, 1])
def test_two_guidelines_saves_at_once_take_turns(app, edited_from):
    """Both read the project's version and numbered theirs the same: on PostgreSQL the second met the unique key of
    (project, version), a 500; on the admin page both passed the editor's "someone saved meanwhile" check. The second
    now waits for the first: saved as the next version, or, edited from the version the first replaced, refused."""
    postgres_only(app)
    with app.app_context():
        admin = accounts.create_user(db.session, "adm", "admin", "correct horse")
        project_id = projects.create_project(db.session, "Guided", None, 1, "# One", admin.id).id
        db.session.commit()
    holding, go = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}
    errors: list[BaseException] = []

    def save(text: str):
        return lambda: projects.set_guidelines(db.session, db.session.get(Project, project_id), text, None, edited_from)

    take_turns(app, holding_writer(app, save("# Two"), "first", outcome, errors, projects.GuidelinesChanged, holding, go), holding, go,
               holding_writer(app, save("# Three"), "second", outcome, errors, projects.GuidelinesChanged),
               "the second save waits for the project row the first holds")
    assert not errors, errors
    if edited_from is None:
        assert outcome == {"first": 2, "second": 3}
    else:
        assert outcome == {"first": 2, "second": "someone saved version 2 of the guidelines meanwhile"}
    with app.app_context():
        assert db.session.get(Project, project_id).guidelines == ("# Three" if edited_from is None else "# Two")
