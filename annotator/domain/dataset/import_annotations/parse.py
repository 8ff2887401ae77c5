"""Checking one article-format record, with no database: the shape, the label schema, the offsets, the ids.

Every label, span and relation goes through the checks the API applies to a write (annotations.py's
check_label / check_span / check_relation); anything wrong raises Bad with the reason, which the
caller prefixes with FILE:LINE.  What store.py can only check against stored data (the article's
text, its sentences, duplicates) it checks there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from annotator.db.models import GOLD_PROVENANCE, HUMAN_GOLD_PROVENANCE, new_uid
from annotator.domain import accounts, labelschema
from annotator.domain.annotations import MAX_LABEL_SECONDS, check_label, check_relation, check_span
from annotator.domain.dataset.foreign.sniff import looks_like
from annotator.domain.dataset.import_annotations.suggested import Origin, exported_suggestions, item_origin
from annotator.domain.dataset.import_annotations.values import Bad, an_id, an_object, api, clip, integer, listed, moment, string
from annotator.domain.dataset.ingest import _unstorable, id_problem, missing_key
from annotator.domain.gold.adjudication import MAX_REASON
from annotator.domain.suggestions import Proposal
from annotator.stats import textcheck

__all__ = ["Bad", "Block", "Label", "Record", "Relation", "Span", "parse_record"]

MAX_ID = 255
_RECORD_KEYS = {"id", "title", "text", "meta", "sentences", "annotations", "gold", "suggestions", "_at"}
# "_at" (a record) and "_from" (an item): where a foreign reader found it, in that tool's terms, for error messages
_ANNOTATION_KEYS = {"annotator", "labels", "spans", "relations", "article_labels", "_carries", "_at", "_line"}
# a block's "_at" (its place in the tool's own terms, "" for a whole document: Citron's) and "_line" (the line it was read from)
KINDS = frozenset({"labels", "spans", "article_labels"})  # what a block can carry: sentence labels; spans (with their relations); article labels
_ORIGIN_KEYS = {"origin", "suggester", "suggester_version"}  # an annotator's items only: gold has its provenance
_LABEL_KEYS = {"sentence", "label", "seconds", "guidelines_version", "updated_at", "needs_review", "_covers", "_from"} | _ORIGIN_KEYS
_SPAN_KEYS = {"id", "label", "start", "end", "text", "_from"}
_RELATION_KEYS = {"id", "type", "from", "to", "_from"}
_GOLD_KEYS = {"labels", "spans", "relations", "article_labels"}
# gold article labels: a reviewer's decision (adjudicated, imported) is read back; automatic ones are the export's computation
_GOLD_ARTICLE_LABEL_KEYS = {"value", "provenance", "reviewer", "reason", "updated_at"}
_GOLD_LABEL_KEYS = {"sentence", "label", "provenance", "reviewer", "reason", "updated_at", "_covers"}
_GOLD_SPAN_KEYS = _SPAN_KEYS | {"provenance", "reviewer", "updated_at"}
_GOLD_RELATION_KEYS = _RELATION_KEYS | {"provenance", "reviewer"}


@dataclass
class Label:
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
    origin: Origin = ("manual", None, None)  # (origin, suggester, suggester_version)


@dataclass
class Span:
    uid: str
    label: str
    start: int
    end: int
    provenance: str = "imported"
    reviewer: str | None = None
    updated_at: datetime | None = None
    origin: Origin = ("manual", None, None)


@dataclass
class Relation:
    uid: str
    type: str
    source: str
    target: str
    provenance: str = "imported"
    reviewer: str | None = None
    origin: Origin = ("manual", None, None)


@dataclass
class Block:
    """One annotator's labels, spans and relations on an article (or the gold, annotator "")."""

    annotator: str
    labels: list[Label]
    spans: list[Span]
    relations: list[Relation]
    article_labels: dict[str, list[str]] = field(default_factory=dict)  # group -> sorted values
    carries: frozenset[str] = KINDS  # the kinds this block stands for (a foreign reader's "_carries"), even where it has none
    decided: dict[str, GoldChoice] = field(default_factory=dict)  # the gold's: group -> a reviewer's decision


@dataclass
class GoldChoice:
    """A human gold decision on an article label group (the article unit's gold.article_labels[group])."""

    values: list[str]
    provenance: str
    reviewer: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None


@dataclass
class Record:
    line: int
    external_id: str
    title: str
    text: str
    meta: dict[str, Any]
    sentences: list[tuple[int, int]] | None
    blocks: list[Block]
    gold: Block | None
    suggestions: list[Proposal] = field(default_factory=list)


def parse_record(obj: Any, schema: dict[str, Any]) -> Record:
    """Check one article-format record against the label schema; raise Bad with the reason."""
    hint = looks_like(obj)
    if hint and "article format" not in hint and isinstance(obj, dict) and set(obj) - _RECORD_KEYS:
        raise Bad(f"this looks like {hint}")
    if isinstance(obj, dict) and "text" not in obj:
        raise Bad(missing_key("text", obj))  # before the unknown keys: a misspelt 'text' reads as `import` says it
    obj = an_object(obj, "a record", _RECORD_KEYS)
    external_id = _external_id(obj.get("id"))
    text = _text(obj.get("text"))
    title = obj.get("title") or ""
    string(title, "title")
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise Bad("meta must be an object")
    sentences = _sentences(obj, len(text)) if obj.get("sentences") is not None else None
    blocks = _annotator_blocks(obj, schema, text)
    gold = None
    if obj.get("gold") is not None:
        item = an_object(obj["gold"], "gold", _GOLD_KEYS)
        gold = _parse_block(item, "gold", schema, text, {}, set(), "", gold=True)
        gold.decided = _parse_gold_article_labels(item.get("article_labels"), "gold.article_labels", schema)
    raw = obj.get("suggestions")
    proposals = exported_suggestions(raw, schema, text) if isinstance(raw, dict) else _suggestions(raw or [])
    _storable(obj)
    return Record(0, external_id, title, text, meta, sentences, blocks, gold, proposals)


def _storable(obj: dict[str, Any]) -> None:
    """Bad when any string of the record, past the checks above, holds what no database stores faithfully (a NUL,
    a lone surrogate): a title, meta, a reason, a suggester's name. PostgreSQL refused such a title with a crash and
    SQLite stored it; `annotator import` refuses them too. Last, so that the checks above keep their own words."""
    reason = textcheck.find_problem({k: v for k, v in obj.items() if not k.startswith("_")})
    if reason:
        raise Bad(reason)


def _suggestions(raw: Any) -> list[Proposal]:
    """A foreign reader's predictions ({suggester, version?, score, spans: [[key, label, start, end, score?]],
    relations: [[type, from, to, score?]]}): an item's own score, else the prediction's."""
    try:
        return [
            Proposal(
                item["suggester"], str(item.get("version") or ""), [],
                [(str(key), str(label), int(start), int(end), float(rest[0] if rest else item["score"]))
                 for key, label, start, end, *rest in item["spans"]],
                [(str(kind), str(a), str(b), float(rest[0] if rest else item["score"])) for kind, a, b, *rest in item["relations"]],
            )
            for item in raw
        ]
    except (KeyError, TypeError, ValueError):
        raise Bad("suggestions must be [{suggester, score, spans: [[key, label, start, end, score?]], relations: [[type, from, to, score?]]}]") from None


def _external_id(raw_id: Any) -> str:
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    external_id = string(raw_id, "id").strip() if raw_id is not None else ""
    if not external_id or len(external_id) > MAX_ID or _unstorable(external_id):
        raise Bad(f"id must be 1 to {MAX_ID} characters")
    reason = id_problem(external_id)
    if reason:
        raise Bad(f"id {reason}")
    return external_id


def _text(text: Any) -> str:
    string(text, "text")
    if not text.strip():
        raise Bad("empty text")
    reason = _unstorable(text)
    if reason:
        raise Bad(f"text {reason}")
    return text


def _sentences(obj: dict[str, Any], n: int) -> list[tuple[int, int]]:
    """Given sentences: in order, not overlapping, inside the text of length n."""
    sentences = []
    previous_end = 0
    for i, item in enumerate(listed(obj, "sentences", "")):
        where = f"sentences[{i}]"
        item = an_object(item, where, {"index", "start", "end"})
        if "index" in item and integer(item["index"], f"{where}.index") != i:
            raise Bad(f"{where}.index must be {i} (sentences are listed in order)")
        start = integer(item.get("start"), f"{where}.start")
        end = integer(item.get("end"), f"{where}.end")
        if not 0 <= start < end <= n:
            raise Bad(f"{where}: offsets must satisfy 0 <= start < end <= {n} (the text's length); got {start}, {end}")
        if start < previous_end:
            raise Bad(f"{where} starts at {start}, before the previous sentence ends ({previous_end}): sentences must be ordered and not overlap")
        sentences.append((start, end))
        previous_end = end
    if not sentences:
        raise Bad("sentences is empty; leave it out to segment the text")
    return sentences


def _annotator_blocks(obj: dict[str, Any], schema: dict[str, Any], text: str) -> list[Block]:
    """Each annotator's block; span and relation ids are unique per article across annotators."""
    blocks = []
    seen_annotators: set[str] = set()
    span_uids: dict[str, str] = {}  # uid -> annotator
    relation_uids: set[str] = set()
    for b, item in enumerate(listed(obj, "annotations", "")):
        item = an_object(item, f"annotations[{b}]", _ANNOTATION_KEYS)
        where = item["_at"] if isinstance(item.get("_at"), str) else f"annotations[{b}]"
        try:
            name = _user_name(item.get("annotator"), _in(where, "annotator"))
            if name in seen_annotators:
                raise Bad(f"{where or 'document'}: annotator {name!r} appears twice")
            seen_annotators.add(name)
            block = _parse_block(item, where, schema, text, span_uids, relation_uids, name, gold=False)
            block.article_labels = _parse_article_labels(item.get("article_labels"), _in(where, "article_labels"), schema)
            block.carries = _carries(item.get("_carries", sorted(KINDS)), block, _in(where, "_carries"))
        except Bad as exc:
            line = item.get("_line")
            exc.line = line if isinstance(line, int) and not isinstance(line, bool) else None
            raise
        blocks.append(block)
    return blocks


def _in(where: str, key: str) -> str:
    """`key` inside `where` (`where` "": a foreign reader's block that is the whole document, named by its own fields)."""
    return f"{where}.{key}" if where else key


def _carries(raw: Any, block: Block, what: str) -> frozenset[str]:
    """The kinds of annotation a block stands for: those it names, and those it has."""
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw) or not set(raw) <= KINDS:
        raise Bad(f"{what} must be a list of {', '.join(sorted(KINDS))}")
    has = {"labels"} if block.labels else set()
    has |= {"article_labels"} if block.article_labels else set()
    return frozenset(raw) | has | ({"spans"} if block.spans or block.relations else set())


def _parse_article_labels(raw: Any, at: str, schema: dict[str, Any]) -> dict[str, list[str]]:
    """{group: value or [values]}, checked against the schema's article label groups; values come back as sorted lists."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Bad(f"{at} must be an object {{group: value or [values]}}")
    out: dict[str, list[str]] = {}
    for group, value in raw.items():
        out[group] = _article_values(value, schema, group, f"{at}.{clip(group)}", at)
    return out


def _article_values(value: Any, schema: dict[str, Any], group: str, name: str, at: str) -> list[str]:
    """An article label group's answer (a value or a list of distinct values) the schema allows, sorted; Bad naming
    `name` for a wrong shape, `at` for what the schema refuses."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or len(set(values)) != len(values):
        raise Bad(f"{name} must be a value or a list of distinct values")
    reason = labelschema.check_article_values(schema, group, values)
    if reason:
        raise Bad(f"{at}: {reason}")
    return sorted(values)


def _parse_gold_article_labels(raw: Any, at: str, schema: dict[str, Any]) -> dict[str, GoldChoice]:
    """{group: {"value", "provenance", ...}} as the export writes it: the human decisions, checked against the schema
    (the automatic ones, which the export computes from the answers, are left to be computed again)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Bad(f"{at} must be an object {{group: {{value, provenance}}}}")
    out: dict[str, GoldChoice] = {}
    for group, item in raw.items():
        where = f"{at}.{clip(group)}"
        item = an_object(item, where, _GOLD_ARTICLE_LABEL_KEYS)
        provenance = _provenance(item, where)
        if provenance not in HUMAN_GOLD_PROVENANCE:
            continue
        values = _article_values(item.get("value"), schema, group, f"{where}.value", where)
        why = _reason(item.get("reason"), f"{where}.reason")
        out[group] = GoldChoice(values, provenance, _reviewer(item, where), why, moment(item.get("updated_at"), f"{where}.updated_at"))
    return out


def _parse_block(
    item: dict[str, Any],
    where: str,
    schema: dict[str, Any],
    text: str,
    span_uids: dict[str, str],
    relation_uids: set[str],
    name: str,
    gold: bool,
) -> Block:
    labels = [_parse_label(raw, _in(where, f"labels[{i}]"), schema, len(text), gold) for i, raw in enumerate(listed(item, "labels", _in(where, "")))]
    by_uid: dict[str, Span] = {}
    same: dict[tuple[str, int, int], int] = {}  # one annotator never has the same span twice (a unique index says so)
    for i, raw in enumerate(listed(item, "spans", _in(where, ""))):
        span = _parse_span(raw, _in(where, f"spans[{i}]"), schema, text, by_uid, span_uids, gold)
        first = i if gold else same.setdefault((span.label, span.start, span.end), i)
        if first != i:
            raise Bad(f"{_in(where, f'spans[{i}]')}: the same {span.label} span [{span.start}, {span.end}) as {_in(where, f'spans[{first}]')}; keep one")
        by_uid[span.uid] = span
    for uid in by_uid:
        span_uids[uid] = name
    whose = "gold" if gold else f"annotator {name!r}"
    ends_seen: set[tuple[str, str, str]] = set()
    relations = [
        _parse_relation(raw, _in(where, f"relations[{i}]"), schema, by_uid, relation_uids, ends_seen, whose, gold)
        for i, raw in enumerate(listed(item, "relations", _in(where, "")))
    ]
    return Block(name, labels, list(by_uid.values()), relations)


def _parse_label(raw: Any, at: str, schema: dict[str, Any], n: int, gold: bool) -> Label:
    at = origin(raw, at)
    raw = an_object(raw, at, _GOLD_LABEL_KEYS if gold else _LABEL_KEYS)
    label = api(check_label, at, schema, raw.get("label"))
    if "_covers" in raw:  # foreign formats: a label for every sentence a stretch of text covers
        covers = raw["_covers"]
        if not (isinstance(covers, list) and len(covers) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in covers)):
            raise Bad(f"{at}._covers must be [start, end]")
        if not 0 <= covers[0] < covers[1] <= n:
            raise Bad(f"{at}: offsets must satisfy 0 <= start < end <= {n} (the text's length); got {covers[0]}, {covers[1]}")
        entry = Label(-1, label, covers=(covers[0], covers[1]))
    else:
        entry = Label(integer(raw.get("sentence"), f"{at}.sentence"), label)
    if gold:
        entry.provenance = _provenance(raw, at)
        entry.reviewer = _reviewer(raw, at)
        entry.reason = _reason(raw.get("reason"), f"{at}.reason")
    else:
        _annotator_details(entry, raw, at)
        entry.origin = item_origin(raw, at)
    entry.updated_at = moment(raw.get("updated_at"), f"{at}.updated_at")
    return entry


def _reason(value: Any, what: str) -> str | None:
    """A gold decision's reason, held to the adjudication pages' limit: a longer one stored came back in their form,
    which then refused every save of that decision until the reviewer cut it."""
    if value is None:
        return None
    string(value, what)
    if len(value) > MAX_REASON:
        raise Bad(f"{what} is longer than {MAX_REASON} characters")
    return value


def _annotator_details(entry: Label, raw: dict[str, Any], at: str) -> None:
    """An annotator's label carries its time spent, guidelines version and review flag."""
    seconds = raw.get("seconds", 0.0)
    if seconds is None:
        seconds = 0.0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_LABEL_SECONDS:
        raise Bad(f"{at}.seconds must be a number from 0 to {MAX_LABEL_SECONDS:,}")
    entry.seconds = float(seconds)
    version = raw.get("guidelines_version")
    if version is not None and not 1 <= integer(version, f"{at}.guidelines_version") <= textcheck.MAX_DB_INT:  # an INTEGER column
        raise Bad(f"{at}.guidelines_version must be 1 to {textcheck.MAX_DB_INT}")
    entry.guidelines_version = version
    needs_review = raw.get("needs_review", False)
    if not isinstance(needs_review, bool):
        raise Bad(f"{at}.needs_review must be true or false")
    entry.needs_review = needs_review


def _parse_span(
    raw: Any, at: str, schema: dict[str, Any], text: str, by_uid: dict[str, Span], span_uids: dict[str, str], gold: bool
) -> Span:
    at = origin(raw, at)
    raw = an_object(raw, at, _GOLD_SPAN_KEYS if gold else _SPAN_KEYS | _ORIGIN_KEYS)
    uid = an_id(raw["id"], f"{at}.id") if raw.get("id") is not None else new_uid()
    label, start, end = api(check_span, at, schema, len(text), raw.get("label"), raw.get("start"), raw.get("end"))
    given = raw.get("text")
    if given is not None and string(given, f"{at}.text") != text[start:end]:
        raise Bad(f"{at}: text {clip(given)} does not match text[{start}:{end}] = {clip(text[start:end])}")
    if uid in by_uid:
        raise Bad(f"{at}: span id {uid!r} appears twice")
    if uid in span_uids:
        raise Bad(f"{at}: span id {uid!r} is already used by annotator {span_uids[uid]!r} in this article")
    span = Span(uid, label, start, end)
    if gold:
        span.provenance = _provenance(raw, at)
        span.reviewer = _reviewer(raw, at)
        span.updated_at = moment(raw.get("updated_at"), f"{at}.updated_at")
    else:
        span.origin = item_origin(raw, at)
    return span


def _parse_relation(
    raw: Any,
    at: str,
    schema: dict[str, Any],
    by_uid: dict[str, Span],
    relation_uids: set[str],
    ends_seen: set[tuple[str, str, str]],
    whose: str,
    gold: bool,
) -> Relation:
    at = origin(raw, at)
    raw = an_object(raw, at, _GOLD_RELATION_KEYS if gold else _RELATION_KEYS | _ORIGIN_KEYS)
    uid = an_id(raw["id"], f"{at}.id") if raw.get("id") is not None else new_uid()
    source = an_id(raw.get("from"), f"{at}.from")
    target = an_id(raw.get("to"), f"{at}.to")
    for end_name, ref in (("from", source), ("to", target)):
        if ref not in by_uid:
            raise Bad(f"{at}: '{end_name}' names span {ref!r}, which is not a span of {whose} in this article")
    if source == target:
        raise Bad(f"{at}: a relation cannot link span {source!r} to itself")
    rel_type = api(check_relation, at, schema, raw.get("type"), by_uid[source].label, by_uid[target].label)
    if (source, target, rel_type) in ends_seen:
        raise Bad(f"{at}: the same {rel_type} relation from {source!r} to {target!r} appears twice")
    if uid in relation_uids:
        raise Bad(f"{at}: relation id {uid!r} appears twice in this article")
    ends_seen.add((source, target, rel_type))
    relation_uids.add(uid)
    relation = Relation(uid, rel_type, source, target)
    if gold:
        relation.provenance = _provenance(raw, at)
        relation.reviewer = _reviewer(raw, at)
    else:
        relation.origin = item_origin(raw, at)
    return relation


# ---------------------------------------------------------------- where an item is, who made it


def origin(raw: Any, at: str) -> str:
    """Where an item is: a foreign reader's "_from" (Label Studio's annotations[1].result[4]), else its place in the record."""
    place = raw.get("_from") if isinstance(raw, dict) else None
    return place if isinstance(place, str) and place else at


def _user_name(value: Any, what: str) -> str:
    string(value, what)
    try:
        return accounts.check_name(value)
    except accounts.AccountError as exc:
        raise Bad(f"{what}: {exc}") from None


def _provenance(raw: dict[str, Any], at: str) -> str:
    value = raw.get("provenance") or "imported"
    if value not in GOLD_PROVENANCE:
        raise Bad(f"{at}.provenance must be one of {', '.join(GOLD_PROVENANCE)} (got {clip(value)})")
    return value


def _reviewer(raw: dict[str, Any], at: str) -> str | None:
    value = raw.get("reviewer")
    return None if value is None else _user_name(value, f"{at}.reviewer")
