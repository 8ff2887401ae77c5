"""Upload articles: the formats and errors of `annotator import`, all or nothing per file (articles.import_files)."""
from __future__ import annotations

from pathlib import PurePath

from flask import render_template
from werkzeug.datastructures import FileStorage

from annotator.db import db
from annotator.domain.dataset import articles
from annotator.web.admin import bp, form_status, project_or_404
from annotator.web.admin.forms import UploadForm
from annotator.web.security import roles_required


def _file_name(upload: FileStorage) -> str:
    """The uploaded file's own name, without any folder the browser sent."""
    return PurePath((upload.filename or "").replace("\\", "/")).name or "upload"


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
        return render_template(
            "admin/upload_result.html", project=project, results=results, totals=totals, on_duplicate=form.on_duplicate.data
        )
    return render_template("admin/upload.html", project=project, form=form), form_status()
