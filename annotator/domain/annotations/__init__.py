"""The write side of annotations: validation, the label / span / relation operations, the audit trail.

Plain functions over a SQLAlchemy session; no Flask. The API views (api.py),
the importer and scripts share them, so every path checks the same rules and
writes the same audit entries.

Transactions: every operation expects the caller to have called
`db.begin_write(session)` and commits or rolls back afterwards; `write()` does
both, with retries, and on a SQLite file queues writers on an OS file lock
(see `db.writer_queue`). An operation either raises before writing anything or
writes the change, its AuditEntry rows and the Project.revision bump together.

Concurrency (several gunicorn workers, one annotator in two tabs):
- labels: the row is read `FOR UPDATE` (a no-op on SQLite, where BEGIN
  IMMEDIATE already serialises writers) and created with
  `INSERT ... ON CONFLICT DO NOTHING`; losing that race means another request
  created it first, so we read it again and update it: last write wins, both
  writes are audited;
- spans and relations carry a client uid: a retried POST finds the row the
  first attempt made (same content: returned, no duplicate; other content: 409);
- row locks are always taken in the same order (entity rows, assignment,
  audit, project revision last), so two writers cannot deadlock each other.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased

from annotator.db.models import Annotation, Article, Assignment, AuditEntry, Project, Relation, Sentence, Span, User, new_uid, utcnow
from annotator.db.transactions import DISK_FULL_MESSAGE, log_disk_full, run_write
from annotator.domain import labelschema, projects

# Client-generated ids for spans and relations (a uuid4 hex fits).
UID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Seconds one request may add to a label's time: a tab left open over lunch is not work.
MAX_SECONDS_PER_WRITE = 3600.0
# Database integers are 32-bit on PostgreSQL; larger ids cannot name a row.
MAX_DB_INT = 2**31 - 1
WRITE_ATTEMPTS = 3

T = TypeVar("T")


class AnnotationError(ValueError):
    """A request that cannot be carried out; `status` is the HTTP status that fits, `extra` goes into the JSON reply."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


# ----------------------------------------------------------------- checks
def is_int(value: Any) -> bool:
    """True for real integers only: JSON true/false arrive as bools, which Python counts as ints."""
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    if is_int(value) and abs(value) > 10**15:
        return "a very large integer"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def check_int(name: str, value: Any) -> int:
    if not is_int(value):
        raise AnnotationError(400, f"{name} must be an integer, not {_type_name(value)}")
    return value


def check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise AnnotationError(400, f"{name} must be a string, not {_type_name(value)}")
    return value


def check_uid(value: Any, name: str = "id") -> str:
    """A client-chosen id for a new span or relation."""
    check_str(name, value)
    if not UID_PATTERN.match(value):
        raise AnnotationError(400, f"{name} must be 8 to 64 letters, digits, '_' or '-' (got {_show(value)})")
    return value


def check_ref(value: Any, name: str) -> str:
    """A reference to an existing span uid (imported spans may have shorter ids than new ones)."""
    check_str(name, value)
    if not 1 <= len(value) <= 64:
        raise AnnotationError(400, f"{name} must be a span id of 1 to 64 characters")
    return value


def check_label(schema: dict[str, Any], label: Any) -> str:
    """A sentence label the project's schema allows."""
    check_str("label", label)
    allowed = labelschema.names(schema, "sentence_labels")
    if label not in allowed:
        raise AnnotationError(422, f"unknown sentence label {_show(label)} (this project's labels: {', '.join(allowed)})")
    return label


def check_span(schema: dict[str, Any], text_length: int, label: Any, start: Any, end: Any) -> tuple[str, int, int]:
    """A span label from the schema and code-point offsets with 0 <= start < end <= text_length."""
    check_str("label", label)
    check_int("start", start)
    check_int("end", end)
    allowed = labelschema.names(schema, "span_labels")
    if label not in allowed:
        raise AnnotationError(422, f"unknown span label {_show(label)} (this project's span labels: {', '.join(allowed) or 'none'})")
    if not (0 <= start < end <= text_length):
        raise AnnotationError(
            422, f"span offsets must satisfy 0 <= start < end <= {text_length} (the text's length); got start={_show(start)}, end={_show(end)}"
        )
    return label, start, end


def check_relation(schema: dict[str, Any], rel_type: Any, from_label: str, to_label: str) -> str:
    """A relation type the schema allows between spans with these labels."""
    check_str("type", rel_type)
    reason = labelschema.relation_allows(schema, rel_type, from_label, to_label)
    if reason:
        raise AnnotationError(422, reason)
    return rel_type


def check_seconds(value: Any) -> float:
    """Time spent, finite and >= 0; more than MAX_SECONDS_PER_WRITE in one write is capped."""
    if not (is_int(value) or isinstance(value, float)):
        raise AnnotationError(400, f"seconds must be a number, not {_type_name(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise AnnotationError(400, "seconds must be a finite number")
    if value < 0:
        raise AnnotationError(422, f"seconds must be >= 0 (got {_show(value)})")
    return MAX_SECONDS_PER_WRITE if value > MAX_SECONDS_PER_WRITE else float(value)


def check_version(value: Any) -> int | None:
    """The label version a client last saw (0: it saw no label), or None: last write wins."""
    if value is None:
        return None
    check_int("version", value)
    if value < 0:
        raise AnnotationError(400, "version must be >= 0")
    return value


def check_sentence_bounds(value: Any) -> tuple[int, int] | None:
    """The sentence's offsets as the client saw them, or None: no check.

    Clients address sentences by index; a reviewer may split or merge sentences
    while an article is open, so a label sent for "sentence 4" could land on a
    different stretch of text. A client that sends the bounds it saw gets a 409
    instead.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        raise AnnotationError(400, "sentence must be an object {\"start\": int, \"end\": int}")
    check_int("sentence.start", value["start"])
    check_int("sentence.end", value["end"])
    return value["start"], value["end"]


# ----------------------------------------------------------------- statements
# The save path runs prebuilt Core statements on the session's connection:
# building and ORM-executing them per request cost several times the database
# work (measured with bench/bench_api.py). They are constants, not state.
_articles, _projects, _assignments, _sentences = (m.__table__ for m in (Article, Project, Assignment, Sentence))
_annotations, _spans, _relations, _audit = (m.__table__ for m in (Annotation, Span, Relation, AuditEntry))

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
)
_ACCESS_SENTENCE = _ACCESS.add_columns(_sentences.c.id, _sentences.c.start, _sentences.c.end).outerjoin(
    _sentences, and_(_sentences.c.article_id == _articles.c.id, _sentences.c.index == bindparam("sentence_index"))
)
_LABEL_COLUMNS = (
    _annotations.c.id, _annotations.c.label, _annotations.c.seconds, _annotations.c.guidelines_version,
    _annotations.c.version, _annotations.c.updated_at, _annotations.c.needs_review,
)
_LOCK_LABEL = (
    select(*_LABEL_COLUMNS)
    .where(_annotations.c.user_id == bindparam("user_id"), _annotations.c.sentence_id == bindparam("sentence_id"))
    .with_for_update()
)
_UPDATE_LABEL = (
    update(_annotations)
    .where(_annotations.c.id == bindparam("row_id"))
    .values(
        label=bindparam("new_label"), seconds=bindparam("new_seconds"), guidelines_version=bindparam("new_guidelines_version"),
        version=bindparam("new_version"), needs_review=False, updated_at=bindparam("now"),
    )
)
_SPAN_COLUMNS = (_spans.c.id, _spans.c.uid, _spans.c.user_id, _spans.c.label, _spans.c.start, _spans.c.end)
_SPAN_BY_UID = select(*_SPAN_COLUMNS).where(_spans.c.article_id == bindparam("article_id"), _spans.c.uid == bindparam("uid"))
_SPAN_BY_UID_LOCKED = _SPAN_BY_UID.with_for_update()
# The caller's span with the same label and offsets: one annotator never has the same span twice.
_SAME_SPAN_WHERE = (
    _spans.c.article_id == bindparam("article_id"), _spans.c.user_id == bindparam("user_id"), _spans.c.label == bindparam("label"),
    _spans.c.start == bindparam("start"), _spans.c.end == bindparam("end"),
)
_SAME_SPAN = select(_spans.c.uid).where(*_SAME_SPAN_WHERE, _spans.c.uid != bindparam("uid")).limit(1)
_SPAN_INSERT_COLUMNS = ("uid", "article_id", "user_id", "label", "start", "end", "created_at", "updated_at")
# A new span in one statement, unless its uid is taken (a retry) or the caller has the same span already
# (INSERT ... SELECT ... WHERE NOT EXISTS ... ON CONFLICT DO NOTHING RETURNING id): the common case
# costs no more statements than before the duplicate check; None sends create_span to find out which.
_INSERT_NEW_SPAN = {
    dialect: dialect_insert(_spans)
    .from_select(
        list(_SPAN_INSERT_COLUMNS),
        select(*(bindparam(name, type_=_spans.c[name].type) for name in _SPAN_INSERT_COLUMNS)).where(
            ~select(_spans.c.id).where(*_SAME_SPAN_WHERE).exists()
        ),
    )
    .on_conflict_do_nothing()
    .returning(_spans.c.id)
    for dialect, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
_AUDIT_INSERT = insert(_audit)
# The same statement as projects.bump_revision, prebuilt.
_BUMP_REVISION = update(_projects).where(_projects.c.id == bindparam("project_id")).values(revision=_projects.c.revision + 1)
_START_ASSIGNMENT = (
    update(_assignments).where(_assignments.c.id == bindparam("assignment_id"), _assignments.c.status == "assigned").values(status="in_progress")
)
_INSERT_IGNORING_CONFLICT = {
    (dialect, table.name): dialect_insert(table).on_conflict_do_nothing().returning(table.c.id)
    for dialect, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
    for table in (_annotations, _relations)  # spans: _INSERT_NEW_SPAN
}


def _run(session: Session, statement: Any, params: dict[str, Any] | None = None) -> Any:
    """Execute a Core statement on the session's connection (inside its transaction), skipping the ORM."""
    return session.connection().execute(statement, params or {})


# ----------------------------------------------------------------- audit
def audit(
    session: Session,
    user_id: int | None,
    project_id: int | None,
    article_id: int | None,
    entity: str,
    entity_id: str | None,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one AuditEntry (the log is append-only in the database). `before`/`after` must be JSON-able."""
    _run(
        session,
        _AUDIT_INSERT,
        {
            "at": utcnow(),
            "user_id": user_id,
            "project_id": project_id,
            "article_id": article_id,
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "before": before,
            "after": after,
        },
    )


# ----------------------------------------------------------------- transactions
def write(session: Session, action: Callable[[], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """Run `action` in a write transaction and commit; roll back on any error.

    A unique-key or lock conflict another worker caused (IntegrityError, a
    deadlock or serialization failure, a busy SQLite) is retried from the
    start: the retry re-reads what the other transaction committed. When
    retries run out the caller gets AnnotationError(503), never a raw error.
    """
    try:
        return run_write(session, action, attempts, lambda: AnnotationError(503, "the database is busy with other writes; try again"))
    except (IntegrityError, OperationalError) as exc:  # run_write retries conflicts; what reaches here is a full disk
        log_disk_full(exc, "saving an annotation")  # not busy: retrying cannot help, and someone must be told
        raise AnnotationError(507, DISK_FULL_MESSAGE) from None


# ----------------------------------------------------------------- access
@dataclass(frozen=True)
class Access:
    """What a write needs to know about the article, read in one query."""

    article_id: int
    project_id: int
    text: str
    schema: dict[str, Any]
    guidelines_version: int
    assignment_id: int | None
    assignment_status: str | None
    sentence_id: int | None = None
    sentence_bounds: tuple[int, int] | None = None


def _check_db_id(value: int, what: str) -> None:
    if not is_int(value) or not 0 <= value <= MAX_DB_INT:
        raise AnnotationError(404, f"no {what} {_show(value)}")


def writable_article(session: Session, user_id: int, article_id: int, sentence_index: int | None = None) -> Access:
    """The article if `user_id` is assigned to it (404 when unknown or not assigned: the same answer, so an annotator
    cannot tell another's article from a missing one); with the sentence's id when asked."""
    _check_db_id(article_id, "article")
    params = {"user_id": user_id, "article_id": article_id}
    if sentence_index is not None:
        _check_db_id(sentence_index, "sentence")
        params["sentence_index"] = sentence_index
    row = _run(session, _ACCESS if sentence_index is None else _ACCESS_SENTENCE, params).first()
    if row is None or row[5] is None:
        raise AnnotationError(404, _no_article(article_id))
    access = Access(*row[:7], sentence_id=row[7], sentence_bounds=(row[8], row[9])) if sentence_index is not None else Access(*row[:7])
    if sentence_index is not None and access.sentence_id is None:
        raise AnnotationError(404, f"article {article_id} has no sentence {sentence_index}")
    return access


def readable_article(session: Session, user: User, article_id: int) -> Article:
    """The article for reading: annotators only when assigned, reviewers only in the projects they are members of
    (else the same 404 as for a missing id); admins always."""
    _check_db_id(article_id, "article")
    article = session.get(Article, article_id)
    if article is None:
        raise AnnotationError(404, _no_article(article_id, user))
    if user.role == "annotator":
        assigned = session.scalar(select(Assignment.id).where(Assignment.article_id == article_id, Assignment.user_id == user.id))
        if assigned is None:
            raise AnnotationError(404, _no_article(article_id, user))
    elif user.role != "admin" and not projects.can_open(session, user, article.project_id):
        raise AnnotationError(404, _no_article(article_id, user))
    return article


def _no_article(article_id: int, user: User | None = None) -> str:
    if user is not None and user.role == "reviewer":
        return f"no article {article_id} in your projects"
    return f"no article {article_id} among the ones assigned to you"


def _mark_progress(session: Session, access: Access, user_id: int, labels_changed: bool) -> None:
    """assigned -> in_progress on the first write; done exactly when every sentence has a label."""
    if not labels_changed:
        if access.assignment_status == "assigned":
            _run(session, _START_ASSIGNMENT, {"assignment_id": access.assignment_id})
        return
    # Lock the assignment first so two label writes of one user count after each other (PostgreSQL).
    status = session.scalar(select(Assignment.status).where(Assignment.id == access.assignment_id).with_for_update())
    total, labelled = session.execute(
        select(func.count(Sentence.id), func.count(Annotation.id))
        .select_from(Sentence)
        .outerjoin(Annotation, and_(Annotation.sentence_id == Sentence.id, Annotation.user_id == user_id))
        .where(Sentence.article_id == access.article_id)
    ).one()
    wanted = "done" if total and labelled >= total else "in_progress"
    if status != wanted:
        session.execute(update(Assignment).where(Assignment.id == access.assignment_id).values(status=wanted))


def _changed(session: Session, access: Access, user_id: int, labels_changed: bool = False) -> None:
    _mark_progress(session, access, user_id, labels_changed)
    _run(session, _BUMP_REVISION, {"project_id": access.project_id})  # last: the project row is the most contended lock


def _insert_ignoring_conflict(session: Session, model: type, values: dict[str, Any]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when a unique key already existed."""
    table = model.__table__
    statement = _INSERT_IGNORING_CONFLICT.get((session.get_bind().dialect.name, table.name))
    if statement is None:  # other databases: a plain insert; a conflict raises IntegrityError and write() retries
        return _run(session, insert(table).returning(table.c.id), values).scalar_one()
    return _run(session, statement, values).scalar()


# ----------------------------------------------------------------- serialisation
def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def label_dict(sentence_index: int, label: str, seconds: float, guidelines_version: int, version: int, updated_at: datetime | None, needs_review: bool) -> dict[str, Any]:
    return {
        "sentence": sentence_index,
        "label": label,
        "seconds": round(float(seconds), 3),
        "guidelines_version": guidelines_version,
        "version": version,
        "updated_at": iso(updated_at),
        "needs_review": bool(needs_review),
    }


def span_dict(uid: str, label: str, start: int, end: int, text: str) -> dict[str, Any]:
    return {"id": uid, "label": label, "start": start, "end": end, "text": text[start:end]}


def relation_dict(uid: str, rel_type: str, from_uid: str, to_uid: str) -> dict[str, Any]:
    return {"id": uid, "type": rel_type, "from": from_uid, "to": to_uid}


def _label_of(row: Any, sentence_index: int) -> dict[str, Any]:
    return label_dict(sentence_index, row.label, row.seconds, row.guidelines_version, row.version, row.updated_at, row.needs_review)


# ----------------------------------------------------------------- labels
def _locked_label(session: Session, user_id: int, sentence_id: int) -> Any:
    return _run(session, _LOCK_LABEL, {"user_id": user_id, "sentence_id": sentence_id}).first()


def put_label(
    session: Session,
    user_id: int,
    article_id: int,
    sentence_index: int,
    label: Any,
    seconds: Any = 0.0,
    version: Any = None,
    sentence: Any = None,
) -> dict[str, Any]:
    """Set the caller's label on a sentence (last write wins; a stale `version` is a 409). Returns the label object.

    `sentence`, the {start, end} the client saw, guards against segmentation
    corrected meanwhile (409 with `sentences_changed`).
    """
    check_str("label", label)
    added = check_seconds(seconds)
    expected = check_version(version)
    seen = check_sentence_bounds(sentence)
    access = writable_article(session, user_id, article_id, sentence_index)
    if seen is not None and seen != access.sentence_bounds:
        raise AnnotationError(
            409,
            f"sentence {sentence_index} is no longer the text you labelled (a reviewer split or merged sentences); reload the article",
            sentences_changed=True,
        )
    check_label(access.schema, label)
    sentence_id = access.sentence_id
    assert sentence_id is not None
    for _ in range(WRITE_ATTEMPTS):
        current = _locked_label(session, user_id, sentence_id)
        if expected is not None and expected != (current.version if current else 0):
            raise AnnotationError(
                409,
                "this label was changed elsewhere (another tab?) since you loaded it",
                current=_label_of(current, sentence_index) if current else None,
            )
        now = utcnow()
        if current is None:
            values = dict(
                user_id=user_id,
                sentence_id=sentence_id,
                label=label,
                seconds=added,
                guidelines_version=access.guidelines_version,
                version=1,
                needs_review=False,
                updated_at=now,
            )
            if _insert_ignoring_conflict(session, Annotation, values) is None:
                continue  # another request created it a moment ago: read it and update it instead
            after = label_dict(sentence_index, label, added, access.guidelines_version, 1, now, False)
            audit(session, user_id, access.project_id, article_id, "label", str(sentence_id), "create", None, after)
            _changed(session, access, user_id, labels_changed=True)
            return after
        before = _label_of(current, sentence_index)
        total = float(current.seconds) + added
        _run(
            session,
            _UPDATE_LABEL,
            {"row_id": current.id, "new_label": label, "new_seconds": total, "new_guidelines_version": access.guidelines_version,
             "new_version": current.version + 1, "now": now},
        )
        after = label_dict(sentence_index, label, total, access.guidelines_version, current.version + 1, now, False)
        audit(session, user_id, access.project_id, article_id, "label", str(sentence_id), "update", before, after)
        _changed(session, access, user_id)
        return after
    raise AnnotationError(503, "the label kept changing under this request; try again")


def delete_label(session: Session, user_id: int, article_id: int, sentence_index: int) -> None:
    """Remove the caller's label from a sentence (404 when there is none)."""
    access = writable_article(session, user_id, article_id, sentence_index)
    assert access.sentence_id is not None
    current = _locked_label(session, user_id, access.sentence_id)
    if current is None:
        raise AnnotationError(404, f"sentence {sentence_index} has no label of yours")
    session.execute(delete(Annotation).where(Annotation.id == current.id))
    audit(session, user_id, access.project_id, article_id, "label", str(access.sentence_id), "delete", _label_of(current, sentence_index), None)
    _changed(session, access, user_id, labels_changed=True)


# ----------------------------------------------------------------- spans
def _span_row(session: Session, article_id: int, uid: str, lock: bool = False) -> Any:
    return _run(session, _SPAN_BY_UID_LOCKED if lock else _SPAN_BY_UID, {"article_id": article_id, "uid": uid}).first()


def _own_span(session: Session, access: Access, user_id: int, uid: str) -> Any:
    row = _span_row(session, access.article_id, uid, lock=True)
    if row is None or row.user_id != user_id:  # other annotators' spans do not exist for the caller
        raise AnnotationError(404, f"no span {_show(uid)} of yours in this article")
    return row


def create_span(
    session: Session, user_id: int, article_id: int, label: Any, start: Any, end: Any, uid: Any = None
) -> tuple[dict[str, Any], bool]:
    """Create the caller's span; returns (span, created). Repeating a create with the same uid and content returns the first."""
    if uid is not None:
        check_uid(uid)
    check_str("label", label)
    check_int("start", start)
    check_int("end", end)
    access = writable_article(session, user_id, article_id)
    check_span(access.schema, len(access.text), label, start, end)
    uid = uid or new_uid()
    insert_new = _INSERT_NEW_SPAN.get(session.get_bind().dialect.name)
    if insert_new is None:  # other databases: check first, then a plain insert
        _refuse_same_span(session, access, user_id, uid, label, start, end)
    for _ in range(WRITE_ATTEMPTS):
        now = utcnow()
        values = dict(uid=uid, article_id=article_id, user_id=user_id, label=label, start=start, end=end, created_at=now, updated_at=now)
        if insert_new is not None:
            inserted = _run(session, insert_new, values).scalar()
        else:
            inserted = _insert_ignoring_conflict(session, Span, values)
        if inserted is not None:
            after = span_dict(uid, label, start, end, access.text)
            audit(session, user_id, access.project_id, article_id, "span", uid, "create", None, after)
            _changed(session, access, user_id)
            return after, True
        existing = _span_row(session, article_id, uid)
        if existing is None:
            _refuse_same_span(session, access, user_id, uid, label, start, end)  # not our id: the same span under another
            continue  # or deleted between our insert and our read: try again
        if existing.user_id == user_id and (existing.label, existing.start, existing.end) == (label, start, end):
            return span_dict(uid, label, start, end, access.text), False
        if existing.user_id == user_id:
            raise AnnotationError(
                409, f"span id {uid!r} already exists with other content", current=span_dict(uid, existing.label, existing.start, existing.end, access.text)
            )
        raise AnnotationError(409, f"span id {uid!r} is already in use; choose another id")
    raise AnnotationError(503, "the span kept changing under this request; try again")


def _refuse_same_span(session: Session, access: Access, user_id: int, uid: str, label: str, start: int, end: int) -> None:
    """409 when the caller already has a span with this label and these offsets under another id (two tabs
    marking the same text); `current` is that span, so a client can adopt its id."""
    other = _run(session, _SAME_SPAN, {"article_id": access.article_id, "user_id": user_id, "label": label, "start": start, "end": end, "uid": uid}).scalar()
    if other is not None:
        raise AnnotationError(
            409, f"you already have this {label} span (id {other!r})", current=span_dict(other, label, start, end, access.text), duplicate=True
        )


def update_span(
    session: Session, user_id: int, article_id: int, uid: Any, label: Any = None, start: Any = None, end: Any = None
) -> dict[str, Any]:
    """Relabel or resize the caller's span (None: keep). A relabel that would break one of its links is a 409."""
    check_ref(uid, "span id")
    if label is None and start is None and end is None:
        raise AnnotationError(400, "give at least one of label, start, end")
    if label is not None:
        check_str("label", label)
    if start is not None:
        check_int("start", start)
    if end is not None:
        check_int("end", end)
    access = writable_article(session, user_id, article_id)
    row = _own_span(session, access, user_id, uid)
    new_label = row.label if label is None else label
    new_start = row.start if start is None else start
    new_end = row.end if end is None else end
    check_span(access.schema, len(access.text), new_label, new_start, new_end)
    before = span_dict(uid, row.label, row.start, row.end, access.text)
    after = span_dict(uid, new_label, new_start, new_end, access.text)
    if before == after:
        return after
    _refuse_same_span(session, access, user_id, uid, new_label, new_start, new_end)
    if new_label != row.label:
        other = aliased(Span)
        links = session.execute(
            select(Relation.uid, Relation.type, Relation.from_span_id, other.label)
            .join(other, other.id == Relation.to_span_id)
            .where(Relation.from_span_id == row.id)
            .union_all(
                select(Relation.uid, Relation.type, Relation.from_span_id, other.label)
                .join(other, other.id == Relation.from_span_id)
                .where(Relation.to_span_id == row.id)
            )
        ).all()
        for rel_uid, rel_type, from_id, other_label in links:
            from_label, to_label = (new_label, other_label) if from_id == row.id else (other_label, new_label)
            reason = labelschema.relation_allows(access.schema, rel_type, from_label, to_label)
            if reason:
                raise AnnotationError(409, f"span {uid!r} is linked by relation {rel_uid!r}, which a {new_label} span cannot have: {reason}; delete the link first")
    session.execute(update(Span).where(Span.id == row.id).values(label=new_label, start=new_start, end=new_end, updated_at=utcnow()))
    audit(session, user_id, access.project_id, article_id, "span", uid, "update", before, after)
    _changed(session, access, user_id)
    return after


def delete_span(session: Session, user_id: int, article_id: int, uid: Any) -> None:
    """Delete the caller's span and the relations that use it, each audited."""
    check_ref(uid, "span id")
    access = writable_article(session, user_id, article_id)
    row = _own_span(session, access, user_id, uid)
    from_span, to_span = aliased(Span), aliased(Span)
    links = session.execute(
        select(Relation.id, Relation.uid, Relation.type, from_span.uid, to_span.uid)
        .join(from_span, from_span.id == Relation.from_span_id)
        .join(to_span, to_span.id == Relation.to_span_id)
        .where(or_(Relation.from_span_id == row.id, Relation.to_span_id == row.id))
        .with_for_update(of=Relation)
    ).all()
    if links:
        session.execute(delete(Relation).where(Relation.id.in_([link[0] for link in links])))
    for _id, rel_uid, rel_type, from_uid, to_uid in links:
        audit(session, user_id, access.project_id, article_id, "relation", rel_uid, "delete", relation_dict(rel_uid, rel_type, from_uid, to_uid), None)
    session.execute(delete(Span).where(Span.id == row.id))
    audit(session, user_id, access.project_id, article_id, "span", uid, "delete", span_dict(uid, row.label, row.start, row.end, access.text), None)
    _changed(session, access, user_id)


# ----------------------------------------------------------------- relations
def create_relation(
    session: Session, user_id: int, article_id: int, rel_type: Any, from_uid: Any, to_uid: Any, uid: Any = None
) -> tuple[dict[str, Any], bool]:
    """Link two of the caller's spans in this article; returns (relation, created). Idempotent on uid like create_span."""
    if uid is not None:
        check_uid(uid)
    check_str("type", rel_type)
    check_ref(from_uid, "from")
    check_ref(to_uid, "to")
    if from_uid == to_uid:
        raise AnnotationError(422, "a relation links two different spans")
    access = writable_article(session, user_id, article_id)
    ends = {
        row.uid: row
        for row in session.execute(
            select(Span.id, Span.uid, Span.label).where(Span.article_id == article_id, Span.user_id == user_id, Span.uid.in_([from_uid, to_uid]))
        )
    }
    for name, ref in (("from", from_uid), ("to", to_uid)):
        if ref not in ends:
            raise AnnotationError(422, f"{name}: no span {_show(ref)} of yours in this article")
    check_relation(access.schema, rel_type, ends[from_uid].label, ends[to_uid].label)
    uid = uid or new_uid()
    wanted = relation_dict(uid, rel_type, from_uid, to_uid)
    for _ in range(WRITE_ATTEMPTS):
        values = dict(
            uid=uid, article_id=article_id, user_id=user_id, type=rel_type,
            from_span_id=ends[from_uid].id, to_span_id=ends[to_uid].id, created_at=utcnow(),
        )
        if _insert_ignoring_conflict(session, Relation, values) is not None:
            audit(session, user_id, access.project_id, article_id, "relation", uid, "create", None, wanted)
            _changed(session, access, user_id)
            return wanted, True
        existing = _relation_where(session, Relation.article_id == article_id, Relation.uid == uid)
        if existing is not None:
            if existing[1] == user_id and existing[0] == wanted:
                return wanted, False
            if existing[1] == user_id:
                raise AnnotationError(409, f"relation id {uid!r} already exists with other content", current=existing[0])
            raise AnnotationError(409, f"relation id {uid!r} is already in use; choose another id")
        same = _relation_where(
            session, Relation.from_span_id == ends[from_uid].id, Relation.to_span_id == ends[to_uid].id, Relation.type == rel_type
        )
        if same is not None:
            raise AnnotationError(409, f"these spans are already linked by relation {same[0]['id']!r}", current=same[0])
    raise AnnotationError(503, "the relation kept changing under this request; try again")


def _relation_where(session: Session, *conditions: Any) -> tuple[dict[str, Any], int] | None:
    from_span, to_span = aliased(Span), aliased(Span)
    row = session.execute(
        select(Relation.uid, Relation.type, from_span.uid, to_span.uid, Relation.user_id)
        .join(from_span, from_span.id == Relation.from_span_id)
        .join(to_span, to_span.id == Relation.to_span_id)
        .where(*conditions)
    ).first()
    return None if row is None else (relation_dict(row[0], row[1], row[2], row[3]), row[4])


def delete_relation(session: Session, user_id: int, article_id: int, uid: Any) -> None:
    """Delete the caller's relation (404 when it is not there)."""
    check_ref(uid, "relation id")
    access = writable_article(session, user_id, article_id)
    found = _relation_where(session, Relation.article_id == article_id, Relation.uid == uid, Relation.user_id == user_id)
    if found is None:
        raise AnnotationError(404, f"no relation {_show(uid)} of yours in this article")
    session.execute(delete(Relation).where(Relation.article_id == article_id, Relation.uid == uid, Relation.user_id == user_id))
    audit(session, user_id, access.project_id, article_id, "relation", uid, "delete", found[0], None)
    _changed(session, access, user_id)


# ----------------------------------------------------------------- reading
def article_payload(session: Session, article: Article, user: User) -> dict[str, Any]:
    """The GET /api/articles/<id> document: the article, its sentences, and only `user`'s annotations (blind)."""
    project = article.project
    sentences = session.execute(
        select(Sentence.index, Sentence.start, Sentence.end).where(Sentence.article_id == article.id).order_by(Sentence.index)
    ).all()
    labels = session.execute(
        select(Sentence.index, *_LABEL_COLUMNS[1:])
        .join(Annotation, Annotation.sentence_id == Sentence.id)
        .where(Sentence.article_id == article.id, Annotation.user_id == user.id)
        .order_by(Sentence.index)
    ).all()
    spans = session.execute(
        select(Span.uid, Span.label, Span.start, Span.end)
        .where(Span.article_id == article.id, Span.user_id == user.id)
        .order_by(Span.start, Span.end, Span.id)
    ).all()
    from_span, to_span = aliased(Span), aliased(Span)
    relations = session.execute(
        select(Relation.uid, Relation.type, from_span.uid, to_span.uid)
        .join(from_span, from_span.id == Relation.from_span_id)
        .join(to_span, to_span.id == Relation.to_span_id)
        .where(Relation.article_id == article.id, Relation.user_id == user.id)
        .order_by(Relation.id)
    ).all()
    text = article.text
    return {
        "article": {
            "id": article.id,
            "external_id": article.external_id,
            "title": article.title,
            "text": text,
            "meta": article.meta or {},
            "project": project.name,
        },
        "sentences": [{"index": i, "start": s, "end": e} for i, s, e in sentences],
        "schema": project.label_schema,
        "guidelines_version": project.guidelines_version,
        "annotations": {
            "labels": [label_dict(*row) for row in labels],
            "spans": [span_dict(*row, text) for row in spans],
            "relations": [relation_dict(*row) for row in relations],
        },
    }
