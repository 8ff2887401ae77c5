"""`write()`: one annotation operation in a queued write transaction, retried when another writer got in the way;
`save()`: the same for a save a request sends, which on SQLite may share its transaction with other saves of its
worker that come at the same moment (db/group_commit.py).

Conflicts that outlast the retries become AnnotationError(503), a full disk
AnnotationError(507): the API never answers with a raw database error.
"""
from __future__ import annotations

from typing import Callable, TypeVar, cast

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from annotator.db.group_commit import grouped_write
from annotator.db.transactions import DISK_FULL_MESSAGE, disk_full, log_disk_full, run_write
from annotator.domain.annotations.idempotency import Request, settled_answer
from annotator.domain.annotations.validation import AnnotationError

WRITE_ATTEMPTS = 3

T = TypeVar("T")


class _OutOfAttempts(Exception):
    """Every attempt met a conflict (write() answers it)."""


def write(session: Session, action: Callable[[], T], attempts: int = WRITE_ATTEMPTS, keyed: Callable[[], Request | None] | None = None) -> T:
    """Run `action` in a write transaction and commit; roll back on any error.

    A unique-key or lock conflict another worker caused (IntegrityError, a
    deadlock or serialization failure, a busy SQLite) is retried from the
    start: the retry re-reads what the other transaction committed. When
    retries run out the caller gets AnnotationError(503), never a raw error;
    unless the action is a save with a request id (`keyed` gives its key, asked
    for only then) and its key was stored meanwhile: then its answer is the
    key's, as the next retry would have given it. On PostgreSQL a batch and a
    label save sent with one id at once deadlock on each other's key and label,
    and could do so on every attempt: that was a 503, where the contract says
    422 (the id was used for another save), or the first answer for a repeat.
    """
    return _answered(session, lambda: run_write(session, action, attempts, _OutOfAttempts), keyed)


def save(session: Session, action: Callable[[Session], T], attempts: int = WRITE_ATTEMPTS, keyed: Callable[[], Request | None] | None = None) -> T:
    """write() for a save a request sends: `action(session)`, in a write transaction that on SQLite may be the one of
    several saves this worker's threads send at the same moment (db/group_commit.py), committed before this returns.
    The action writes on the session it is given (then another thread's) and takes everything else from its own
    arguments, never from the request."""
    return _answered(session, lambda: grouped_write(session, action, attempts, _OutOfAttempts), keyed)


def _answered(session: Session, run: Callable[[], T], keyed: Callable[[], Request | None] | None) -> T:
    """`run()`'s result; conflicts past the attempts and a full disk as write() answers them."""
    try:
        return run()
    except _OutOfAttempts:
        answer = settled_answer(session, keyed() if keyed is not None else None)
        if answer is None:
            raise AnnotationError(503, "the database is busy with other writes; try again") from None
        return cast(T, answer)
    except (IntegrityError, OperationalError) as exc:  # run_write retries conflicts; what reaches here is not_retried's
        if not disk_full(exc):
            raise  # a database read-only or out of reach: the web app's 503 that says so
        log_disk_full(exc, "saving an annotation")  # not busy: retrying cannot help, and someone must be told
        raise AnnotationError(507, DISK_FULL_MESSAGE) from None
