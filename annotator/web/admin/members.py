"""Members: who works on a project (its annotators are the assignment pool; its reviewers open its review pages)."""
from __future__ import annotations

import shlex

from flask import abort, flash, redirect, render_template, url_for

from annotator.db import db
from annotator.db.models import User
from annotator.domain import accounts, assignment
from annotator.domain import projects as project_ops
from annotator.web.admin import bp, form_status, project_or_404, write
from annotator.web.admin.forms import ActionForm, MembersForm, choice
from annotator.web.security import roles_required


def _page(project_id: int, form: MembersForm, status: int = 200):
    project = project_or_404(project_id)
    return (
        render_template(
            "admin/members.html",
            project=project,
            shell_name=shlex.quote(project.name),  # the command-line hint, ready to paste
            members=project_ops.members(db.session, project_id),
            assigned=assignment.assigned_counts(db.session, project_id),
            form=form,
            action=ActionForm(formdata=None),
        ),
        status,
    )


def _form(project_id: int, formdata: bool = True) -> MembersForm:
    form = MembersForm() if formdata else MembersForm(formdata=None)
    form.users.choices = [
        choice(u.id, f"{u.name} ({u.role}{'' if u.active else ', deactivated'})") for u in project_ops.candidates(db.session, project_id)
    ]
    return form


@bp.route("/projects/<int:project_id>/members", methods=["GET", "POST"])
@roles_required("admin")
def members(project_id: int):
    project = project_or_404(project_id)
    form = _form(project_id, formdata=True)
    if form.validate_on_submit():
        chosen = accounts.users_by_ids(db.session, form.users.data)
        added, error = write(lambda: project_ops.add_members(db.session, project_id, chosen), project_ops.ProjectError)
        if error is None:
            flash(f"Added {', '.join(added)} to {project.name}.", "success")
            return redirect(url_for("admin.members", project_id=project_id))
        form.users.errors = [*form.users.errors, error]
        return _page(project_id, form, 409)
    return _page(project_id, form, form_status())


@bp.route("/projects/<int:project_id>/members/<int:user_id>/remove", methods=["POST"])
@roles_required("admin")
def member_remove(project_id: int, user_id: int):
    project = project_or_404(project_id)
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, f"There is no user {user_id}.")
    if not ActionForm().validate_on_submit():
        return _page(project_id, _form(project_id, formdata=False), 400)
    _, error = write(lambda: project_ops.remove_members(db.session, project_id, [user]), project_ops.ProjectError)
    if error:
        flash(error, "error")
        return _page(project_id, _form(project_id, formdata=False), 409)
    note = (" Their assignments stay until you re-balance (Assignment → Re-balance): unstarted ones go to the project's other annotators,"
            " started ones are kept." if user.role == "annotator" else " They can no longer open its review pages or exports.")
    flash(f"Removed {user.name} from {project.name}.{note}", "success")
    return redirect(url_for("admin.members", project_id=project_id))
