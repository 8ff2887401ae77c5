"""Admin pages: everything the CLI sets up, in the browser, plus the segmentation page reviewers share.

Two blueprints: `admin` under /admin (admins only) and `segmentation` under
/segmentation (admins and reviewers). Views stay thin: the work is done by the
domain modules (projects, labelschema, accounts, ingest, articles, assignment,
progress, guidelines, resegment), each write in one transaction that is rolled
back on any error, so a refused form leaves nothing behind.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import Blueprint, Flask, abort, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from annotator.db import db
from annotator.db.models import Project
from annotator.db.transactions import transaction
from annotator.domain import wording
from annotator.web.errors import json_error, said_why, wants_json

bp = Blueprint("admin", __name__, url_prefix="/admin")
segmentation_bp = Blueprint("segmentation", __name__, url_prefix="/segmentation")

T = TypeVar("T")


def write(action: Callable[[], T], *errors: type[Exception]) -> tuple[T | None, str | None]:
    """Run one unit of work in a write transaction: (result, None), or (None, message) after a rollback."""
    try:
        with transaction(db.session):
            return action(), None
    except errors as exc:
        return None, str(exc)


def project_or_404(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404, f"There is no project {project_id}.")
    return project


def form_status() -> int:
    """A form shown again after a POST had errors: 400; a first GET: 200."""
    return 400 if request.method == "POST" else 200


def _too_large(exc: RequestEntityTooLarge):
    from flask import current_app

    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    megabytes = f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    message = said_why(exc) or (f"The upload is larger than the limit of {megabytes} per request. "
                                "Upload fewer or smaller files at a time (the limit is ANNOTATOR_MAX_UPLOAD_MB).")
    if wants_json():
        return json_error(413, message)
    return render_template("admin/too_large.html", message=message), 413


bp.register_error_handler(RequestEntityTooLarge, _too_large)
bp.add_app_template_filter(wording.counted, "counted")  # {{ n|counted("label") }}: "1 label", "2 labels"

from annotator.web.admin import assignments, form_addresses, guidelines, members, progress, projects, segmentation, uploads, users  # noqa: E402,F401  (routes)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(segmentation_bp)
    form_addresses.register(app)
