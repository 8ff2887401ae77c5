"""Load annotated articles (the export's article format) into a project.

    import_records(session, project, records, file, on_duplicate) -> ImportResult

`records` are (line number, JSON object) pairs in the article format of
export.py (foreign.py turns Label Studio and doccano files into the same).
Every record is checked the way the API checks a write (annotations.py's
check_label / check_span / check_relation) before anything of it is stored;
any problem raises IngestError("FILE:LINE: reason").  The caller runs a whole
file in one write transaction and rolls back on error, so a bad line stores
nothing of its file.

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

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Literal

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from annotator.db.models import (
    GOLD_PROVENANCE,
    Annotation,
    Article,
    AuditEntry,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    Project,
    Relation,
    Sentence,
    Span,
    User,
    new_uid,
    utcnow,
)
from annotator.domain import accounts
from annotator.domain.annotations import AnnotationError, check_label, check_relation, check_span
from annotator.domain.dataset.articles import sha256
from annotator.domain.dataset.ingest import IngestError, _unstorable
from annotator.domain.projects import bump_revision
from annotator.stats.segment import segment

OnDuplicate = Literal["error", "skip", "replace"]
ON_DUPLICATE = ("error", "skip", "replace")
MAX_ID = 255
MAX_UID = 64
_RECORD_KEYS = {"id", "title", "text", "meta", "sentences", "annotations", "gold"}
_ANNOTATION_KEYS = {"annotator", "labels", "spans", "relations"}
_LABEL_KEYS = {"sentence", "label", "seconds", "guidelines_version", "updated_at", "needs_review", "_covers"}
_SPAN_KEYS = {"id", "label", "start", "end", "text"}
_RELATION_KEYS = {"id", "type", "from", "to"}
_GOLD_KEYS = {"labels", "spans", "relations"}
_GOLD_LABEL_KEYS = {"sentence", "label", "provenance", "reviewer", "reason", "updated_at", "_covers"}
_GOLD_SPAN_KEYS = _SPAN_KEYS | {"provenance", "reviewer", "updated_at"}
_GOLD_RELATION_KEYS = _RELATION_KEYS | {"provenance", "reviewer"}


@dataclass
class ImportResult:
    articles_created: int = 0
    articles_existing: int = 0
    users_created: list[str] = field(default_factory=list)
    labels: int = 0
    spans: int = 0
    relations: int = 0
    gold_labels: int = 0
    gold_spans: int = 0
    gold_relations: int = 0
    skipped: int = 0  # annotator blocks (or gold) left alone by --on-duplicate skip
    replaced: int = 0

    def merge(self, other: "ImportResult") -> None:
        for name in self.__dataclass_fields__:
            value = getattr(other, name)
            setattr(self, name, getattr(self, name) + value)

    def summary(self) -> str:
        return (
            f"{self.articles_created} new and {self.articles_existing} existing article(s); "
            f"{self.labels} label(s), {self.spans} span(s), {self.relations} relation(s); "
            f"gold: {self.gold_labels} label(s), {self.gold_spans} span(s), {self.gold_relations} relation(s); "
            f"{len(self.users_created)} new user(s); {self.skipped} skipped, {self.replaced} replaced"
        )


class _Bad(Exception):
    """A reason; the caller adds FILE:LINE."""


# ---------------------------------------------------------------- checking one record


@dataclass
class _Label:
    sentence: int
    label: str
    seconds: float = 0.0
    guidelines_version: int | None = None
    updated_at: datetime | None = None
    needs_review: bool = False
    provenance: str = "imported"
    reviewer: str | None = None
    reason: str | None = None
    covers: tuple[int, int] | None = None  # foreign formats: label every sentence this stretch of text overlaps


@dataclass
class _Span:
    uid: str
    label: str
    start: int
    end: int
    provenance: str = "imported"
    reviewer: str | None = None
    updated_at: datetime | None = None


@dataclass
class _Relation:
    uid: str
    type: str
    source: str
    target: str
    provenance: str = "imported"
    reviewer: str | None = None


@dataclass
class _Block:
    annotator: str
    labels: list[_Label]
    spans: list[_Span]
    relations: list[_Relation]


@dataclass
class _Record:
    line: int
    external_id: str
    title: str
    text: str
    meta: dict[str, Any]
    sentences: list[tuple[int, int]] | None
    blocks: list[_Block]
    gold: _Block | None


def _type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(f"{what} must be an integer, not {_type(value)}")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{what} must be a string, not {_type(value)}")
    return value


def _list(obj: dict[str, Any], key: str, what: str) -> list[Any]:
    value = obj.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{what}{key} must be a list, not {_type(value)}")
    return value


def _object(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"{what} must be an object, not {_type(value)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _Bad(f"{what}: unknown key(s) {', '.join(unknown)}")
    return value


def _timestamp(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    _str(value, what)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{what} must be an ISO 8601 time like 2026-11-24T10:00:00Z (got {value[:40]!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _uid(value: Any, what: str) -> str:
    _str(value, what)
    if not 1 <= len(value) <= MAX_UID or _unstorable(value):
        raise _Bad(f"{what} must be 1 to {MAX_UID} characters")
    return value


def _api(call, where: str):  # noqa: ANN001, ANN202
    """Run one of annotations.py's checks; its message, prefixed with where it applies."""
    try:
        return call()
    except AnnotationError as exc:
        raise _Bad(f"{where}: {exc.message}") from None


def _user_name(value: Any, what: str) -> str:
    _str(value, what)
    try:
        return accounts.check_name(value)
    except accounts.AccountError as exc:
        raise _Bad(f"{what}: {exc}") from None


def parse_record(obj: Any, schema: dict[str, Any]) -> _Record:
    """Check one article-format record against the label schema; raise _Bad with the reason."""
    obj = _object(obj, "a record", _RECORD_KEYS)
    raw_id = obj.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    external_id = _str(raw_id, "id").strip() if raw_id is not None else ""
    if not external_id or len(external_id) > MAX_ID or _unstorable(external_id):
        raise _Bad(f"id must be 1 to {MAX_ID} characters")
    text = obj.get("text")
    if text is None:
        raise _Bad("missing 'text'")
    _str(text, "text")
    if not text.strip():
        raise _Bad("empty text")
    reason = _unstorable(text)
    if reason:
        raise _Bad(f"text {reason}")
    title = obj.get("title") or ""
    _str(title, "title")
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise _Bad("meta must be an object")
    n = len(text)

    sentences = None
    if obj.get("sentences") is not None:
        sentences = []
        previous_end = 0
        for i, item in enumerate(_list(obj, "sentences", "")):
            where = f"sentences[{i}]"
            item = _object(item, where, {"index", "start", "end"})
            if "index" in item and _int(item["index"], f"{where}.index") != i:
                raise _Bad(f"{where}.index must be {i} (sentences are listed in order)")
            start = _int(item.get("start"), f"{where}.start")
            end = _int(item.get("end"), f"{where}.end")
            if not 0 <= start < end <= n:
                raise _Bad(f"{where}: offsets must satisfy 0 <= start < end <= {n} (the text's length); got {start}, {end}")
            if start < previous_end:
                raise _Bad(f"{where} starts at {start}, before the previous sentence ends ({previous_end}): sentences must be ordered and not overlap")
            sentences.append((start, end))
            previous_end = end
        if not sentences:
            raise _Bad("sentences is empty; leave it out to segment the text")

    blocks = []
    seen_annotators: set[str] = set()
    span_uids: dict[str, str] = {}  # uid -> annotator: unique per article across annotators
    relation_uids: set[str] = set()
    for b, item in enumerate(_list(obj, "annotations", "")):
        where = f"annotations[{b}]"
        item = _object(item, where, _ANNOTATION_KEYS)
        name = _user_name(item.get("annotator"), f"{where}.annotator")
        if name in seen_annotators:
            raise _Bad(f"{where}: annotator {name!r} appears twice")
        seen_annotators.add(name)
        block = _parse_block(item, where, schema, text, span_uids, relation_uids, name, gold=False)
        blocks.append(block)

    gold = None
    if obj.get("gold") is not None:
        item = _object(obj["gold"], "gold", _GOLD_KEYS)
        gold = _parse_block(item, "gold", schema, text, {}, set(), "", gold=True)
    return _Record(0, external_id, title, text, meta, sentences, blocks, gold)


def _parse_block(
    item: dict[str, Any],
    where: str,
    schema: dict[str, Any],
    text: str,
    span_uids: dict[str, str],
    relation_uids: set[str],
    name: str,
    gold: bool,
) -> _Block:
    n = len(text)
    labels = []
    for i, raw in enumerate(_list(item, "labels", f"{where}.")):
        at = f"{where}.labels[{i}]"
        raw = _object(raw, at, _GOLD_LABEL_KEYS if gold else _LABEL_KEYS)
        label = _api(lambda: check_label(schema, raw.get("label")), at)
        if "_covers" in raw:  # foreign formats: a label for every sentence a stretch of text covers
            covers = raw["_covers"]
            if not (isinstance(covers, list) and len(covers) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in covers)):
                raise _Bad(f"{at}._covers must be [start, end]")
            if not 0 <= covers[0] < covers[1] <= n:
                raise _Bad(f"{at}: offsets must satisfy 0 <= start < end <= {n} (the text's length); got {covers[0]}, {covers[1]}")
            entry = _Label(-1, label, covers=(covers[0], covers[1]))
        else:
            sentence = _int(raw.get("sentence"), f"{at}.sentence")
            entry = _Label(sentence, label)
        if gold:
            entry.provenance = _provenance(raw, at)
            entry.reviewer = _reviewer(raw, at)
            entry.reason = raw.get("reason")
            if entry.reason is not None:
                _str(entry.reason, f"{at}.reason")
        else:
            seconds = raw.get("seconds", 0.0)
            if seconds is None:
                seconds = 0.0
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
                raise _Bad(f"{at}.seconds must be a number >= 0")
            entry.seconds = float(seconds)
            version = raw.get("guidelines_version")
            if version is not None and _int(version, f"{at}.guidelines_version") < 1:
                raise _Bad(f"{at}.guidelines_version must be >= 1")
            entry.guidelines_version = version
            needs_review = raw.get("needs_review", False)
            if not isinstance(needs_review, bool):
                raise _Bad(f"{at}.needs_review must be true or false")
            entry.needs_review = needs_review
        entry.updated_at = _timestamp(raw.get("updated_at"), f"{at}.updated_at")
        labels.append(entry)

    spans: list[_Span] = []
    by_uid: dict[str, _Span] = {}
    for i, raw in enumerate(_list(item, "spans", f"{where}.")):
        at = f"{where}.spans[{i}]"
        raw = _object(raw, at, _GOLD_SPAN_KEYS if gold else _SPAN_KEYS)
        uid = _uid(raw["id"], f"{at}.id") if raw.get("id") is not None else new_uid()
        label, start, end = _api(lambda: check_span(schema, n, raw.get("label"), raw.get("start"), raw.get("end")), at)
        given = raw.get("text")
        if given is not None and _str(given, f"{at}.text") != text[start:end]:
            raise _Bad(f"{at}: text {_clip(given)} does not match text[{start}:{end}] = {_clip(text[start:end])}")
        if uid in by_uid:
            raise _Bad(f"{at}: span id {uid!r} appears twice")
        if uid in span_uids:
            raise _Bad(f"{at}: span id {uid!r} is already used by annotator {span_uids[uid]!r} in this article")
        span = _Span(uid, label, start, end)
        if gold:
            span.provenance = _provenance(raw, at)
            span.reviewer = _reviewer(raw, at)
            span.updated_at = _timestamp(raw.get("updated_at"), f"{at}.updated_at")
        spans.append(span)
        by_uid[uid] = span
    for uid in by_uid:
        span_uids[uid] = name

    relations = []
    ends_seen: set[tuple[str, str, str]] = set()
    for i, raw in enumerate(_list(item, "relations", f"{where}.")):
        at = f"{where}.relations[{i}]"
        raw = _object(raw, at, _GOLD_RELATION_KEYS if gold else _RELATION_KEYS)
        uid = _uid(raw["id"], f"{at}.id") if raw.get("id") is not None else new_uid()
        source = _uid(raw.get("from"), f"{at}.from")
        target = _uid(raw.get("to"), f"{at}.to")
        whose = "gold" if gold else f"annotator {name!r}"
        for end_name, ref in (("from", source), ("to", target)):
            if ref not in by_uid:
                raise _Bad(f"{at}: '{end_name}' names span {ref!r}, which is not a span of {whose} in this article")
        if source == target:
            raise _Bad(f"{at}: a relation cannot link span {source!r} to itself")
        rel_type = _api(lambda: check_relation(schema, raw.get("type"), by_uid[source].label, by_uid[target].label), at)
        if (source, target, rel_type) in ends_seen:
            raise _Bad(f"{at}: the same {rel_type} relation from {source!r} to {target!r} appears twice")
        if uid in relation_uids:
            raise _Bad(f"{at}: relation id {uid!r} appears twice in this article")
        ends_seen.add((source, target, rel_type))
        relation_uids.add(uid)
        relation = _Relation(uid, rel_type, source, target)
        if gold:
            relation.provenance = _provenance(raw, at)
            relation.reviewer = _reviewer(raw, at)
        relations.append(relation)
    return _Block(name, labels, spans, relations)


def _provenance(raw: dict[str, Any], at: str) -> str:
    value = raw.get("provenance") or "imported"
    if value not in GOLD_PROVENANCE:
        raise _Bad(f"{at}.provenance must be one of {', '.join(GOLD_PROVENANCE)} (got {_clip(value)})")
    return value


def _reviewer(raw: dict[str, Any], at: str) -> str | None:
    value = raw.get("reviewer")
    return None if value is None else _user_name(value, f"{at}.reviewer")


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- storing


class _Users:
    """Name -> id for the file, creating inactive users without a password as needed."""

    def __init__(self, session: Session, result: ImportResult):
        self.session, self.result, self.ids = session, result, {}

    def id(self, name: str, role: str) -> int:
        user_id = self.ids.get(name)
        if user_id is None:
            user_id = self.session.scalar(select(User.id).where(User.name == name))
            if user_id is None:
                user_id = self.session.scalar(insert(User).values(name=name, role=role, active=False, password_hash=None, created_at=utcnow()).returning(User.id))
                self.result.users_created.append(name)
            self.ids[name] = user_id
        return user_id


FLUSH_EVERY = 200  # articles whose rows go to the database in one set of bulk inserts


@dataclass
class _Pending:
    """One checked article waiting for the next bulk insert."""

    record: _Record
    article_id: int | None  # None: a new article, inserted at the flush
    sentence_ids: list[int] | None
    bounds: list[tuple[int, int]]
    blocks: list[tuple[int, _Block]]  # (user id, what to insert)
    gold: _Block | None
    reviewer_ids: dict[str, int]
    audit: dict[str, Any]


def import_records(
    session: Session,
    project: Project,
    records: Iterable[tuple[int, Any]],
    file: str,
    on_duplicate: OnDuplicate = "error",
    actor_id: int | None = None,
) -> ImportResult:
    """Check and store every record; raise IngestError(file, line, reason) at the first bad one.

    The caller has called begin_write() and commits, or rolls back on error.
    Rows are inserted in bulk every FLUSH_EVERY articles (Core executemany).
    """
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}")
    result = ImportResult()
    users = _Users(session, result)
    schema = project.label_schema
    seen: dict[str, int] = {}
    pending: list[_Pending] = []
    for line, obj in records:
        try:
            record = parse_record(obj, schema)
            record.line = line
            if record.external_id in seen:
                raise _Bad(f"article {record.external_id!r} appears twice in the file (first on line {seen[record.external_id]})")
            seen[record.external_id] = line
            pending.append(_check_against_database(session, project, record, users, on_duplicate, result, file))
        except _Bad as exc:
            raise IngestError(file, line, str(exc)) from None
        if len(pending) >= FLUSH_EVERY:
            _flush(session, project, pending, actor_id)
            pending = []
    if not seen:
        raise IngestError(file, None, "no articles in file")
    _flush(session, project, pending, actor_id)
    bump_revision(session, project.id)
    return result


def _check_against_database(
    session: Session,
    project: Project,
    record: _Record,
    users: _Users,
    on_duplicate: OnDuplicate,
    result: ImportResult,
    file: str,
) -> _Pending:
    """What stored data says about this record: same text, same sentences, duplicates; replace deletes here."""
    text = record.text
    existing = session.execute(
        select(Article.id, Article.sha256).where(Article.project_id == project.id, Article.external_id == record.external_id)
    ).first()
    created = existing is None
    article_id = sentence_ids = None
    if existing is not None:
        article_id = existing.id
        if existing.sha256 != sha256(text):
            raise _Bad(f"article {record.external_id!r} exists in project {project.name!r} with a different text (SHA-256 differs)")
        stored = session.execute(
            select(Sentence.id, Sentence.start, Sentence.end).where(Sentence.article_id == article_id).order_by(Sentence.index)
        ).all()
        if record.sentences is not None and record.sentences != [(s.start, s.end) for s in stored]:
            raise _Bad(f"the sentences differ from the stored segmentation of article {record.external_id!r}")
        sentence_ids = [s.id for s in stored]
        bounds = [(s.start, s.end) for s in stored]
        result.articles_existing += 1
    else:
        bounds = record.sentences if record.sentences is not None else segment(text)
        if not bounds:
            raise _Bad("the text has no sentences")
        result.articles_created += 1

    for block in record.blocks + ([record.gold] if record.gold else []):
        block.labels = _resolve_sentences(block.labels, bounds, block.annotator or "gold")

    blocks: list[tuple[int, _Block]] = []
    replaced: list[str] = []
    # Span and relation ids of annotators this record does not replace must not collide with the record's.
    kept_uids: dict[str, str] = {}
    kept_relation_uids: dict[str, str] = {}
    if not created:
        kept_uids = dict(session.execute(select(Span.uid, User.name).join(User, Span.user_id == User.id).where(Span.article_id == article_id)).all())
        kept_relation_uids = dict(
            session.execute(select(Relation.uid, User.name).join(User, Relation.user_id == User.id).where(Relation.article_id == article_id)).all()
        )
    for block in record.blocks:
        user_id = users.id(block.annotator, "annotator")
        if not created and _has_annotations(session, article_id, sentence_ids, user_id):
            if on_duplicate == "error":
                raise _Bad(f"annotator {block.annotator!r} already has annotations on article {record.external_id!r} (use --on-duplicate skip or replace)")
            if on_duplicate == "skip":
                result.skipped += 1
                continue
            _delete_annotations(session, article_id, sentence_ids, user_id)
            kept_uids = {uid: name for uid, name in kept_uids.items() if name != block.annotator}
            kept_relation_uids = {uid: name for uid, name in kept_relation_uids.items() if name != block.annotator}
            replaced.append(block.annotator)
            result.replaced += 1
        for span in block.spans:
            owner = kept_uids.get(span.uid)
            if owner is not None and owner != block.annotator:
                raise _Bad(f"span id {span.uid!r} is already used by annotator {owner!r} in article {record.external_id!r}")
        for relation in block.relations:
            owner = kept_relation_uids.get(relation.uid)
            if owner is not None and owner != block.annotator:
                raise _Bad(f"relation id {relation.uid!r} is already used by annotator {owner!r} in article {record.external_id!r}")
        kept_uids.update((span.uid, block.annotator) for span in block.spans)
        kept_relation_uids.update((relation.uid, block.annotator) for relation in block.relations)
        blocks.append((user_id, block))
        result.labels += len(block.labels)
        result.spans += len(block.spans)
        result.relations += len(block.relations)

    gold = record.gold if record.gold is not None and (record.gold.labels or record.gold.spans or record.gold.relations) else None
    if gold is not None and not created and _has_gold(session, article_id, sentence_ids):
        if on_duplicate == "error":
            raise _Bad(f"article {record.external_id!r} already has gold (use --on-duplicate skip or replace)")
        if on_duplicate == "skip":
            result.skipped += 1
            gold = None
        else:
            session.execute(delete(GoldRelation).where(GoldRelation.article_id == article_id))
            session.execute(delete(GoldSpan).where(GoldSpan.article_id == article_id))
            session.execute(delete(GoldLabel).where(GoldLabel.sentence_id.in_(sentence_ids)))
            replaced.append("gold")
            result.replaced += 1
    reviewer_ids: dict[str, int] = {}
    if gold is not None:
        for item in (*gold.labels, *gold.spans, *gold.relations):
            if item.reviewer is not None and item.reviewer not in reviewer_ids:
                reviewer_ids[item.reviewer] = users.id(item.reviewer, "reviewer")
        result.gold_labels += len(gold.labels)
        result.gold_spans += len(gold.spans)
        result.gold_relations += len(gold.relations)

    stored_blocks = [block for _, block in blocks]
    audit = {
        "file": file,
        "line": record.line,
        "created": created,
        "annotators": [block.annotator for block in stored_blocks],
        "replaced": replaced,
        "gold": gold is not None,
        "labels": sum(len(b.labels) for b in stored_blocks),
        "spans": sum(len(b.spans) for b in stored_blocks),
        "relations": sum(len(b.relations) for b in stored_blocks),
    }
    return _Pending(record, article_id, sentence_ids, list(bounds), blocks, gold, reviewer_ids, audit)


def _resolve_sentences(labels: list[_Label], bounds: list[tuple[int, int]], whose: str) -> list[_Label]:
    """Check sentence indexes, expand labels given by text stretch, refuse two labels on one sentence."""
    out: list[_Label] = []
    seen: set[int] = set()
    for label in labels:
        covers = label.covers
        if covers is not None:
            start, end = covers
            indexes = [i for i, (s, e) in enumerate(bounds) if s < end and start < e]
            if not indexes:
                raise _Bad(f"{whose}: label {label.label!r} for text {start}-{end} covers no sentence")
        else:
            if not 0 <= label.sentence < len(bounds):
                raise _Bad(f"{whose}: label for sentence index {label.sentence}, but the article has {len(bounds)} sentence(s), index 0 to {len(bounds) - 1}")
            indexes = [label.sentence]
        for i in indexes:
            if i in seen:
                raise _Bad(f"{whose}: sentence {i + 1} (index {i}) is labelled twice")
            seen.add(i)
            copy = _Label(i, label.label, label.seconds, label.guidelines_version, label.updated_at, label.needs_review, label.provenance, label.reviewer, label.reason)
            out.append(copy)
    return out


def _has_annotations(session: Session, article_id: int, sentence_ids: list[int], user_id: int) -> bool:
    label = session.scalar(select(Annotation.id).where(Annotation.user_id == user_id, Annotation.sentence_id.in_(sentence_ids)).limit(1))
    if label is not None:
        return True
    return session.scalar(select(Span.id).where(Span.article_id == article_id, Span.user_id == user_id).limit(1)) is not None


def _has_gold(session: Session, article_id: int, sentence_ids: list[int]) -> bool:
    if session.scalar(select(GoldLabel.id).where(GoldLabel.sentence_id.in_(sentence_ids)).limit(1)) is not None:
        return True
    return session.scalar(select(GoldSpan.id).where(GoldSpan.article_id == article_id).limit(1)) is not None


def _delete_annotations(session: Session, article_id: int, sentence_ids: list[int], user_id: int) -> None:
    session.execute(delete(Relation).where(Relation.article_id == article_id, Relation.user_id == user_id))
    session.execute(delete(Span).where(Span.article_id == article_id, Span.user_id == user_id))
    session.execute(delete(Annotation).where(Annotation.user_id == user_id, Annotation.sentence_id.in_(sentence_ids)))


def _returning_ids(conn: Any, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in one statement; their new ids, in the order given."""
    if not rows:
        return []
    return list(conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars())


def _flush(session: Session, project: Project, pending: list[_Pending], actor_id: int | None) -> None:
    """Insert what the pending articles carry: a few Core executemany statements for all of them.

    Everything was checked before, so the database refusing a row here means a
    concurrent change; the caller's rollback then drops the whole file.
    """
    if not pending:
        return
    conn = session.connection()
    now = utcnow()
    new = [p for p in pending if p.article_id is None]
    article_ids = _returning_ids(
        conn,
        Article.__table__,
        [
            {"project_id": project.id, "external_id": p.record.external_id, "title": p.record.title, "text": p.record.text,
             "meta": p.record.meta, "sha256": sha256(p.record.text), "created_at": now}
            for p in new
        ],
    )
    for p, article_id in zip(new, article_ids):
        p.article_id = article_id
    sentence_rows = [{"article_id": p.article_id, "index": i, "start": s, "end": e} for p in new for i, (s, e) in enumerate(p.bounds)]
    sentence_ids = iter(_returning_ids(conn, Sentence.__table__, sentence_rows))
    for p in new:
        p.sentence_ids = [next(sentence_ids) for _ in p.bounds]

    labels, spans, span_keys = [], [], []
    for p in pending:
        for user_id, block in p.blocks:
            labels += [
                {"user_id": user_id, "sentence_id": p.sentence_ids[x.sentence], "label": x.label, "seconds": x.seconds,
                 "guidelines_version": x.guidelines_version or project.guidelines_version, "version": 1,
                 "needs_review": x.needs_review, "updated_at": x.updated_at or now}
                for x in block.labels
            ]
            for x in block.spans:
                spans.append({"uid": x.uid, "article_id": p.article_id, "user_id": user_id, "label": x.label,
                              "start": x.start, "end": x.end, "created_at": now, "updated_at": now})
                span_keys.append((p.article_id, x.uid))
    if labels:
        conn.execute(insert(Annotation.__table__), labels)
    span_id = dict(zip(span_keys, _returning_ids(conn, Span.__table__, spans)))
    relations = [
        {"uid": r.uid, "article_id": p.article_id, "user_id": user_id, "type": r.type,
         "from_span_id": span_id[(p.article_id, r.source)], "to_span_id": span_id[(p.article_id, r.target)], "created_at": now}
        for p in pending for user_id, block in p.blocks for r in block.relations
    ]
    if relations:
        conn.execute(insert(Relation.__table__), relations)

    gold_labels, gold_spans, gold_keys = [], [], []
    for p in pending:
        if p.gold is None:
            continue
        reviewer = p.reviewer_ids.get
        gold_labels += [
            {"sentence_id": p.sentence_ids[x.sentence], "label": x.label, "provenance": x.provenance,
             "reviewer_id": reviewer(x.reviewer) if x.reviewer else None, "reason": x.reason, "updated_at": x.updated_at or now}
            for x in p.gold.labels
        ]
        for x in p.gold.spans:
            gold_spans.append({"uid": x.uid, "article_id": p.article_id, "label": x.label, "start": x.start, "end": x.end,
                               "provenance": x.provenance, "reviewer_id": reviewer(x.reviewer) if x.reviewer else None,
                               "updated_at": x.updated_at or now})
            gold_keys.append((p.article_id, x.uid))
    if gold_labels:
        conn.execute(insert(GoldLabel.__table__), gold_labels)
    gold_id = dict(zip(gold_keys, _returning_ids(conn, GoldSpan.__table__, gold_spans)))
    gold_relations = [
        {"uid": r.uid, "article_id": p.article_id, "type": r.type, "from_span_id": gold_id[(p.article_id, r.source)],
         "to_span_id": gold_id[(p.article_id, r.target)], "provenance": r.provenance,
         "reviewer_id": p.reviewer_ids.get(r.reviewer) if r.reviewer else None}
        for p in pending if p.gold is not None for r in p.gold.relations
    ]
    if gold_relations:
        conn.execute(insert(GoldRelation.__table__), gold_relations)
    # One audit entry per article, the shape annotations.audit() writes, inserted together.
    conn.execute(
        insert(AuditEntry.__table__),
        [
            {"at": now, "user_id": actor_id, "project_id": project.id, "article_id": p.article_id, "entity": "article",
             "entity_id": p.record.external_id, "action": "import", "before": None, "after": p.audit}
            for p in pending
        ],
    )
