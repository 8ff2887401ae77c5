"""Correcting sentence boundaries, per article: admins and reviewers (the work is done by annotator.domain.resegment)."""
from __future__ import annotations

from typing import Callable

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, AuditEntry, GoldLabel, Project, Sentence, User
from annotator.db.transactions import transaction
from annotator.domain import resegment
from annotator.web.admin import project_or_404, segmentation_bp
from annotator.web.admin.forms import ActionForm, MergeForm, SplitForm
from annotator.web.paging import page_arg
from annotator.web.security import may_open_project, require_project, roles_required

EDITORS = ("admin", "reviewer")
ARTICLES_PER_PAGE = 100


def article_or_404(article_id: int) -> Article:
    """The article, if the user may open its project; a reviewer gets the same 403 for a missing one and one of another project."""
    article = db.session.get(Article, article_id)
    if article is None and current_user.role == "admin":
        abort(404, f"There is no article {article_id}.")
    if article is None or not may_open_project(article.project_id):
        abort(403, f"Article {article_id} is not in one of your projects. An admin can add you to its project.")
    return article


@segmentation_bp.route("/projects/<int:project_id>")
@roles_required(*EDITORS)
def articles(project_id: int):
    require_project(project_id)
    project = project_or_404(project_id)
    total = db.session.scalar(select(func.count()).select_from(Article).where(Article.project_id == project_id)) or 0
    page = page_arg(-(-total // ARTICLES_PER_PAGE))
    counts = select(Sentence.article_id, func.count().label("n")).group_by(Sentence.article_id).subquery()
    rows = db.session.execute(
        select(Article.id, Article.external_id, Article.title, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.article_id == Article.id)
        .where(Article.project_id == project_id)
        .order_by(Article.id)
        .limit(ARTICLES_PER_PAGE)
        .offset((page - 1) * ARTICLES_PER_PAGE)
    ).all()
    return render_template(
        "admin/segmentation_articles.html", project=project, rows=rows, page=page, pages=max(1, -(-total // ARTICLES_PER_PAGE))
    )


def _page(article: Article, status: int = 200, split: SplitForm | None = None, failed_sentence: int | None = None):
    sentences = db.session.execute(
        select(Sentence.id, Sentence.index, Sentence.start, Sentence.end).where(Sentence.article_id == article.id).order_by(Sentence.index)
    ).all()
    ids = [s.id for s in sentences]
    labels: dict[int, list[tuple[str, str, bool]]] = {i: [] for i in ids}
    for sentence_id, name, label, needs_review in db.session.execute(
        select(Annotation.sentence_id, User.name, Annotation.label, Annotation.needs_review)
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.sentence_id.in_(ids))
        .order_by(User.name)
    ).all():
        labels[sentence_id].append((name, label, bool(needs_review)))
    gold = dict(db.session.execute(select(GoldLabel.sentence_id, GoldLabel.label).where(GoldLabel.sentence_id.in_(ids))).all())
    names = dict(db.session.execute(select(User.id, User.name)).all())
    project = db.session.get(Project, article.project_id)
    return (
        render_template(
            "admin/segmentation.html",
            project=project,
            article=article,
            sentences=[{"id": s.id, "index": s.index, "start": s.start, "end": s.end, "text": article.text[s.start:s.end]} for s in sentences],
            labels=labels,
            gold=gold,
            history=resegment.history(db.session, article.id),
            names=names,
            split=split or SplitForm(formdata=None),
            failed_sentence=failed_sentence,
            merge=MergeForm(formdata=None),
            action=ActionForm(formdata=None),
        ),
        status,
    )


@segmentation_bp.route("/articles/<int:article_id>")
@roles_required(*EDITORS)
def article(article_id: int):
    return _page(article_or_404(article_id))


def _apply(article: Article, action: Callable[[], resegment.Correction], what: str):
    """Run a correction in one transaction; a refusal shows the page again with the reason and changes nothing."""
    try:
        with transaction(db.session):
            correction = action()
    except resegment.ResegmentError as exc:
        flash(str(exc), "error")
        return _page(article, exc.status)
    parts = [what]
    if correction.moved:
        parts.append(f"{len(correction.moved)} label(s) moved with the text")
    if correction.relabel:
        parts.append(f"{len(correction.relabel)} annotator(s) must label the merged sentence again (old labels kept in the log)")
    if correction.gold_removed:
        parts.append(f"{len(correction.gold_removed)} gold label(s) removed for re-adjudication (kept in the log)")
    flash("; ".join(parts) + ".", "success")
    return redirect(url_for("segmentation.article", article_id=article.id))


@segmentation_bp.route("/articles/<int:article_id>/split", methods=["POST"])
@roles_required(*EDITORS)
def split(article_id: int):
    article = article_or_404(article_id)
    form = SplitForm()
    if not form.validate_on_submit():
        return _page(article, 400, split=form, failed_sentence=form.sentence_id.data)
    sentence = db.session.get(Sentence, form.sentence_id.data)
    if sentence is None or sentence.article_id != article.id:
        abort(404, f"Article {article.external_id} has no sentence {form.sentence_id.data}.")
    length = sentence.end - sentence.start
    if not 0 < form.position.data < length:
        flash(f"Position {form.position.data} is not inside sentence {sentence.index + 1}: choose 1 to {length - 1} "
              f"(the number of characters before the cut).", "error")
        return _page(article, 400, split=form, failed_sentence=sentence.id)
    at = sentence.start + form.position.data
    return _apply(article, lambda: resegment.split_sentence(db.session, sentence.id, at, current_user.id), "Sentence split")


@segmentation_bp.route("/articles/<int:article_id>/merge", methods=["POST"])
@roles_required(*EDITORS)
def merge(article_id: int):
    article = article_or_404(article_id)
    form = MergeForm()
    if not form.validate_on_submit():
        return _page(article, 400)
    sentence_article = db.session.scalar(select(Sentence.article_id).where(Sentence.id == form.sentence_id.data))
    if sentence_article != article.id:
        abort(404, f"Article {article.external_id} has no sentence {form.sentence_id.data}.")
    return _apply(article, lambda: resegment.merge_with_next(db.session, form.sentence_id.data, current_user.id), "Sentences merged")


@segmentation_bp.route("/articles/<int:article_id>/undo/<int:entry_id>", methods=["POST"])
@roles_required(*EDITORS)
def undo(article_id: int, entry_id: int):
    article = article_or_404(article_id)
    if not ActionForm().validate_on_submit():
        return _page(article, 400)
    entry = db.session.get(AuditEntry, entry_id)
    if entry is None or entry.article_id != article.id:
        abort(404, f"Article {article.external_id} has no correction {entry_id}.")
    return _apply(
        article, lambda: resegment.undo(db.session, entry_id, current_user.id), f"Correction {entry_id} undone: sentences and labels are as before it"
    )
