"""A batch of changes to one article: several label / span / relation operations in one write transaction, all or nothing.

Each operation is carried out by the same function its single endpoint calls
(labels, article_labels, spans, relations), so no rule exists twice; the batch
only checks each operation's shape, runs them in order and, when one fails,
names it: the AnnotationError keeps the operation's own status (400/404/409/422)
and gains `index` (0-based) and `op`, and the caller's transaction rolls
everything back.

Retries: the batch may carry a `request_id`. It is claimed (idempotency.py; the
table and user namespace of a label save's key) before any operation runs, and
the batch's answer is stored with it, so a retried batch (the first answer was
lost) gets that answer again and writes nothing: a span created by the first
attempt and changed or deleted later in the same batch cannot make the retry
a 409 or a 404. A label operation's own `request_id` still works inside a batch.

Bookkeeping: what each single function leaves besides its rows (the
assignment's progress, the automatic gold, the project's revision bump;
trail.changed) is done once for the whole batch, at its end (trail.deferred):
one revision bump, each changed sentence's or the article's gold once, and the
project row locked only then, last, as a single save does. The article's access
(access.writable_article) is read once for all operations (access.remembered).

Turns: on PostgreSQL one annotator's batches on one article run one after the
other (_take_turn). Each operation locks its rows as it runs, in the batch's
order, so two batches (two tabs) touching the same labels or spans in other
orders deadlocked: PostgreSQL ended one after a second, and the retries met
again, up to a 503. A single save locks one such row and then only what a batch
locks at its end, so it closes no cycle with a batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.orm import Session

from annotator.db.prepared import Prepared
from annotator.domain.annotations.access import remembered
from annotator.domain.annotations.article_labels import delete_article_label, put_article_label
from annotator.domain.annotations.idempotency import Request, answer_request, claim_request, request_fingerprint
from annotator.domain.annotations.labels import delete_label, put_label
from annotator.domain.annotations.relations import create_relation, delete_relation
from annotator.domain.annotations.spans import create_span, delete_span, update_span
from annotator.domain.annotations.trail import deferred
from annotator.domain.annotations.validation import AnnotationError, check_int, check_str, check_uid, is_int, show
from annotator.domain.wording import plural
from annotator.stats.textcheck import MAX_DB_INT

MAX_OPERATIONS = 200

Result = dict[str, Any]


def _created(pair: tuple[dict[str, Any], bool]) -> Result:
    body, created = pair
    return {"status": 201 if created else 200, "body": body}


def _ok(body: dict[str, Any]) -> Result:
    return {"status": 200, "body": body}


def _gone(_: None) -> Result:
    return {"status": 204, "body": None}


def _put_label(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    index = check_int("sentence_index", o["sentence_index"])
    return _ok(put_label(s, u, a, index, o["label"], o.get("seconds", 0), o.get("version"), o.get("sentence"), o.get("request_id")))


def _delete_label(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    return _gone(delete_label(s, u, a, check_int("sentence_index", o["sentence_index"]), o.get("version")))


def _put_article_label(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    return _ok(put_article_label(s, u, a, check_str("group", o["group"]), o["values"], o.get("version")))


def _delete_article_label(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    return _gone(delete_article_label(s, u, a, check_str("group", o["group"]), o.get("version")))


def _create_span(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    return _created(create_span(s, u, a, o["label"], o["start"], o["end"], o.get("id")))


def _update_span(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    return _ok(update_span(s, u, a, o["id"], o.get("label"), o.get("start"), o.get("end")))


def _delete_span(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    return _gone(delete_span(s, u, a, o["id"]))


def _create_relation(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    return _created(create_relation(s, u, a, o["type"], o["from"], o["to"], o.get("id")))


def _delete_relation(s: Session, u: int, a: int, o: dict[str, Any]) -> Result:
    return _gone(delete_relation(s, u, a, o["id"]))


Runner = Callable[[Session, int, int, dict[str, Any]], Result]

# op name -> (required fields, optional fields, runner); the fields are the single endpoint's body plus its path's parts.
OPERATIONS: dict[str, tuple[frozenset[str], frozenset[str], Runner]] = {
    "put_label": (frozenset({"sentence_index", "label"}), frozenset({"seconds", "version", "sentence", "request_id"}), _put_label),
    "delete_label": (frozenset({"sentence_index"}), frozenset({"version"}), _delete_label),
    "put_article_label": (frozenset({"group", "values"}), frozenset({"version"}), _put_article_label),
    "delete_article_label": (frozenset({"group"}), frozenset({"version"}), _delete_article_label),
    "create_span": (frozenset({"label", "start", "end"}), frozenset({"id"}), _create_span),
    "update_span": (frozenset({"id"}), frozenset({"label", "start", "end"}), _update_span),
    "delete_span": (frozenset({"id"}), frozenset(), _delete_span),
    "create_relation": (frozenset({"type", "from", "to"}), frozenset({"id"}), _create_relation),
    "delete_relation": (frozenset({"id"}), frozenset(), _delete_relation),
}
# optional fields that may be left out but not sent as null (as the single endpoints say; version's null means "no check")
_NOT_NULL = frozenset({"seconds", "request_id", "id", "label", "start", "end"})


def check_operations(operations: Any) -> list[tuple[Runner, dict[str, Any]]]:
    """Each operation's shape (before the database is touched); AnnotationError(400/413) naming the first bad one."""
    if not isinstance(operations, list):
        raise AnnotationError(400, "operations must be a list")
    if not operations:
        raise AnnotationError(400, "operations must not be empty")
    if len(operations) > MAX_OPERATIONS:
        raise AnnotationError(413, f"a batch holds at most {MAX_OPERATIONS} operations (got {len(operations)}); send the rest in another")
    checked = []
    for index, operation in enumerate(operations):
        try:
            checked.append(_check_operation(operation))
        except AnnotationError as exc:
            raise _at(exc, index, operation) from None
    return checked


def _check_operation(operation: Any) -> tuple[Runner, dict[str, Any]]:
    if not isinstance(operation, dict):
        raise AnnotationError(400, "an operation must be a JSON object")
    name = operation.get("op")
    if not isinstance(name, str) or name not in OPERATIONS:  # a list or an object is unhashable: no `in` on it
        raise AnnotationError(400, f"op must be one of {', '.join(OPERATIONS)} (got {show(name)})")
    required, optional, runner = OPERATIONS[name]
    fields = set(operation) - {"op"}
    unknown = sorted(fields - required - optional)
    if unknown:
        raise AnnotationError(400, f"unknown {plural(len(unknown), 'field')} {', '.join(repr(f[:40]) for f in unknown[:5])}; allowed: {', '.join(sorted(required | optional))}")
    missing = sorted(required - fields)
    if missing:
        raise AnnotationError(400, f"missing {plural(len(missing), 'field')}: {', '.join(missing)}")
    for field in sorted(optional & _NOT_NULL & fields):
        if operation[field] is None:
            raise AnnotationError(400, f"{field} must not be null; leave it out instead")
    return runner, operation


def _at(exc: AnnotationError, index: int, operation: Any) -> AnnotationError:
    name = operation.get("op") if isinstance(operation, dict) and isinstance(operation.get("op"), str) else None
    name = name if name in OPERATIONS else None
    extra = {key: value for key, value in exc.extra.items() if key not in ("index", "op")}
    return AnnotationError(exc.status, f"operation {index}{f' ({name})' if name else ''}: {exc.message}", index=index, op=name, **extra)


# A transaction-scoped advisory lock on PostgreSQL's single 64-bit key, a space no other lock of the app uses (the gold
# locks take two 32-bit keys, which PostgreSQL keeps apart): (user id << 31) | article id, both below 2**31.
_TURN = Prepared(select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger))))


def _take_turn(session: Session, user_id: int, article_id: Any) -> None:
    """PostgreSQL: wait until this annotator's other batch on this article is over (SQLite's writers take turns
    already). Taken before the request id's claim and any row lock, so a batch waits here holding nothing. An id
    out of range takes none: its first operation answers 404."""
    if session.get_bind().dialect.name == "postgresql" and is_int(article_id) and 0 <= article_id <= MAX_DB_INT:
        _TURN.rows(session, {"key": (user_id << 31) | article_id})


@dataclass(frozen=True, slots=True)
class Changes:
    """A batch checked and fingerprinted (prepare_changes) before its write transaction: on SQLite that work would
    otherwise run while the one write lock is held, which every other save waits for."""

    user_id: int
    article_id: int
    checked: list[tuple[Runner, dict[str, Any]]]
    request: Request | None


def prepare_changes(user_id: int, article_id: int, operations: Any, request_id: Any = None) -> Changes:
    """Check the batch's shape and its request id, and fingerprint it, without the database (AnnotationError 400/413)."""
    checked = check_operations(operations)
    request = None
    if request_id is not None:
        request = Request(user_id, check_uid(request_id, "request_id"), request_fingerprint("changes", article_id, operations), article_id)
    return Changes(user_id, article_id, checked, request)


def apply_changes(session: Session, user_id: int, article_id: int, operations: Any, request_id: Any = None) -> dict[str, Any]:
    """Carry out every operation in order inside the caller's write transaction: {"results": [{"status", "body"}, ...]}.

    Any failure raises (nothing of the batch may then be committed: the caller rolls back). A caller that can prepare
    the batch before its transaction begins calls prepare_changes there and run_changes inside.
    """
    return run_changes(session, prepare_changes(user_id, article_id, operations, request_id))


def run_changes(session: Session, changes: Changes) -> dict[str, Any]:
    """apply_changes for a batch prepared before the transaction (prepare_changes)."""
    user_id, article_id, checked, request = changes.user_id, changes.article_id, changes.checked, changes.request
    _take_turn(session, user_id, article_id)
    row_id = None
    if request is not None:
        row_id, earlier = claim_request(session, request)
        if earlier is not None:
            return earlier
    results = []
    # progress, gold and the revision bump once, at the end, for all operations; the article's access read once
    with deferred(session), remembered(session):
        for index, (runner, operation) in enumerate(checked):
            try:
                results.append(runner(session, user_id, article_id, operation))
            except AnnotationError as exc:
                raise _at(exc, index, operation) from None
    answer = {"results": results}
    return answer if row_id is None else answer_request(session, row_id, request, answer)
