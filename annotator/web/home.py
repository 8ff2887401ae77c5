"""Home: what each role sees first, and a health check for load balancers."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from annotator.db import db
from annotator.domain import progress, projects
from annotator.web.security import login_required, public

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def home():
    if current_user.role == "annotator":
        return render_template("home_annotator.html", queue=progress.annotator_queue(db.session, current_user.id))
    return render_template(
        "home.html",
        projects=progress.project_overview(db.session, projects.visible_project_ids(db.session, current_user)),
        # a project's name leads to the page this role works on it from
        project_endpoint="admin.project" if current_user.role == "admin" else "review.agreement",
    )


@bp.route("/favicon.ico")
@public
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/healthz")
@public
def healthz():
    db.session.execute(select(1))
    return {"status": "ok"}
