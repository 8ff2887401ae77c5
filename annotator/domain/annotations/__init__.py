"""The write side of annotations: validation, the label / span / relation operations, the audit trail.

Plain functions over a SQLAlchemy session; no Flask. The API views (web/api.py),
the importer and scripts share them, so every path checks the same rules and
writes the same audit entries. One module per concept:

- validation: the checks of what a client sends, and AnnotationError;
- access: which article a caller may write to or read;
- labels, spans, relations, article_labels: the operations;
- batch: several operations on one article in one transaction, all or nothing;
- idempotency: request ids that make a retried label save count once;
- trail: what each write leaves besides its row (audit entries, the
  assignment's progress, the project revision);
- statements: the save path's prebuilt Core statements;
- serialize: the JSON shapes of labels, spans, relations, timestamps;
- reads: an article as its annotator reads it back (prebuilt Core statements too);
- transaction: `write()`, an operation in a retried write transaction; `save()`, a request's, which may share it.

Transactions: every operation runs inside the caller's write transaction
(`transaction()` from db/transactions.py) and leaves the commit to it;
`write()` runs one, with retries, queued on SQLite behind an OS file lock (see
`writer_queue` there). An operation either raises before writing anything or
writes the change, its AuditEntry rows and the Project.revision bump together.

Concurrency (several gunicorn workers, one annotator in two tabs):
- labels: the row is read `FOR UPDATE` (a no-op on SQLite, where BEGIN
  IMMEDIATE already serialises writers) and created with
  `INSERT ... ON CONFLICT DO NOTHING`; losing that race means another request
  created it first, so we read it again and update it: last write wins, both
  writes are audited;
- spans and relations carry a client uid: a retried POST finds the row the
  first attempt made (same content: returned, no duplicate; other content: 409,
  and the same 409 for a uid another annotator uses in the article: uids are
  unique per article, and whose one is is not told);
  an annotator's same span (label and offsets) under another uid is refused by
  a unique index (two tabs racing it: one row, the other gets the 409);
- a label PUT may carry a request id: its retry is answered as the first time
  and writes nothing (idempotency.py);
- row locks are always taken in the same order (entity rows, assignment,
  audit, project revision last), so two writers cannot deadlock each other.
"""
from __future__ import annotations

from annotator.domain.annotations.access import Access, readable_article, writable_article
from annotator.domain.annotations.article_labels import article_labels_of, delete_article_label, put_article_label
from annotator.domain.annotations.batch import MAX_OPERATIONS, Changes, apply_changes, check_operations, prepare_changes, run_changes
from annotator.domain.annotations.labels import delete_label, label_request, put_label
from annotator.domain.annotations.reads import article_payload
from annotator.domain.annotations.relations import create_relation, delete_relation
from annotator.domain.annotations.spans import create_span, delete_span, update_span
from annotator.domain.annotations.trail import audit
from annotator.domain.annotations.transaction import WRITE_ATTEMPTS, save, write
from annotator.domain.annotations.validation import (
    MAX_LABEL_SECONDS,
    MAX_SECONDS_PER_WRITE,
    UID_PATTERN,
    AnnotationError,
    check_int,
    check_label,
    check_ref,
    check_relation,
    check_seconds,
    check_sentence_bounds,
    check_span,
    check_str,
    check_uid,
    check_version,
    is_int,
    show,
)
from annotator.domain.records import label_json as label_dict
from annotator.domain.records import origin_json as origin_dict
from annotator.domain.records import relation_json as relation_dict
from annotator.domain.records import span_json as span_dict

__all__ = [
    "MAX_LABEL_SECONDS", "MAX_OPERATIONS", "MAX_SECONDS_PER_WRITE", "UID_PATTERN", "WRITE_ATTEMPTS",
    "Access", "AnnotationError", "Changes",
    "apply_changes", "article_labels_of", "article_payload", "audit", "check_int", "check_label", "check_operations", "check_ref", "check_relation", "check_seconds",
    "check_sentence_bounds", "check_span", "check_str", "check_uid", "check_version", "create_relation", "create_span",
    "delete_article_label", "delete_label", "delete_relation", "delete_span", "is_int", "label_dict", "label_request", "origin_dict", "prepare_changes", "put_article_label", "put_label",
    "readable_article", "relation_dict", "run_changes", "save", "show", "span_dict", "update_span", "writable_article", "write",
]
