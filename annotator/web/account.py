"""Your account: who changed it and when, shown to the user themself (an admin whose password another admin set sees
it here), and a change of one's own password, for every role."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from flask_login.config import COOKIE_NAME
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from annotator.db import db
from annotator.db.models import User
from annotator.db.transactions import transaction
from annotator.domain import account_log, accounts, throttle
from annotator.web.admin.forms import PasswordForm
from annotator.web.auth import throttled_check, too_many_failures
from annotator.web.csrf import bearer_token
from annotator.web.security import login_required

bp = Blueprint("account", __name__)


class OwnPasswordForm(PasswordForm):
    """The admin's password form (the same rules for the new one) plus the current password and the new one again,
    and, shown when the user has API tokens, whether to revoke them too (checked at first: a password one changes
    because it may have leaked may have been used to get a token)."""

    current = PasswordField("Current password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD)])
    confirm = PasswordField("New password again", validators=[DataRequired(), EqualTo("password", message="The two new passwords differ.")])
    revoke_tokens = BooleanField("Also revoke my API tokens", default=True)


def _revoke_tokens(form: OwnPasswordForm) -> bool:
    """The box's answer where the page offered it; True where it did not (the user had no token when the page opened,
    and may have one now; a script posting the form): a token is kept only by unchecking the box."""
    return bool(form.revoke_tokens.data) if request.form.get("revoke_offered") == "1" else True


@bp.route("/account")
@login_required
def account():
    return _page(OwnPasswordForm(formdata=None))


def _page(form: OwnPasswordForm, status: int = 200):
    return render_template(
        "account.html",
        history=account_log.history(db.session, current_user.id),
        password=account_log.last_password_change(db.session, current_user.id),
        form=form,
        min_password=accounts.MIN_PASSWORD,
        tokens=accounts.active_token_count(db.session, current_user.id),
    ), status


@bp.route("/account/password", methods=["GET"])
@login_required
def password_form():
    """The address a refused change leaves in the address bar: opened again, it leads to the form (not a 405)."""
    return redirect(url_for("account.account"))


@bp.route("/account/password", methods=["POST"])
@login_required
def password():
    """The user's own new password: the current one first (throttled as logins are, by the same counters), then the
    new one set as an admin sets it (every session of the user ends, audited as by themself; their API tokens are
    revoked if the box is checked), and this session goes on under the new session generation."""
    form = OwnPasswordForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    user = current_user._get_current_object()
    started = user.session_started
    wait, proved = throttled_check(user.name, throttle.utcnow(), lambda: user if user.check_password(form.current.data) else None)
    if wait:
        form.current.errors = [too_many_failures(wait, "password changes")]
        return _page(form, 429)
    if proved is None:
        form.current.errors = ["This is not your current password."]
        return _page(form, 400)
    hashed = accounts.hash_password(form.password.data)  # before the write lock (the form checked its length)
    with transaction(db.session):
        revoked = accounts.set_password(db.session, db.session.get(User, user.id), hashed, account_log.web(user.id),
                                        revoke_tokens=_revoke_tokens(form))
    if bearer_token() is None:  # a browser session: it goes on, under the new generation (a remember-me cookie too)
        user = db.session.get(User, user.id)
        user.session_started = started
        login_user(user, remember=current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies)
    tokens = f" Your {accounts.tokens_were_revoked(revoked)}." if revoked else ""
    flash(f"Your password is changed. Your other sessions (other browsers and devices) have ended; this one goes on.{tokens}", "success")
    return redirect(url_for("account.account"))
