"""CSRF, security headers, and the role checks every route goes through.

CSRF is checked on every state-changing request made with a browser session.
A request that carries `Authorization: Bearer <token>` is an API client: it is
exempt from CSRF only when the token is valid (an invalid token is a 401, not
a fall-back to the session).
"""
from __future__ import annotations

from functools import wraps
from typing import Callable, TypeVar
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, abort, g, jsonify, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from annotator.stats import textcheck

csrf = CSRFProtect()

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# On every response unless a view set its own; HSTS only behind HTTPS.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")

F = TypeVar("F", bound=Callable)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.is_json or request.accept_mimetypes.best == "application/json"


def json_error(status: int, message: str, **extra: object) -> Response:
    response = jsonify({"error": message, "status": status, **extra})
    response.status_code = status
    return response


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


# The highest page number a list page accepts; beyond its last page a list shows its last page.
MAX_PAGE = 10**6


def page_arg(last: int | None = None, name: str = "page") -> int:
    """The `?page=` of a list page: 1 when absent or not a number, clamped to 1..last (10**30 is the last page, not a 500)."""
    raw = request.args.get(name, "")
    if not (raw.isascii() and raw.isdigit()):
        page = 1
    else:
        page = int(raw) if len(raw) <= 7 else MAX_PAGE  # int() of thousands of digits would raise
    return max(1, min(page, MAX_PAGE if last is None else last))


def _form_encoded_problem(raw: bytes, what: str) -> str | None:
    """Why an application/x-www-form-urlencoded string (query string or body) holds text we refuse, or None.

    Werkzeug leaves bytes that are not UTF-8 percent-encoded in the value ("%E9" stays "%E9") and lets NUL
    through; both are refused here, naming the field.
    """
    for pair in raw.split(b"&"):
        if not pair:
            continue
        key, _, value = pair.partition(b"=")
        try:
            name = unquote_to_bytes(key.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return f"a {what} name is not valid UTF-8"
        shown = textcheck.shown(name)
        try:
            text = unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return f"{what} {shown} is not valid UTF-8 text"
        reason = textcheck.problem(name) or textcheck.problem(text)
        if reason:
            return f"{what} {shown} {reason}"
    return None


def _multidict_problem(values, what: str) -> str | None:  # noqa: ANN001  (a werkzeug MultiDict)
    for name, value in values.items(multi=True):
        reason = textcheck.problem(name) or (textcheck.problem(value) if isinstance(value, str) else None)
        if reason:
            return f"{what} {textcheck.shown(name)} {reason}"
    return None


def input_problem() -> tuple[int, str] | None:
    """(status, reason) when the request carries text no database stores faithfully or an id no column holds.

    URL parts: an integer beyond any stored id, or text with NUL, is a 404 (nothing has it). The query
    string and form fields: bytes that are not UTF-8, NUL, lone surrogates are a 400 naming the field.
    JSON bodies are checked where they are parsed (api.json_body, and for pages below).
    """
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 <= value <= textcheck.MAX_DB_INT:
            return 404, f"There is no {name.replace('_id', '').replace('_', ' ')} {'with so large a number' if value > 0 else value}."
        if isinstance(value, str) and textcheck.problem(value):
            return 404, f"There is no {name.replace('_', ' ')} like that (it {textcheck.problem(value)})."
    reason = _form_encoded_problem(request.query_string, "query parameter")
    if reason:
        return 400, reason
    if request.method in UNSAFE_METHODS and request.blueprint != "api":
        mimetype = request.mimetype
        if mimetype == "application/x-www-form-urlencoded":
            length = request.content_length
            if length is not None and length <= (request.max_form_memory_size or length) and not (
                request.max_content_length is not None and length > request.max_content_length
            ):
                reason = _form_encoded_problem(request.get_data(cache=True), "form field")
            else:
                reason = None  # too large or of unknown length: the form parser answers (413) or reads it below
            reason = reason or _multidict_problem(request.form, "form field")
        elif mimetype == "multipart/form-data":
            reason = _multidict_problem(request.form, "form field")
            if reason is None:
                for field, upload in request.files.items(multi=True):
                    bad = textcheck.problem(upload.filename or "")
                    if bad:
                        reason = f"the file name sent in {textcheck.shown(field)} {bad}"
                        break
        if reason:
            return 400, reason
    return None


def roles_required(*roles: str) -> Callable[[F], F]:
    """Anonymous: to the login page (401 for JSON); logged in with another role: 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if wants_json():
                    return json_error(401, "log in or send 'Authorization: Bearer <token>'")
                return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]  (read by the route x role test)
        return wrapped  # type: ignore[return-value]

    return decorator


login_required = roles_required()


def not_your_project(project_id: int) -> str:
    return (f"Project {project_id} is not one of your projects. An admin can add you to it "
            "(the project's Members page, or `annotator projects members`).")


def may_open_project(project_id: int) -> bool:
    """Admins open every project; reviewers only those they are members of (checked before anything of it is read)."""
    from annotator.db import db
    from annotator.domain import projects

    return projects.can_open(db.session, current_user, project_id)


def require_project(project_id: int) -> None:
    """403 unless the current user may open this project's review pages, segmentation and exports."""
    if not may_open_project(project_id):
        abort(403, not_your_project(project_id))


def public(view: F) -> F:
    """Mark a view as reachable without logging in (login page, static, health)."""
    view.public = True  # type: ignore[attr-defined]
    return view


class _JSONProvider(DefaultJSONProvider):
    """A JSON body nested too deeply for the parser is a bad request (400), not a RecursionError (500).

    Every form (Flask-WTF reads JSON bodies too) and request.get_json() go through it.
    """

    def loads(self, s: str | bytes, **kwargs):  # noqa: ANN201
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


# What an error page says, per status: a heading, and what the person can do about it.
ERROR_TEXT = {
    400: ("The request could not be used", "Go back, check what you entered and send it again."),
    403: ("You may not open this page", "If you need it, ask an admin to change your role or to assign the work to you."),
    404: ("There is no page at this address", "The link may be old, or what it pointed to was removed."),
    405: ("That cannot be done at this address", "Go back and use the page's own buttons and forms."),
    409: ("Someone else changed this first", "Go back, reload the page to see the current state, and try again."),
    413: ("The upload is too large", "Split the file into smaller ones, or ask an admin to raise the limit."),
    429: ("Too many attempts", "Wait a little and try again."),
    507: ("The database's disk is full", "Nothing was saved. Tell an admin: once disk space is freed, send it again."),
    500: ("Something went wrong on our side",
          "It is not something you did, and what was saved before is kept. Try again in a moment; "
          "if it keeps happening, tell an admin what you were doing and when."),
}


def _same_site_referrer() -> str | None:
    """The page the person came from, when it is on this site and not this very page (for "Go back")."""
    referrer = request.referrer or ""
    if referrer.startswith(request.host_url) and referrer != request.url:
        return referrer
    return None


def error_page(exc: HTTPException) -> tuple[str, int]:
    """An error as a page in the app's frame: what happened and what to do next (log in, go back, go home).

    A 500 never shows the exception (the log has it). When even the frame cannot be drawn (say the
    database is gone), a plain page still says the same.
    """
    from flask import render_template
    from markupsafe import escape

    code = exc.code or 500
    heading, advice = ERROR_TEXT.get(code, (exc.name, "Go back, or start again from the start page."))
    # the message the code gave to abort(), unless it is werkzeug's stock text for the status
    detail = exc.description if code != 500 and exc.description and exc.description != type(exc).description else None
    signed_in = bool(getattr(current_user, "is_authenticated", False))
    who = f"You are logged in as {current_user.name} ({current_user.role})." if signed_in and code == 403 else None
    links = [("Go back", back)] if (back := _same_site_referrer()) else []
    if signed_in:
        links.append(("Your projects", url_for("main.home")))
    else:
        links += [("Log in", url_for("auth.login")), ("Go to the start page", url_for("main.home"))]
    if code == 500:
        try:
            from annotator.db import db

            db.session.rollback()  # a failed transaction must not break the page that reports it
        except Exception:  # noqa: BLE001  (the page is drawn all the same)
            pass
    page = {"code": code, "heading": heading, "detail": detail, "who": who, "advice": advice, "links": links,
            "offer_logout": signed_in and code == 403}
    try:
        return render_template("error.html", page=page), code
    except Exception:  # noqa: BLE001
        body = " ".join(escape(x) for x in (detail, who, advice) if x)
        return f"<!doctype html><title>{code} {escape(heading)}</title><h1>{escape(heading)}</h1><p>{body}</p><p><a href=\"/\">Start page</a></p>", code


def init_app(app: Flask) -> None:
    app.json = _JSONProvider(app)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)

    @app.before_request
    def _refuse_unstorable_input():
        """First of all checks (it reads a form body raw, before anything parses it): text that is not valid
        Unicode or holds NUL, and ids beyond any column, never reach a view (see input_problem)."""
        found = input_problem()
        if found is None:
            return None
        status, reason = found
        if wants_json():
            return json_error(status, reason)
        abort(status, reason)

    csrf.init_app(app)

    @app.before_request
    def _token_or_csrf():
        """A request that carries a Bearer token is that token's user, read or write, whatever cookies come
        with it: a script that keeps cookies (requests.Session) has a session cookie after loading one
        page, and that cookie is neither read nor trusted. A bad token is a 401 even beside a valid
        session cookie (else a script with a revoked token would silently act as whoever is logged in).
        Writes with a valid token need no CSRF token (a page cannot make a browser send the header);
        other writes do."""
        unsafe = request.method in UNSAFE_METHODS
        token = bearer_token()
        if token is not None:
            from annotator.db import db
            from annotator.domain import accounts

            try:
                user = g.api_token_user = accounts.user_for_token(db.session, token)  # auth's request loader reuses it
            except accounts.TokenExpired as exc:
                return json_error(401, str(exc))
            if user is None:
                return json_error(401, "invalid or revoked API token")
            # The user of this request, set before Flask-Login would look at the session cookie.
            g._login_user = user
            if unsafe:
                g.csrf_valid = True  # as CSRFProtect marks a checked request: the forms' own CSRF field then agrees
            return None
        if unsafe and app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        return None

    @app.before_request
    def _json_to_pages_is_form_like():
        """Flask-WTF reads a JSON body as form data, and WTForms fields expect strings (all a browser sends):
        a JSON body for a page (not the API, which checks its own) must be an object of strings or lists of
        strings, else a 400 here instead of a crash deep inside a form (e.g. {"name": 5} to /login)."""
        if request.method not in UNSAFE_METHODS or not request.is_json or request.blueprint == "api":
            return None
        body = request.get_json(silent=True)
        if body is None:
            return None  # no body, or not JSON at all: the form sees no data
        reason = textcheck.find_problem(body)
        if reason:
            return json_error(400, f"request body: {reason}")
        plain = isinstance(body, dict) and all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in body.values()
        )
        return None if plain else json_error(400, "a JSON body sent to a page must be an object of strings, like a form")

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        message = f"CSRF check failed: {exc.description} Reload the page and try again."
        if wants_json():
            return json_error(400, message)
        from werkzeug.exceptions import BadRequest

        return error_page(BadRequest(message))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):
        limit = request.max_content_length or 0
        size = f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
        message = f"The request body is larger than the limit of {size} (ANNOTATOR_MAX_UPLOAD_MB)."
        if wants_json():
            return json_error(413, message)
        return error_page(RequestEntityTooLarge(message))

    @app.errorhandler(OperationalError)
    def _database_error(exc: OperationalError):
        """A full disk is a 507 that says so (and an error in the log); any other database failure stays a 500."""
        from annotator.db import db
        from annotator.db.transactions import DISK_FULL_MESSAGE, disk_full, log_disk_full

        if not disk_full(exc):
            raise exc
        db.session.rollback()
        log_disk_full(exc, f"answering {request.method} {request.path}")
        message = DISK_FULL_MESSAGE[0].upper() + DISK_FULL_MESSAGE[1:] + "."
        if wants_json():
            return json_error(507, message)
        error = HTTPException(message)
        error.code = 507
        return error_page(error)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        if wants_json():
            return json_error(code, exc.description or exc.name if code != 500 else "internal server error: try again; if it persists, tell an admin")
        return error_page(exc)

    @app.after_request
    def _headers(response: Response) -> Response:
        # One look at the headers already set, not a scan per header (setdefault): this runs on every save.
        headers = response.headers
        present = {name.lower() for name in headers.keys()}
        wanted = SECURITY_HEADERS + (HSTS,) if app.config.get("SESSION_COOKIE_SECURE") else SECURITY_HEADERS
        for name, value in wanted:
            if name.lower() not in present:
                headers.add(name, value)
        if "cache-control" not in present and current_user and getattr(current_user, "is_authenticated", False):
            headers.add("Cache-Control", "no-store")
        return response
