"""doccano's JSONL export as article-format records.

One article per line: ``{"text", "label": [[start, end, "LABEL"], ...]}`` (a
string label such as ``"label": ["CFS"]``, and each of ``cats`` (a list of names, or
spaCy's object of names at 1 or 0), is a document
class: an article label in the schema's one article label group that allows it,
several only where that group is ``multiple``; without article label groups it is
skipped and reported, never copied onto every sentence), or the ``entities`` / ``relations`` variant with
``start_offset`` / ``end_offset``.  doccano's exports carry no span text to
check offsets against and do not say how they count: doccano 1.8.4's editor
stores UTF-16 code units (an emoji counts 2; tests/data/foreign/README.md), so
they are read as UTF-16 and converted to code points unless
``offsets="code-points"``.

A line says which kinds of annotation it stands for (``_carries``, see
import_annotations): spans when it has ``entities`` or span items, article labels when it
classifies (``cats`` or class names), so that
merging two projects' files onto the same articles (``--match-by text``)
replaces or skips only spans, never what the other file brought.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from annotator.domain import labelschema
from annotator.domain.dataset.foreign.regions import Bad, Offsets, article_record, derived_uid, document_class, external_id
from annotator.domain.dataset.foreign.report import Skipped
from annotator.domain.dataset.foreign.sniff import looks_like
from annotator.domain.dataset.ingest import IngestError, jsonl_objects, missing_key

_NOT_META = ("id", "text", "data", "label", "labels", "entities", "relations", "cats", "title")


def doccano_records(
    text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto", skipped: Skipped | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Article-format records from a doccano JSONL export."""
    for line, obj in jsonl_objects(text, file):
        try:
            yield line, _line(obj, line, file, annotator, schema, offsets, skipped if skipped is not None else Skipped())
        except Bad as exc:
            raise IngestError(file, line, str(exc)) from None


def _line(obj: Any, line: int, file: str, annotator: str, schema: dict[str, Any], offsets: str, skipped: Skipped) -> dict[str, Any]:
    """One line as an article-format record."""
    hint = looks_like(obj[0] if isinstance(obj, list) and obj else obj)  # a Label Studio export is one JSON array
    if not isinstance(obj, dict):
        raise Bad(f"expected a JSON object; this looks like {hint}" if hint else "expected a JSON object")
    if hint and "doccano" not in hint:
        raise Bad(f"this looks like {hint}")
    text = obj.get("text", obj.get("data"))
    if not isinstance(text, str):
        raise Bad(missing_key("text", obj) if "text" not in obj and "data" not in obj else "'text' must be a string")
    article_id = external_id(obj.get("id"), file, line)
    reader = Offsets(text, offsets, "utf16")
    spans, classes = _labels(obj, reader, annotator, article_id)
    by_entity = _entities(obj, reader, annotator, article_id)
    spans += by_entity.values()
    relations = _relations(obj, by_entity, annotator, article_id)
    cats = _cats(obj.get("cats", []))
    meta = {k: v for k, v in obj.items() if k not in _NOT_META}
    # What the line stands for, so that a merge of two projects' files (--match-by text) keeps both: spans where the
    # project labels spans (an empty `entities` too: nothing marked), article labels where it classifies (`cats`, or
    # class names), never sentence labels (doccano has none).
    carries = ["spans"] if spans or "entities" in obj else []
    article_labels = _article_labels(schema, classes, cats, annotator, skipped)
    if article_labels or "cats" in obj:
        carries.append("article_labels")
    block = {"annotator": annotator, "labels": [], "spans": spans, "relations": relations, "_carries": carries}
    if article_labels:
        block["article_labels"] = article_labels
    return article_record(article_id, obj.get("title"), text, meta, [block])


def _cats(cats: Any) -> list[str]:
    """The class names of ``cats``: doccano's list of names, or spaCy's object of names to scores
    ({"LABEL": 1.0, "OTHER": 0.0}), whose training data holds 1 (the class applies) or 0 (it does not) and nothing
    between: a score such as 0.7 is a model's guess, whose threshold the file does not say, so it is refused, as is
    anything but a number or true / false.  null is refused too: doccano never writes it, and with --on-duplicate
    replace it cleared the answer."""
    if isinstance(cats, dict):
        given = []
        for name, value in cats.items():
            if not isinstance(value, (int, float)) or value not in (0, 1):
                shown = json.dumps(value)
                shown = shown if len(shown) <= 40 else shown[:40] + "…"
                kind = "a score" if isinstance(value, (int, float)) else "not a number"
                raise Bad(f"cats: document class {name!r} is {shown}, {kind}: give 1 or true (the class applies) or 0 or false "
                          "(it does not), as spaCy's training data does")
            if value == 1:
                given.append(name)
        return given
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        raise Bad("'cats' must be a list of label names, or an object of label names to 1 or 0" + (" (leave it out for none)" if cats is None else ""))
    return cats


def _article_labels(schema: dict[str, Any], classes: list[str], cats: list[str], annotator: str, skipped: Skipped) -> dict[str, list[str]]:
    """The document classes (``label`` names and ``cats``) as {group: values}: each goes to the one article label
    group of the schema that allows it (never copied onto every sentence); skipped and reported when there are no groups.
    A class given twice is refused, as the API refuses a value twice in an answer."""
    seen: set[str] = set()
    for name, values in (("label", classes), ("cats", cats)):
        for value in values:
            if value in seen:  # the API refuses a value twice in an answer: a repeat is a mistake in the file, not one value
                raise Bad(f"{name}: document class {value!r} appears more than once")
            seen.add(value)
    groups = labelschema.article_groups(schema)
    if not groups:
        for name, values in (("label", classes), ("cats", cats)):
            if values:
                skipped.add(annotator, document_class(name, by_name=False), len(values))
        return {}
    out: dict[str, list[str]] = {}
    for name, values in (("label", classes), ("cats", cats)):
        for value in values:
            holders = [group for group, spec in groups.items() if value in spec["values"]]
            if len(holders) != 1:
                where = "no article label group of the schema" if not holders else f"several article label groups ({', '.join(holders)})"
                raise Bad(f"{name}: document class {value!r} is in {where}")
            out.setdefault(holders[0], []).append(value)
    for group, values in out.items():
        if len(values) > 1 and not groups[group]["multiple"]:
            raise Bad(f"{len(values)} document classes ({', '.join(sorted(values))}) for article label group {group!r}, which takes one value "
                      "(say \"multiple\": true in the schema to import several)")
    return {group: sorted(values) for group, values in out.items()}


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
