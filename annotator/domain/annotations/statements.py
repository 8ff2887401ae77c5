"""The save path's prebuilt Core statements, run on the session's connection (inside its transaction), skipping the ORM.

Building and ORM-executing them per request cost several times the database
work (measured with bench/bench_api.py). They are constants, not state. The
statements every save runs are Prepared or PreparedWrite (db/prepared.py): run
on the driver's cursor, as SQLAlchemy's execution cost more than their own
work; the rare ones go through SQLAlchemy (`run`).
"""
from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, insert, null, select, update
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, ArticleLabel, Assignment, AuditEntry, LabelRequest, Project, Relation, Sentence, Span
from annotator.db.prepared import Prepared, PreparedWrite

_articles, _projects, _assignments, _sentences = (m.__table__ for m in (Article, Project, Assignment, Sentence))
_annotations, _spans, _relations, _audit = (m.__table__ for m in (Annotation, Span, Relation, AuditEntry))
_requests = LabelRequest.__table__

_ACCESS = (
    select(
        _articles.c.id, _articles.c.project_id, _articles.c.text, _projects.c.label_schema,
        _projects.c.guidelines_version, _assignments.c.id, _assignments.c.status,
    )
    .select_from(
        _articles.join(_projects, _projects.c.id == _articles.c.project_id).outerjoin(
            _assignments, and_(_assignments.c.article_id == _articles.c.id, _assignments.c.user_id == bindparam("user_id"))
        )
    )
    .where(_articles.c.id == bindparam("article_id"))
    # PostgreSQL: the article's key is locked first, before any row the write inserts takes the key of one of its
    # sentences, so that a delete or a text update (article_work.locked_article_work) or a segmentation correction,
    # which lock the article FOR UPDATE first, and a batch of answers wait for each other whole: with the sentences'
    # keys taken first, in the batch's order, the two deadlocked. Both rows FOR NO KEY UPDATE (SQLAlchemy's key_share
    # without read): a project's saves take its row in turn, as their revision bump would make them anyway, and an
    # import's FOR KEY SHARE look at the schema does not wait for them (projects.schema_unchanged); a label rename
    # (label_rename.py) locks it FOR UPDATE, so a save in flight finishes first and a save that comes meanwhile waits,
    # then reads the renamed schema here, never the old one. SQLite has no row locks: the clause is left out.
    .with_for_update(key_share=True, of=[_articles, _projects])
)
_ACCESS_SENTENCE = _ACCESS.add_columns(_sentences.c.id, _sentences.c.start, _sentences.c.end).outerjoin(
    _sentences, and_(_sentences.c.article_id == _articles.c.id, _sentences.c.index == bindparam("sentence_index"))
)
ACCESS, ACCESS_SENTENCE = Prepared(_ACCESS), Prepared(_ACCESS_SENTENCE)  # run on the driver's cursor (db/prepared.py), as the reads below
LABEL_COLUMNS = (
    _annotations.c.id, _annotations.c.label, _annotations.c.seconds, _annotations.c.guidelines_version,
    _annotations.c.version, _annotations.c.updated_at, _annotations.c.needs_review,
)
LOCK_LABEL = Prepared(
    select(*LABEL_COLUMNS)
    .where(_annotations.c.user_id == bindparam("user_id"), _annotations.c.sentence_id == bindparam("sentence_id"))
    .with_for_update()
)
# A label changed by hand is the annotator's own decision again: origin 'manual', whatever suggestion it was
# accepted from; the same label again keeps its origin (SET reads the row as it was before the update).
_SAME_LABEL = _annotations.c.label == bindparam("new_label")
UPDATE_LABEL = PreparedWrite(
    update(_annotations)
    .where(_annotations.c.id == bindparam("row_id"))
    .values(
        label=bindparam("new_label"), seconds=bindparam("new_seconds"), guidelines_version=bindparam("new_guidelines_version"),
        version=bindparam("new_version"), needs_review=False, updated_at=bindparam("now"),
        origin=case((_SAME_LABEL, _annotations.c.origin), else_="manual"),
        suggester=case((_SAME_LABEL, _annotations.c.suggester), else_=null()),
        suggester_version=case((_SAME_LABEL, _annotations.c.suggester_version), else_=null()),
    )
)
SPAN_COLUMNS = (_spans.c.id, _spans.c.uid, _spans.c.user_id, _spans.c.label, _spans.c.start, _spans.c.end)
_SPAN_BY_UID = select(*SPAN_COLUMNS).where(_spans.c.article_id == bindparam("article_id"), _spans.c.uid == bindparam("uid"))
SPAN_BY_UID, SPAN_BY_UID_LOCKED = Prepared(_SPAN_BY_UID), Prepared(_SPAN_BY_UID.with_for_update())
# The caller's span with the same label and offsets under another id: one annotator never has the same span twice
# (the unique index uq_spans_article_user_offsets_label says so; this finds which span it is).
SAME_SPAN = select(_spans.c.uid).where(
    _spans.c.article_id == bindparam("article_id"), _spans.c.user_id == bindparam("user_id"), _spans.c.label == bindparam("label"),
    _spans.c.start == bindparam("start"), _spans.c.end == bindparam("end"), _spans.c.uid != bindparam("uid"),
).limit(1)
# Idempotency keys (annotations/idempotency.py): a label save looks its key up with its access query (below) and
# stores it with its answer last; a batch claims its key first and answers it last. Old keys are pruned.
REQUEST_BY_ID = Prepared(
    select(_requests.c.fingerprint, _requests.c.response).where(
        _requests.c.user_id == bindparam("user_id"), _requests.c.request_id == bindparam("request_id")
    )
)
# A label save's access query, with the caller's earlier request under the same id when there is one (its unique
# index finds it; the join adds no row: at most one request matches).
ACCESS_SENTENCE_REQUEST = Prepared(
    _ACCESS_SENTENCE.add_columns(_requests.c.fingerprint, _requests.c.response).outerjoin(
        _requests, and_(_requests.c.user_id == bindparam("user_id"), _requests.c.request_id == bindparam("request_id"))
    )
)
STORE_REQUEST = insert(_requests)  # a label save's key with its answer, last; a conflict is an IntegrityError (write() retries)
ANSWER_REQUEST = PreparedWrite(
    update(_requests).where(_requests.c.id == bindparam("row_id")).values(response=bindparam("response"), article_id=bindparam("article_id"))
)
PRUNE_REQUESTS = PreparedWrite(delete(_requests).where(_requests.c.user_id == bindparam("user_id"), _requests.c.created_at < bindparam("cutoff")))
AUDIT_INSERT = PreparedWrite(insert(_audit))
# The same statement as projects.bump_revision, prebuilt.
BUMP_REVISION = PreparedWrite(update(_projects).where(_projects.c.id == bindparam("project_id")).values(revision=_projects.c.revision + 1))
START_ASSIGNMENT = PreparedWrite(
    update(_assignments).where(_assignments.c.id == bindparam("assignment_id"), _assignments.c.status == "assigned").values(status="in_progress")
)
_CONFLICT_TABLES = {t.name: t for t in (_annotations, _spans, _relations, _requests, ArticleLabel.__table__)}


@cache
def _insert_ignoring_conflict(dialect: str, table_name: str) -> Any:
    """The dialect's INSERT ... ON CONFLICT DO NOTHING RETURNING id for the table, built once per process on first
    use, so that only the dialect in use is imported (PostgreSQL's costs a SQLite server ~2 MB in every process);
    None for a database without one."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        return None
    table = _CONFLICT_TABLES[table_name]
    return PreparedWrite(dialect_insert(table).on_conflict_do_nothing().returning(table.c.id))


def run(session: Session, statement: Any, params: dict[str, Any] | None = None) -> Any:
    """Execute a Core statement on the session's connection (inside its transaction), skipping the ORM."""
    return session.connection().execute(statement, params or {})


def insert_ignoring_conflict(session: Session, model: type, values: dict[str, Any]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when a unique key already existed."""
    table = model.__table__
    statement = _insert_ignoring_conflict(session.get_bind().dialect.name, table.name)
    if statement is None:  # other databases: a plain insert; a conflict raises IntegrityError and write() retries
        return run(session, insert(table).returning(table.c.id), values).scalar_one()
    return statement.run(session, values).scalar()

