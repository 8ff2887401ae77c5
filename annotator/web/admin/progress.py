"""Progress: per annotator, per article, and labels done per day as a server-drawn SVG chart."""
from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Article
from annotator.domain import progress as queries
from annotator.web.admin import bp, project_or_404
from annotator.web.paging import page_arg
from annotator.web.security import roles_required

ARTICLES_PER_PAGE = 50


@bp.route("/projects/<int:project_id>/progress")
@roles_required("admin")
def progress(project_id: int):
    project = project_or_404(project_id)
    total = db.session.scalar(select(func.count()).select_from(Article).where(Article.project_id == project_id)) or 0
    page = page_arg(-(-total // ARTICLES_PER_PAGE))
    return render_template(
        "admin/progress.html",
        project=project,
        annotators=queries.annotator_progress(db.session, project_id),
        articles=queries.article_progress(db.session, project_id, ARTICLES_PER_PAGE, (page - 1) * ARTICLES_PER_PAGE),
        chart=queries.chart(queries.labels_per_day(db.session, project_id)),
        page=page,
        pages=max(1, -(-total // ARTICLES_PER_PAGE)),
    )
