"""Dataset download for reviewers and admins: the same JSONL as `annotator export`, streamed."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, request, stream_with_context

from annotator.db import db
from annotator.db.models import Project
from annotator.domain.dataset import export
from annotator.web.errors import json_error
from annotator.web.security import may_open_project, not_your_project, roles_required

bp = Blueprint("downloads", __name__)

_FLAGS = {"": False, "0": False, "false": False, "no": False, "1": True, "true": True, "yes": True}
_PARAMS = {"unit", "gold_only", "annotator", "labels"}


@bp.route("/projects/<int:project_id>/export.jsonl")
@roles_required("reviewer", "admin")
def export_jsonl(project_id: int):
    """?unit=article|sentence&gold_only=1&annotator=NAME&labels=CFS,UFS (all optional)."""
    if not may_open_project(project_id):
        return json_error(403, not_your_project(project_id))
    project = db.session.get(Project, project_id)
    if project is None:
        return json_error(404, f"no project with id {project_id}")
    unknown = sorted(set(request.args) - _PARAMS)
    if unknown:
        return json_error(400, f"unknown parameter(s) {', '.join(unknown)}; use {', '.join(sorted(_PARAMS))}")
    unit = request.args.get("unit", export.DEFAULT_UNIT)
    if unit not in export.UNITS:
        return json_error(400, f"unit must be one of {', '.join(export.UNITS)} (got {unit!r})")
    gold_only = _FLAGS.get(request.args.get("gold_only", "").strip().lower())
    if gold_only is None:
        return json_error(400, f"gold_only must be 1 or 0 (got {request.args['gold_only']!r})")
    try:
        filters = export.check_filters(
            db.session,
            project,
            export.Filters(
                gold_only=gold_only,
                annotators=tuple(dict.fromkeys(request.args.getlist("annotator"))),
                labels=export.parse_labels(request.args.get("labels")),
            ),
        )
    except export.ExportError as exc:
        return json_error(400, str(exc))
    records = export.iter_records(db.session, project_id, unit, filters)
    dumps = export.dumpb

    def generate():
        try:
            for record in records:
                yield dumps(record)
        finally:
            db.session.rollback()  # end the long read transaction

    name = export.download_name(project.name, project.id, unit, filters)
    plain = export.download_name(project.name, project.id, unit, filters, ascii_only=True)
    disposition = f'attachment; filename="{plain}"'
    if name != plain:  # RFC 6266 / 5987: the real name for browsers that read it
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        stream_with_context(generate()),
        mimetype="application/jsonl",
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )
