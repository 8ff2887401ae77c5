"""The REST API for pipelines (see openapi.json): projects and users here, a project's data in rest_data.py.

Thin views over domain/ (projects, accounts, catalog), with the annotation API's rules: a Bearer token
or the session (with CSRF), JSON bodies checked by api.json_body (strict JSON, known fields, types) before
anything is read, every failure a JSON error `{"error", "status"}`, every write one transaction or nothing.
Who may do what: admins everything; reviewers read the projects they are members of (their articles,
export and agreement); annotators none of it (403): their own work is the annotation API's.
Every list is one page in id order, `?per_page=` (1 to 1000) items, answered with `items`, `page`, `per_page`,
`total` and `next` (the next page's URL, or null). The `next` link carries a `?cursor=` (web/cursor.py): the page
after it starts after the last item shown, so a walk along the links sees every item that exists for the whole
walk exactly once. `?page=N` (from 1), what clients before cursors computed, still answers page N counted from
the start, which skips or repeats items when some are deleted or added meanwhile; its `next` is a cursor too.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from flask import Blueprint, Response, abort, jsonify, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from annotator.db import db
from annotator.db.models import Project
from annotator.db.transactions import transaction
from annotator.domain import account_log, accounts, assignment, catalog, label_rename, labelschema, projects
from annotator.domain.annotations import AnnotationError
from annotator.domain.dataset.export import ExportError
from annotator.domain.dataset.ingest import IngestError
from annotator.stats.numbers import whole_number
from annotator.web import cursor
from annotator.web.api import json_body
from annotator.web.errors import json_error
from annotator.web.security import may_open_project, not_your_project, roles_required

bp = Blueprint("rest", __name__, url_prefix="/api")

T = TypeVar("T")
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
SCHEMA_BODY_BYTES = 4 * 1024 * 1024  # a project's settings with a label schema of thousands of labels
# Domain refusals: the message says what is wrong (a 400; an article deletion that would take work with it is a 409).
REFUSALS = (projects.ProjectError, labelschema.SchemaError, accounts.AccountError, assignment.AssignmentError, IngestError, ExportError)


def refusal(exc: Exception) -> Response:
    if isinstance(exc, AnnotationError):
        return json_error(exc.status, exc.message, **exc.extra)
    return json_error(403 if isinstance(exc, accounts.AccountForbidden) else 400, str(exc))


def register_refusals(blueprint: Blueprint) -> None:
    for kind in (AnnotationError, *REFUSALS):
        blueprint.register_error_handler(kind, refusal)


register_refusals(bp)


def write(action: Callable[[], T]) -> T:
    """One unit of work, committed whole; a conflict with a write made meanwhile (a name just taken) is a 409."""
    try:
        with transaction(db.session):
            return action()
    except IntegrityError:
        raise AnnotationError(409, "another request changed the same thing meanwhile; send it again") from None


# ----------------------------------------------------------------- inputs
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "number": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "object": (lambda v: isinstance(v, dict), "a JSON object"),
    "strings": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "an array of strings"),
}


def field(body: dict[str, Any], name: str, kind: str, default: Any = None) -> Any:
    """body[name] when it has the kind asked for (a missing field: `default`); else a 400 naming the field."""
    if name not in body:
        return default
    ok, said = _KINDS[kind]
    if not ok(body[name]):
        raise AnnotationError(400, f"{name} must be {said}")
    return body[name]


def _positive(name: str, default: int, most: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = whole_number(raw, most)
    if not value:  # None, or 0
        raise AnnotationError(400, f"{name} must be a whole number from 1 to {most} (got {raw[:40]!r})")
    return value


def page_window() -> tuple[catalog.Window, int]:
    """The page the query string asks for and its number; a bad value is a 400, a page past the end is empty."""
    per_page = _positive("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    given = request.args.get("cursor")
    if given is None:
        page = _positive("page", 1, 10**8)
        return catalog.Window(per_page, skip=(page - 1) * per_page), page
    if "page" in request.args:
        raise AnnotationError(400, "give page or cursor, not both (a cursor says which page it is)")
    try:
        at = cursor.decode(_list_key(), given)
    except cursor.CursorError as exc:
        raise AnnotationError(400, str(exc)) from None
    return catalog.Window(per_page, after=at.after), at.page


def _list_key() -> str:
    return cursor.list_key(request.endpoint or "", request.view_args or {})


def paged(list_page: Callable[[catalog.Window], catalog.Page]) -> Response:
    """One page of a list, with the total and the next page's URL (null on the last)."""
    window, page = page_window()
    found = list_page(window)
    following = None
    if found.more:
        after = cursor.encode(_list_key(), cursor.Cursor(found.items[-1]["id"], page + 1))
        # Only the path's own values and the paging: a query parameter is never a url_for option (_external,
        # endpoint: a TypeError, a 500) nor a path value (?project_id=9 would point next at another project).
        args = {**(request.view_args or {}), "cursor": after, "per_page": window.limit}
        following = url_for(request.endpoint or "", _external=True, **args)
    return jsonify({"items": found.items, "page": page, "per_page": window.limit, "total": found.total, "next": following})


def project_to_read(project_id: int) -> Project:
    """The project, for an admin or a reviewer who is its member (403 for others, before anything of it is read)."""
    if not may_open_project(project_id):
        abort(403, not_your_project(project_id))
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404, f"no project with id {project_id}")
    return project


# ----------------------------------------------------------------- projects
PROJECT_FIELDS = {"name", "preset", "schema", "annotators_per_article", "majority", "guidelines", "suggestions_enabled"}


def _schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    preset, schema = field(body, "preset", "string"), field(body, "schema", "object")
    if preset is not None and schema is not None:
        raise AnnotationError(400, "give preset or schema, not both")
    return labelschema.preset(preset) if preset is not None else schema


@bp.get("/projects")
@roles_required("reviewer", "admin")
def list_projects():
    only = None if current_user.role == "admin" else catalog.member_project_ids(db.session, current_user.id)
    return paged(lambda window: catalog.project_page(db.session, only, window))


@bp.post("/projects")
@roles_required("admin")
def create_project():
    body = json_body(PROJECT_FIELDS, frozenset({"name"}), limit=SCHEMA_BODY_BYTES)
    name = field(body, "name", "string")
    schema = _schema_of(body)
    per_article = field(body, "annotators_per_article", "integer", 2)
    majority = field(body, "majority", "number", 1.0)
    guidelines = field(body, "guidelines", "string", "")
    suggestions = field(body, "suggestions_enabled", "boolean")
    author = current_user.id

    def create() -> dict[str, Any]:
        project = projects.create_project(db.session, name, schema, per_article, guidelines, author)
        projects.update_project(db.session, project, majority_threshold=majority, suggestions_enabled=suggestions)
        return catalog.project_json(project, 0)

    return write(create), 201


@bp.get("/projects/<int:project_id>")
@roles_required("reviewer", "admin")
def get_project(project_id: int):
    project = project_to_read(project_id)
    return catalog.project_json(project, catalog.article_count(db.session, project.id))


@bp.patch("/projects/<int:project_id>")
@roles_required("admin")
def update_project(project_id: int):
    body = json_body(PROJECT_FIELDS, limit=SCHEMA_BODY_BYTES)
    schema = _schema_of(body)
    name = field(body, "name", "string")
    per_article = field(body, "annotators_per_article", "integer")
    majority = field(body, "majority", "number")
    guidelines = field(body, "guidelines", "string")
    suggestions = field(body, "suggestions_enabled", "boolean")
    author = current_user.id

    def change() -> dict[str, Any]:
        project = db.session.get(Project, project_id)
        if project is None:
            abort(404, f"no project with id {project_id}")
        projects.update_project(db.session, project, name, schema, per_article, majority, suggestions)
        if guidelines is not None:
            projects.set_guidelines(db.session, project, guidelines, author)
        return catalog.project_json(project, catalog.article_count(db.session, project.id))

    return write(change)


RENAME_FIELDS = frozenset({"section", "old", "new"})  # and "group", for a value of an article label group


@bp.post("/projects/<int:project_id>/label-renames")
@roles_required("admin")
def rename_label(project_id: int):
    """Rename a label in use with every stored row that names it (domain/label_rename.py): a PATCH of the schema must
    keep every name in use."""
    body = json_body({*RENAME_FIELDS, "group"}, RENAME_FIELDS)
    section, old, new, group = (field(body, name, "string") for name in ("section", "old", "new", "group"))
    actor = current_user.id

    def rename() -> dict[str, Any]:
        if db.session.get(Project, project_id) is None:
            abort(404, f"no project with id {project_id}")
        done = label_rename.rename_label(db.session, project_id, section, old, new, actor, "api", group)
        return {"section": done.section, "old": done.old, "new": done.new, "rows": done.rows, "notes": list(done.notes), **({"group": done.group} if done.group else {})}

    return write(rename)


# ----------------------------------------------------------------- users and tokens
@bp.get("/users")
@roles_required("admin")
def list_users():
    return paged(lambda window: catalog.user_page(db.session, window))


@bp.post("/users")
@roles_required("admin")
def create_user():
    body = json_body({"name", "role", "password", "active"}, frozenset({"name", "role"}))
    name, role = field(body, "name", "string"), field(body, "role", "string")
    password = field(body, "password", "string")
    active = field(body, "active", "boolean", True)
    accounts.check_name(name)
    accounts.check_role(role)
    hashed = accounts.hash_password(password) if password is not None else None  # slow on purpose: outside the write
    user = write(lambda: catalog.user_json(accounts.create_user(db.session, name, role, hashed, active, account_log.api(current_user.id))))
    return user, 201


@bp.post("/users/<name>/tokens")
@roles_required("admin")
def issue_token(name: str):
    # no body: a token that never expires; a chunked body has no Content-Length, and is a body all the same
    streamed = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    body = json_body({"expires_days"}) if request.content_length or streamed else {}
    days = field(body, "expires_days", "integer")
    if accounts.find_user(db.session, name) is None:
        abort(404, f"no user named {name!r}")

    def issue() -> dict[str, Any]:
        user = accounts.get_user(db.session, name)
        return {"user": user.name, "token": accounts.issue_token(db.session, user, days, issued_by=current_user.id, actor=account_log.api(current_user.id)), "expires_days": days}

    return write(issue), 201
