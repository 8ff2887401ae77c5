"""Logging in and out (session cookie), and API tokens for scripts."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import LoginManager, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from . import accounts, throttle
from .db import begin_write, db
from .models import User
from .security import bearer_token, json_error, public, wants_json

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


class LoginForm(FlaskForm):
    name = StringField("User name", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me logged in")


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None


@login_manager.request_loader
def _load_user_from_token(_request) -> User | None:  # noqa: ANN001
    token = bearer_token()
    if token is None:
        return None
    if "api_token_user" in g:  # already looked up by security's CSRF check on this request
        return g.api_token_user
    return accounts.user_for_token(db.session, token)


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


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        name = form.name.data.strip()
        keys = [f"user:{name.lower()}", f"ip:{request.remote_addr or '?'}"]
        cfg = current_app.config
        begin_write(db.session)
        wait = throttle.locked_for(db.session, keys)
        if wait:
            db.session.rollback()
            minutes = (wait + 59) // 60
            flash(f"Too many failed logins. Try again in {minutes} minute{'s' if minutes != 1 else ''}.", "error")
            return render_template("login.html", form=form), 429
        user = accounts.authenticate(db.session, name, form.password.data)
        if user is not None:
            if not user.active:
                db.session.rollback()
                flash("This account has been deactivated. Ask an admin.", "error")
                return render_template("login.html", form=form), 403
            throttle.clear(db.session, keys[:1])
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or url_for("main.home"))
        # A user name locks after a few failures; an address only after many, since a newsroom or a
        # class of annotators often shares one address (NAT) and one person's typos must not lock out the rest.
        limits = {keys[0]: cfg["LOGIN_MAX_FAILURES"], keys[1]: cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]}
        throttle.record_failure(db.session, limits, cfg["LOGIN_LOCKOUT_SECONDS"])
        db.session.commit()
        flash("Wrong user name or password.", "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@public
def logout():
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.register_blueprint(bp)
