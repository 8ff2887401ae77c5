"""`write()`: one annotation operation in a queued write transaction, retried when another writer got in the way.

Conflicts that outlast the retries become AnnotationError(503), a full disk
AnnotationError(507): the API never answers with a raw database error.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from annotator.db.transactions import DISK_FULL_MESSAGE, log_disk_full, run_write
from annotator.domain.annotations.validation import AnnotationError

WRITE_ATTEMPTS = 3

T = TypeVar("T")


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
