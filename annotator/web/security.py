"""Who may open what: the role checks every route goes through, and the request checks wired in order.

Every view is either `public` or decorated with `roles_required` / `login_required`
(tests/test_route_matrix.py walks the routes to make sure). `init_app` installs the
checks every request passes before any view: the host (hosts.py), input (inputs.py), then who is asking
(csrf.py), then the JSON bodies of pages; and after it, the security headers.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable, TypeVar

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

from annotator.db import db
from annotator.domain import projects
from annotator.web import csrf, errors, headers, hosts, inputs
from annotator.web.errors import json_error, wants_json

F = TypeVar("F", bound=Callable)


def roles_required(*roles: str) -> Callable[[F], F]:
    """Anonymous: to the login page (401 for JSON); logged in with another role: 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user._get_current_object()  # one look-up through Flask-Login's proxy, not two
            if not user.is_authenticated:
                if wants_json():
                    return json_error(401, "log in or send 'Authorization: Bearer <token>'")
                return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
            if roles and user.role not in roles:
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
    return projects.can_open(db.session, current_user, project_id)


def require_project(project_id: int) -> None:
    """403 unless the current user may open this project's review pages, segmentation and exports."""
    if not may_open_project(project_id):
        abort(403, not_your_project(project_id))


def public(view: F) -> F:
    """Mark a view as reachable without logging in (login page, static, health)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def init_app(app: Flask) -> None:
    """The checks in the order they run; the order matters (see each)."""
    app.json = inputs.StrictJSONProvider(app)
    app.request_class = inputs.BoundedRequest  # a body over the limit is a 413 also when sent without a length
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # csrf.token_or_csrf decides when to check
    app.before_request(hosts.refuse_untrusted_host)  # first: nothing of the app runs for a host it is not served under
    app.before_request(inputs.refuse_unstorable_input)  # first: it reads a form body raw, before anything parses it
    csrf.csrf.init_app(app)
    app.before_request(csrf.token_or_csrf)
    app.before_request(inputs.json_to_pages_is_form_like)
    errors.init_app(app)
    app.after_request(headers.add_security_headers)
