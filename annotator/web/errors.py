"""What a refused or failed request gets back: a JSON error for scripts and fetch(), else a page that says what to do.

One place decides between the two (`wants_json`), so a status means the same
whatever the route; the handlers below turn every error Flask, Flask-WTF and the
database raise into one of them.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from annotator.db import db
from annotator.db.failures import reason
from annotator.db.transactions import DISK_FULL_MESSAGE, disk_full, lock_conflict, log_disk_full, read_only, unreachable

log = logging.getLogger(__name__)
BUSY_MESSAGE = "The database was busy with another change to the same data, and nothing was saved: send it again."


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.is_json or request.accept_mimetypes.best == "application/json"


def json_error(status: int, message: str, **extra: object) -> Response:
    response = jsonify({"error": message, "status": status, **extra})
    response.status_code = status
    return response


# What an error page says, per status: a heading, and what the person can do about it.
ERROR_TEXT = {
    400: ("The request could not be used", "Go back, check what you entered and send it again."),
    403: ("You may not open this page", "If you need it, ask an admin to change your role or to assign the work to you."),
    404: ("There is no page at this address", "The link may be old, or what it pointed to was removed."),
    405: ("That cannot be done at this address", "Go back and use the page's own buttons and forms."),
    409: ("Someone else changed this first", "Go back, reload the page to see the current state, and try again."),
    413: ("The upload is too large", "Split the file into smaller ones, or ask an admin to raise the limit."),
    429: ("Too many attempts", "Wait a little and try again."),
    503: ("The database was busy", "Go back and send it again."),
    "unreachable": ("The database cannot be reached", "Nothing was changed. Try again in a minute; if it lasts, tell an admin."),
    "read_only": ("The database takes no changes at the moment", "Nothing was saved. Try again later; if it lasts, tell an admin."),
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


def _links(signed_in: bool) -> list[tuple[str, str]]:
    """Where to go from an error page: back, and home (or the login page for a visitor)."""
    links = [("Go back", back)] if (back := _same_site_referrer()) else []
    if signed_in:
        links.append(("Your projects", url_for("home.home")))
    else:
        links += [("Log in", url_for("auth.login")), ("Go to the start page", url_for("home.home"))]
    return links


def _signed_in() -> bool:
    """Whether a user is logged in, as far as can be told: loading them may be what failed (the database is down)."""
    try:
        return bool(getattr(current_user, "is_authenticated", False))
    except DBAPIError:
        return False


def error_page(exc: HTTPException, kind: str | None = None) -> tuple[str, int]:
    """An error as a page in the app's frame: what happened and what to do next (log in, go back, go home).

    A 500 never shows the exception (the log has it). When even the frame cannot be drawn (say the
    database is gone), a plain page still says the same.
    """
    code = exc.code or 500
    heading, advice = ERROR_TEXT.get(kind or code, (exc.name, "Go back, or start again from the start page."))
    # the message the code gave to abort(), unless it is werkzeug's stock text for the status
    detail = said_why(exc) if code != 500 else None
    signed_in = _signed_in()
    who = f"You are logged in as {current_user.name} ({current_user.role})." if signed_in and code == 403 else None
    links = _links(signed_in)
    if code == 500:
        try:
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


def _csrf_error(exc: CSRFError):
    message = f"CSRF check failed: {exc.description} Reload the page and try again."
    if wants_json():
        return json_error(400, message)
    return error_page(BadRequest(message))


def said_why(exc: HTTPException) -> str | None:
    """The message the app gave the error (which limit a 413 met, say), or None for werkzeug's stock text."""
    return exc.description if exc.description and exc.description != type(exc).description else None


def _too_large(exc: RequestEntityTooLarge):
    limit = request.max_content_length or 0
    size = f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    message = said_why(exc) or f"The request body is larger than the limit of {size} (ANNOTATOR_MAX_UPLOAD_MB)."
    if wants_json():
        return json_error(413, message)
    return error_page(RequestEntityTooLarge(message))


def _database_error(exc: DBAPIError):
    """A full disk is a 507 that says so (and an error in the log); a transaction another one was in the way of (a
    PostgreSQL deadlock, which ends one of two writers that lock rows in opposite orders; a busy SQLite) a 503 to send
    again, since nothing was written; so is a database server that cannot be reached and a database that takes no
    writes (a standby, a read-only file), each saying so (and a warning in the log): a 500 told the person it was
    something on our side they could not wait out. Any other database failure stays a 500."""
    kind = "unreachable" if unreachable(exc) else "read_only" if read_only(exc) else None
    if kind is not None:
        try:
            db.session.rollback()
        except DBAPIError:  # the connection it would roll back is the one that failed
            pass
        log.warning("%s %s answered 503, the database %s: %s", request.method, request.path,
                    "cannot be reached" if kind == "unreachable" else "takes no writes", reason(exc)[:200])
        heading, advice = ERROR_TEXT[kind]
        if wants_json():
            response = json_error(503, f"{heading}. {advice}")
        else:
            error = HTTPException()
            error.code = 503
            response = make_response(error_page(error, kind))
        response.headers["Retry-After"] = "30"
        return response
    if lock_conflict(exc):
        db.session.rollback()
        log.warning("%s %s ended by a lock conflict, answered 503: %s", request.method, request.path,
                    str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200] if str(getattr(exc, "orig", exc)).strip() else type(exc).__name__)
        if wants_json():
            response = json_error(503, BUSY_MESSAGE)
        else:
            error = HTTPException(BUSY_MESSAGE)
            error.code = 503
            response = make_response(error_page(error))
        response.headers["Retry-After"] = "1"
        return response
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


def _http_error(exc: HTTPException):
    code = exc.code or 500
    if wants_json():
        return json_error(code, exc.description or exc.name if code != 500 else "internal server error: try again; if it persists, tell an admin")
    return error_page(exc)


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(HTTPException, _http_error)
