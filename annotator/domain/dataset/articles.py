"""Store imported articles with their sentences, all or nothing per file.

Takes a SQLAlchemy session and plain records; no Flask. `store_articles` is one
unit of work the caller commits or rolls back. `import_records` (the CLI and,
through `import_files`, the upload page) runs its own transactions so that a big file never holds the
write lock for long: it segments outside any transaction, stores a big file in
committed chunks as a staged import that nothing else sees, and publishes it
in one short transaction (see StagedImport in models.py).
"""
from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Iterator, Literal, Mapping

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from annotator.db import statistics
from annotator.db.bulk import insert_rows
from annotator.db.models import Article, CacheEntry, Project, Sentence, StagedImport, Suggestion, utcnow
from annotator.db.transactions import checkpoint, transaction
from annotator.domain.article_work import locked_article_work
from annotator.domain.dataset.ingest import ArticleRecord, IngestError, read_bytes
from annotator.domain.projects import bump_revision
from annotator.stats.numbers import whole_number
from annotator.stats.segment import segment

OnDuplicate = Literal["skip", "update", "error"]
ON_DUPLICATE = ("skip", "update", "error")


@dataclass
class StoreResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def merge(self, other: "StoreResult") -> None:
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


Spans = list[tuple[int, int]]


def _insert_sentences(session: Session, article_spans: Iterable[tuple[int, Spans]]) -> None:
    """Each article's sentences, (article id, its sentences' offsets in order), as rows of the sentences table, through
    the driver (db.bulk: many rows a statement, or COPY): SQLAlchemy's executemany took three times as long."""
    rows = [(article_id, index, start, end) for article_id, spans in article_spans for index, (start, end) in enumerate(spans)]
    if rows:
        insert_rows(session, _SENTENCES, _SENTENCE_COLUMNS, rows)


def store_articles(
    session: Session,
    project: Project,
    records: Iterable[ArticleRecord],
    file: str,
    on_duplicate: OnDuplicate = "error",
    segmented: Mapping[str, Spans] | None = None,
) -> StoreResult:
    """Insert new articles, segmenting each (unless `segmented` has its sentences by id); handle ids already in the project per `on_duplicate`."""
    records = list(records)
    segmented = segmented or {}
    result = StoreResult()
    new, updates = _classify(session, project, records, file, on_duplicate, result)
    for article_id, record in updates:
        _update(session, article_id, record, file, segmented.get(record.external_id))
        result.updated.append(record.external_id)
    if new:
        _insert_new(session, project.id, new, segmented)
        result.created += [r.external_id for r in new]
    if result.created or result.updated:
        record_import(session, project.id, changed=bool(result.updated))
    return result


def record_import(session: Session, project_id: int, changed: bool = False) -> None:
    """Cached agreement figures count the project's sentences, so they go, in the import's transaction:
    the next reader computes them with the new articles.  An article re-imported with changes (its text,
    title or only its meta) also moves the project's revision on, so that whatever is keyed by it (the
    export's ETag) sees the change; new articles show in the export stamp's article count without it."""
    session.execute(delete(CacheEntry).where(CacheEntry.project_id == project_id))
    if changed:
        bump_revision(session, project_id)


def _classify(session: Session, project: Project, records: list[ArticleRecord], file: str, on_duplicate: OnDuplicate,
              result: StoreResult) -> tuple[list[ArticleRecord], list[tuple[int, ArticleRecord]]]:
    """(new records, (article id, record) to update); skipped ids go to `result`; a duplicate is an error when asked."""
    existing = dict(
        session.execute(
            select(Article.external_id, Article.id).where(
                Article.project_id == project.id,
                Article.external_id.in_([r.external_id for r in records]),
            )
        ).all()
    ) if records else {}
    new: list[ArticleRecord] = []
    updates: list[tuple[int, ArticleRecord]] = []
    for record in records:
        article_id = existing.get(record.external_id)
        if article_id is None:
            new.append(record)
        elif on_duplicate == "skip":
            result.skipped.append(record.external_id)
        elif on_duplicate == "error":
            raise IngestError(file, record.line, f"article id {record.external_id!r} already exists in project {project.name!r} "
                              "(to skip or update it: --on-duplicate for 'annotator import', 'When an article id is already in the project' on the upload page)")
        else:
            updates.append((article_id, record))
    return new, updates


def _insert_new(session: Session, project_id: int, new: list[ArticleRecord], segmented: Mapping[str, Spans],
                staged_import: str | None = None) -> None:
    """Core executemany on the session's connection: the ORM's bulk insert with RETURNING ran one statement per
    article on SQLite, which made a chunk of 500 hold the write lock for over 100 ms."""
    rows = [
        {
            "project_id": project_id,
            "external_id": r.external_id,
            "title": r.title,
            "text": r.text,
            "meta": r.meta,
            "sha256": sha256(r.text),
            "staged_import": staged_import,
            "created_at": utcnow(),
        }
        for r in new
    ]
    # RETURNING each row's external id with its id (in no promised order): one executemany, no reading back
    ids = dict(session.connection().execute(_INSERT_ARTICLES, rows).all())
    _insert_sentences(session, [(ids[r.external_id], _spans(r.text, segmented.get(r.external_id))) for r in new])


def _spans(text: str, spans: Spans | None) -> Spans:
    return segment(text) if spans is None else spans


_ARTICLES, _SENTENCES = Article.__table__, Sentence.__table__
_SENTENCE_COLUMNS = ("article_id", "index", "start", "end")
_INSERT_ARTICLES = insert(_ARTICLES).returning(_ARTICLES.c.external_id, _ARTICLES.c.id)


def _update(session: Session, article_id: int, record: ArticleRecord, file: str, spans: Spans | None = None) -> None:
    """Title and meta may change; the text only while the article has no work on it (article_work: answers or a
    person's gold, all of the old text's sentences and offsets), and then the old text's suggestions go with its
    sentences (their offsets are the old text's)."""
    article = session.get(Article, article_id)
    if article is None:  # deleted since _classify read its id: a big file's chunks came between, or a PostgreSQL commit
        raise IngestError(file, record.line, f"article {record.external_id!r} was deleted while the file was being imported; import the file again")
    if article.text != record.text:
        if locked_article_work(session, article_id):
            raise IngestError(file, record.line, f"article {record.external_id!r} is already annotated; its text cannot change")
        session.execute(delete(Suggestion).where(Suggestion.article_id == article_id))  # their decisions go by ON DELETE CASCADE
        session.execute(Sentence.__table__.delete().where(Sentence.article_id == article_id))
        _insert_sentences(session, [(article_id, _spans(record.text, spans))])
        session.execute(update(Article).where(Article.id == article_id).values(text=record.text, sha256=sha256(record.text)))
    session.execute(update(Article).where(Article.id == article_id).values(title=record.title, meta=record.meta))


# ----------------------------------------------------------------- imports that do not stall the others' saves
# A file with more than this is stored in chunks as a staged import. A chunk of
# 250 short articles holds the write lock for about 15 ms on an idle machine.
# Of news articles (~3,000 characters, 25 sentences) a chunk holds it for a
# median 11-12 ms since the sentence rows go in many a statement (db.bulk):
# 500,000 characters took 17-18 ms before, and make two chunks more.
CHUNK_ARTICLES = 250
CHUNK_CHARS = 800_000
# A staged import whose process is gone (same host), or that has not stored a
# chunk for this long (any host), is abandoned: the next import deletes it.
STALE_AFTER = timedelta(minutes=10)
# Between two of its transactions a bulk writer pauses this long (seconds): a
# save waiting for the writers' queue (db.writer_queue) is woken when the lock
# is released, but without a pause the bulk writer, still on the CPU, takes
# the lock again first, chunk after chunk.
PAUSE_BETWEEN = 0.003


def import_records(
    session: Session,
    project: Project,
    records: Iterable[ArticleRecord],
    file: str,
    on_duplicate: OnDuplicate = "error",
    chunk_articles: int | None = None,
    chunk_chars: int | None = None,
) -> StoreResult:
    """Store one file's articles, all or nothing as readers see it, and commit: never one long write transaction.

    Sentences are found before any write transaction begins. A small file is
    then stored in one transaction. A big one is stored in chunks of committed
    transactions, its articles marked with a StagedImport that keeps them out
    of every page, export, assignment and agreement; the last, short
    transaction applies the updates (`on_duplicate="update"`) and deletes the
    StagedImport row, which publishes the articles at once. Any failure
    deletes the chunks stored so far (an IngestError is raised again); a killed
    process leaves them invisible, and the next import deletes them. No
    transaction is left open, whatever happens.
    """
    records = list(records)
    chunk_articles = CHUNK_ARTICLES if chunk_articles is None else chunk_articles
    chunk_chars = CHUNK_CHARS if chunk_chars is None else chunk_chars
    clean_up_abandoned_imports(session)
    result = StoreResult()
    try:
        new, updates = _classify(session, project, records, file, on_duplicate, result)
    finally:
        session.rollback()  # end the read: nothing below may keep a transaction open while it segments
    if len(new) <= chunk_articles and sum(len(r.text) for r in new) <= chunk_chars:
        result = _import_at_once(session, project, records, [*new, *(r for _, r in updates)], file, on_duplicate)
    else:
        _import_staged(session, project.id, new, updates, file, (chunk_articles, chunk_chars), result)
        result.created += [r.external_id for r in new]
    if len(new) + len(updates) >= statistics.BULK_ROWS and statistics.analyzes(session):  # the reads that follow a bulk load need its statistics
        with transaction(session, queue=True):
            statistics.analyze(session, ("articles", "sentences"))
    return result


def _import_at_once(session: Session, project: Project, records: list[ArticleRecord], changed: list[ArticleRecord], file: str,
                    on_duplicate: OnDuplicate) -> StoreResult:
    """A small file: the new and changed articles segmented first, then everything in one short transaction."""
    segmented = {r.external_id: segment(r.text) for r in changed}
    try:
        with transaction(session, queue=True):
            return store_articles(session, project, records, file, on_duplicate, segmented=segmented)
    except IntegrityError:
        raise _taken_meanwhile(file) from None


def _import_staged(session: Session, project_id: int, new: list[ArticleRecord], updates: list[tuple[int, ArticleRecord]], file: str,
                   chunk_limits: tuple[int, int], result: StoreResult) -> None:
    """A big file: each chunk of new articles its own committed transaction, invisible until the last one publishes them all.

    The chunks are separate transactions on purpose (each holds the write lock for a few milliseconds);
    any failure deletes what was stored.
    """
    staging = new_staged_import(session, project_id, file)
    try:
        for chunk in _chunks(new, *chunk_limits):
            segmented = {r.external_id: segment(r.text) for r in chunk}  # outside the lock
            with transaction(session, queue=True):
                _claim(session, staging, file)
                try:
                    _insert_new(session, project_id, chunk, segmented, staged_import=staging)
                except IntegrityError:
                    raise _taken_meanwhile(file) from None
            checkpoint(session)
            time.sleep(PAUSE_BETWEEN)
        segmented = {r.external_id: segment(r.text) for _, r in updates}
        with transaction(session, queue=True):
            for article_id, record in updates:
                _update(session, article_id, record, file, segmented[record.external_id])
                result.updated.append(record.external_id)
            _claim(session, staging, file)
            session.execute(delete(StagedImport).where(StagedImport.id == staging))  # publish
            if new or updates:
                record_import(session, project_id, changed=bool(updates))
    except BaseException:
        _discard_after_failure(session, staging)
        raise


def _discard_after_failure(session: Session, staging: str) -> None:
    """Delete a failed import's chunks. The rollbacks here are not units of work: the first ends whatever the
    failure left open outside a transaction() block (a BEGIN that failed, a checkpoint), the second whatever a
    failed clean-up left, so that the caller sees the first failure."""
    session.rollback()
    try:
        discard_staged_import(session, staging)
    except Exception:  # noqa: BLE001  (the database is gone too: the next import deletes them; report the first failure)
        session.rollback()


def import_files(session: Session, project: Project, files: Iterable[tuple[str, bytes]], on_duplicate: OnDuplicate = "error") -> list[dict[str, Any]]:
    """Each (name, content) file read and stored on its own, all or nothing: a bad line rejects its whole file
    (its result's error says FILE:LINE: reason) and the others go on. One result per file, in order."""
    results: list[dict[str, Any]] = []
    for name, data in files:
        try:
            stored = import_records(session, project, read_bytes(data, name), name, on_duplicate)
            results.append({"file": name, "created": stored.created, "updated": stored.updated, "skipped": stored.skipped, "error": None})
        except IngestError as exc:
            results.append({"file": name, "created": [], "updated": [], "skipped": [], "error": str(exc)})
    return results


def _taken_meanwhile(file: str) -> IngestError:
    return IngestError(file, None, "another import stored some of these article ids meanwhile; import the file again "
                                   "(choose what to do with ids already in the project)")


def _chunks(records: list[ArticleRecord], most: int, chars: int) -> Iterator[list[ArticleRecord]]:
    chunk: list[ArticleRecord] = []
    size = 0
    for record in records:
        if chunk and (len(chunk) >= most or size + len(record.text) > chars):
            yield chunk
            chunk, size = [], 0
        chunk.append(record)
        size += len(record.text)
    if chunk:
        yield chunk


_STAGED = StagedImport.__table__
_CLAIM = (
    update(_STAGED).where(_STAGED.c.id == bindparam("staging"), _STAGED.c.owner == bindparam("claimed_by")).values(seen_at=bindparam("now"))
)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def new_staged_import(session: Session, project_id: int, file: str) -> str:
    """A StagedImport row of this process, committed; returns its id."""
    with transaction(session, queue=True):
        staging = session.scalar(
            insert(StagedImport).values(project_id=project_id, file=file, owner=_owner()).returning(StagedImport.id)
        )
    assert staging is not None
    return staging


def _claim(session: Session, staging: str, file: str) -> None:
    """In a write transaction: the staged import is still ours (not taken for abandoned); mark it alive.

    A prebuilt Core statement on the session's connection: the ORM's UPDATE (built, evaluated against the session,
    compiled from its cache each time) cost ~1 ms of CPU per chunk."""
    claimed = session.connection().execute(_CLAIM, {"staging": staging, "claimed_by": _owner(), "now": utcnow()}).rowcount
    if claimed != 1:
        raise IngestError(file, None, "the import was taken for abandoned and removed (no chunk stored for "
                                      f"{STALE_AFTER.total_seconds() / 60:.0f} minutes); import the file again")


def discard_staged_import(session: Session, staging: str, batch: int = 250) -> None:
    """Delete a staged import's articles (their sentences go with them) in short transactions, then the import itself.

    The StagedImport row goes last, so the articles stay invisible throughout.
    """
    with transaction(session, queue=True):  # first mark it taken, so that its owner (if alive after all) stops and never publishes
        session.execute(update(StagedImport).where(StagedImport.id == staging).values(owner="abandoned"))
    while True:
        with transaction(session, queue=True):  # one short transaction per batch, so that saves go on meanwhile
            ids = session.scalars(
                select(Article.id).where(Article.staged_import == staging).limit(batch).execution_options(include_staged=True)
            ).all()
            if ids:
                session.execute(delete(Article.__table__).where(Article.__table__.c.id.in_(ids)))
            else:
                session.execute(delete(StagedImport).where(StagedImport.id == staging))
        checkpoint(session)
        if not ids:
            return
        time.sleep(PAUSE_BETWEEN)


def abandoned(owner: str, seen_at: datetime, now: datetime) -> bool:
    """Whether a staged import's process is gone: dead on this host, given up, or silent for STALE_AFTER."""
    if owner == "abandoned" or now - seen_at > STALE_AFTER:
        return True
    host, _, pid = owner.rpartition(":")
    number = whole_number(pid, 2**31 - 1)  # written by this app as host:pid, but a row is no place to trust
    if host != socket.gethostname() or number is None:
        return False
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def clean_up_abandoned_imports(session: Session) -> int:
    """Delete what killed imports left behind; returns how many imports were removed."""
    rows = session.execute(select(StagedImport.id, StagedImport.owner, StagedImport.seen_at)).all()
    session.rollback()  # end the read; each deletion is its own transaction
    now = utcnow()
    gone = [staging for staging, owner, seen_at in rows if abandoned(owner, seen_at, now)]
    for staging in gone:
        discard_staged_import(session, staging)
    return len(gone)
