"""The REST API for pipelines, a project's data: its articles, assignment, the dataset and agreement.

The same rules as rest.py (which has the shared helpers). Articles come in as `annotator import` reads
them (domain/catalog.import_body): a JSON array (`Content-Type: application/json`) or JSONL
(`application/x-ndjson`), all or nothing, errors naming the line or the item. The export is
`annotator export`'s JSONL, streamed, with an ETag (domain/catalog.data_stamp) so that a job pulls
it again only when the data changed (dataset_export.py, which the download link shares).
"""
from __future__ import annotations

from flask import Blueprint, abort, request

from annotator.db import db
from annotator.db.models import Project
from annotator.domain import accounts, assignment, catalog, projects
from annotator.domain.annotations import AnnotationError
from annotator.domain.dataset.articles import ON_DUPLICATE
from annotator.web.api import json_body
from annotator.web.dataset_export import export_answer
from annotator.web.errors import json_error
from annotator.web.rest import field, paged, project_to_read, register_refusals, write
from annotator.web.security import roles_required

bp = Blueprint("rest_data", __name__, url_prefix="/api")
register_refusals(bp)

BODY_TYPES = {"application/json": "json", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl", "application/x-jsonlines": "jsonl"}


def _project_to_change(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404, f"no project with id {project_id}")
    return project


# ----------------------------------------------------------------- articles
@bp.get("/projects/<int:project_id>/articles")
@roles_required("reviewer", "admin")
def list_articles(project_id: int):
    project = project_to_read(project_id)
    return paged(lambda window: catalog.article_page(db.session, project.id, window))


@bp.post("/projects/<int:project_id>/articles")
@roles_required("admin")
def add_articles(project_id: int):
    """?on_duplicate=error|skip|update (default error), as `annotator import --on-duplicate`."""
    project = _project_to_change(project_id)
    on_duplicate = request.args.get("on_duplicate", "error")
    if on_duplicate not in ON_DUPLICATE:
        raise AnnotationError(400, f"on_duplicate must be one of {', '.join(ON_DUPLICATE)} (got {on_duplicate[:40]!r})")
    kind = BODY_TYPES.get(request.mimetype)
    if kind is None:
        raise AnnotationError(415, "send a JSON array (Content-Type: application/json) or JSONL (Content-Type: application/x-ndjson)")
    stored = catalog.import_body(db.session, project, request.get_data(cache=False), kind, on_duplicate)  # type: ignore[arg-type]
    result = {"created": stored.created, "updated": stored.updated, "skipped": stored.skipped}
    return result, 201 if stored.created else 200


@bp.delete("/projects/<int:project_id>/articles/<int:article_id>")
@roles_required("admin")
def delete_article(project_id: int, article_id: int):
    """?annotated=delete also deletes an article someone annotated, with their work (else a 409)."""
    annotated = request.args.get("annotated", "keep")
    if annotated not in ("keep", "delete"):
        raise AnnotationError(400, f"annotated must be keep or delete (got {annotated[:40]!r})")
    try:
        external_id = write(lambda: catalog.delete_article(db.session, project_id, article_id, annotated == "delete"))
    except LookupError as exc:
        return json_error(404, str(exc))
    except projects.ProjectError as exc:
        return json_error(409, str(exc))
    return {"deleted": article_id, "external_id": external_id}


# ----------------------------------------------------------------- assignment
@bp.post("/projects/<int:project_id>/assignments")
@roles_required("admin")
def assign(project_id: int):
    """{"per_article": N} | {"user": NAME, "articles": [ID, ...]} | {"rebalance": true[, "per_article": N]}."""
    body = json_body({"per_article", "user", "articles", "rebalance"}, limit=16 * 1024 * 1024)
    per_article = field(body, "per_article", "integer")
    user, ids = field(body, "user", "string"), field(body, "articles", "strings")
    rebalance = field(body, "rebalance", "boolean", False)
    if (user is None) != (ids is None) or sum((per_article is not None and not rebalance, user is not None, rebalance)) != 1:
        raise AnnotationError(400, 'send one of {"per_article": N}, {"user": NAME, "articles": [ID, ...]} or {"rebalance": true}')
    if per_article is not None and not 1 <= per_article <= projects.MAX_ANNOTATORS_PER_ARTICLE:
        raise AnnotationError(400, f"per_article must be 1 to {projects.MAX_ANNOTATORS_PER_ARTICLE}")
    project = _project_to_change(project_id)
    if rebalance:
        done = write(lambda: assignment.rebalance(db.session, project.id, per_article))
        return {"removed": len(done.removed), "kept": len(done.kept), "moved": len(done.moved), "created": done.created,
                "articles_short": done.articles_short}
    if per_article is not None:
        result = write(lambda: assignment.assign_balanced(db.session, project.id, per_article))
        return {"created": result.created, "articles_short": result.articles_short}
    wanted = [x.strip() for x in ids if x.strip()]
    if not wanted:
        raise AnnotationError(400, "articles must name at least one article id")
    person = accounts.get_user(db.session, user)
    return {"created": write(lambda: assignment.assign_to_user(db.session, project.id, person, wanted))}


# ----------------------------------------------------------------- the dataset
@bp.get("/projects/<int:project_id>/export.jsonl")
@roles_required("reviewer", "admin")
def export_jsonl(project_id: int):
    """`annotator export`'s JSONL, streamed; `If-None-Match` with the last ETag gives 304 while the data is unchanged."""
    return export_answer(project_to_read(project_id))


@bp.get("/projects/<int:project_id>/agreement")
@roles_required("reviewer", "admin")
def project_agreement(project_id: int):
    """The figures of `annotator agreement --json`; ?by=article adds the per-article figures (as --by article)."""
    project = project_to_read(project_id)
    by = request.args.get("by", "")
    if by not in ("", "label", "annotator", "article"):
        raise AnnotationError(400, f"by must be label, annotator or article (got {by[:40]!r})")
    from annotator.domain import agreement  # with NumPy: loaded by the first request for figures, not by every worker

    return agreement.document(db.session, project.id, by_article=by == "article", store=False)  # a GET never writes
