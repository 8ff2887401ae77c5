"""The annotation JSON API (see openapi.json): thin views over annotations.py.

Every failure is a JSON error `{"error": ..., "status": N}`; a request body is
checked for shape (a JSON object, known fields, the right types) before the
database is touched, and a write either happens whole or not at all.
"""
from __future__ import annotations

import json
from importlib.resources import files
from typing import Any, Callable

from flask import Blueprint, Response, request
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from annotator.db import db
from annotator.domain.annotations import (
    AnnotationError,
    article_payload,
    check_version,
    create_relation,
    create_span,
    delete_article_label,
    delete_label,
    delete_relation,
    delete_span,
    label_request,
    prepare_changes,
    put_article_label,
    put_label,
    readable_article,
    run_changes,
    save,
    update_span,
)
from annotator.domain.annotations.idempotency import Request
from annotator.domain.wording import plural
from annotator.stats import strict_json
from annotator.stats.numbers import whole_number
from annotator.stats.textcheck import MAX_DB_INT
from annotator.web.errors import json_error
from annotator.web.security import login_required, public, roles_required

bp = Blueprint("api", __name__, url_prefix="/api")

# An annotation write is a few dozen bytes; anything this large is a mistake or an attack.
MAX_BODY_BYTES = 16 * 1024
# A batch of changes: up to MAX_OPERATIONS writes of that size would be far more than the page ever sends.
MAX_BATCH_BYTES = 256 * 1024


@bp.errorhandler(AnnotationError)
def _annotation_error(exc: AnnotationError) -> Response:
    return json_error(exc.status, exc.message, **exc.extra)


def json_body(allowed: set[str], required: frozenset[str] = frozenset(), limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object, with only `allowed` fields and all `required` ones; else AnnotationError(400/413/415).

    Only a body sent as JSON (application/json, any charset, or a +json type): one sent as text/plain, or with no
    Content-Type, was read as JSON all the same, so a client's wrong header went unnoticed until another server."""
    if not request.is_json:
        sent = request.headers.get("Content-Type", "").strip()
        said = f"Content-Type {sent[:60]!r}" if sent else "no Content-Type"
        raise AnnotationError(415, f"request body must be JSON sent with Content-Type: application/json (got {said})")
    request.max_content_length = limit
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise AnnotationError(413, f"request body is larger than {limit} bytes") from None
    try:
        body = strict_json.loads(raw.decode("utf-8"), storable=True)
    except UnicodeDecodeError:
        raise AnnotationError(400, "request body must be UTF-8 encoded JSON") from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(400, f"request body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except strict_json.NotJson as exc:
        raise AnnotationError(400, f"request body is not valid JSON ({exc})") from None
    except strict_json.UnstorableText as exc:  # "\ud800" escapes and NUL: no database stores them faithfully
        raise AnnotationError(400, f"request body: {exc}") from None
    if not isinstance(body, dict):
        raise AnnotationError(400, "request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise AnnotationError(400, f"unknown {plural(len(unknown), 'field')} {shown}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(body))
    if missing:
        raise AnnotationError(400, f"missing {plural(len(missing), 'field')}: {', '.join(missing)}")
    return body


def write_request(allowed: set[str], required: frozenset[str] = frozenset(), not_null: tuple[str, ...] = (),
                  limit: int = MAX_BODY_BYTES) -> tuple[dict[str, Any], int]:
    """A write's body, checked (json_body) before the database is touched, and the writer's id (writer_id).

    `not_null`: optional fields that may be left out but not sent as null (version may: null means 'no check').
    """
    body = json_body(allowed, required, limit)
    for name in not_null:
        if name in body and body[name] is None:
            raise AnnotationError(400, f"{name} must not be null; leave it out instead")
    return body, writer_id()


def writer_id() -> int:
    """The caller's user id, read before the write transaction starts.

    The user is detached from the session first: the commits of begin_write()
    and of the write would otherwise expire it, and the after-request hooks
    reading current_user would reload it with one more query per save.
    """
    user = current_user._get_current_object()
    if user in db.session:
        db.session.expunge(user)
    return int(user.id)


def _write(action: Callable[[Session], Any], keyed: Callable[[], Request | None] | None = None) -> Any:
    """`action(session)` in one write, a save (domain/annotations/transaction.py; `keyed`: the save's request id key, see
    write()). The action gets the Session to write on, which may be another request's (group commit): it takes
    everything else from values the view read before. The views hand the domain a Session itself, not
    Flask-SQLAlchemy's scoped proxy: each use of the proxy looks the Session up by the app context again, ~40 times a
    batch save (a twelfth of its Python calls; bench/bench_request_cpu.py)."""
    return save(db.session(), action, keyed=keyed)


def _deleted(action: Callable[[Session, int], Any]) -> tuple[str, int]:
    """A delete: `action(session, writer's id)` in one write, answered 204."""
    user_id = writer_id()
    _write(lambda session: action(session, user_id))
    return "", 204


def _created(action: Callable[[Session], tuple[Any, bool]]) -> tuple[Any, int]:
    """A create in one write: 201 when it made the item, 200 when the item was there already (a retried request)."""
    item, created = _write(action)
    return item, 201 if created else 200


# ----------------------------------------------------------------- reading
@bp.get("/openapi.json")
@public
def openapi() -> Response:
    document = (files("annotator") / "openapi.json").read_bytes()
    return Response(document, mimetype="application/json")


@bp.get("/articles/<int:article_id>")
@login_required
def get_article(article_id: int):
    user = current_user._get_current_object()
    session = db.session()
    return article_payload(session, readable_article(session, user, article_id), user)


# ----------------------------------------------------------------- labels
@bp.put("/articles/<int:article_id>/labels/<int:sentence_index>")
@roles_required("annotator")
def put_label_view(article_id: int, sentence_index: int):
    body, user_id = write_request({"label", "seconds", "version", "sentence", "request_id"}, frozenset({"label"}), ("seconds", "request_id"))
    arguments = (user_id, article_id, sentence_index, body["label"], body.get("seconds", 0), body.get("version"), body.get("sentence"),
                 body.get("request_id"))
    return _write(lambda session: put_label(session, *arguments), keyed=lambda: label_request(*arguments))


@bp.delete("/articles/<int:article_id>/labels/<int:sentence_index>")
@roles_required("annotator")
def delete_label_view(article_id: int, sentence_index: int):
    version = _query_version()
    return _deleted(lambda session, user_id: delete_label(session, user_id, article_id, sentence_index, version))


def _query_version() -> int | None:
    """`?version=N`, the label's (or article label's) version the caller last saw (a DELETE has no body); None when left out."""
    raw = request.args.get("version")
    if raw is None:
        return None
    version = whole_number(raw, MAX_DB_INT)
    if version is None:
        digits = raw.removeprefix("-")
        if digits.isascii() and digits.isdigit():  # a whole number no label has: the body's "out of range" refusal
            return check_version(-1 if raw.startswith("-") else MAX_DB_INT + 1)
        raise AnnotationError(400, "version must be a whole number >= 0")
    return version


# ----------------------------------------------------------------- article labels
@bp.put("/articles/<int:article_id>/article-labels/<group>")
@roles_required("annotator")
def put_article_label_view(article_id: int, group: str):
    body, user_id = write_request({"values", "version"}, frozenset({"values"}))
    return _write(lambda session: put_article_label(session, user_id, article_id, group, body["values"], body.get("version")))


@bp.delete("/articles/<int:article_id>/article-labels/<group>")
@roles_required("annotator")
def delete_article_label_view(article_id: int, group: str):
    version = _query_version()
    return _deleted(lambda session, user_id: delete_article_label(session, user_id, article_id, group, version))


# ----------------------------------------------------------------- spans
@bp.post("/articles/<int:article_id>/spans")
@roles_required("annotator")
def create_span_view(article_id: int):
    body, user_id = write_request({"label", "start", "end", "id"}, frozenset({"label", "start", "end"}), ("id",))
    return _created(lambda session: create_span(session, user_id, article_id, body["label"], body["start"], body["end"], body.get("id")))


@bp.patch("/articles/<int:article_id>/spans/<uid>")
@roles_required("annotator")
def update_span_view(article_id: int, uid: str):
    body, user_id = write_request({"label", "start", "end"}, not_null=("label", "start", "end"))
    return _write(lambda session: update_span(session, user_id, article_id, uid, body.get("label"), body.get("start"), body.get("end")))


@bp.delete("/articles/<int:article_id>/spans/<uid>")
@roles_required("annotator")
def delete_span_view(article_id: int, uid: str):
    return _deleted(lambda session, user_id: delete_span(session, user_id, article_id, uid))


# ----------------------------------------------------------------- relations
@bp.post("/articles/<int:article_id>/relations")
@roles_required("annotator")
def create_relation_view(article_id: int):
    body, user_id = write_request({"type", "from", "to", "id"}, frozenset({"type", "from", "to"}), ("id",))
    return _created(lambda session: create_relation(session, user_id, article_id, body["type"], body["from"], body["to"], body.get("id")))


@bp.delete("/articles/<int:article_id>/relations/<uid>")
@roles_required("annotator")
def delete_relation_view(article_id: int, uid: str):
    return _deleted(lambda session, user_id: delete_relation(session, user_id, article_id, uid))


# ----------------------------------------------------------------- several changes in one request
@bp.post("/articles/<int:article_id>/changes")
@roles_required("annotator")
def apply_changes_view(article_id: int):
    """Up to MAX_OPERATIONS label / span / relation operations, all or nothing (domain/annotations/batch.py)."""
    body, user_id = write_request({"operations", "request_id"}, frozenset({"operations"}), ("request_id",), MAX_BATCH_BYTES)
    changes = prepare_changes(user_id, article_id, body["operations"], body.get("request_id"))  # checked before the write lock
    return _write(lambda session: run_changes(session, changes), keyed=lambda: changes.request)
