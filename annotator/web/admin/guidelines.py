"""Guidelines: a Markdown editor with a server-rendered preview; each save is a new version."""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from annotator.db import db
from annotator.domain import guidelines as guideline_ops
from annotator.domain import projects as project_ops
from annotator.stats.numbers import LARGEST_ID, whole_number
from annotator.web.admin import bp, project_or_404, write
from annotator.web.admin.forms import GuidelinesForm
from annotator.web.errors import json_error
from annotator.web.inputs import form_limit
from annotator.web.paging import paginate
from annotator.web.security import roles_required

LABELS_PER_PAGE = 100


@bp.route("/projects/<int:project_id>/guidelines", methods=["GET", "POST"])
@form_limit(guideline_ops.MAX_CHARS)
@roles_required("admin")
def guidelines(project_id: int):
    project = project_or_404(project_id)
    form = GuidelinesForm()
    preview = None
    status = 200
    action = request.form.get("action")
    if request.method != "POST":  # GET, and HEAD (GET without the body): not a submitted form
        form.text.data = project.guidelines
        form.base_version.data = str(project.guidelines_version)
    elif not form.validate():
        status = 400
    elif action == "preview":  # without the page's script: the preview takes the editor's place
        preview = guideline_ops.render(form.text.data or "")
    elif action == "edit":  # back from that preview, the text as it was
        pass
    else:
        base = whole_number(form.base_version.data, LARGEST_ID)
        base = -1 if base is None else base
        changed = (form.text.data or "") != project.guidelines
        try:
            version, _ = write(lambda: project_ops.set_guidelines(db.session, project, form.text.data or "", current_user.id, base))
        except project_ops.GuidelinesChanged as exc:  # checked with the project's row locked: two saves at once take turns
            flash(
                f"Someone saved version {exc.current} while you were editing. Your text is below, "
                "unsaved: compare it with the current version and save again.",
                "error",
            )
            form.base_version.data = str(exc.current)
            status = 409
        else:
            if not changed:
                flash("No change: the guidelines are the same as the current version.", "info")
            elif any(v < version for v in guideline_ops.version_counts(db.session, project_id)):
                flash(f"Saved as version {version}. Annotators who labelled under an older version will see a notice.", "success")
            else:  # no label was made under an older version: nobody gets a notice (the first guidelines, as a rule)
                flash(f"Saved as version {version}.", "success")
            return redirect(url_for("admin.guidelines", project_id=project_id))
    return (
        render_template(
            "admin/guidelines.html",
            project=project,
            form=form,
            preview=preview,
            current_html=guideline_ops.render(project.guidelines),
            next_version=project_ops.next_guidelines_version(db.session, project),
            versions=guideline_ops.versions(db.session, project_id),
        ),
        status,
    )


@bp.route("/projects/<int:project_id>/guidelines/preview", methods=["POST"])
@form_limit(guideline_ops.MAX_CHARS)
@roles_required("admin")
def guidelines_preview(project_id: int):
    """Sanitised HTML for the editor's preview tab (JSON in, JSON out; CSRF token in X-CSRFToken)."""
    project_or_404(project_id)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
        return json_error(400, 'send {"text": "..."} as JSON')
    reason = guideline_ops.too_long(payload["text"])
    if reason:
        return json_error(400, reason)
    return jsonify({"html": guideline_ops.render(payload["text"])})


@bp.route("/projects/<int:project_id>/guidelines/v<int:version>")
@roles_required("admin")
def guideline_version(project_id: int, version: int):
    project = project_or_404(project_id)
    saved = guideline_ops.get_version(db.session, project_id, version)
    if saved is None:
        abort(404, f"Project {project.name} has no guidelines version {version}.")
    return render_template(
        "admin/guideline_version.html", project=project, saved=saved, html=guideline_ops.render(saved.text),
        labels=guideline_ops.version_counts(db.session, project_id).get(version, 0),
    )


@bp.route("/projects/<int:project_id>/guidelines/labels")
@roles_required("admin")
def labels_by_version(project_id: int):
    """Labels made under an older version of the guidelines (all older ones, or one), a page at a time."""
    project = project_or_404(project_id)
    raw = request.args.get("version") or None  # empty: every older version, as the pager's links say it
    # ASCII digits only (whole_number): int() read "\u0661" as 1 and "1_0" as 10, and 5,000 digits as no version (all)
    version = None if raw is None else whole_number(raw, LARGEST_ID)
    if raw is not None and (version is None or not 1 <= version <= project.guidelines_version):
        abort(404, f"Project {project.name} has no guidelines version {raw[:20]}.")
    labels = paginate(guideline_ops.labels_by_version(db.session, project_id, version), LABELS_PER_PAGE, clamp=False)  # past the end: empty
    return render_template(
        "admin/labels_by_version.html",
        project=project,
        version=version,
        total=labels.total,
        rows=guideline_ops.label_rows(labels.items),
        page=labels.page,
        pages=max(1, labels.pages),
        counts=guideline_ops.version_counts(db.session, project_id),
    )
