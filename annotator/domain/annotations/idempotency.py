"""Idempotency keys of label saves: a retried PUT (same user, same request id) counts once.

A label save adds its seconds and bumps the version, so sending it twice (the
first response was lost, the client retried) would count it twice. A client
may send a `request_id` with the save; its key in label_requests (unique per
user) is stored with the save's answer, in the save's transaction. A repeat
finds the key and gets that answer back: no label write, no audit entry, no
revision bump. The same id with another body is refused (422): it is a client
bug, and guessing which body was meant could count the wrong thing.

Two ways to take a key, with the same guarantees:
- A label save (`once`, the hot path) looks its key up in its access query
  (statements.ACCESS_SENTENCE_REQUEST, no statement of its own), does the work,
  and stores key and answer in one plain INSERT at the end: one statement more
  than a save without a request id (the claim-then-answer below costs two;
  bench/bench_gold.py measures the request with and without).
- A batch (`claim_request` / `answer_request`) claims its key first (response
  NULL) and answers it last, so that a label save inside it under the batch's
  own id finds the claim at once and is named as the failing operation (422).

Concurrency: SQLite's writers are serialised (BEGIN IMMEDIATE), so a repeat
reads the first's committed key before doing anything. On PostgreSQL a repeat
arriving while the first is still running sees no key yet and does the work
itself, waiting on the first's row locks; then either its final INSERT meets
the first's key (it waits on the unique index until the first commits, then
raises IntegrityError), or the work fails because of what the first committed
(a stale version, a span that exists now), and a second lookup finds the key
and raises WriteConflict. Either way its work is rolled back, and write() runs
it again, which finds the key and answers with the first answer. Had the
first rolled back, the repeat's INSERT simply succeeds.

Lock order: a label save's key is the last row it writes (the prune after it
deletes only keys over a day old), and a repeat takes the first's row locks in
the same order before it, so waiting on the key adds no cycle; a batch's claim
is taken before its row locks and only requests with the same id wait on it.
Only one id sent at once for a batch and for a label save outside it (a client
bug) can close a cycle (the save waits on the batch's claim, the batch on the
save's label); PostgreSQL's deadlock check ends it, and the retry answers 422.
Both retry, and may deadlock again on every attempt: write() then looks the key up
once more (settled_answer), so the loser still answers 422, never 503.

A label rename (label_rename.py) rewrites the stored answers of the project's keys that name the label, in its own
transaction (renamed_answer): a retry after it gets the same answer under the label's new name, never one the
schema no longer has; the fingerprint stays, as the retry's body does.

Keys are kept REQUEST_TTL (a client's retries end long before) and pruned, per
user, by one of that user's new keys in PRUNE_EVERY (the key's row id picks it,
so every worker agrees without shared state): the table stays bounded by a
day's saves plus a few per user, and most saves skip the DELETE.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy.orm import Session

from annotator.db.models import LabelRequest, utcnow
from annotator.db.transactions import WriteConflict
from annotator.domain.annotations.statements import (
    ANSWER_REQUEST,
    PRUNE_REQUESTS,
    REQUEST_BY_ID,
    STORE_REQUEST,
    insert_ignoring_conflict,
    run,
)
from annotator.domain.annotations.validation import AnnotationError, show

REQUEST_TTL = timedelta(hours=24)
PRUNE_EVERY = 32
# json.dumps with these options builds an encoder per call; the same encoder, built once, gives the same text.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def request_fingerprint(*parts: Any) -> str:
    """A digest of what a request asked for (its target and its checked fields)."""
    return hashlib.sha256(_CANONICAL.encode(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Request:
    """A request carrying an idempotency key: whose, the key, and the fingerprint of what it asks for."""

    user_id: int
    request_id: str
    digest: str
    article_id: int  # stored with the key: a label rename finds the project's answers by it


class Repeated(Exception):
    """Not an error: the request was carried out before, and `answer` is its first answer (from the lookup to `once`)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__("repeated request")
        self.answer = answer


def check_earlier(request: Request, fingerprint: str | None, response: dict[str, Any] | None) -> None:
    """Judge the stored key found for `request` (fingerprint None: none): nothing when there is none, Repeated with
    the first answer when it is this request's, AnnotationError(422) when the id was used for another save."""
    if fingerprint is None:
        return
    # The fingerprint first: a claim still unanswered in this very transaction (a batch and a label save in it
    # sent with one id) is another save's, and a retry would meet it again (a 503 would ask for retries forever).
    if fingerprint != request.digest:
        raise AnnotationError(
            422, f"request_id {show(request.request_id)} was already used for a different save; send a new request id for a new save"
        )
    if response is None:  # a claim not answered yet: not this request's first answer, and none to give
        raise AnnotationError(503, "this save's request id changed hands meanwhile; try again")
    raise Repeated(response)


def look_up(session: Session, request: Request) -> None:
    """check_earlier on the key as stored now (a statement of its own)."""
    row = REQUEST_BY_ID.first(session, {"user_id": request.user_id, "request_id": request.request_id})
    if row is not None:
        check_earlier(request, row.fingerprint, row.response)


def settled_answer(session: Session, request: Request | None) -> dict[str, Any] | None:
    """For a keyed save whose attempts all met conflicts: its first answer when its key was stored meanwhile (a
    repeat), AnnotationError(422) when another save took the id, None when the key is not there (simply busy).
    Read after the last attempt rolled back, so it sees what the other request committed."""
    if request is None:
        return None
    try:
        look_up(session, request)
    except Repeated as repeat:
        return repeat.answer
    finally:
        session.rollback()
    return None


def once(session: Session, request: Request, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`work()`'s answer, stored under the request's key; the first answer when the key says it was done before.

    `work` must look the key up before it writes (check_earlier on its access query's row, or look_up), raising
    Repeated for a repeat. See the module's docstring for what happens when a repeat runs alongside the first.
    """
    try:
        answer = work()
    except Repeated as repeat:
        return repeat.answer
    except AnnotationError:
        _retry_if_done_meanwhile(session, request)
        raise
    # A plain INSERT: on PostgreSQL, when the first of this request committed after our lookup, the unique key raises
    # IntegrityError (after waiting for that commit); write() rolls this attempt back and runs it again, and its lookup
    # finds the first answer (or, for another body, answers 422).
    row_id = run(session, STORE_REQUEST, _key(request, answer)).inserted_primary_key[0]
    _prune_sometimes(session, request.user_id, row_id)
    return answer


def _retry_if_done_meanwhile(session: Session, request: Request) -> None:
    """WriteConflict when the request's first answer was committed since this transaction looked (then this attempt's
    work must go and the retry answers from it); AnnotationError(422) when the id was taken by another save."""
    try:
        look_up(session, request)
    except Repeated:
        raise WriteConflict from None


def _key(request: Request, response: dict[str, Any] | None) -> dict[str, Any]:
    """The key's row; the article only with an answer (the work found it): a batch's claim comes before any operation
    has looked, and an article id that names nothing must answer 404, not break the key's foreign key."""
    return dict(user_id=request.user_id, request_id=request.request_id, fingerprint=request.digest, response=response,
                article_id=request.article_id if response is not None else None, created_at=utcnow())


def _prune_sometimes(session: Session, user_id: int, row_id: int) -> None:
    if row_id % PRUNE_EVERY == 0:
        PRUNE_REQUESTS.run(session, {"user_id": user_id, "cutoff": utcnow() - REQUEST_TTL})


def claim_request(session: Session, request: Request) -> tuple[int | None, dict[str, Any] | None]:
    """(row id, None) when this request is new and claimed (answer it with answer_request); (None, answer) when it
    was carried out before. For a batch: its claim is taken before any of its operations runs."""
    row_id = insert_ignoring_conflict(session, LabelRequest, _key(request, None))
    if row_id is not None:
        _prune_sometimes(session, request.user_id, row_id)
        return row_id, None
    try:
        look_up(session, request)
    except Repeated as repeat:
        return None, repeat.answer
    raise AnnotationError(503, "this save's request id changed hands meanwhile; try again")  # pruned between insert and read


def answer_request(session: Session, row_id: int, request: Request, response: dict[str, Any]) -> dict[str, Any]:
    """Store the claimed request's answer, and its article (in its transaction), and return the answer."""
    ANSWER_REQUEST.run(session, {"row_id": row_id, "response": response, "article_id": request.article_id})
    return response


# Where a stored answer names a label of each schema section: (the key holding the name, keys only that kind of body
# has). The answer of a label save is one body; a batch's is {"results": [{"status", "body"}, ...]}.
_NAMED_IN = {
    "sentence_labels": ("label", {"sentence"}),
    "span_labels": ("label", {"start", "end"}),
    "relation_types": ("type", {"from", "to"}),
    "article_labels": ("group", {"values"}),
}


def renamed_answer(answer: dict[str, Any], section: str, old: str, new: str, group: str | None = None) -> dict[str, Any] | None:
    """A stored answer with each body naming `old` of `section` (a label save's, or a batch's operations') naming
    `new` instead; None when none names it. A value of an article label group (section "article_label_values") is
    renamed in the answers of that `group`, its values kept sorted as stored."""
    if section == "article_label_values":

        def renamed(body: Any) -> Any:
            values = body.get("values") if isinstance(body, dict) and body.get("group") == group else None
            if isinstance(values, list) and old in values:
                return {**body, "values": sorted(new if value == old else value for value in values)}
            return body
    else:
        key, kind = _NAMED_IN[section]

        def renamed(body: Any) -> Any:
            if isinstance(body, dict) and body.get(key) == old and kind <= body.keys():
                return {**body, key: new}
            return body

    results = answer.get("results")
    if isinstance(results, list):
        changed = [{**r, "body": renamed(r.get("body"))} if isinstance(r, dict) else r for r in results]
        return {**answer, "results": changed} if changed != results else None
    out = renamed(answer)
    return out if out is not answer else None
