"""The security headers every response carries: a strict Content-Security-Policy, no framing, no sniffing.

Pages load only the app's own scripts and styles (no inline ones), so the policy
can forbid everything else. A logged-in user's pages are not stored by caches.
"""
from __future__ import annotations

from flask import Response, current_app
from flask_login import current_user
from sqlalchemy.exc import DBAPIError

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


def _maybe_logged_in() -> bool:
    """Whether the answer may be a logged-in user's: True when that cannot be told (loading the user from the database
    is what failed, and the answer is that failure's page)."""
    try:
        return bool(getattr(current_user._get_current_object(), "is_authenticated", False))
    except DBAPIError:
        return True


def add_security_headers(response: Response) -> Response:
    """The headers a view did not set itself (an after-request hook)."""
    # One look at the headers already set, not a scan per header (setdefault): this runs on every save.
    headers = response.headers
    present = {name.lower() for name, _ in headers}  # Headers.keys() is two generators deep: a call per header more
    wanted = SECURITY_HEADERS + (HSTS,) if current_app.config.get("SESSION_COOKIE_SECURE") else SECURITY_HEADERS
    for name, value in wanted:
        if name.lower() not in present:
            headers.add(name, value)
    if "cache-control" not in present and _maybe_logged_in():
        headers.add("Cache-Control", "no-store")
    return response
