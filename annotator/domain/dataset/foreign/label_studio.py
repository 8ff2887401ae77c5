"""Label Studio's JSON export (a list of tasks, or one task per JSONL line) as article-format records.

Every task is an article (``data.text``; the id from ``data.id``, else the
task id); results of the first annotation that was not cancelled (else the
first prediction) become the pseudo-annotator's annotations: ``labels`` ->
spans (one per label), ``choices`` -> a sentence label for every sentence the
region covers (a choice without a region covers the whole text), ``relation``
-> relations (type from ``labels``, else the one type the schema allows
between the two span labels; ``direction: left`` is reversed).  Region offsets
are read as regions.py says (``auto``: checked against each region's text).

Read as suggestions (``import-annotations --as-suggestions``), the task's
first prediction comes first (a model's output is what is being loaded), and
every label, span and relation carries a ``score``: its result's, else its
prediction's (Label Studio's ``score`` fields), else none (the importer's 1).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterator

from annotator.domain import labelschema
from annotator.domain.dataset.foreign.regions import Bad, Offsets, article_record, derived_uid, external_id
from annotator.domain.dataset.ingest import IngestError, jsonl_objects
from annotator.stats import strict_json


def label_studio_records(
    text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto", suggestions: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Article-format records from a Label Studio JSON (or JSONL) export (predictions first, with scores, for suggestions)."""
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
            yield line, _task(task, n, file, annotator, schema, offsets, suggestions)
        except Bad as exc:
            raise IngestError(file, line, str(exc)) from None


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


def _task(task: Any, n: int, file: str, annotator: str, schema: dict[str, Any], offsets: str, suggestions: bool = False) -> dict[str, Any]:
    """One task (the n-th of the file) as an article-format record."""
    data, text = _task_data(task)
    article_id = external_id(data.get("id", task.get("id")), file, n)
    meta = {k: v for k, v in data.items() if k not in ("text", "id", "title")}
    if "id" in task and "id" in data:
        meta["label_studio_id"] = task["id"]
    reader = Offsets(text, offsets, "auto")
    spans: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    region_spans: dict[str, list[dict[str, Any]]] = {}  # region id -> its spans, for the relations
    pending: list[tuple[int, dict[str, Any]]] = []  # relations, read once every region is known
    results, entry_score = _results(task, PREDICTIONS_FIRST if suggestions else ANNOTATIONS_FIRST)
    scored = _scorer(entry_score) if suggestions else lambda _result, _where, items: items
    for i, result in enumerate(results):
        where = f"result[{i}]"
        if not isinstance(result, dict):
            raise Bad(f"{where} must be an object")
        kind = result.get("type")
        if kind == "relation":
            pending.append((i, result))
            continue
        value = result.get("value")
        if not isinstance(value, dict):
            raise Bad(f"{where} ({kind}) has no 'value' object")
        if kind == "labels":
            region = str(result.get("id", f"#{i}"))
            region_spans[region] = scored(result, where, _region_spans(value, region, where, reader, annotator, article_id))
            spans += region_spans[region]
        elif kind == "choices":
            labels += scored(result, where, [_choice(value, where, reader, len(text))])
        else:
            raise Bad(f"{where}: result type {kind!r} is not imported (use labels, choices or relation)")
    relations = [
        relation for i, result in pending
        for relation in scored(result, f"result[{i}]", _relations(result, f"result[{i}]", region_spans, schema, annotator, article_id))
    ]
    return article_record(article_id, data.get("title"), text, meta, annotator, labels, spans, relations)


def _task_data(task: Any) -> tuple[dict[str, Any], str]:
    """The task's data object and its text."""
    if not isinstance(task, dict):
        raise Bad("a Label Studio task must be an object")
    data = task.get("data")
    if not isinstance(data, dict):
        raise Bad("the task has no 'data' object")
    text = data.get("text")
    if not isinstance(text, str):
        keys = ", ".join(sorted(map(str, data))) or "none"
        raise Bad(f"the task's data has no 'text' string (its keys: {keys})")
    return data, text


ANNOTATIONS_FIRST = ("annotations", "completions", "predictions")
PREDICTIONS_FIRST = ("predictions", "annotations", "completions")


def _results(task: dict[str, Any], order: tuple[str, ...] = ANNOTATIONS_FIRST) -> tuple[list[Any], Any]:
    """The results of the first entry not cancelled (annotations, then predictions, or as `order` says), and its
    score (None when it has none); ([], None) when there is none."""
    for key in order:
        entries = task.get(key) or []
        if not isinstance(entries, list):
            raise Bad(f"'{key}' must be a list")
        for entry in entries:
            if isinstance(entry, dict) and not entry.get("was_cancelled"):
                result = entry.get("result") or []
                if not isinstance(result, list):
                    raise Bad(f"'{key}[].result' must be a list")
                return result, entry.get("score")
    return [], None


def _scorer(entry_score: Any) -> Callable[[dict[str, Any], str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Gives the items a result made its score: the result's own, else its prediction's; none when neither has one."""

    def scored(result: dict[str, Any], where: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        score = result.get("score", entry_score)
        if score is None:
            return items
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
            raise Bad(f"{where}: score must be a number from 0 to 1 (got {score!r})")
        return [{**item, "score": score} for item in items]

    return scored


def _region_spans(value: dict[str, Any], region: str, where: str, reader: Offsets, annotator: str, article_id: str) -> list[dict[str, Any]]:
    """A ``labels`` result: one span per label name, all over the region's text."""
    names = value.get("labels")
    if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
        raise Bad(f"{where}: value.labels must be a non-empty list of label names")
    start, end = reader.read(value.get("start"), value.get("end"), value.get("text"), where)
    return [
        {"id": derived_uid(annotator, article_id, region if k == 0 else f"{region}\x00{k}"), "label": name, "start": start, "end": end}
        for k, name in enumerate(names)
    ]


def _choice(value: dict[str, Any], where: str, reader: Offsets, length: int) -> dict[str, Any]:
    """A ``choices`` result: a sentence label for the sentences its region (else the whole text) covers."""
    choices = value.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], str):
        raise Bad(f"{where}: value.choices must name exactly one sentence label")
    if value.get("start") is not None or value.get("end") is not None:
        covers = list(reader.read(value.get("start"), value.get("end"), value.get("text"), where))
    else:
        covers = [0, length]
    return {"label": choices[0], "_covers": covers}


def _relations(
    result: dict[str, Any], where: str, region_spans: dict[str, list[dict[str, Any]]], schema: dict[str, Any], annotator: str, article_id: str
) -> list[dict[str, Any]]:
    """A ``relation`` result: one relation per type it names (or the one type the schema allows) between the regions' first spans."""
    source, target = str(result.get("from_id")), str(result.get("to_id"))
    if result.get("direction") == "left":
        source, target = target, source
    for end_name, region in (("from_id", source), ("to_id", target)):
        if region not in region_spans:
            raise Bad(f"{where}: {end_name} {region!r} names no labelled region of this task")
    names = result.get("labels") or []
    if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
        raise Bad(f"{where}: labels must be a list of relation type names")
    from_span, to_span = region_spans[source][0], region_spans[target][0]
    types = names or [_only_relation_type(schema, from_span["label"], to_span["label"], where)]
    return [
        {
            "id": derived_uid(annotator, article_id, f"relation\x00{source}\x00{target}\x00{rel_type}"),
            "type": rel_type,
            "from": from_span["id"],
            "to": to_span["id"],
        }
        for rel_type in types
    ]


def _only_relation_type(schema: dict[str, Any], from_label: str, to_label: str, where: str) -> str:
    allowed = [
        rel["name"] for rel in schema.get("relation_types", []) if labelschema.relation_allows(schema, rel["name"], from_label, to_label) is None
    ]
    if len(allowed) != 1:
        raise Bad(f"{where}: the relation has no type and the schema allows {len(allowed)} types from {from_label} to {to_label}")
    return allowed[0]
