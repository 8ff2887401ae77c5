"""The annotator's page for one article, and "continue where I left off".

The page is a shell: the article, its sentences and the caller's own
annotations come from the JSON API (GET /api/articles/<id>), the one source of
what was saved, so a reload shows exactly that. Only annotators assigned to the
article may open it (reviewers and admins get their own pages); to anyone
else it does not exist (404, as for an unknown id).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from annotator.db import db
from annotator.domain import guidelines, markdown, progress
from annotator.web.security import roles_required

bp = Blueprint("annotate", __name__)


@bp.route("/annotate/<int:article_id>")
@roles_required("annotator")
def article_page(article_id: int):
    article = progress.queued_article(db.session, current_user.id, article_id)
    if article is None:  # missing or someone else's: the same answer, so ids cannot be probed
        abort(404, f"There is no article {article_id} among the ones assigned to you.")
    project, title = article.project, article.title
    return render_template(
        "annotate.html",
        article_id=article_id,
        title=title or article.external_id,
        # the text usually opens with the title: then that line is the heading (styled by the page), not a copy
        title_in_text=bool(title and title.strip() and article.text.lstrip().startswith(title.strip())),
        project=project,
        guidelines_html=markdown.render(project.guidelines),
        guidelines_notice=guidelines.guidelines_notice(db.session, current_user.id, project.id),
        schema=project.label_schema,
        position=article.position,
        count=article.count,
        # decided when it is clicked, once this article's last labels are saved
        next_url=url_for("annotate.continue_work"),
    )


@bp.route("/continue")
@roles_required("annotator")
def continue_work():
    row = progress.next_to_continue(progress.annotator_queue(db.session, current_user.id))
    if row is None:
        flash("Everything assigned to you is labelled. Thank you!", "info")
        return redirect(url_for("home.home"))
    return redirect(url_for("annotate.article_page", article_id=row["article_id"]))
