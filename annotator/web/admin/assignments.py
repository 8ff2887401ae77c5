"""Assignment: N annotators per article balanced automatically, by hand per article, and re-balancing."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from annotator.db import db
from annotator.db.models import Article
from annotator.db.transactions import transaction
from annotator.domain import assignment, progress
from annotator.domain import projects as project_ops
from annotator.domain.wording import counted
from annotator.web.admin import bp, project_or_404, write
from annotator.web.admin.forms import ActionForm, ArticleAnnotatorsForm, BalanceForm, choice
from annotator.web.paging import paginate
from annotator.web.security import roles_required

ARTICLES_PER_PAGE = 50


def _page(project_id: int, balance: BalanceForm, status: int = 200):
    project = project_or_404(project_id)
    articles = paginate(progress.project_articles(project_id), ARTICLES_PER_PAGE)
    pool = assignment.project_annotators(db.session, project_id)
    unstarted, started = assignment.leaving(db.session, project_id, pool, assignment.work_done(db.session, project_id))
    return (
        render_template(
            "admin/assignments.html",
            project=project,
            balance=balance,
            action=ActionForm(formdata=None),
            articles=articles.items,
            people=assignment.assignees(db.session, [a.id for a in articles.items]),
            loads=assignment.loads(db.session, project_id),
            pool=pool,
            leaving_unstarted=unstarted,
            leaving_started=started,
            page=articles.page,
            pages=max(1, articles.pages),
            total=articles.total,
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

    # A refusal is about the project, not the number typed: back to the page (as Re-balance does), the reason flashed.
    try:
        with transaction(db.session):
            result = balance()
    except assignment.NoAnnotators:
        members = url_for("admin.members", project_id=project_id)
        flash(Markup('Nobody to assign yet: {} has no active annotators. Add them on its <a href="{}">Members page</a>, then assign.')
              .format(project.name, members), "error")
        return redirect(url_for("admin.assignments", project_id=project_id))
    except (assignment.AssignmentError, project_ops.ProjectError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.assignments", project_id=project_id))
    short = result.articles_short
    note = f" {counted(short, 'article')} {'has' if short == 1 else 'have'} fewer than {n}: not enough active annotators." if short else ""
    flash(f"{counted(result.created, 'new assignment')}; every article now asks for {counted(n, 'annotator')}.{note}", "success" if not note else "error")
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
    current = assignment.article_assignees(db.session, article_id)
    pool = assignment.project_annotators(db.session, project_id)
    form = ArticleAnnotatorsForm()
    form.annotators.choices = [choice(u.id, u.name) for u in pool]
    status = 200
    if request.method != "POST":  # GET, and HEAD (GET without the body): not a submitted form
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
