"""Home: what each role sees first, and a health check for load balancers."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from . import projects
from .db import db
from .models import Annotation, Article, Assignment, Project, Sentence
from .security import login_required, public

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def home():
    if current_user.role == "annotator":
        return render_template("home_annotator.html", queue=annotator_queue(current_user.id))
    return render_template("home.html", projects=project_overview(projects.visible_project_ids(db.session, current_user)))


@bp.route("/favicon.ico")
@public
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/healthz")
@public
def healthz():
    db.session.execute(select(1))
    return {"status": "ok"}


def project_overview(only: set[int] | None = None) -> list[dict]:
    """Each project (or only those with these ids) with its article and sentence counts, in two grouped queries."""
    articles = dict(db.session.execute(select(Article.project_id, func.count()).group_by(Article.project_id)).all())
    sentences = dict(
        db.session.execute(
            select(Article.project_id, func.count(Sentence.id)).join(Sentence, Sentence.article_id == Article.id).group_by(Article.project_id)
        ).all()
    )
    chosen = select(Project).order_by(Project.name)
    if only is not None:
        chosen = chosen.where(Project.id.in_(sorted(only)))
    return [
        {"project": p, "articles": articles.get(p.id, 0), "sentences": sentences.get(p.id, 0)}
        for p in db.session.scalars(chosen)
    ]


def annotator_queue(user_id: int) -> list[dict]:
    """The user's assigned articles with THEIR sentences labelled / total, in assignment order.

    Only this user's annotations are counted: an annotator never sees anyone
    else's progress. Article texts are not loaded (the home page lists titles).
    """
    # per assigned article, counted on the (article_id, index) index: no scan of other articles' sentences
    total = select(func.count()).where(Sentence.article_id == Assignment.article_id).correlate(Assignment).scalar_subquery()
    done = (
        select(Sentence.article_id, func.count().label("n"))
        .join(Annotation, Annotation.sentence_id == Sentence.id)
        # a label put back for re-checking (its sentence was split or merged) is not done yet
        .where(Annotation.user_id == user_id, Annotation.needs_review.is_(False))
        .group_by(Sentence.article_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Assignment.status,
            Article.id,
            Article.title,
            Article.external_id,
            Project.name,
            total,
            func.coalesce(done.c.n, 0),
        )
        .join(Article, Assignment.article_id == Article.id)
        .join(Project, Article.project_id == Project.id)
        .outerjoin(done, done.c.article_id == Article.id)
        .where(Assignment.user_id == user_id)
        .order_by(Assignment.id)
    ).all()
    return [
        {"article_id": aid, "title": title or external_id, "external_id": external_id, "project": pname,
         "status": status, "total": t, "done": d}
        for status, aid, title, external_id, pname, t, d in rows
    ]
