"""Logging in and out (session cookie), and API tokens for scripts."""
from __future__ import annotations

from datetime import datetime
from typing import Callable, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Request, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_login.config import COOKIE_NAME
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from annotator.db import db
from annotator.db.models import User, utcnow
from annotator.db.transactions import transaction
from annotator.domain import accounts, throttle
from annotator.web.csrf import bearer_token
from annotator.web.errors import json_error, wants_json
from annotator.web.security import public

bp = Blueprint("auth", __name__)
T = TypeVar("T")


class _LoginManager(LoginManager):
    """Flask-Login's, minus a remember-me cookie cleared that the browser never had.

    With session protection "strong", a session holding anything but a user (the login form's CSRF token) counts
    as tampered with, so every anonymous GET /login answered with a Set-Cookie deleting `remember_token`. A request
    that carried the cookie still has it cleared, and logout still ends it on the server (the session generation).
    """

    def _clear_cookie(self, response: Response) -> None:
        if current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies:
            super()._clear_cookie(response)


login_manager = _LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


class LoginForm(FlaskForm):
    name = StringField("User name", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD)])
    remember = BooleanField("Keep me logged in")


@login_manager.user_loader
def _load_user(cookie_id: str) -> User | None:
    """The user a session or remember-me cookie names ("<id>:<generation>:<login time>", User.get_id),
    if that login has not been ended since (the user's generation moved on) nor outlived the
    remember-me lifetime. An id without a generation is from before sessions could be ended: refused."""
    try:
        user_id, generation, started = (int(part) for part in cookie_id.split(":"))
    except ValueError:
        return None
    if utcnow().timestamp() - started > current_app.config["REMEMBER_DAYS"] * 86400:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_generation != generation:
        return None
    user.session_started = started  # get_id() gives the same id back (Flask-Login rewrites the session with it)
    return user


@login_manager.request_loader
def _load_user_from_token(_request) -> User | None:  # noqa: ANN001
    token = bearer_token()
    if token is None:
        return None
    if "api_token_user" in g:  # already looked up by csrf.token_or_csrf on this request
        return g.api_token_user
    try:
        return accounts.user_for_token(db.session, token)
    except accounts.TokenExpired:
        return None


@login_manager.unauthorized_handler
def _unauthorized():
    if wants_json():
        return json_error(401, "log in or send 'Authorization: Bearer <token>'")
    return redirect(url_for("auth.login", next=request.path))


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never redirect a user off the site after login.

    Control characters (CR/LF would split the Location header) and backslashes
    (browsers read "/\\host" as "//host") are refused outright.
    """
    if not target or any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _limits() -> throttle.Limits:
    cfg = current_app.config
    return throttle.Limits(
        free_failures=cfg["LOGIN_MAX_FAILURES"],
        address_ceiling=cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        longest_delay=cfg["LOGIN_LOCKOUT_SECONDS"],
        window=cfg["LOGIN_WINDOW_SECONDS"],
    )


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    if form.validate_on_submit():
        return _log_in(form)
    return render_template("login.html", form=form), 400 if request.method == "POST" else 200


def throttled_check(name: str, now: datetime, check: Callable[[], T | None]) -> tuple[int, T | None]:
    """A password check under the login throttle (domain/throttle.py), for the login and for a user changing their
    own password (a stolen session guesses no faster than a login): (seconds to wait, None) when this name from
    this address must wait, the password not even looked at; else (0, what `check` found, None when it failed).

    The try is counted as a failure first, in a short write, so that tries made at the same moment count against
    each other; a success forgives it. `check` (the slow hash) runs with no lock held: SQLite has one writer, and
    everyone's saves would wait for it.
    """
    address = request.remote_addr or "?"
    pair, address_key = throttle.pair_key(name, address), throttle.address_key(address)
    with transaction(db.session):
        wait = throttle.count_attempt(db.session, pair, address_key, _limits(), now)
    if wait:
        return wait, None
    found = check()
    db.session.rollback()  # end the read (it wrote nothing; the objects stay usable)
    if found is not None:
        with transaction(db.session):
            throttle.forgive(db.session, pair, address_key)
    return 0, found


def too_many_failures(wait: int, what: str) -> str:
    """What a throttled try is told (`what`: "logins", "password changes")."""
    return f"Too many failed {what}. Try again in {wait} {'second' if wait == 1 else 'seconds'}."


def _log_in(form: LoginForm):
    """A login form that validated: throttled, then the password, then the session."""
    name, now = form.name.data.strip(), throttle.utcnow()
    wait, user = throttled_check(name, now, lambda: accounts.authenticate(db.session, name, form.password.data))
    if wait:  # this name from this address waits; the password is not even looked at
        flash(too_many_failures(wait, "logins"), "error")
        return render_template("login.html", form=form), 429
    if user is None:
        flash("Wrong user name or password.", "error")
        return render_template("login.html", form=form), 401
    if not user.active:
        flash("This account has been deactivated. Ask an admin.", "error")
        return render_template("login.html", form=form), 403
    if accounts.outdated_hash(user):  # its check takes another time than an unknown name's: the current way from now
        old, new = user.password_hash, accounts.rehash(form.password.data)  # the slow hash, with no lock held
        with transaction(db.session):
            accounts.store_rehash(db.session, user.id, old, new)
    user = db.session.get(User, user.id)
    user.session_started = int(now.timestamp())
    login_user(user, remember=form.remember.data)
    return redirect(_safe_next(request.args.get("next")) or url_for("home.home"))


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Ends this session and its remember-me cookie for good, copies included: a signed cookie cannot be
    recalled, so the user's session generation moves on, which ends their other sessions too."""
    if current_user.is_authenticated and bearer_token() is None:
        with transaction(db.session):
            user = db.session.get(User, current_user.id)
            if user is not None:
                accounts.end_sessions(user)
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, minus the work a request without a session cookie does not need.

    Scripts send a Bearer token and no cookie; Flask still built an itsdangerous serializer (keys, signer,
    salt) to read the cookie that was not there, and looked up seven cookie settings to write nothing back:
    ~6 us of every API request (issue 17). The answers are Flask's: an empty session in, nothing out
    (`Vary: Cookie` when the session was looked at); a request with a cookie is read and checked as before.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # No Cookie header at all (a script's request): no session cookie, without parsing the cookies (~40 Python calls)
        if app.secret_key and ("HTTP_COOKIE" not in request.environ or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:  # empty and untouched: Flask sets no cookie and deletes none
            if session.accessed:
                if response.headers.get("Vary") is None:  # Werkzeug's `vary.add` ends in the same header, in ~40 Python calls
                    response.headers.add("Vary", "Cookie")
                else:
                    response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    login_manager.init_app(app)
    app.register_blueprint(bp)
