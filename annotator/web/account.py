"""Your account: who changed it and when, shown to the user themself (an admin whose password another admin set sees it here)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from annotator.db import db
from annotator.domain import account_log
from annotator.web.security import login_required

bp = Blueprint("account", __name__)


@bp.route("/account")
@login_required
def account():
    return render_template(
        "account.html",
        history=account_log.history(db.session, current_user.id),
        password=account_log.last_password_change(db.session, current_user.id),
    )
