"""Upload articles: the formats and errors of `annotator import`, all or nothing per file (articles.import_files)."""
from __future__ import annotations

from pathlib import PurePath

from flask import render_template
from werkzeug.datastructures import FileStorage

from annotator.db import db
from annotator.domain import suggesters
from annotator.domain.dataset import articles
from annotator.domain.suggestions import SuggestionError
from annotator.web.admin import bp, form_status, project_or_404
from annotator.web.admin.forms import UploadForm
from annotator.web.security import roles_required


def _file_name(upload: FileStorage) -> str:
    """The uploaded file's own name, without any folder the browser sent."""
    return PurePath((upload.filename or "").replace("\\", "/")).name or "upload"


def suggest_for(project, results: list[dict]) -> dict:  # noqa: ANN001
    """Suggestions for the articles the upload created or updated, after it committed (as `annotator import --suggest`)."""
    external_ids = [x for r in results for x in r["created"] + r["updated"]]
    if not external_ids:
        return {"articles": 0, "suggestions": 0, "new": 0, "error": None}
    try:
        ids = suggesters.article_ids(db.session, project.id, external_ids)
        return {**suggesters.run_in_batches(db.session, project.id, ids), "error": None}
    except SuggestionError as exc:  # a suggester package that cannot load, a schema changed meanwhile: the upload itself stands
        db.session.rollback()  # not a write: ends the read that found the suggesters
        return {"articles": 0, "suggestions": 0, "new": 0, "error": exc.message}


@bp.route("/projects/<int:project_id>/upload", methods=["GET", "POST"])
@roles_required("admin")
def upload(project_id: int):
    project = project_or_404(project_id)
    form = UploadForm()
    if form.validate_on_submit():
        files = [f for f in form.files.data if getattr(f, "filename", "")]
        uploads = ((_file_name(f), f.read()) for f in files)  # read one at a time, as each is imported
        results = articles.import_files(db.session, project, uploads, form.on_duplicate.data)
        totals = {key: sum(len(r[key]) for r in results) for key in ("created", "updated", "skipped")}
        totals["rejected"] = sum(1 for r in results if r["error"])
        suggested = suggest_for(project, results) if form.suggest.data else None
        # every file refused: a 422, as `annotator import` exits 1 (a script sees it without reading the page); one file
        # stored is a 200 whose page lists the others
        status = 422 if results and all(r["error"] for r in results) else 200
        return render_template(
            "admin/upload_result.html", project=project, results=results, totals=totals, on_duplicate=form.on_duplicate.data,
            suggested=suggested,
        ), status
    return render_template("admin/upload.html", project=project, form=form), form_status()
