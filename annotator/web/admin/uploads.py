"""Upload articles: the formats and errors of `annotator import`, all or nothing per file (articles.import_records)."""
from __future__ import annotations

from pathlib import PurePath

from flask import render_template

from annotator.db import db
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import IngestError, read_bytes
from annotator.web.admin import bp, form_status, project_or_404
from annotator.web.admin.forms import UploadForm
from annotator.web.security import roles_required


def import_files(project, files, on_duplicate: str) -> list[dict]:  # noqa: ANN001
    """Each file parsed and stored on its own: a bad line rejects its whole file (FILE:LINE: reason), the others go on."""
    results = []
    for upload in files:
        name = PurePath((upload.filename or "").replace("\\", "/")).name or "upload"
        try:
            records = read_bytes(upload.read(), name)
            stored = articles.import_records(db.session, project, records, name, on_duplicate)  # type: ignore[arg-type]
            results.append({"file": name, "created": stored.created, "updated": stored.updated, "skipped": stored.skipped, "error": None})
        except IngestError as exc:
            db.session.rollback()
            results.append({"file": name, "created": [], "updated": [], "skipped": [], "error": str(exc)})
        except BaseException:
            db.session.rollback()
            raise
    return results


@bp.route("/projects/<int:project_id>/upload", methods=["GET", "POST"])
@roles_required("admin")
def upload(project_id: int):
    project = project_or_404(project_id)
    form = UploadForm()
    if form.validate_on_submit():
        files = [f for f in form.files.data if getattr(f, "filename", "")]
        results = import_files(project, files, form.on_duplicate.data)
        totals = {key: sum(len(r[key]) for r in results) for key in ("created", "updated", "skipped")}
        totals["rejected"] = sum(1 for r in results if r["error"])
        return render_template(
            "admin/upload_result.html", project=project, results=results, totals=totals, on_duplicate=form.on_duplicate.data
        )
    return render_template("admin/upload.html", project=project, form=form), form_status()
