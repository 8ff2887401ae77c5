"""The REST API for pipelines, a project's data: its articles, assignment, the dataset and agreement.

The same rules as rest.py (which has the shared helpers). Articles come in as `annotator import` reads
them (domain/catalog.import_body): a JSON array (`Content-Type: application/json`) or JSONL
(`application/x-ndjson`), all or nothing, errors naming the line or the item. The export is
`annotator export`'s JSONL, streamed, with an ETag (domain/catalog.data_stamp) so that a job pulls
it again only when the data changed.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, request, stream_with_context

from annotator.db import db
from annotator.db.models import Project
from annotator.domain import accounts, agreement, assignment, catalog, projects
from annotator.domain.annotations import AnnotationError
from annotator.domain.dataset import export
from annotator.domain.dataset.articles import ON_DUPLICATE
from annotator.web.api import json_body
from annotator.web.errors import json_error
from annotator.web.rest import field, paged, project_to_read, register_refusals, write
from annotator.web.security import roles_required

bp = Blueprint("rest_data", __name__, url_prefix="/api")
register_refusals(bp)

BODY_TYPES = {"application/json": "json", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl", "application/x-jsonlines": "jsonl"}
_FLAGS = {"": False, "0": False, "false": False, "no": False, "1": True, "true": True, "yes": True}
EXPORT_PARAMS = {"unit", "gold_only", "annotator", "labels", "split", "splits", "seed"}
DEFAULT_SPLITS = "train=0.8,dev=0.1,test=0.1"
DEFAULT_SEED = 13  # as `annotator export --seed`


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
    return paged(lambda offset, limit: catalog.article_page(db.session, project.id, offset, limit))


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
def _export_options(project: Project) -> tuple[str, export.Filters, tuple[Any, ...] | None]:
    """(unit, filters, (splits, seed, name) or None) from the query string; a 400 for anything unknown or bad."""
    unknown = sorted(set(request.args) - EXPORT_PARAMS)
    if unknown:
        raise AnnotationError(400, f"unknown parameter(s) {', '.join(unknown)}; use {', '.join(sorted(EXPORT_PARAMS))}")
    unit = request.args.get("unit", export.DEFAULT_UNIT)
    if unit not in export.UNITS:
        raise AnnotationError(400, f"unit must be one of {', '.join(export.UNITS)} (got {unit[:40]!r})")
    gold_only = _FLAGS.get(request.args.get("gold_only", "").strip().lower())
    if gold_only is None:
        raise AnnotationError(400, f"gold_only must be 1 or 0 (got {request.args['gold_only'][:40]!r})")
    filters = export.check_filters(db.session, project, export.Filters(
        gold_only=gold_only,
        annotators=tuple(dict.fromkeys(request.args.getlist("annotator"))),
        labels=export.parse_labels(request.args.get("labels")),
    ))
    name = request.args.get("split")
    if name is None:
        if "splits" in request.args or "seed" in request.args:
            raise AnnotationError(400, "splits and seed choose how articles are split: give split=NAME too")
        return unit, filters, None
    splits = export.parse_split(request.args.get("splits", DEFAULT_SPLITS))
    if name not in [n for n, _ in splits]:
        raise AnnotationError(400, f"split {name[:40]!r} is not one of {', '.join(n for n, _ in splits)}")
    seed = request.args.get("seed", str(DEFAULT_SEED))
    if not (seed.isascii() and seed.removeprefix("-").isdigit() and len(seed) <= 18):  # one sign: "--5" is no integer
        raise AnnotationError(400, f"seed must be an integer (got {seed[:40]!r})")
    return unit, filters, (splits, int(seed), name)


@bp.get("/projects/<int:project_id>/export.jsonl")
@roles_required("reviewer", "admin")
def export_jsonl(project_id: int):
    """`annotator export`'s JSONL, streamed; `If-None-Match` with the last ETag gives 304 while the data is unchanged."""
    project = project_to_read(project_id)
    unit, filters, split = _export_options(project)
    etag = catalog.data_stamp(db.session, project, unit, filters, split)
    if request.if_none_match.contains_weak(etag):  # If-None-Match compares weakly (RFC 9110 13.1.2): W/"tag" matches "tag"
        db.session.rollback()
        response = Response(status=304)
        response.set_etag(etag)
        return response
    records = export.iter_records(db.session, project.id, unit, filters)
    if split is not None:
        records = export.records_of_split(records, unit, *split)
    dumps = export.dumpb

    def generate():
        try:
            for record in records:
                yield dumps(record)
        finally:
            db.session.rollback()  # end the long read transaction

    # no-store, as every logged-in answer (headers.py): the ETag is for a script that keeps it, not for a shared cache
    response = Response(stream_with_context(generate()), mimetype="application/jsonl", headers={"Cache-Control": "no-store"})
    response.set_etag(etag)
    return response


@bp.get("/projects/<int:project_id>/agreement")
@roles_required("reviewer", "admin")
def project_agreement(project_id: int):
    """The figures of `annotator agreement --json`; ?by=article adds the per-article figures (as --by article)."""
    project = project_to_read(project_id)
    by = request.args.get("by", "")
    if by not in ("", "label", "annotator", "article"):
        raise AnnotationError(400, f"by must be label, annotator or article (got {by[:40]!r})")
    return agreement.document(db.session, project.id, by_article=by == "article", store=False)  # a GET never writes
