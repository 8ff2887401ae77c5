"""Idempotency keys of label saves: a retried PUT (same user, same request id) counts once.

A label save adds its seconds and bumps the version, so sending it twice (the
first response was lost, the client retried) would count it twice. A client
may send a `request_id` with the save; the first request with that id claims it
in label_requests (unique per user) before touching the label, and stores its
answer before it commits. A repeat finds the claim and gets that answer back:
no label write, no audit entry, no revision bump. The same id with another body
is refused (422): it is a client bug, and guessing which body was meant could
count the wrong thing.

Concurrency: the claim is an INSERT ... ON CONFLICT DO NOTHING. On PostgreSQL a
repeat arriving while the first is still running waits on the unique index
until the first commits (then it reads the answer) or rolls back (then it
claims the id and does the work itself); on SQLite writers are serialised. The
claim is taken before the label row lock, and only requests with the same id
wait on it, so it adds no lock-order cycle.

Keys are kept REQUEST_TTL (a client's retries end long before) and pruned, per
user, by one of that user's new saves in PRUNE_EVERY (the claim's row id picks
it, so every worker agrees without shared state): the table stays bounded by a
day's saves plus a few per user, and most saves skip the DELETE (a save with a
request id costs two statements more than one without, not three).
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from annotator.db.models import LabelRequest, utcnow
from annotator.domain.annotations.statements import ANSWER_REQUEST, PRUNE_REQUESTS, REQUEST_BY_ID, insert_ignoring_conflict, run
from annotator.domain.annotations.validation import AnnotationError, show

REQUEST_TTL = timedelta(hours=24)
PRUNE_EVERY = 32


def request_fingerprint(*parts: Any) -> str:
    """A digest of what a request asked for (its target and its checked fields)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def claim_request(session: Session, user_id: int, request_id: str, digest: str) -> tuple[int | None, dict[str, Any] | None]:
    """(row id, None) when this request is new and claimed; (None, answer) when it was carried out before."""
    now = utcnow()
    values = dict(user_id=user_id, request_id=request_id, fingerprint=digest, response=None, created_at=now)
    row_id = insert_ignoring_conflict(session, LabelRequest, values)
    if row_id is not None:
        if row_id % PRUNE_EVERY == 0:
            run(session, PRUNE_REQUESTS, {"user_id": user_id, "cutoff": now - REQUEST_TTL})
        return row_id, None
    earlier = run(session, REQUEST_BY_ID, {"user_id": user_id, "request_id": request_id}).first()
    if earlier is None:  # pruned between our insert and our read (an id over a day old)
        raise AnnotationError(503, "this save's request id changed hands meanwhile; try again")
    # The fingerprint first: a claim still unanswered in this very transaction (a batch and a label save in it
    # sent with one id) is another save's, and a retry would meet it again (a 503 would ask for retries forever).
    if earlier.fingerprint != digest:
        raise AnnotationError(422, f"request_id {show(request_id)} was already used for a different save; send a new request id for a new save")
    if earlier.response is None:
        raise AnnotationError(503, "this save's request id changed hands meanwhile; try again")
    return None, earlier.response


def answer_request(session: Session, row_id: int, response: dict[str, Any]) -> dict[str, Any]:
    """Store the claimed request's answer (in its transaction), and return it."""
    run(session, ANSWER_REQUEST, {"row_id": row_id, "response": response})
    return response
