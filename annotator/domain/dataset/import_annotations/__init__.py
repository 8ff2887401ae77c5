"""Load annotated articles (the export's article format) into a project.

    import_records(session, project, records, file, on_duplicate) -> ImportResult

`records` are (line number, JSON object) pairs in the article format of
the export (foreign/ turns Label Studio and doccano files into the same).
Every record is checked the way the API checks a write (annotations.py's
check_label / check_span / check_relation) before anything of it is stored;
any problem raises IngestError("FILE:LINE: reason").  The caller runs a whole
file in one write transaction (`with transaction(session):`), so a bad line
stores nothing of its file.  parse.py checks a record on its own (no
database); store.py checks it against what is stored and inserts in bulk.

What it does per record: finds the article by its external id (an existing
article's text must be identical: same SHA-256; given sentences must equal the
stored ones) or creates it (with the given sentences, checked, else segmented);
creates missing annotators and reviewers as inactive users without a password;
inserts labels, spans, relations and gold with a few Core bulk inserts; writes
one audit entry (entity "article", action "import").  An annotator who already
has annotations on the article, or an article that already has gold, is a
duplicate: `error` (default), `skip` it, or `replace` what is stored.

Preserved exactly: labels with seconds, guidelines version, updated_at and
needs_review; span and relation ids; gold with provenance, reviewer, reason
and updated_at.  Set anew: database ids, label edit counters (1), the
creation times of articles, spans and relations.
"""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy.orm import Session

from annotator.db.models import Project
from annotator.domain.dataset.import_annotations.parse import Bad, parse_record
from annotator.domain.dataset.import_annotations.store import (
    ON_DUPLICATE,
    ImportResult,
    OnDuplicate,
    Pending,
    Users,
    check_against_database,
    flush,
)
from annotator.domain.dataset.ingest import IngestError
from annotator.domain.projects import bump_revision

__all__ = ["ON_DUPLICATE", "ImportResult", "OnDuplicate", "import_records"]

FLUSH_EVERY = 200  # articles whose rows go to the database in one set of bulk inserts


def import_records(
    session: Session,
    project: Project,
    records: Iterable[tuple[int, Any]],
    file: str,
    on_duplicate: OnDuplicate = "error",
    actor_id: int | None = None,
) -> ImportResult:
    """Check and store every record; raise IngestError(file, line, reason) at the first bad one.

    Run it in one write transaction, which commits, or rolls back on error.
    Rows are inserted in bulk every FLUSH_EVERY articles (Core executemany).
    """
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}")
    result = ImportResult()
    users = Users(session, result)
    schema = project.label_schema
    seen: dict[str, int] = {}
    pending: list[Pending] = []
    for line, obj in records:
        try:
            record = parse_record(obj, schema)
            record.line = line
            if record.external_id in seen:
                raise Bad(f"article {record.external_id!r} appears twice in the file (first on line {seen[record.external_id]})")
            seen[record.external_id] = line
            pending.append(check_against_database(session, project, record, users, on_duplicate, result, file))
        except Bad as exc:
            raise IngestError(file, line, str(exc)) from None
        if len(pending) >= FLUSH_EVERY:
            flush(session, project, pending, actor_id)
            pending = []
    if not seen:
        raise IngestError(file, None, "no articles in file")
    flush(session, project, pending, actor_id)
    bump_revision(session, project.id)
    return result
