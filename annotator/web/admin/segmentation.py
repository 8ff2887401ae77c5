"""Correcting sentence boundaries, per article: admins and reviewers (the work is done by annotator.domain.resegment)."""
from __future__ import annotations

from typing import Callable

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from annotator.db import db
from annotator.db.models import Article, AuditEntry, Project, Sentence
from annotator.db.transactions import run_write
from annotator.domain import article_sentences, progress, resegment
from annotator.domain.wording import counted
from annotator.stats.textcheck import MAX_DB_INT
from annotator.web.admin import project_or_404, segmentation_bp
from annotator.web.admin.forms import ActionForm, MergeForm, SplitForm
from annotator.web.paging import page_arg, paginate
from annotator.web.security import may_open_project, require_project, roles_required

EDITORS = ("admin", "reviewer")
ARTICLES_PER_PAGE = 100
# An article's sentences a page: each carries a split and a merge form, and a long article on one page was
# megabytes of forms (363 sentences: 548 KB, 7,037 DOM nodes). A correction brings the reviewer back to its page.
SENTENCES_PER_PAGE = 50


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
    page = paginate(progress.project_articles(project_id), ARTICLES_PER_PAGE)
    counts = progress.sentence_counts(db.session, [a.id for a in page.items])
    rows = [(a.id, a.external_id, a.title, counts.get(a.id, 0)) for a in page.items]
    return render_template("admin/segmentation_articles.html", project=project, rows=rows, page=page.page, pages=max(1, page.pages))


def _page_of(index: int) -> int:
    """The page that shows the sentence at this index (0-based, as stored)."""
    return index // SENTENCES_PER_PAGE + 1


def _sentence_page(article: Article, index: int):
    """Back to the article, on the page of the sentence at `index` and scrolled to it: the reviewer's place."""
    return redirect(url_for("segmentation.article", article_id=article.id, page=_page_of(index), _anchor=f"sentence-{index}"))


def _page(article: Article, status: int = 200, split: SplitForm | None = None, failed_sentence: int | None = None):
    """The article's page of sentences: the `?page=` one, or the one of the sentence a refused split names."""
    total = article_sentences.count(db.session, article.id)
    pages = max(1, -(-total // SENTENCES_PER_PAGE))
    named = failed_sentence is not None and 0 <= failed_sentence <= MAX_DB_INT  # a refused form's id may be any number
    failed = db.session.get(Sentence, failed_sentence) if named else None
    page = _page_of(failed.index) if failed is not None and failed.article_id == article.id else page_arg(pages)
    sentences = article_sentences.sentences(db.session, article, (page - 1) * SENTENCES_PER_PAGE, SENTENCES_PER_PAGE)
    ids = [s["id"] for s in sentences]
    return (
        render_template(
            "admin/segmentation.html",
            project=db.session.get(Project, article.project_id),
            article=article,
            sentences=sentences,
            total=total,
            page=page,
            pages=pages,
            labels=article_sentences.labels(db.session, ids),
            gold=article_sentences.gold(db.session, ids),
            history=resegment.history(db.session, article.id),
            names=article_sentences.user_names(db.session),
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


# A correction locks the article's sentences in order; an annotator's batch of labels on several of them, in its own
# order, can hold one of them (its label's key) and wait for another: PostgreSQL ends one of the two, as a deadlock.
CORRECTION_ATTEMPTS = 3
BUSY = "The article's sentences were being saved to at the same moment, and the correction could not be made; nothing changed. Try again."


def _apply(article: Article, action: Callable[[], resegment.Correction], what: str):
    """Run a correction in one transaction, again when another writer got in its way (run_write: a deadlock, a
    conflict); a refusal shows the page again with the reason and changes nothing, and so do retries that run out (503).
    An article deleted meanwhile (the correction waited for the delete's lock) has no page to show: a 404 saying so."""
    article_id = article.id
    try:
        correction = run_write(db.session, action, CORRECTION_ATTEMPTS, lambda: resegment.ResegmentError(BUSY, 503))
    except resegment.ResegmentError as exc:
        if db.session.get(Article, article_id) is None:
            abort(404, f"Article {article_id} was deleted meanwhile; nothing was corrected.")
        flash(str(exc), "error")
        return _page(article, exc.status)
    parts = [what]
    if correction.moved:
        parts.append(f"{counted(len(correction.moved), 'label')} moved with the text")
    if correction.relabel:
        parts.append(f"{counted(len(correction.relabel), 'annotator')} must label the merged sentence again (old labels kept in the log)")
    if correction.gold_removed:
        parts.append(f"{counted(len(correction.gold_removed), 'gold label')} removed for re-adjudication (kept in the log)")
    flash("; ".join(parts) + ".", "success")
    return _sentence_page(article, correction.sentences[0]["index"] if correction.sentences else 0)


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
    at, sentence_id = sentence.start + form.position.data, sentence.id  # plain values: a retry must not reload the row
    return _apply(article, lambda: resegment.split_sentence(db.session, sentence_id, at, current_user.id), "Sentence split")


@segmentation_bp.route("/articles/<int:article_id>/merge", methods=["POST"])
@roles_required(*EDITORS)
def merge(article_id: int):
    article = article_or_404(article_id)
    form = MergeForm()
    if not form.validate_on_submit():
        return _page(article, 400)
    if article_sentences.article_of(db.session, form.sentence_id.data) != article.id:
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
