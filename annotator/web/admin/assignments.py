"""Assignment: N annotators per article balanced automatically, by hand per article, and re-balancing."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Article, Assignment, User
from annotator.domain import assignment
from annotator.domain import projects as project_ops
from annotator.web.admin import bp, project_or_404, write
from annotator.web.admin.forms import ActionForm, ArticleAnnotatorsForm, BalanceForm, choice
from annotator.web.paging import page_arg
from annotator.web.security import roles_required

ARTICLES_PER_PAGE = 50


def _page(project_id: int, balance: BalanceForm, status: int = 200):
    project = project_or_404(project_id)
    total = db.session.scalar(select(func.count()).select_from(Article).where(Article.project_id == project_id)) or 0
    page = page_arg(-(-total // ARTICLES_PER_PAGE))
    page_articles = db.session.execute(
        select(Article.id, Article.external_id, Article.title)
        .where(Article.project_id == project_id)
        .order_by(Article.id)
        .limit(ARTICLES_PER_PAGE)
        .offset((page - 1) * ARTICLES_PER_PAGE)
    ).all()
    ids = [a.id for a in page_articles]
    people: dict[int, list[tuple[str, bool, str]]] = {i: [] for i in ids}
    for article_id, name, active, status_ in db.session.execute(
        select(Assignment.article_id, User.name, User.active, Assignment.status)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.article_id.in_(ids))
        .order_by(User.name)
    ).all():
        people[article_id].append((name, bool(active), status_))
    loads = db.session.execute(
        select(User.name, User.active, User.role, func.count(Assignment.id))
        .join(Assignment, Assignment.user_id == User.id)
        .join(Article, Article.id == Assignment.article_id)
        .where(Article.project_id == project_id)
        .group_by(User.id, User.name, User.active, User.role)
        .order_by(User.name)
    ).all()
    pool = assignment.project_annotators(db.session, project_id)
    work = assignment.work_done(db.session, project_id)
    # assignments of people outside the pool: deactivated, no longer annotators, or no longer members of the project
    leaving = db.session.execute(
        select(Assignment.user_id, Assignment.article_id)
        .join(Article, Article.id == Assignment.article_id)
        .where(Article.project_id == project_id, Assignment.user_id.not_in([u.id for u in pool]))
    ).all()
    return (
        render_template(
            "admin/assignments.html",
            project=project,
            balance=balance,
            action=ActionForm(formdata=None),
            articles=page_articles,
            people=people,
            loads=loads,
            pool=pool,
            leaving_unstarted=sum(1 for u, a in leaving if not work.get((u, a))),
            leaving_started=sum(1 for u, a in leaving if work.get((u, a))),
            page=page,
            pages=max(1, -(-total // ARTICLES_PER_PAGE)),
            total=total,
        ),
        status,
    )


@bp.route("/projects/<int:project_id>/assignments")
@roles_required("admin")
def assignments(project_id: int):
    project = project_or_404(project_id)
    return _page(project_id, BalanceForm(formdata=None, per_article=project.annotators_per_article))


@bp.route("/projects/<int:project_id>/assignments/balance", methods=["POST"])
@roles_required("admin")
def assignments_balance(project_id: int):
    project = project_or_404(project_id)
    form = BalanceForm()
    if not form.validate_on_submit():
        return _page(project_id, form, 400)
    n = form.per_article.data

    def balance() -> assignment.AssignResult:
        project_ops.update_project(db.session, project, annotators_per_article=n)
        return assignment.assign_balanced(db.session, project_id, n)

    result, error = write(balance, assignment.AssignmentError, project_ops.ProjectError)
    if error:
        flash(error, "error")
        return _page(project_id, form, 409)
    note = f" {result.articles_short} article(s) have fewer than {n}: not enough active annotators." if result.articles_short else ""
    flash(f"{result.created} new assignment(s); every article now asks for {n} annotator(s).{note}", "success" if not note else "error")
    return redirect(url_for("admin.assignments", project_id=project_id))


@bp.route("/projects/<int:project_id>/assignments/rebalance", methods=["POST"])
@roles_required("admin")
def assignments_rebalance(project_id: int):
    project = project_or_404(project_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return _page(project_id, BalanceForm(formdata=None, per_article=project.annotators_per_article), 400)
    result, error = write(lambda: assignment.rebalance(db.session, project_id), assignment.AssignmentError)
    if error:
        flash(error, "error")
        return redirect(url_for("admin.assignments", project_id=project_id))
    return render_template("admin/rebalance_result.html", project=project, result=result)


@bp.route("/projects/<int:project_id>/articles/<int:article_id>/annotators", methods=["GET", "POST"])
@roles_required("admin")
def article_annotators(project_id: int, article_id: int):
    """Choose an article's annotators by hand; unticking someone who has started keeps their work."""
    project = project_or_404(project_id)
    article = db.session.get(Article, article_id)
    if article is None or article.project_id != project_id:
        abort(404, f"Project {project.name} has no article {article_id}.")
    current = db.session.execute(
        select(User.id, User.name, User.active, User.role, Assignment.status)
        .join(Assignment, Assignment.user_id == User.id)
        .where(Assignment.article_id == article_id)
        .order_by(User.name)
    ).all()
    pool = assignment.project_annotators(db.session, project_id)
    form = ArticleAnnotatorsForm()
    form.annotators.choices = [choice(u.id, u.name) for u in pool]
    status = 200
    if request.method == "GET":
        form.annotators.data = [row.id for row in current]
    elif form.validate_on_submit():
        result, error = write(lambda: assignment.set_article_annotators(db.session, article_id, form.annotators.data or []), assignment.AssignmentError)  # no field sent: nobody ticked
        if error is None:
            parts = [f"added {', '.join(result.added)}" if result.added else "", f"removed {', '.join(result.removed)}" if result.removed else ""]
            message = "; ".join(p for p in parts if p) or "no change"
            flash(f"{article.external_id}: {message}.", "success")
            if result.kept:
                flash(f"Kept {', '.join(result.kept)}: they have already started on this article, and started work is never taken away.", "error")
            return redirect(url_for("admin.article_annotators", project_id=project_id, article_id=article_id))
        flash(error, "error")
        status = 409
    else:
        status = 400
    work = assignment.work_done(db.session, project_id, article_id)
    return (
        render_template(
            "admin/article_annotators.html",
            project=project,
            article=article,
            form=form,
            current=current,
            work={uid: n for (uid, _), n in work.items()},
        ),
        status,
    )
