"""doccano's JSONL export as article-format records.

One article per line: ``{"text", "label": [[start, end, "LABEL"], ...]}`` (a
string label such as ``"label": ["CFS"]``, and each of ``cats``, is a document
class: skipped and reported, never copied onto every sentence), or the ``entities`` / ``relations`` variant with
``start_offset`` / ``end_offset``.  doccano's exports carry no span text to
check offsets against and do not say how they count: doccano 1.8.4's editor
stores UTF-16 code units (an emoji counts 2; tests/data/foreign/README.md), so
they are read as UTF-16 and converted to code points unless
``offsets="code-points"``.

A line says which kinds of annotation it stands for (``_carries``, see
import_annotations): spans when it has ``entities`` or span items, so that
merging two projects' files onto the same articles (``--match-by text``)
replaces or skips only spans, never what the other file brought.
"""
from __future__ import annotations

from typing import Any, Iterator

from annotator.domain.dataset.foreign.regions import Bad, Offsets, article_record, derived_uid, document_class, external_id
from annotator.domain.dataset.foreign.report import Skipped
from annotator.domain.dataset.foreign.sniff import looks_like
from annotator.domain.dataset.ingest import IngestError, jsonl_objects

_NOT_META = ("id", "text", "data", "label", "labels", "entities", "relations", "cats", "title")


def doccano_records(
    text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto", skipped: Skipped | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Article-format records from a doccano JSONL export."""
    for line, obj in jsonl_objects(text, file):
        try:
            yield line, _line(obj, line, file, annotator, offsets, skipped if skipped is not None else Skipped())
        except Bad as exc:
            raise IngestError(file, line, str(exc)) from None


def _line(obj: Any, line: int, file: str, annotator: str, offsets: str, skipped: Skipped) -> dict[str, Any]:
    """One line as an article-format record."""
    hint = looks_like(obj[0] if isinstance(obj, list) and obj else obj)  # a Label Studio export is one JSON array
    if not isinstance(obj, dict):
        raise Bad(f"expected a JSON object; this looks like {hint}" if hint else "expected a JSON object")
    if hint and "doccano" not in hint:
        raise Bad(f"this looks like {hint}")
    text = obj.get("text", obj.get("data"))
    if not isinstance(text, str):
        raise Bad("missing 'text'")
    article_id = external_id(obj.get("id"), file, line)
    reader = Offsets(text, offsets, "utf16")
    spans, classes = _labels(obj, reader, annotator, article_id)
    by_entity = _entities(obj, reader, annotator, article_id)
    spans += by_entity.values()
    relations = _relations(obj, by_entity, annotator, article_id)
    cats = obj.get("cats") or []
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        raise Bad("'cats' must be a list of label names")
    for name, values in (("label", classes), ("cats", cats)):
        if values:  # a document class: never copied onto every sentence
            skipped.add(annotator, document_class(name), len(values))
    meta = {k: v for k, v in obj.items() if k not in _NOT_META}
    # What the line stands for, so that a merge of two projects' files (--match-by text) keeps both: spans where the
    # project labels spans (an empty `entities` too: nothing marked), never sentence labels (doccano has none).
    carries = ["spans"] if spans or "entities" in obj else []
    block = {"annotator": annotator, "labels": [], "spans": spans, "relations": relations, "_carries": carries}
    return article_record(article_id, obj.get("title"), text, meta, [block])


def _labels(obj: dict[str, Any], reader: Offsets, annotator: str, article_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(spans, document classes) of ``label``: [start, end, "LABEL"] items are spans, a bare name is a document class."""
    raw_labels = obj.get("label", obj.get("labels", []))
    if raw_labels is None:
        raw_labels = []
    if not isinstance(raw_labels, list):
        raise Bad("'label' must be a list")
    spans: list[dict[str, Any]] = []
    labels: list[str] = []
    for i, item in enumerate(raw_labels):
        where = f"label[{i}]"
        if isinstance(item, str):
            labels.append(item)
        elif isinstance(item, list) and len(item) == 3 and isinstance(item[2], str):
            start, end = reader.read(item[0], item[1], None, where)
            spans.append({"id": derived_uid(annotator, article_id, f"label\x00{i}"), "label": item[2], "start": start, "end": end})
        else:
            raise Bad(f"{where} must be [start, end, \"LABEL\"] or a label name")
    return spans, labels


def _entities(obj: dict[str, Any], reader: Offsets, annotator: str, article_id: str) -> dict[str, dict[str, Any]]:
    """The spans of ``entities``, by entity id (for the relations)."""
    entities = obj.get("entities") or []
    if not isinstance(entities, list):
        raise Bad("'entities' must be a list")
    by_entity: dict[str, dict[str, Any]] = {}
    for i, entity in enumerate(entities):
        where = f"entities[{i}]"
        names = ("start_offset", "end_offset", "text")
        if isinstance(entity, list) and len(entity) == 3 and isinstance(entity[2], str):  # intent detection: [start, end, "LABEL"]
            entity, names = {"start_offset": entity[0], "end_offset": entity[1], "label": entity[2]}, ("start", "end", "text")
        if not isinstance(entity, dict) or not isinstance(entity.get("label"), str):
            raise Bad(f"{where} must be [start, end, \"LABEL\"] or an object with label, start_offset, end_offset")
        start, end = reader.read(entity.get("start_offset"), entity.get("end_offset"), None, where, names)
        key = str(entity.get("id", f"#{i}"))
        if key in by_entity:
            raise Bad(f"{where}: entity id {key} appears twice")
        by_entity[key] = {"id": derived_uid(annotator, article_id, f"entity\x00{key}"), "label": entity["label"], "start": start, "end": end}
    return by_entity


def _relations(obj: dict[str, Any], by_entity: dict[str, dict[str, Any]], annotator: str, article_id: str) -> list[dict[str, Any]]:
    """The relations of ``relations``, between entities of the same line."""
    raw_relations = obj.get("relations") or []
    if not isinstance(raw_relations, list):
        raise Bad("'relations' must be a list")
    relations = []
    for i, rel in enumerate(raw_relations):
        where = f"relations[{i}]"
        if not isinstance(rel, dict) or not isinstance(rel.get("type"), str):
            raise Bad(f"{where} must be an object with from_id, to_id, type")
        ends = []
        for end_name in ("from_id", "to_id"):
            key = str(rel.get(end_name))
            if key not in by_entity:
                raise Bad(f"{where}: {end_name} {key} names no entity of this line")
            ends.append(by_entity[key]["id"])
        key = str(rel.get("id", f"#{i}"))
        relations.append({"id": derived_uid(annotator, article_id, f"relation\x00{key}"), "type": rel["type"], "from": ends[0], "to": ends[1]})
    return relations
