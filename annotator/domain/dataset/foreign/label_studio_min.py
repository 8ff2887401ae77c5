"""Label Studio's JSON_MIN export as article-format records.

JSON_MIN (label-studio-converter's ``convert_to_json_min``, which Label
Studio's export runs) is a JSON array of flat records, one per annotation that
was not cancelled (a task nobody annotated: one record with ``annotator:
null``).  Each record holds, in this order: the task's data fields (``text``
...), ``id`` (the task id, which takes the place of a data field of that name),
one key per control tag that the annotation used (its ``from_name``), then
``annotator`` (the user id, or the e-mail where the annotation had a user
object), ``annotation_id``, ``created_at``, ``updated_at``, ``lead_time``.
A tag's value is a list of region values ``{start, end, text, labels}``
(spans), or for a choice the choice's name (a document class: an article label
where the schema has a group named by the tag, else skipped and reported, as the
JSON reader does) or ``{choices: [...]}`` where there were several.  Data fields and tags are told apart by that order (tags come after
``id`` and before ``annotator``) and by shape (a list of regions is always a tag).

JSON_MIN carries no relations, no predictions, no cancelled annotations, no
task meta and no region ids: span ids are derived from the annotation id, the
tag and the region's place in it.  A task's records are consecutive; they make
one article with a block per annotator (``annotator`` mapped by --users as
``completed_by`` is; an unmapped id is ``ls-user-ID``, an unmapped e-mail
``ls-user-EMAIL``).
"""
from __future__ import annotations

from typing import Any, Iterator

from annotator.domain.dataset.foreign.label_studio import (
    annotator_name,
    choice_label,
    document_choice,
    export_items,
    label_details,
    region_spans_of,
)
from annotator.domain.dataset.foreign.regions import Bad, Offsets, article_record, external_id
from annotator.domain.dataset.foreign.report import Skipped
from annotator.domain.dataset.foreign.sniff import looks_like
from annotator.domain.dataset.ingest import IngestError, keys_hint

_TRAILER = ("annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement")  # what follows the tags
NO_RELATIONS = "JSON_MIN carries no relations, predictions or cancelled annotations: export JSON from Label Studio to import them"

Group = list[tuple[int, dict[str, Any]]]  # one task's records: (line, record)


def label_studio_min_records(
    text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto", skipped: Skipped | None = None,
    users: dict[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Article-format records from a JSON_MIN export, one per task; `annotator` names records with no annotator."""
    skipped = skipped if skipped is not None else Skipped()
    skipped.remark(NO_RELATIONS)
    group: Group = []
    first_line: dict[Any, int] = {}  # task id -> the line of its first record
    n = 0
    for line, obj in export_items(text, file):
        hint = looks_like(obj)
        if not isinstance(obj, dict) or (hint and "JSON_MIN" not in hint):
            raise IngestError(file, line, f"this looks like {hint}" if hint else "a JSON_MIN record must be an object")
        key = _task_key(obj)
        if group and (key is None or key != _task_key(group[0][1])):
            n += 1
            yield group[0][0], _task(group, n, file, annotator, schema, offsets, skipped, users or {})
            group = []
        if not group and key is not None:
            if key in first_line:
                raise IngestError(file, line, f"task id {key} appears again (first on line {first_line[key]}): a task's records must be together")
            first_line[key] = line
        group.append((line, obj))
    if group:
        yield group[0][0], _task(group, n + 1, file, annotator, schema, offsets, skipped, users or {})


def _task_key(record: dict[str, Any]) -> Any:
    """The task id that groups records (None: the record is a task of its own)."""
    task_id = record.get("id")
    return task_id if isinstance(task_id, (int, str)) and not isinstance(task_id, bool) else None


def _task(
    group: Group, n: int, file: str, annotator: str, schema: dict[str, Any], offsets: str, skipped: Skipped, users: dict[str, str]
) -> dict[str, Any]:
    """One task's records as one article-format record with a block per annotation."""
    first_line, first = group[0]
    task_id = _task_key(first)
    name = f"task {n} (id {task_id})" if task_id is not None else f"task {n}"
    text = first.get("text")
    if not isinstance(text, str):
        raise IngestError(file, first_line, f"{name}, the record has no 'text' string{keys_hint('text', first, 'record')}")
    article_id = external_id(task_id, file, n)
    data, _ = _split(first)
    meta = {k: first[k] for k in data if k not in ("text", "title")}
    reader = Offsets(text, offsets, "auto")
    blocks: list[dict[str, Any]] = []
    whose: dict[str, int] = {}  # annotator -> the line of their record
    for line, record in group:
        try:
            if record.get("text") != text:
                raise Bad(f"the text differs from the task's record on line {first_line}")
            block = _annotation(record, reader, annotator, users, article_id, schema, skipped)
        except Bad as exc:
            raise IngestError(file, line, f"{name}, {exc}") from None
        if block is None:
            continue
        if block["annotator"] in whose:
            raise IngestError(file, line, f"{name}: {block['annotator']} has another annotation of this task (line {whose[block['annotator']]}): "
                                          "this tool keeps one annotation per person and task")
        whose[block["annotator"]] = line
        blocks.append(block)
    record = article_record(article_id, first.get("title"), text, meta, blocks)
    record["_at"] = name
    return record


def _split(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(data fields, control tags) of a record, by the order the converter writes them and by shape."""
    keys = list(record)
    tags_from = keys.index("id") + 1 if "id" in keys else len(keys)
    tags_to = keys.index("annotator") if "annotator" in keys else len(keys)
    data, tags = [], []
    for i, key in enumerate(keys):
        if key == "id" or key in _TRAILER or key == "text":
            if key == "text":
                data.append(key)
            continue
        (tags if tags_from <= i < tags_to or _regions(record[key]) else data).append(key)
    return data, tags


def _regions(value: Any) -> bool:
    """A tag's value by its shape: a list of region values, or several choices."""
    if isinstance(value, dict):
        return "choices" in value
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and ("labels" in v or "choices" in v or "start" in v) for v in value)


def _annotation(
    record: dict[str, Any], reader: Offsets, default: str, users: dict[str, str], article_id: str, schema: dict[str, Any], skipped: Skipped
) -> dict[str, Any] | None:
    """One record's annotation as its annotator's block (None: a task nobody annotated)."""
    _, tags = _split(record)
    if record.get("annotator") is None and record.get("annotation_id") is None and not tags:
        return None
    where = f"annotation {record['annotation_id']}" if record.get("annotation_id") is not None else "the annotation"
    name = annotator_name(record.get("annotator"), users, default, where, field="annotator")
    spans: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    article_labels: dict[str, list[str]] = {}
    for tag in tags:
        value = record[tag]
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            at = f"{where}: {tag}[{i}]" if isinstance(value, list) else f"{where}: {tag}"
            if isinstance(item, str):  # one choice, written as its name: no region, so a document class
                document_choice(tag, [item], at, schema, name, article_labels, skipped)
            elif isinstance(item, dict) and "labels" in item:
                region = f"json-min\x00{record.get('annotation_id')}\x00{tag}\x00{i}"
                spans += region_spans_of(item, region, at, reader, name, article_id, prefix="")
            elif isinstance(item, dict) and "choices" in item and item.get("start") is None and item.get("end") is None:
                document_choice(tag, item["choices"], at, schema, name, article_labels, skipped)
            elif isinstance(item, dict) and "choices" in item:
                labels.append({**choice_label({"from_name": tag}, item, at, reader, prefix=""), **label_details(record), "_from": at})
            elif item is not None:
                raise Bad(f"{at}: not imported (spans with labels, or choices); the value is {str(item)[:40]!r}")
    block = {"annotator": name, "labels": labels, "spans": spans, "relations": []}
    if article_labels:
        block["article_labels"] = article_labels
    return block
