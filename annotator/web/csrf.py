"""Who sends a request that changes something: an API client with a Bearer token, or a browser that proves it with a CSRF token.

CSRF is checked on every state-changing request made with a browser session.
A request that carries `Authorization: Bearer <token>` is an API client: it is
exempt from CSRF only when the token is valid (an invalid token is a 401, not
a fall-back to the session).
"""
from __future__ import annotations

from flask import current_app, g, request
from flask_wtf.csrf import CSRFProtect

from annotator.db import db
from annotator.domain import accounts
from annotator.web.errors import json_error

csrf = CSRFProtect()

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bearer_token() -> str | None:
    # The header read from the WSGI environ, where request.headers (EnvironHeaders) reads it too, in ~6 Python calls more
    header = request.environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def token_or_csrf():  # noqa: ANN201  (None, or the 401 response)
    """A request that carries a Bearer token is that token's user, read or write, whatever cookies come
    with it: a script that keeps cookies (requests.Session) has a session cookie after loading one
    page, and that cookie is neither read nor trusted. A bad token is a 401 even beside a valid
    session cookie (else a script with a revoked token would silently act as whoever is logged in).
    Writes with a valid token need no CSRF token (a page cannot make a browser send the header);
    other writes do."""
    unsafe = request.method in UNSAFE_METHODS
    token = bearer_token()
    if token is not None:
        try:
            user = g.api_token_user = accounts.user_for_token(db.session(), token)  # auth's request loader reuses it
        except accounts.TokenExpired as exc:
            return json_error(401, str(exc))
        if user is None:
            return json_error(401, "invalid or revoked API token")
        # The user of this request, set before Flask-Login would look at the session cookie.
        g._login_user = user
        if unsafe:
            g.csrf_valid = True  # as CSRFProtect marks a checked request: the forms' own CSRF field then agrees
        return None
    if unsafe and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    return None
