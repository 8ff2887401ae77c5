"""Other tools' exports as article-format records, for import_annotations.import_records.

Label Studio (its JSON export: a list of tasks, or one task per JSONL line):
every task is an article (``data.text``; the id from ``data.id``, else the
task id); results of the first annotation that was not cancelled (else the
first prediction) become the pseudo-annotator's annotations:
``labels`` -> spans (one per label), ``choices`` -> a sentence label for every
sentence the region covers (a choice without a region covers the whole text),
``relation`` -> relations (type from ``labels``, else the one type the schema
allows between the two span labels; ``direction: left`` is reversed).

doccano (JSONL): ``{"text", "label": [[start, end, "LABEL"], ...]}`` (a string
label such as ``"label": ["CFS"]`` labels every sentence), or the
``entities`` / ``relations`` variant with ``start_offset`` / ``end_offset``.

Offsets.  Label Studio's text regions are made in the browser, and its
exports have carried JavaScript string offsets (UTF-16 code units: an emoji
counts 2; HumanSignal/label-studio #1347, #1008) while other versions and
hand-made pre-annotations use code points.  With ``offsets="auto"`` each region
is checked against its ``value.text``: the reading (UTF-16 first, then code
points) that gives exactly that text is used; a region with no ``value.text``
in a text that has characters beyond U+FFFF is ambiguous and rejected (say
``utf16`` or ``code-points``).  doccano's exports carry no span text to check
against; its offsets are taken as code points (its Python back end counts
them) unless ``offsets="utf16"``.

Span and relation ids are derived from the tool's region ids, the article id
and the pseudo-annotator's name (a hash), so re-importing the same file gives
the same ids and two pseudo-annotators never collide.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

from annotator.domain import labelschema
from annotator.domain.dataset.ingest import IngestError, jsonl_objects
from annotator.stats import strict_json

FORMATS = ("article", "label-studio", "doccano")
OFFSETS = ("auto", "utf16", "code-points")


class _Bad(Exception):
    pass


# ---------------------------------------------------------------- reading files


def json_array_objects(text: str, file: str) -> Iterator[tuple[int, Any]]:
    """(line where it starts, element) for each element of a top-level JSON array."""
    decoder = strict_json.decoder()  # NaN, Infinity, out-of-range numbers refused, as everywhere
    pos, line, counted = 0, 1, 0

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    def line_at(p: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, p)
        counted = p
        return line

    pos = skip(pos)
    if pos >= len(text) or text[pos] != "[":
        raise IngestError(file, line_at(pos), "expected a JSON array of tasks")
    pos = skip(pos + 1)
    if pos < len(text) and text[pos] == "]":
        return
    while True:
        start_line = line_at(pos)
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise IngestError(file, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:
            raise IngestError(file, start_line, "invalid JSON: nested too deeply") from None
        except ValueError as exc:  # NotJson, or a number with more digits than Python converts
            reason = exc if isinstance(exc, strict_json.NotJson) else "a number has too many digits"
            raise IngestError(file, start_line, f"invalid JSON: {reason}") from None
        yield start_line, value
        pos = skip(pos)
        if pos < len(text) and text[pos] == ",":
            pos = skip(pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            if skip(pos + 1) != len(text):
                raise IngestError(file, line_at(skip(pos + 1)), "unexpected data after the JSON array")
            return
        raise IngestError(file, line_at(pos), "expected ',' or ']' in the JSON array")


# ---------------------------------------------------------------- offsets


def has_astral(text: str) -> bool:
    """True when some character is beyond U+FFFF (two UTF-16 code units)."""
    return any(ord(c) > 0xFFFF for c in text) if not text.isascii() else False


def utf16_to_code_points(text: str) -> list[int]:
    """Index = UTF-16 offset, value = code-point offset (-1 inside a surrogate pair)."""
    table: list[int] = []
    for i, ch in enumerate(text):
        table.append(i)
        if ord(ch) > 0xFFFF:
            table.append(-1)
    table.append(len(text))
    return table


class _Offsets:
    """Reads one text's region offsets as UTF-16 or code points (see the module doc)."""

    def __init__(self, text: str, mode: str, default: str):
        self.text = text
        self.mode = default if mode == "auto" and default != "auto" else mode
        self.astral = has_astral(text)
        self._table: list[int] | None = None

    def _utf16(self, start: int, end: int) -> tuple[int, int] | None:
        if not self.astral:
            return (start, end) if 0 <= start < end <= len(self.text) else None
        if self._table is None:
            self._table = utf16_to_code_points(self.text)
        table = self._table
        if not 0 <= start < end < len(table) or table[start] < 0 or table[end] < 0:
            return None
        return table[start], table[end]

    def _points(self, start: int, end: int) -> tuple[int, int] | None:
        return (start, end) if 0 <= start < end <= len(self.text) else None

    def read(self, start: Any, end: Any, given: Any, where: str) -> tuple[int, int]:
        for name, value in (("start", start), ("end", end)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise _Bad(f"{where}: {name} must be an integer")
        if given is not None and not isinstance(given, str):
            raise _Bad(f"{where}: text must be a string")
        text = self.text
        if self.mode in ("utf16", "code-points"):
            found = self._utf16(start, end) if self.mode == "utf16" else self._points(start, end)
            if found is None:
                raise _Bad(f"{where}: offsets {start}-{end} ({self.mode}) are outside the text or split a character")
            if given is not None and text[found[0] : found[1]] != given:
                raise _Bad(f"{where}: text {_clip(given)} does not match offsets {start}-{end} ({self.mode}): {_clip(text[found[0]:found[1]])}")
            return found
        # auto: the reading that reproduces the region's own text
        candidates = [c for c in (self._utf16(start, end), self._points(start, end)) if c is not None]
        if given is None:
            if self.astral and len(set(candidates)) > 1:
                raise _Bad(
                    f"{where}: offsets {start}-{end} have no text to check them against and the text has characters beyond U+FFFF: "
                    "say --offsets utf16 or --offsets code-points"
                )
            if not candidates:
                raise _Bad(f"{where}: offsets {start}-{end} are outside the text")
            return candidates[0]
        for found in candidates:
            if text[found[0] : found[1]] == given:
                return found
        raise _Bad(f"{where}: text {_clip(given)} matches neither UTF-16 nor code-point offsets {start}-{end}")


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def derived_uid(annotator: str, article_id: str, region: str) -> str:
    """A stable span/relation id for a foreign region (32 hex digits)."""
    return hashlib.sha256(f"{annotator}\x00{article_id}\x00{region}".encode("utf-8")).hexdigest()[:32]


# ---------------------------------------------------------------- Label Studio


def label_studio_records(
    text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Article-format records from a Label Studio JSON (or JSONL) export."""
    stripped = text.lstrip()
    items: Iterator[tuple[int, Any]]
    if stripped.startswith("["):
        items = json_array_objects(text, file)
    else:
        try:  # one task as a (pretty-printed) object
            items = iter([(1 + text[: len(text) - len(stripped)].count("\n"), strict_json.loads(text))])
        except ValueError:  # not one object: read it as JSONL, which names the bad line
            items = jsonl_objects(text, file)
    for n, (line, task) in enumerate(items, start=1):
        try:
            yield line, _label_studio_task(task, n, file, annotator, schema, offsets)
        except _Bad as exc:
            raise IngestError(file, line, str(exc)) from None


def _label_studio_task(task: Any, n: int, file: str, annotator: str, schema: dict[str, Any], offsets: str) -> dict[str, Any]:
    if not isinstance(task, dict):
        raise _Bad("a Label Studio task must be an object")
    data = task.get("data")
    if not isinstance(data, dict):
        raise _Bad("the task has no 'data' object")
    text = data.get("text")
    if not isinstance(text, str):
        keys = ", ".join(sorted(map(str, data))) or "none"
        raise _Bad(f"the task's data has no 'text' string (its keys: {keys})")
    raw_id = data.get("id", task.get("id"))
    external_id = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else f"{Path(file).stem}-{n}"
    meta = {k: v for k, v in data.items() if k not in ("text", "id", "title")}
    if "id" in task and "id" in data:
        meta["label_studio_id"] = task["id"]
    results = _label_studio_results(task)
    reader = _Offsets(text, offsets, "auto")
    spans: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []
    region_spans: dict[str, list[dict[str, Any]]] = {}
    pending: list[tuple[int, dict[str, Any]]] = []
    for i, result in enumerate(results):
        where = f"result[{i}]"
        if not isinstance(result, dict):
            raise _Bad(f"{where} must be an object")
        kind = result.get("type")
        if kind == "relation":
            pending.append((i, result))
            continue
        value = result.get("value")
        if not isinstance(value, dict):
            raise _Bad(f"{where} ({kind}) has no 'value' object")
        region = str(result.get("id", f"#{i}"))
        if kind == "labels":
            names = value.get("labels")
            if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
                raise _Bad(f"{where}: value.labels must be a non-empty list of label names")
            start, end = reader.read(value.get("start"), value.get("end"), value.get("text"), where)
            made = []
            for k, name in enumerate(names):
                span = {"id": derived_uid(annotator, external_id, region if k == 0 else f"{region}\x00{k}"), "label": name, "start": start, "end": end}
                spans.append(span)
                made.append(span)
            region_spans[region] = made
        elif kind == "choices":
            choices = value.get("choices")
            if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], str):
                raise _Bad(f"{where}: value.choices must name exactly one sentence label")
            if value.get("start") is not None or value.get("end") is not None:
                covers = list(reader.read(value.get("start"), value.get("end"), value.get("text"), where))
            else:
                covers = [0, len(text)]
            labels.append({"label": choices[0], "_covers": covers})
        else:
            raise _Bad(f"{where}: result type {kind!r} is not imported (use labels, choices or relation)")
    for i, result in pending:
        where = f"result[{i}]"
        source, target = str(result.get("from_id")), str(result.get("to_id"))
        if result.get("direction") == "left":
            source, target = target, source
        for end_name, region in (("from_id", source), ("to_id", target)):
            if region not in region_spans:
                raise _Bad(f"{where}: {end_name} {region!r} names no labelled region of this task")
        names = result.get("labels") or []
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            raise _Bad(f"{where}: labels must be a list of relation type names")
        from_span, to_span = region_spans[source][0], region_spans[target][0]
        types = names or [_only_relation_type(schema, from_span["label"], to_span["label"], where)]
        for rel_type in types:
            relations.append(
                {
                    "id": derived_uid(annotator, external_id, f"relation\x00{source}\x00{target}\x00{rel_type}"),
                    "type": rel_type,
                    "from": from_span["id"],
                    "to": to_span["id"],
                }
            )
    return {
        "id": external_id,
        "title": data.get("title") if isinstance(data.get("title"), str) else "",
        "text": text,
        "meta": meta,
        "annotations": [{"annotator": annotator, "labels": labels, "spans": spans, "relations": relations}],
    }


def _label_studio_results(task: dict[str, Any]) -> list[Any]:
    """The first annotation not cancelled, else the first prediction; [] when neither."""
    for key in ("annotations", "completions", "predictions"):
        entries = task.get(key) or []
        if not isinstance(entries, list):
            raise _Bad(f"'{key}' must be a list")
        for entry in entries:
            if isinstance(entry, dict) and not entry.get("was_cancelled"):
                result = entry.get("result") or []
                if not isinstance(result, list):
                    raise _Bad(f"'{key}[].result' must be a list")
                return result
    return []


def _only_relation_type(schema: dict[str, Any], from_label: str, to_label: str, where: str) -> str:
    allowed = [
        rel["name"] for rel in schema.get("relation_types", []) if labelschema.relation_allows(schema, rel["name"], from_label, to_label) is None
    ]
    if len(allowed) != 1:
        raise _Bad(f"{where}: the relation has no type and the schema allows {len(allowed)} types from {from_label} to {to_label}")
    return allowed[0]


# ---------------------------------------------------------------- doccano


def doccano_records(
    text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Article-format records from a doccano JSONL export."""
    for line, obj in jsonl_objects(text, file):
        try:
            yield line, _doccano_line(obj, line, file, annotator, offsets)
        except _Bad as exc:
            raise IngestError(file, line, str(exc)) from None


def _doccano_line(obj: Any, line: int, file: str, annotator: str, offsets: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _Bad("expected a JSON object")
    text = obj.get("text", obj.get("data"))
    if not isinstance(text, str):
        raise _Bad("missing 'text'")
    raw_id = obj.get("id")
    external_id = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else f"{Path(file).stem}-{line}"
    reader = _Offsets(text, offsets, "code-points")
    spans: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []
    by_entity: dict[str, dict[str, Any]] = {}
    raw_labels = obj.get("label", obj.get("labels", []))
    if raw_labels is None:
        raw_labels = []
    if not isinstance(raw_labels, list):
        raise _Bad("'label' must be a list")
    for i, item in enumerate(raw_labels):
        where = f"label[{i}]"
        if isinstance(item, str):
            labels.append({"label": item, "_covers": [0, len(text)]})
        elif isinstance(item, list) and len(item) == 3 and isinstance(item[2], str):
            start, end = reader.read(item[0], item[1], None, where)
            spans.append({"id": derived_uid(annotator, external_id, f"label\x00{i}"), "label": item[2], "start": start, "end": end})
        else:
            raise _Bad(f"{where} must be [start, end, \"LABEL\"] or a label name")
    entities = obj.get("entities") or []
    if not isinstance(entities, list):
        raise _Bad("'entities' must be a list")
    for i, entity in enumerate(entities):
        where = f"entities[{i}]"
        if not isinstance(entity, dict) or not isinstance(entity.get("label"), str):
            raise _Bad(f"{where} must be an object with label, start_offset, end_offset")
        start, end = reader.read(entity.get("start_offset"), entity.get("end_offset"), None, where)
        key = str(entity.get("id", f"#{i}"))
        if key in by_entity:
            raise _Bad(f"{where}: entity id {key} appears twice")
        span = {"id": derived_uid(annotator, external_id, f"entity\x00{key}"), "label": entity["label"], "start": start, "end": end}
        spans.append(span)
        by_entity[key] = span
    raw_relations = obj.get("relations") or []
    if not isinstance(raw_relations, list):
        raise _Bad("'relations' must be a list")
    for i, rel in enumerate(raw_relations):
        where = f"relations[{i}]"
        if not isinstance(rel, dict) or not isinstance(rel.get("type"), str):
            raise _Bad(f"{where} must be an object with from_id, to_id, type")
        ends = []
        for end_name in ("from_id", "to_id"):
            key = str(rel.get(end_name))
            if key not in by_entity:
                raise _Bad(f"{where}: {end_name} {key} names no entity of this line")
            ends.append(by_entity[key]["id"])
        key = str(rel.get("id", f"#{i}"))
        relations.append({"id": derived_uid(annotator, external_id, f"relation\x00{key}"), "type": rel["type"], "from": ends[0], "to": ends[1]})
    for category in obj.get("cats") or []:
        if not isinstance(category, str):
            raise _Bad("'cats' must be a list of label names")
        labels.append({"label": category, "_covers": [0, len(text)]})
    meta = {k: v for k, v in obj.items() if k not in ("id", "text", "data", "label", "labels", "entities", "relations", "cats", "title")}
    return {
        "id": external_id,
        "title": obj.get("title") if isinstance(obj.get("title"), str) else "",
        "text": text,
        "meta": meta,
        "annotations": [{"annotator": annotator, "labels": labels, "spans": spans, "relations": relations}],
    }
