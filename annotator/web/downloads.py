"""Dataset download for reviewers and admins: the same JSONL as `annotator export`, streamed.

The REST export's answer (dataset_export.py: the same parameters, messages and ETag), under a file name
per unit, filter and split.
"""
from __future__ import annotations

from flask import Blueprint

from annotator.db import db
from annotator.db.models import Project
from annotator.web.dataset_export import export_answer
from annotator.web.errors import json_error
from annotator.web.security import may_open_project, not_your_project, roles_required

bp = Blueprint("downloads", __name__)


@bp.route("/projects/<int:project_id>/export.jsonl")
@roles_required("reviewer", "admin")
def export_jsonl(project_id: int):
    """?unit=article|sentence&gold_only=1&annotator=NAME&labels=CFS,UFS&split=NAME&splits=train=0.8,...&seed=13 (all optional)."""
    if not may_open_project(project_id):
        return json_error(403, not_your_project(project_id))
    project = db.session.get(Project, project_id)
    if project is None:
        return json_error(404, f"no project with id {project_id}")
    return export_answer(project, attachment=True)
