"""Projects: list, create and edit (preset, pasted or uploaded schema), and the overview page."""
from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import CacheEntry, Project
from annotator.domain import label_rename, labelschema, progress
from annotator.domain import projects as project_ops
from annotator.domain.dataset.ingest import IngestError, decode
from annotator.web.admin import bp, form_status, project_or_404, write
from annotator.web.admin.forms import EditProjectForm, ProjectForm, RenameLabelForm
from annotator.web.security import roles_required

# Where the reviewer pages show agreement; linked only when that page exists.
AGREEMENT_ENDPOINT = "review.agreement"


def schema_from(form: ProjectForm) -> tuple[dict[str, Any] | None, list[str] | None]:
    """The schema the form asks for, validated like the CLI does (None when keeping the current one).

    On failure, every problem on its own line (an uploaded file's name before each), as the CLI lists them.
    """
    source = form.schema_source.data
    try:
        if source == "preset":
            return labelschema.preset(form.preset.data), None
        if source == "paste":
            return labelschema.loads(form.schema_json.data or ""), None
        if source == "upload":
            upload = form.schema_file.data
            name = PurePath(upload.filename or "schema.json").name
            try:
                return labelschema.loads(decode(upload.read(), name)), None
            except labelschema.SchemaError as exc:
                return None, [f"{name}: {problem}" for problem in exc.problems]
    except labelschema.SchemaError as exc:
        return None, list(exc.problems)
    except IngestError as exc:
        return None, [str(exc)]
    return None, None


def _schema_error(form: ProjectForm, problems: list[str]) -> None:
    field = {"paste": form.schema_json, "upload": form.schema_file}.get(form.schema_source.data, form.preset)
    field.errors = [*field.errors, *problems]


@bp.route("/")
@roles_required("admin")
def index():
    return redirect(url_for("admin.projects"))


@bp.route("/projects")
@roles_required("admin")
def projects():
    return render_template("admin/projects.html", rows=progress.project_overview(db.session))


@bp.route("/projects/new", methods=["GET", "POST"])
@roles_required("admin")
def project_new():
    form = ProjectForm()
    if form.validate_on_submit():
        schema, error = schema_from(form)
        if error:
            _schema_error(form, error)
        else:
            def create() -> Project:
                project = project_ops.create_project(
                    db.session, form.name.data, schema, form.annotators_per_article.data, author_id=current_user.id
                )
                project_ops.update_project(db.session, project, majority_threshold=form.majority_threshold.data)
                return project

            project, error = write(create, project_ops.ProjectError, labelschema.SchemaError)
            if project is not None:
                flash(f"Project {project.name} created. Next: write the guidelines and upload articles.", "success")
                return redirect(url_for("admin.project", project_id=project.id))
            flash(error, "error")
    return render_template("admin/project_form.html", form=form, project=None), form_status()


@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def project_edit(project_id: int):
    project = project_or_404(project_id)
    form = EditProjectForm(obj=project)
    if form.validate_on_submit():
        schema, error = schema_from(form)
        if error:
            _schema_error(form, error)
        else:
            _, error = write(
                lambda: project_ops.update_project(
                    db.session,
                    project,
                    name=form.name.data,
                    schema=schema,
                    annotators_per_article=form.annotators_per_article.data,
                    majority_threshold=form.majority_threshold.data,
                    suggestions_enabled=form.suggestions_enabled.data,
                ),
                project_ops.ProjectError,
                labelschema.SchemaError,
            )
            if error is None:
                flash("Project settings saved.", "success")
                return redirect(url_for("admin.project", project_id=project_id))
            flash(error, "error")
            db.session.refresh(project)
    if not form.is_submitted():
        # "Paste JSON" opens on the current schema, to change a label or add one: it opened empty, and the admin had
        # to write the whole schema again (the page shows it only as tables) to change one description
        form.schema_json.data = json.dumps(project.label_schema, indent=2, ensure_ascii=False)
    return _settings_page(project, form, RenameLabelForm(formdata=None))


def _settings_page(project: Project, form: EditProjectForm, rename: RenameLabelForm):
    rename.set_choices(project.label_schema)
    return render_template(
        "admin/project_form.html", form=form, project=project, rename=rename, renames=label_rename.history(db.session, project.id),
    ), form_status()


@bp.route("/projects/<int:project_id>/rename-label", methods=["POST"])
@roles_required("admin")
def project_rename_label(project_id: int):
    """Rename a label in use: a schema edit must keep every stored label's name, so renaming has its own form."""
    project = project_or_404(project_id)
    rename = RenameLabelForm()
    rename.set_choices(project.label_schema)
    if rename.validate_on_submit():
        section, group, old = rename.chosen()
        renamed, error = write(
            lambda: label_rename.rename_label(db.session, project_id, section, old, rename.new_name.data, current_user.id, "web", group),
            project_ops.ProjectError,
        )
        if renamed is not None:
            flash(renamed.describe() + ".", "success")
            for note in renamed.notes:
                flash(f"Note: {note}.", "warning")
            return redirect(url_for("admin.project_edit", project_id=project_id))
        rename.new_name.errors = [error]
        db.session.refresh(project)
    settings = EditProjectForm(formdata=None, obj=project)
    settings.schema_json.data = json.dumps(project.label_schema, indent=2, ensure_ascii=False)
    return _settings_page(project, settings, rename)


def agreement_headline(project_id: int) -> dict[str, Any] | None:
    """The reviewer page's figures for the project's current revision, if it has computed them.

    Read from the shared cache only: the admin overview never starts the
    (bootstrapped) computation itself.
    """
    from annotator.domain import agreement as project_agreement

    head = project_agreement.project_head(db.session, project_id)
    value = db.session.scalar(select(CacheEntry.value).where(CacheEntry.key == project_agreement.cache_key(head, "summary")))
    if not isinstance(value, dict):
        return None
    overall = value.get("overall") or {}
    figures = {key: (overall.get(key) or {}).get("value") for key in ("krippendorff_alpha", "fleiss_kappa", "percent_agreement")}
    return {"figures": figures, "computed_at": value.get("computed_at"), "n_items": value.get("n_items")}


@bp.route("/projects/<int:project_id>")
@roles_required("admin")
def project(project_id: int):
    project = project_or_404(project_id)
    agreement_url = None
    if AGREEMENT_ENDPOINT in current_app.view_functions:
        agreement_url = url_for(AGREEMENT_ENDPOINT, project_id=project.id)
    return render_template(
        "admin/project.html",
        project=project,
        counts=progress.overview(db.session, project.id),
        schema=project.label_schema,
        agreement_url=agreement_url,
        headline=agreement_headline(project.id),
    )
