"""Progress: per annotator, per article, and labels done per day as a server-drawn SVG chart."""
from __future__ import annotations

from flask import render_template

from annotator.db import db
from annotator.domain import progress as queries
from annotator.web.admin import bp, project_or_404
from annotator.web.paging import paginate
from annotator.web.security import roles_required

ARTICLES_PER_PAGE = 50


@bp.route("/projects/<int:project_id>/progress")
@roles_required("admin")
def progress(project_id: int):
    project = project_or_404(project_id)
    articles = paginate(queries.project_articles(project_id), ARTICLES_PER_PAGE)
    return render_template(
        "admin/progress.html",
        project=project,
        annotators=queries.annotator_progress(db.session, project_id),
        articles=queries.article_progress(db.session, project_id, articles.items),
        chart=queries.chart(queries.labels_per_day(db.session, project_id)),
        page=articles.page,
        pages=max(1, articles.pages),
    )
