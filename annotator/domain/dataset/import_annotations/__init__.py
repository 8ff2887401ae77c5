"""Load annotated articles (the export's article format) into a project.

    import_records(session, project, records, file, on_duplicate) -> ImportResult

`records` are (line number, JSON object) pairs in the article format of
the export (foreign/ turns Label Studio and doccano files into the same).
Every record is checked the way the API checks a write (annotations.py's
check_label / check_span / check_relation) before anything of it is stored;
any problem raises IngestError("FILE:LINE: reason").  The caller runs a whole
file in one write transaction (`with transaction(session):`), so a bad line
stores nothing of its file.  parse.py checks a record on its own (no
database); store.py checks it against what is stored (existing.py reads that for
a chunk of FLUSH_EVERY lines at once, a few queries per chunk, not per line) and inserts in bulk.

What it does per record: finds the article by its external id (an existing
article's text must be identical: same SHA-256; given sentences must equal the
stored ones) or creates it (with the given sentences, checked, else segmented);
creates missing annotators and reviewers as inactive users without a password
(each in the account trail, as `annotator users create` would leave it);
inserts labels, spans, relations and gold with a few Core bulk inserts; writes
one audit entry (entity "article", action "import").  An annotator who already
has annotations on the article, or an article that already has gold, is a
duplicate: `error` (default), `skip` it, or `replace` what is stored.  A block
that says which kinds of annotation it carries (a foreign reader's "_carries":
doccano's sequence labelling carries spans, its classification article labels) is a duplicate only
where a kind it carries is stored, and `replace` replaces only those kinds, so
one person's spans from one file and labels from another are both kept.

Before anything is written (PostgreSQL), the stored articles the file names
(by id, or by text) are locked FOR UPDATE in id order, then the project's row
FOR KEY SHARE with the schema looked at again (projects.schema_unchanged): the
order a label rename takes them (articles in id order, then the project's
row), so the two wait for each other whole.  Locked one at a time in the
file's order, the import could wait for an article a rename had taken
meanwhile while the rename waited for another article the import held, or
for the project's row a file's predictions had updated (suggestions move the
revision on): a circle PostgreSQL broke by ending one of them (an annotator's
save, which waits for that row too, likewise).  So a file is read whole.  A
rename or schema edit committed since the schema was read, or in flight (its
row held), refuses the file: nothing stored, import it again; one that comes
later waits for the file and renames what it stored.

With match_by="text" (match.py) a record goes onto the article with the same
text whatever its id; a text several articles share is refused, reported in
the result, and the rest of the file imports.

Preserved exactly: labels with seconds, guidelines version, updated_at and
needs_review; span and relation ids; every label's, span's and relation's
origin (manual, or suggested with the suggester's name and version); gold with
provenance, reviewer, reason and updated_at; the article's suggestions (the
export's `suggestions` object, suggested.py: each suggester's replace what that
suggester had on the article, as `suggest run` does).  Set anew: database ids,
label edit counters (1), the creation times of articles, spans and
relations.  Not carried: each annotator's accept / reject decisions on
suggestions (the export has none), so an accepted suggestion that is not a span
the annotator has shows as pending again in the new project.
"""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy.orm import Session

from annotator.db import statistics
from annotator.db.models import Project
from annotator.domain import account_log
from annotator.domain.dataset.import_annotations.existing import Existing
from annotator.domain.dataset.import_annotations.match import MATCH_BY, Ambiguous, TextMatcher
from annotator.domain.dataset.import_annotations.parse import Bad, Record, parse_record
from annotator.domain.dataset.import_annotations.store import (
    ON_DUPLICATE,
    ImportResult,
    OnDuplicate,
    Pending,
    Users,
    check_against_database,
    flush,
    stored_articles,
)
from annotator.domain.dataset.ingest import IngestError
from annotator.domain.gold import incremental as gold
from annotator.domain.projects import SCHEMA_CHANGED, bump_revision, lock_article_rows, schema_unchanged

__all__ = ["MATCH_BY", "ON_DUPLICATE", "ImportResult", "OnDuplicate", "import_records"]

FLUSH_EVERY = 200  # articles whose rows go to the database in one set of bulk inserts
# What an annotation import fills (articles and sentences too, for new articles), analysed after a bulk one.
ANALYZED = ("articles", "sentences", "annotations", "spans", "relations", "gold_labels", "gold_spans", "gold_relations")


def import_records(
    session: Session,
    project: Project,
    records: Iterable[tuple[int, Any]],
    file: str,
    on_duplicate: OnDuplicate = "error",
    actor_id: int | None = None,
    match_by: str = "id",
) -> ImportResult:
    """Check and store every record; raise IngestError(file, line, reason) at the first bad one.

    Run it in one write transaction, which commits, or rolls back on error.
    Rows are inserted in bulk every FLUSH_EVERY articles (Core executemany).
    """
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}")
    if match_by not in MATCH_BY:
        raise ValueError(f"match_by must be one of {MATCH_BY}")
    records = list(records)  # read whole: the stored articles it names are locked before anything is written
    result = ImportResult()
    matcher = TextMatcher(session, project) if match_by == "text" else None
    schema = project.label_schema
    lock_article_rows(session, stored_articles(session, project, records, matcher.by_digest if matcher else None))
    if not schema_unchanged(session, project.id, schema):  # a rename or schema edit since the schema was read, or in flight
        raise IngestError(file, None, SCHEMA_CHANGED)
    # who made the users the file names (the account trail): the command line, the only caller; else the admin on the web
    users = Users(session, result, account_log.CLI if actor_id is None else account_log.web(actor_id))
    seen: dict[str, int] = {}
    touched: list[int] = []  # article ids, for their automatic gold at the end (ints: memory stays small)
    for start in range(0, len(records), FLUSH_EVERY):
        chunk = records[start:start + FLUSH_EVERY]
        pending = _check_chunk(session, project, schema, chunk, file, users, on_duplicate, result, matcher, seen)
        flush(session, project, pending, actor_id)
        touched += [p.article_id for p in pending if p.article_id is not None]
    if not seen and not result.ambiguous:
        raise IngestError(file, None, "no articles in file")
    gold.articles_changed(session, project.id, touched)  # a batch of articles at a time
    if len(touched) >= statistics.BULK_ROWS:  # the reads that follow a bulk load need its statistics (db/statistics.py)
        statistics.analyze(session, ANALYZED)
    bump_revision(session, project.id)
    return result


def _check_chunk(
    session: Session,
    project: Project,
    schema: dict[str, Any],
    chunk: list[tuple[int, Any]],
    file: str,
    users: Users,
    on_duplicate: OnDuplicate,
    result: ImportResult,
    matcher: TextMatcher | None,
    seen: dict[str, int],
) -> list[Pending]:
    """Check a chunk of lines: each on its own (parse), then all against what the database holds for the chunk, read
    at once (existing.py), and delete what `replace` replaces. The first bad line raises, as when lines were checked
    one at a time: a line refused on its own after one refused against the database waits for the lines before it."""
    parsed: list[tuple[int, Any, Record]] = []
    refused: tuple[int, Any, Bad] | None = None
    for line, obj in chunk:
        try:
            record = parse_record(obj, schema)
            record.line = line
            if matcher is not None:
                try:
                    result.matched += matcher.match(record)
                except Ambiguous as exc:
                    result.ambiguous.append((line, f"{exc}: not imported"))
                    continue
            if record.external_id in seen:
                raise Bad(f"article {record.external_id!r} appears twice in the file (first on line {seen[record.external_id]})")
            seen[record.external_id] = line
            parsed.append((line, obj, record))
        except Bad as exc:
            refused = (line, obj, exc)
            break
    records = [record for _, _, record in parsed]
    existing = Existing(session, project, records)
    users.read({block.annotator for r in records for block in r.blocks} | _reviewers(records))
    pending = []
    for line, obj, record in parsed:
        try:
            pending.append(check_against_database(existing, project, record, users, on_duplicate, result, file))
        except Bad as exc:
            raise _refused(file, line, obj, exc) from None
    if refused is not None:
        raise _refused(file, *refused) from None
    existing.delete_replaced()
    return pending


def _reviewers(records: list[Record]) -> set[str]:
    """The reviewers the records' gold names."""
    return {item.reviewer for r in records if r.gold is not None
            for item in (*r.gold.labels, *r.gold.spans, *r.gold.relations, *r.gold.decided.values()) if item.reviewer is not None}


def _refused(file: str, line: int, obj: Any, exc: Bad) -> IngestError:
    at = obj.get("_at") if isinstance(obj, dict) else None  # a foreign reader's name for the record, like "task 3 (id 17)"
    return IngestError(file, exc.line or line, f"{at}, {exc}" if isinstance(at, str) and at else str(exc))
