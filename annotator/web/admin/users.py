"""Users: create, change role, reset password, deactivate / reactivate, API tokens (shown once)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from annotator.db import db
from annotator.db.models import ApiToken, User, utcnow
from annotator.domain import account_log, accounts, assignment
from annotator.web.admin import bp, form_status, write
from annotator.web.admin.forms import ActionForm, PasswordForm, RoleForm, TokenForm, UserCreateForm
from annotator.web.security import roles_required


def user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, f"There is no user {user_id}.")
    return user


def _actor() -> account_log.Actor:
    """The admin making a change on these pages, as the account trail records them."""
    return account_log.web(current_user.id)


def _list(form: UserCreateForm, status: int):
    return render_template(
        "admin/users.html",
        users=accounts.users(db.session),
        tokens=accounts.unrevoked_token_counts(db.session),
        assigned=assignment.assigned_counts(db.session),
        form=form,
    ), status


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users():
    form = UserCreateForm()
    if form.validate_on_submit():
        password = accounts.hash_password(form.password.data)  # before the write lock (the form checked its length)
        user, error = write(lambda: accounts.create_user(db.session, form.name.data.strip(), form.role.data, password, actor=_actor()), accounts.AccountError)
        if user is not None:
            flash(f"Created {user.role} {user.name}.", "success")
            return redirect(url_for("admin.users"))
        form.name.errors = [*form.name.errors, error]
    return _list(form, form_status())


@bp.route("/users/<int:user_id>")
@roles_required("admin")
def user(user_id: int):
    return _detail(user_or_404(user_id))


def _detail(
    user: User,
    status: int = 200,
    password_form: PasswordForm | None = None,
    role_form: RoleForm | None = None,
    token_form: TokenForm | None = None,
):
    tokens = accounts.tokens_of(db.session, user.id)
    return (
        render_template(
            "admin/user.html",
            user=user,
            tokens=tokens,
            now=utcnow(),
            max_tokens=accounts.MAX_ACTIVE_TOKENS,
            max_token_days=accounts.MAX_TOKEN_DAYS,
            password_form=password_form or PasswordForm(formdata=None),
            role_form=role_form or RoleForm(formdata=None, role=user.role),
            token_form=token_form or TokenForm(formdata=None, issue_key=accounts.new_issue_key()),
            action=ActionForm(formdata=None),
            history=account_log.history(db.session, user.id),
        ),
        status,
    )


def _act(user: User, action, done: str):  # noqa: ANN001
    form = ActionForm()
    if not form.validate_on_submit():
        return _detail(user, 400)
    _, error = write(action, accounts.AccountError)
    if error:
        flash(error, "error")
        return _detail(user, 409)
    flash(done, "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@roles_required("admin")
def user_deactivate(user_id: int):
    user = user_or_404(user_id)
    return _act(
        user,
        lambda: accounts.set_active(db.session, user, False, _actor()),
        f"{user.name} is deactivated: they cannot log in; their labels stay. "
        "Re-balance projects to hand their unstarted articles to others.",
    )


@bp.route("/users/<int:user_id>/activate", methods=["POST"])
@roles_required("admin")
def user_activate(user_id: int):
    user = user_or_404(user_id)
    return _act(user, lambda: accounts.set_active(db.session, user, True, _actor()), f"{user.name} can log in again.")


@bp.route("/users/<int:user_id>/revoke", methods=["POST"])
@roles_required("admin")
def user_revoke(user_id: int):
    user = user_or_404(user_id)
    return _act(user, lambda: accounts.revoke_tokens(db.session, user, _actor()), f"Every API token of {user.name} is revoked.")


@bp.route("/users/<int:user_id>/logout", methods=["POST"])
@roles_required("admin")
def user_logout(user_id: int):
    user = user_or_404(user_id)
    return _act(
        user,
        lambda: accounts.log_out_everywhere(db.session, user, _actor()),
        f"{user.name} is logged out everywhere: every session and remember-me cookie of theirs has ended (API tokens stay).",
    )


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@roles_required("admin")
def user_role(user_id: int):
    user = user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _detail(user, 400, role_form=form)
    revoked, error = write(lambda: accounts.set_role(db.session, user, form.role.data, _actor()), accounts.AccountError)
    if error:
        flash(error, "error")
        return _detail(user, 409, role_form=form)
    flash(f"{user.name} is now {user.role}{accounts.revoked_tokens(revoked)}.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required("admin")
def user_password(user_id: int):
    user = user_or_404(user_id)
    try:
        accounts.check_password_setter(current_user.id, user.id, user.name, user.role)
    except accounts.AccountForbidden as exc:
        abort(403, str(exc))
    form = PasswordForm()
    if not form.validate_on_submit():
        return _detail(user, 400, password_form=form)
    password = accounts.hash_password(form.password.data)  # before the write lock (the form checked its length)
    revoked, error = write(lambda: accounts.set_password(db.session, user, password, _actor()), accounts.AccountError)
    if error:
        form.password.errors = [*form.password.errors, error]
        return _detail(user, 400, password_form=form)
    tokens = f" Their {accounts.tokens_were_revoked(revoked)}." if revoked else ""
    flash(f"New password set for {user.name}. Tell them over a safe channel.{tokens}", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/<int:user_id>/token", methods=["POST"])
@roles_required("admin")
def user_token(user_id: int):
    """A new API token, shown in this answer only (no-store, as every logged-in page): never stored in clear, never put
    in a URL, a flash or the session (a signed session cookie is readable and can be sent again). The form's one-use
    issue key makes a reload of this answer, or a double click, issue no second token."""
    user = user_or_404(user_id)
    try:
        accounts.check_token_issuer(current_user.id, user.id, user.name, user.role)
    except accounts.AccountForbidden as exc:
        abort(403, str(exc))
    form = TokenForm()
    if not form.validate_on_submit():
        return _token_form_again(user, 400, form)
    if not user.active:
        flash(f"{user.name} is deactivated: reactivate them before issuing a token.", "error")
        return _token_form_again(user, 409, form)
    try:
        token, _ = write(lambda: accounts.issue_token(db.session, user, form.expires_days.data, issued_by=current_user.id,
                                                      actor=_actor(), issue_key=form.issue_key.data))
    except accounts.TokenAlreadyIssued as exc:
        return render_template("admin/token.html", user=user, token=None, days=None, issued_at=exc.issued_at), 409
    except IntegrityError:  # the key sent at once for another user (made up: a page's key is for one user)
        return render_template("admin/token.html", user=user, token=None, days=None, issued_at=None), 409
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return _token_form_again(user, 409, form)
    return render_template("admin/token.html", user=user, token=token, days=form.expires_days.data)


def _token_form_again(user: User, status: int, form: TokenForm):
    """The user's page with the token form's errors, and a fresh key (its old one issued nothing)."""
    form.issue_key.data = accounts.new_issue_key()
    return _detail(user, status, token_form=form)


@bp.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required("admin")
def user_token_revoke(user_id: int, token_id: int):
    user = user_or_404(user_id)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        abort(404, f"{user.name} has no API token {token_id}.")
    issued = token.created_at
    return _act(user, lambda: accounts.revoke_token(db.session, token, user, _actor()), f"The API token of {user.name} issued {issued:%Y-%m-%d %H:%M} UTC is revoked.")
