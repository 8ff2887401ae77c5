"""The dataset over HTTP, for the REST API (rest_data.py) and the download link (downloads.py).

One reading of the query (domain export.parse_query) and one streamed answer with its ETag, so both take the
same parameters (unit, filters, one split's file), refuse the same way and answer If-None-Match alike; the
download link only adds a file name per unit, filter and split.
"""
from __future__ import annotations

from typing import Iterator
from urllib.parse import quote

from flask import Response, request, stream_with_context
from sqlalchemy.orm import Session

from annotator.db import db
from annotator.db.models import Project
from annotator.db.transactions import begin_snapshot
from annotator.domain import catalog
from annotator.domain.dataset import export
from annotator.web.errors import json_error


def export_answer(project: Project, attachment: bool = False) -> Response:
    """`annotator export`'s JSONL as the query asks for it, streamed with an ETag (domain catalog.data_stamp);
    304 when If-None-Match holds that ETag, a JSON 400 saying what is wrong with the query.
    `attachment`: a Content-Disposition naming the file (the download link).

    The query is checked, the ETag read and the records streamed in one snapshot (transactions.begin_snapshot), by a
    session of the answer's own: the view's session is removed (the app context's teardown) before the body streams,
    and a query checked in it passed a label renamed just after, which then matched no record (a 200 with none).
    That session's read ends on every path: before returning when there is no body to stream (304, 400, 404, HEAD),
    else when the stream ends, is closed (a client gone) or is let go unread (see _streamed)."""
    session = db.session.session_factory()
    try:
        begin_snapshot(session)
        response, lines = _answer(session, project.id, attachment)
    except BaseException:
        session.close()
        raise
    if lines is None or request.method == "HEAD":  # no body: a WSGI server never iterates one for HEAD
        session.close()
        return response
    response.response = stream_with_context(_streamed(session, lines))
    response.call_on_close(session.close)  # a server closes every answer it was given, streamed or not
    return response


def _answer(session: Session, project_id: int, attachment: bool) -> tuple[Response, Iterator[bytes] | None]:
    """The answer's status and headers, read in `session`'s snapshot; and its lines when it has a body to stream."""
    project = session.get(Project, project_id)  # as the snapshot has it
    if project is None:  # deleted since the view found it
        return json_error(404, f"no project with id {project_id}"), None
    try:
        query = export.parse_query(session, project, request.args.to_dict(flat=False))
    except export.ExportError as exc:
        return json_error(400, str(exc)), None
    etag = catalog.data_stamp(session, project, query.unit, query.filters, query.split)
    # no-store, as every logged-in answer (headers.py): the ETag is for a script that keeps it, not for a shared cache
    headers = {"Cache-Control": "no-store"}
    if request.if_none_match.contains_weak(etag):  # If-None-Match compares weakly (RFC 9110 13.1.2): W/"tag" matches "tag"
        response = Response(status=304, headers=headers)
        response.set_etag(etag)
        return response, None
    if attachment:
        headers["Content-Disposition"] = _disposition(project, query)
    records = export.iter_records(session, project.id, query.unit, query.filters, batch_size=export.STREAM_BATCH_SIZE)
    if query.split is not None:
        records = export.records_of_split(records, query.unit, *query.split)
    dumps = export.dumpb
    response = Response(mimetype="application/jsonl", headers=headers)
    response.set_etag(etag)
    return response, (dumps(record) for record in records)


def _streamed(session: Session, lines: Iterator[bytes]) -> Iterator[bytes]:
    """`lines`, then the session closed: when they are all out, when an error stops them, when the answer is closed
    part-way (the client went away) and when it is let go unread. Started here, up to its first yield, so that its
    `finally` runs in every one of these cases: a generator never started runs none, and the session's read would
    stay open (on PostgreSQL idle in a transaction, holding its locks) until the garbage collector found it."""
    def generate() -> Iterator[bytes]:
        try:
            yield b""  # the priming step below takes it; the client never sees it
            yield from lines
        finally:
            session.close()

    stream = generate()
    next(stream)
    return stream


def _disposition(project: Project, query: export.Query) -> str:
    """attachment; filename="<ASCII name>", and the real name too when it is not ASCII (RFC 6266 / 5987)."""
    split = query.split.name if query.split else None
    name = export.download_name(project.name, project.id, query.unit, query.filters, split=split)
    plain = export.download_name(project.name, project.id, query.unit, query.filters, ascii_only=True, split=split)
    disposition = f'attachment; filename="{plain}"'
    if name != plain:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return disposition
