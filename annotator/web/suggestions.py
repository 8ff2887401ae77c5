"""The annotation page's suggestions API (see openapi.json): thin views over domain/suggestion_review.py.

Under /api like the rest of the annotation API, with its checks: an annotator assigned to the
article (else the same 404 as a missing article), CSRF or a bearer token on writes, a JSON
body checked for shape before the database is touched, every failure a JSON error. Accept and
reject run in the same retried write transaction as a label or span save.
"""
from __future__ import annotations

from flask import Blueprint, Response
from flask_login import current_user

from annotator.db import db
from annotator.domain import suggestion_review
from annotator.domain.annotations import AnnotationError, write
from annotator.domain.suggestions import SuggestionError
from annotator.web.api import write_request
from annotator.web.errors import json_error
from annotator.web.security import roles_required

bp = Blueprint("suggestions", __name__, url_prefix="/api")


@bp.errorhandler(AnnotationError)
def _annotation_error(exc: AnnotationError) -> Response:
    return json_error(exc.status, exc.message, **exc.extra)


@bp.errorhandler(SuggestionError)
def _suggestion_error(exc: SuggestionError) -> Response:
    return json_error(exc.status, exc.message)


@bp.get("/articles/<int:article_id>/suggestions")
@roles_required("annotator")
def pending(article_id: int):
    return suggestion_review.pending(db.session, current_user.id, article_id)


@bp.post("/articles/<int:article_id>/suggestions/accept")
@roles_required("annotator")
def accept(article_id: int):
    return _decide(article_id, "accept")


@bp.post("/articles/<int:article_id>/suggestions/reject")
@roles_required("annotator")
def reject(article_id: int):
    return _decide(article_id, "reject")


def _decide(article_id: int, decision: str):
    body, user_id = write_request({"ids"}, frozenset({"ids"}))
    return write(db.session, lambda: suggestion_review.decide(db.session, user_id, article_id, decision, body["ids"]))
