"""The dataset over HTTP, for the REST API (rest_data.py) and the download link (downloads.py).

One reading of the query (domain export.parse_query) and one streamed answer with its ETag, so both take the
same parameters (unit, filters, one split's file), refuse the same way and answer If-None-Match alike; the
download link only adds a file name per unit, filter and split.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, request, stream_with_context

from annotator.db import db
from annotator.db.models import Project
from annotator.db.transactions import begin_snapshot
from annotator.domain import catalog
from annotator.domain.dataset import export
from annotator.web.errors import json_error


def export_answer(project: Project, attachment: bool = False) -> Response:
    """`annotator export`'s JSONL as the query asks for it, streamed with an ETag (domain catalog.data_stamp);
    304 when If-None-Match holds that ETag, a JSON 400 saying what is wrong with the query.
    `attachment`: a Content-Disposition naming the file (the download link)."""
    try:
        query = export.parse_query(db.session, project, request.args.to_dict(flat=False))
    except export.ExportError as exc:
        return json_error(400, str(exc))
    etag = catalog.data_stamp(db.session, project, query.unit, query.filters, query.split)
    # no-store, as every logged-in answer (headers.py): the ETag is for a script that keeps it, not for a shared cache
    headers = {"Cache-Control": "no-store"}
    if request.if_none_match.contains_weak(etag):  # If-None-Match compares weakly (RFC 9110 13.1.2): W/"tag" matches "tag"
        db.session.rollback()
        response = Response(status=304, headers=headers)
        response.set_etag(etag)
        return response
    if attachment:
        headers["Content-Disposition"] = _disposition(project, query)
    records = export.iter_records(db.session, project.id, query.unit, query.filters, batch_size=export.STREAM_BATCH_SIZE)
    if query.split is not None:
        records = export.records_of_split(records, query.unit, *query.split)
    dumps = export.dumpb

    def generate():
        try:
            # Streamed after the view's session was removed (the app context's teardown): the records are read by a
            # session of their own, which reads one snapshot whatever is saved while they stream (an annotator's link
            # and its spans both or neither). The ETag was read just before it: a save in between makes the next
            # request's ETag differ, and the script fetches once more.
            begin_snapshot(db.session)
            for record in records:
                yield dumps(record)
        finally:
            db.session.rollback()  # end the long read transaction

    response = Response(stream_with_context(generate()), mimetype="application/jsonl", headers=headers)
    response.set_etag(etag)
    return response


def _disposition(project: Project, query: export.Query) -> str:
    """attachment; filename="<ASCII name>", and the real name too when it is not ASCII (RFC 6266 / 5987)."""
    split = query.split.name if query.split else None
    name = export.download_name(project.name, project.id, query.unit, query.filters, split=split)
    plain = export.download_name(project.name, project.id, query.unit, query.filters, ascii_only=True, split=split)
    disposition = f'attachment; filename="{plain}"'
    if name != plain:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return disposition
