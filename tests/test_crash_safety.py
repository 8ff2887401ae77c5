"""Crash safety: an import killed with SIGKILL leaves whole files or nothing, and the next run finishes the job;
`annotator backup` copies a live SQLite database consistently while another process writes to it.

Both run the real command in a subprocess (`python -m annotator`), against the
test's database (SQLite, and PostgreSQL when DATABASE_URL is set).
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from annotator.db import db
from annotator.db.models import Article, Sentence
from annotator.domain import projects
from annotator.stats.segment import segment

from .conftest import make_app
from .process_tree import children, running

ROOT = Path(__file__).resolve().parents[1]
FILES = 24
PER_FILE = 250


def article_text(f: int, a: int) -> str:
    return " ".join(
        f"In file {f}, article {a} says the rate rose by {(f * 7 + a + s) % 13}.{s} percent in region {s}."
        for s in range(4 + (f + a) % 5)
    )


def write_corpus(folder: Path) -> dict[str, list[str]]:
    """FILES JSONL files of PER_FILE articles each; returns file stem -> article ids."""
    folder.mkdir()
    ids: dict[str, list[str]] = {}
    for f in range(FILES):
        stem = f"batch{f:02d}"
        rows = [{"id": f"{stem}-{a:04d}", "title": f"Article {a}", "text": article_text(f, a), "meta": {"file": stem}} for a in range(PER_FILE)]
        (folder / f"{stem}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
        ids[stem] = [r["id"] for r in rows]
    return ids


def annotator_command(database_uri: str, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "crash-test"}
    return subprocess.Popen([sys.executable, "-m", "annotator", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def stored(database_uri: str) -> dict[str, tuple[str, list[tuple[int, int]]]]:
    """external id -> (text, sentence offsets in order), read with a plain engine (no app)."""
    engine = create_engine(database_uri.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            texts = dict(conn.execute(select(Article.id, Article.text)).all())
            names = dict(conn.execute(select(Article.id, Article.external_id)).all())
            offsets: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for article_id, start, end in conn.execute(select(Sentence.article_id, Sentence.start, Sentence.end).order_by(Sentence.article_id, Sentence.index)):
                offsets[article_id].append((start, end))
    finally:
        engine.dispose()
    return {names[i]: (texts[i], offsets.get(i, [])) for i in texts}


def assert_whole(database_uri: str, ids: dict[str, list[str]]) -> set[str]:
    """Every stored article has exactly its sentences, every file is all or nothing; returns the files stored."""
    articles = stored(database_uri)
    for external_id, (text, offsets) in articles.items():
        assert offsets == segment(text), f"article {external_id} is stored with {len(offsets)} of its {len(segment(text))} sentences"
    files = set()
    for stem, wanted in ids.items():
        present = [i for i in wanted if i in articles]
        assert len(present) in (0, len(wanted)), f"{stem}.jsonl is half stored: {len(present)} of {len(wanted)} articles"
        if present:
            files.add(stem)
    assert len(articles) == sum(len(ids[s]) for s in files)
    return files


@pytest.fixture
def prepared(database_uri, tmp_path):
    app = make_app(database_uri)
    with app.app_context():
        projects.create_project(db.session, "Crash")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return app


def article_count(database_uri: str) -> int:
    engine = create_engine(database_uri)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Article)).scalar_one()
    finally:
        engine.dispose()


def test_import_killed_mid_way_leaves_no_partial_article_and_resumes(database_uri, prepared, tmp_path):
    ids = write_corpus(tmp_path / "corpus")
    total = FILES * PER_FILE
    # The import runs at the lowest priority, so that this test's polling (and, under pytest-xdist, the other
    # workers' tests) cannot starve the watcher while the import races through the rest of the files.
    process = annotator_command(database_uri, "import", "Crash", str(tmp_path / "corpus"), preexec_fn=lambda: os.nice(19))
    # wait until a file is in, then kill without warning, in the middle of a later file's transaction
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline and process.poll() is None:
        count = article_count(database_uri)
        if count >= PER_FILE:
            break
        time.sleep(0.01)
    assert process.poll() is None, f"the import finished before it could be killed ({count} articles): make the corpus bigger"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    if database_uri.startswith("sqlite"):
        with sqlite3.connect(database_uri.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    done = assert_whole(database_uri, ids)
    assert 0 < len(done) < FILES, f"killed after {len(done)} of {FILES} files: the kill did not land mid-import"

    # the next run (skipping what is there) imports the rest cleanly
    again = annotator_command(database_uri, "import", "Crash", str(tmp_path / "corpus"), "--on-duplicate", "skip")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    assert f"imported {total - len(done) * PER_FILE} new, 0 updated, {len(done) * PER_FILE} skipped" in out, out
    assert assert_whole(database_uri, ids) == set(ids)


# ----------------------------------------------------------------- backup of a live SQLite database
WRITER = textwrap.dedent(
    """
    import sys, time
    from annotator.domain import accounts, assignment, projects
    from annotator.domain.annotations import put_label, write
    from annotator.domain.dataset import articles
    from annotator.db import db
    from annotator.db.transactions import begin_write
    from annotator.domain.dataset.ingest import ArticleRecord
    from annotator.db.models import Article
    from sqlalchemy import select
    from tests.conftest import make_app

    app = make_app(sys.argv[1], create=False)
    with app.app_context():
        s = db.session
        project = projects.get_project(s, "Crash")
        user = accounts.find_user(s, "writer")
        n = 0
        print("ready", flush=True)
        while True:
            begin_write(s)
            text = " ".join(f"Live article {n} sentence {k} reports {k * n} cases." for k in range(6))
            articles.store_articles(s, project, [ArticleRecord(f"live-{n}", "Live", text)], "writer")
            s.commit()
            begin_write(s)
            assignment.assign_to_user(s, project.id, user, [f"live-{n}"])
            s.commit()
            article_id = s.scalar(select(Article.id).where(Article.external_id == f"live-{n}"))
            for k in range(6):
                write(s, lambda: put_label(s, user.id, article_id, k, "CFS" if (n + k) % 2 else "NFS", 1))
            n += 1
    """
)


@pytest.fixture
def sqlite_only(database_uri):
    if not database_uri.startswith("sqlite"):
        pytest.skip("annotator backup copies SQLite databases (PostgreSQL: pg_dump, see README)")
    return database_uri


def test_backup_of_a_live_database_is_consistent(sqlite_only, prepared, tmp_path):
    database_uri = sqlite_only
    from annotator.domain import accounts

    with prepared.app_context():
        accounts.create_user(db.session, "writer")
        db.session.commit()
        db.engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, database_uri], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        copies = []
        for i in range(3):
            time.sleep(0.2)
            target = tmp_path / f"copy{i}.sqlite3"
            backup = annotator_command(database_uri, "backup", str(target))
            out, err = backup.communicate(timeout=120)
            assert backup.returncode == 0, err
            assert f"to {target}" in out
            copies.append(target)
        assert writer.poll() is None, writer.stderr.read()
    finally:
        writer.kill()
        writer.communicate(timeout=30)

    sizes = []
    for copy in copies:
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            # every label write bumps the revision and appends one audit entry in the same transaction (the writer's own
            # account, created before the copies, has its entry too: entity 'user')
            revision = conn.execute("SELECT revision FROM projects").fetchone()[0]
            audited = conn.execute("SELECT count(*) FROM audit_log WHERE entity != 'user'").fetchone()[0]
            assert revision == audited, f"{copy.name}: revision {revision} but {audited} audit entries: a torn copy"
            labels = conn.execute("SELECT count(*) FROM annotations").fetchone()[0]
            assert labels == audited
        conn.close()
        copied = stored(f"sqlite:///{copy}")
        for external_id, (text, offsets) in copied.items():
            assert offsets == segment(text), f"{copy.name}: {external_id} has {len(offsets)} sentences"
        sizes.append(len(copied))
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0], f"the copies do not follow the live writes: {sizes}"


def test_backup_refuses_an_existing_target_and_a_missing_database(sqlite_only, prepared, tmp_path):
    target = tmp_path / "exists.sqlite3"
    target.write_bytes(b"precious")
    backup = annotator_command(sqlite_only, "backup", str(target))
    out, err = backup.communicate(timeout=60)
    assert backup.returncode == 1 and "exists" in err and target.read_bytes() == b"precious"

    # a wrong DATABASE_URL must not "back up" an empty database that connecting just created
    for missing in (tmp_path / "nowhere" / "db.sqlite3", tmp_path / "typo.sqlite3"):
        backup = annotator_command(f"sqlite:///{missing}", "backup", str(tmp_path / "copy.sqlite3"))
        out, err = backup.communicate(timeout=60)
        assert backup.returncode == 1 and "no database" in err and "Traceback" not in err, (out, err)
        assert not missing.exists() and not (tmp_path / "copy.sqlite3").exists()

    # a target folder that does not exist: one line, no traceback, no stray file
    backup = annotator_command(sqlite_only, "backup", str(tmp_path / "no" / "such" / "dir.sqlite3"))
    out, err = backup.communicate(timeout=60)
    assert backup.returncode == 1 and "backup to" in err and "Traceback" not in err, err


def test_backup_on_postgresql_points_to_pg_dump(database_uri, prepared, tmp_path):
    if database_uri.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    backup = annotator_command(database_uri, "backup", str(tmp_path / "x.sqlite3"))
    out, err = backup.communicate(timeout=60)
    assert backup.returncode == 1 and "pg_dump" in err and len(err.strip().splitlines()) == 1


def test_readme_documents_both_backups():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "annotator backup" in readme and "pg_dump" in readme and "pg_restore" in readme


# ----------------------------------------------------------------- a big file is staged in chunks, then published
BIG = 6000


def write_big_file(path: Path, n: int = BIG) -> list[str]:
    ids = [f"big-{i:05d}" for i in range(n)]
    rows = [{"id": external_id, "title": f"Big {i}", "text": article_text(i % FILES, i)} for i, external_id in enumerate(ids)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return ids


def visible_and_stored(app) -> tuple[int, int, int]:
    """(articles any page, export or assignment sees; article rows in the table; imports still staged)."""
    from annotator.db.models import StagedImport

    with app.app_context():
        visible = db.session.scalar(select(func.count()).select_from(Article))
        rows = db.session.scalar(select(func.count()).select_from(Article).execution_options(include_staged=True))
        staged = db.session.scalar(select(func.count()).select_from(StagedImport))
        db.session.remove()
        db.engine.dispose()
    return visible, rows, staged


def test_big_import_killed_while_staging_leaves_nothing_visible_and_the_next_import_cleans_up(database_uri, prepared, tmp_path):
    ids = write_big_file(tmp_path / "big.jsonl")
    process = annotator_command(database_uri, "import", "Crash", str(tmp_path / "big.jsonl"))
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline and process.poll() is None:
        count = article_count(database_uri)  # every row, staged ones included: committed chunks
        if count > 0:
            break
        time.sleep(0.01)
    assert process.poll() is None, f"the import finished before it could be killed ({count} rows): nothing was staged in chunks"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    visible, rows, staged = visible_and_stored(prepared)
    assert (visible, staged) == (0, 1) and 0 < rows < BIG, (visible, rows, staged)

    # the next import sees the dead import's leftovers, deletes them, and stores the whole file
    again = annotator_command(database_uri, "import", "Crash", str(tmp_path / "big.jsonl"))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    assert f"imported {BIG} new, 0 updated, 0 skipped" in out, out
    assert visible_and_stored(prepared) == (BIG, BIG, 0)
    assert set(stored(database_uri)) == set(ids)


def test_big_file_failing_at_its_end_leaves_nothing_visible(database_uri, prepared, tmp_path):
    """A failure found only when publishing (an annotated article whose text would change) discards every staged chunk."""
    from annotator.domain import accounts, assignment
    from annotator.domain.annotations import put_label
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    with prepared.app_context():
        s = db.session
        project = projects.get_project(s, "Crash")
        user = accounts.create_user(s, "labeller")
        articles.store_articles(s, project, [ArticleRecord("old", "Old", "An old story. It has two sentences.")], "seed")
        assignment.assign_to_user(s, project.id, user, ["old"])
        s.commit()
        old_id = s.scalar(select(Article.id))
        put_label(s, user.id, old_id, 0, "CFS", 1)
        s.commit()
        s.remove()
        db.engine.dispose()
    path = tmp_path / "big.jsonl"
    write_big_file(path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "old", "text": "A new text for an annotated story."}) + "\n")
    process = annotator_command(database_uri, "import", "Crash", str(path), "--on-duplicate", "update")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 1 and f"big.jsonl:{BIG + 1}: article 'old' is already annotated" in err, (out, err)
    assert visible_and_stored(prepared) == (1, 1, 0)


# ----------------------------------------------------------------- a killed export cleans up after itself
EXPORT_ARTICLES = 4000
EXPORT_SENTENCES = 30


@pytest.fixture
def exportable(database_uri, prepared):
    """The Crash project with EXPORT_ARTICLES articles of EXPORT_SENTENCES sentences (stored without segmenting, for speed)."""
    from annotator.db.transactions import begin_write
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    sentence = "The office said the rate rose by 3 percent. "
    text = sentence * EXPORT_SENTENCES
    spans = [(k * len(sentence), (k + 1) * len(sentence) - 1) for k in range(EXPORT_SENTENCES)]
    with prepared.app_context():
        s = db.session
        project = projects.get_project(s, "Crash")
        records = [ArticleRecord(f"e{i:05d}", f"E {i}", text) for i in range(EXPORT_ARTICLES)]
        begin_write(s)
        articles._insert_new(s, project.id, records, {r.external_id: spans for r in records})
        s.commit()
        s.remove()
        db.engine.dispose()
    return database_uri


def start_export_and_wait_for_workers(database_uri: str, out: Path) -> tuple[subprocess.Popen, set[int]]:
    process = annotator_command(database_uri, "export", "Crash", "--jobs", "2", "-o", str(out))
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and process.poll() is None:
        workers = {pid for pid in children(process.pid) if running(pid)}
        folders = list(out.parent.glob(".export-*"))
        if len(workers) >= 2 and folders and any(f.stat().st_size for folder in folders for f in folder.iterdir()):
            break
        time.sleep(0.01)
    assert process.poll() is None and len(workers) >= 2, f"the export ended before its workers were seen writing: {process.communicate()}"
    return process, workers


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith(".export-"))


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_export_stopped_with_term_or_int_removes_its_part_files_and_its_workers(exportable, tmp_path, how):
    out = tmp_path / "out" / "data.jsonl"
    out.parent.mkdir()
    process, workers = start_export_and_wait_for_workers(exportable, out)
    assert (out.parent / "data.jsonl.part").exists()
    process.send_signal(how)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0 and "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(pid) for pid in workers):
        time.sleep(0.05)
    assert not [pid for pid in workers if running(pid)], "export workers outlived the export"
    assert leftovers(out.parent) == [] and not out.exists()


def test_export_killed_with_sigkill_takes_its_workers_along_and_the_next_run_cleans_up(exportable, tmp_path):
    out = tmp_path / "out" / "data.jsonl"
    out.parent.mkdir()
    process, workers = start_export_and_wait_for_workers(exportable, out)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(pid) for pid in workers):
        time.sleep(0.05)
    assert not [pid for pid in workers if running(pid)], "export workers outlived the export killed with SIGKILL"
    assert leftovers(out.parent)  # nothing can clean up after SIGKILL ...
    again = annotator_command(exportable, "export", "Crash", "--unit", "article", "--jobs", "2", "-o", str(out))
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    assert leftovers(out.parent) == []  # ... but the next export into the same place does
    assert sum(1 for _ in out.open(encoding="utf-8")) == EXPORT_ARTICLES
