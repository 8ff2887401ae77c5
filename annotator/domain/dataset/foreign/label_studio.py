"""Label Studio's JSON export (a list of tasks, or one task per JSONL line) as article-format records.

Every task is an article (``data.text``; the id from ``data.id``, else the
task id); every annotation that was not cancelled becomes its author's
(``completed_by``, mapped by --users; cancelled ones and predictions are
counted as skipped): ``labels`` ->
spans (one per label), ``choices`` over a region -> a sentence label for every sentence the
region covers; a choice without a region is a document class: an article label in the schema's
article label group named by ``from_name`` (several choices only where that group is
``multiple``; without such a group it is skipped and reported, never copied onto sentences); ``relation``
-> relations (type from ``labels``, else the one type the schema allows
between the two span labels; ``direction: left`` is reversed).  Region offsets
are read as regions.py says (``auto``: checked against each region's text).
Every error names its place as Label Studio does: ``task 3 (id 17),
annotations[1].result[4]: value.end 90 is past the text's end (80)``
(``predictions[0].result[2]`` likewise); the record and its items carry that
place (``_at``, ``_from``) so that the checks against the schema name it too.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from annotator.domain import accounts, labelschema
from annotator.domain.dataset.foreign.regions import Bad, Offsets, article_record, derived_uid, document_class, external_id
from annotator.domain.dataset.foreign.report import Skipped
from annotator.domain.dataset.foreign.sniff import csv_hint, looks_like
from annotator.domain.dataset.ingest import IngestError, jsonl_objects, keys_hint
from annotator.stats import strict_json
from annotator.stats.numbers import whole_number


def label_studio_records(
    text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto", skipped: Skipped | None = None,
    users: dict[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Article-format records from a Label Studio JSON (or JSONL) export; `annotator` names annotations without completed_by."""
    for n, (line, task) in enumerate(export_items(text, file), start=1):
        hint = looks_like(task)
        if hint and not hint.startswith("a Label Studio task"):
            raise IngestError(file, line, f"this looks like {hint}")
        try:
            yield line, _task(task, n, file, annotator, schema, offsets, skipped if skipped is not None else Skipped(), users or {})
        except Bad as exc:
            raise IngestError(file, line, f"{task_name(task, n)}, {exc}") from None


def task_name(task: Any, n: int) -> str:
    """The task as Label Studio's people know it: its place in the file and its id."""
    task_id = task.get("id") if isinstance(task, dict) else None
    return f"task {n} (id {task_id})" if isinstance(task_id, (int, str)) and not isinstance(task_id, bool) else f"task {n}"


def export_items(text: str, file: str) -> Iterator[tuple[int, Any]]:
    """(line where it starts, item) of a Label Studio export: a JSON array, one (pretty-printed) object, or JSONL."""
    stripped = text.lstrip()
    hint = csv_hint(text)
    if hint:
        raise IngestError(file, 1, f"this is {hint}")
    if stripped.startswith("["):
        return json_array_objects(text, file)
    try:  # one task as a (pretty-printed) object
        return iter([(1 + text[: len(text) - len(stripped)].count("\n"), strict_json.loads(text))])
    except ValueError:  # not one object: read it as JSONL, which names the bad line
        return jsonl_objects(text, file)


def users_map(text: str, file: str) -> dict[str, str]:
    """A --users file: a JSON object mapping Label Studio user ids or e-mails to user names."""
    try:
        users = strict_json.loads(text)
    except ValueError as exc:
        raise IngestError(file, None, f"invalid JSON: {exc}") from None
    if not isinstance(users, dict) or not all(isinstance(v, str) and v for v in users.values()):
        raise IngestError(file, None, 'expected a JSON object of Label Studio ids or e-mails to names, like {"1": "amira", "amira@example.org": "amira"}')
    return users


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


def _task(task: Any, n: int, file: str, annotator: str, schema: dict[str, Any], offsets: str, skipped: Skipped, users: dict[str, str]) -> dict[str, Any]:
    """One task (the n-th of the file) as an article-format record: one block per annotator."""
    data, text = _task_data(task)
    article_id = external_id(data.get("id", task.get("id")), file, n)
    meta = {k: v for k, v in data.items() if k not in ("text", "id", "title")}
    task_meta = task.get("meta")
    if isinstance(task_meta, dict):
        meta.update({k: v for k, v in task_meta.items() if k not in meta})
    if "id" in task and "id" in data:
        meta["label_studio_id"] = task["id"]
    reader = Offsets(text, offsets, "auto")
    blocks = []
    whose: dict[str, int] = {}  # annotator -> the annotation of theirs already read
    key = "annotations" if task.get("annotations") or not task.get("completions") else "completions"
    predictions = _entries(task, "predictions", objects_only=False)
    models = {p["id"]: p.get("model_version") for p in predictions if isinstance(p, dict) and isinstance(p.get("id"), (int, str))}
    for k, entry in enumerate(_entries(task, key)):
        name = annotator_name(entry.get("completed_by"), users, annotator, f"{key}[{k}]")
        if entry.get("was_cancelled"):
            skipped.add(name, "cancelled annotation")
            continue
        if name in whose:
            raise Bad(f"{key}[{k}] and {key}[{whose[name]}] are both {name}'s: this tool keeps one annotation per person and task")
        whose[name] = k
        if entry.get("ground_truth") is True:
            skipped.keep(GROUND_TRUTH)
        accepted = _accepted_from(entry, models, f"{key}[{k}]") if _has_accepted(entry) else None
        blocks.append(_block(entry, f"{key}[{k}]", name, reader, schema, article_id, skipped, origins=True, accepted=accepted))
    for k, draft in enumerate(_entries(task, "drafts")):
        if draft.get("result"):  # an empty draft holds nothing to lose
            skipped.add(annotator_name(draft.get("user"), users, annotator or "drafts", f"drafts[{k}]"), DRAFT)
    record = article_record(article_id, data.get("title"), text, meta, blocks)
    record["_at"] = task_name(task, n)  # errors found later (the schema, duplicates) name the task too
    ids_only = sum(not isinstance(p, dict) for p in predictions)
    if ids_only:
        skipped.add("predictions", "prediction(s) are ids only: export with the snapshot API to include them", ids_only)
    suggestions = [_suggestion(p, k, reader, schema, article_id, skipped) for k, p in enumerate(predictions) if isinstance(p, dict)]
    if suggestions:
        record["suggestions"] = suggestions
    return record


MAX_MODEL_VERSION = 64  # it names the suggestions' suggester and is their version (columns of 100 and 64 characters)
DRAFT = "draft (saved in Label Studio, never submitted)"
GROUND_TRUTH = ("annotation(s) marked ground_truth in Label Studio were imported as their authors' work: the mark is no gold "
                "here (adjudicate gold in this tool, or import gold in the article format)")


def _model_version(value: Any, where: str) -> str:
    """A prediction's model_version ("" when it has none), which names its suggester and is its version."""
    model_version = value if isinstance(value, str) else ""
    if len(model_version) > MAX_MODEL_VERSION or not model_version.isprintable():
        raise Bad(f"{where}.model_version must be at most {MAX_MODEL_VERSION} printable characters (got {model_version[:80]!r})")
    return model_version


def _has_accepted(entry: dict[str, Any]) -> bool:
    """Whether any of the annotation's results is a prediction accepted unchanged in Label Studio (no suggester named)."""
    results = entry.get("result")
    return isinstance(results, list) and any(
        isinstance(r, dict) and r.get("origin") == "prediction" and not (isinstance(r.get("meta"), dict) and r["meta"].get("suggester") is not None)
        for r in results
    )


def _accepted_from(entry: dict[str, Any], models: dict[Any, Any], at: str) -> dict[str, Any]:
    """The origin of the annotation's results that Label Studio marks origin "prediction" (a model's region the
    person accepted unchanged): suggested by the prediction the annotation began from (its parent_prediction among
    the task's predictions, else its own prediction object), named after its model_version as the task's predictions
    are when they become suggestions ("label-studio" when it names none)."""
    parent = entry.get("parent_prediction")
    prediction = entry.get("prediction")
    if isinstance(parent, (int, str)) and not isinstance(parent, bool) and parent in models:
        model_version = _model_version(models[parent], f"{at}: the parent prediction's")
    elif isinstance(prediction, dict) and prediction:
        model_version = _model_version(prediction.get("model_version"), f"{at}.prediction")
    else:
        model_version = ""
    return {"origin": "suggested", "suggester": model_version or "label-studio", "suggester_version": model_version}


def _suggestion(prediction: dict[str, Any], k: int, reader: Offsets, schema: dict[str, Any], article_id: str, skipped: Skipped) -> dict[str, Any]:
    """A full prediction as a suggester's proposal (never a human annotation): model_version names it and is its
    version; each item has its result's score (0 to 1), else the prediction's.  Sentence-label predictions are counted, not read."""
    model_version = _model_version(prediction.get("model_version"), f"predictions[{k}]")
    suggester = model_version or "label-studio"
    score = _score(prediction.get("score"), 1.0)
    block = _block(prediction, f"predictions[{k}]", suggester, reader, schema, article_id, skipped)
    span_scores, relation_scores = _item_scores(prediction, score)
    if block["labels"]:
        skipped.add(suggester, "sentence-label prediction(s): only span and link predictions become suggestions", len(block["labels"]))
    return {
        "suggester": suggester,
        "version": model_version,
        "score": score,
        "spans": [[span["id"], span["label"], span["start"], span["end"], s] for span, s in zip(block["spans"], span_scores, strict=True)],
        "relations": [[rel["type"], rel["from"], rel["to"], s] for rel, s in zip(block["relations"], relation_scores, strict=True)],
    }


def _score(value: Any, default: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
    return float(value) if ok else default


def _item_scores(prediction: dict[str, Any], default: float) -> tuple[list[float], list[float]]:
    """The score of each span and each relation _block made of the prediction, in its order (it checked the shapes)."""
    spans: list[float] = []
    relations: list[float] = []
    for result in prediction.get("result") or []:
        score = _score(result.get("score"), default)
        if result.get("type") == "labels":
            spans += [score] * len(result["value"]["labels"])
        elif result.get("type") == "relation":
            relations += [score] * (len(result.get("labels") or []) or 1)
    return spans, relations


def annotator_name(completed_by: Any, users: dict[str, str], default: str, where: str, field: str = "completed_by") -> str:
    """Whose annotation: --users maps a Label Studio id or e-mail to a name; an unmapped id is ls-user-ID, an unmapped
    e-mail (or other text) ls-user-TEXT when that is a user name. None (or nothing) is the `default` annotator (--as);
    anything else is refused saying what is wrong with it, never taken for the default. `field` is the key it was
    read from (``completed_by``, JSON_MIN's ``annotator``), for the messages."""
    if isinstance(completed_by, dict):
        email, user_id = completed_by.get("email"), completed_by.get("id")
        if isinstance(email, str) and email in users:
            return users[email]
        completed_by = user_id
    if isinstance(completed_by, int) and not isinstance(completed_by, bool):
        return users.get(str(completed_by), f"ls-user-{completed_by}")
    if isinstance(completed_by, str) and completed_by:
        return _named_by_text(completed_by, users, where, field)
    if completed_by is None or completed_by == "":
        if default:
            return default
        raise Bad(f"{where} has no {field}: say --as NAME for annotations without an annotator")
    raise Bad(f"{where}: {field} must be a Label Studio user id or e-mail, not {json.dumps(completed_by)[:40]}")


def _named_by_text(text: str, users: dict[str, str], where: str, field: str) -> str:
    """A user id or e-mail given as text: mapped by --users, an id as annotator_name takes a number, else ls-user-TEXT."""
    if text in users:
        return users[text]
    number = whole_number(text, 10**18)  # not '²' (int() fails) nor '٣' (int() makes it user 3)
    if number is not None:
        return users.get(str(number), f"ls-user-{number}")
    name = f"ls-user-{text}"
    try:
        return accounts.check_name(name)
    except accounts.AccountError:
        pass
    longest = accounts.NAME_MAX - len("ls-user-")
    if len(text) > longest:
        why = (f"is {len(text)} characters long ({text[:20]!r}…): too long for a Label Studio user id or e-mail that makes a "
               f"user name (at most {longest})")
    else:
        why = f"{text!r} is not a Label Studio user id (digits) or an e-mail, and makes no user name"
    raise Bad(f"{where}: {field} {why}: map it to one with --users")


def _block(
    entry: dict[str, Any], at: str, name: str, reader: Offsets, schema: dict[str, Any], article_id: str, skipped: Skipped,
    origins: bool = False, accepted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One annotation's (or prediction's) results as `name`'s labels, spans and relations; `at` is where it is in the task.

    With `origins` (an annotation's), each item also takes its result's origin (see result_origin; `accepted`: the
    origin of a prediction's result the person accepted unchanged)."""
    spans: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    article_labels: dict[str, list[str]] = {}
    region_spans: dict[str, list[dict[str, Any]]] = {}  # region id -> its spans, for the relations
    pending: list[tuple[int, dict[str, Any]]] = []  # relations, read once every region is known
    results = entry.get("result") or []
    if not isinstance(results, list):
        raise Bad(f"{at}.result must be a list")
    for i, result in enumerate(results):
        where = f"{at}.result[{i}]"
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
            region_spans[region] = region_spans_of(value, region, where, reader, name, article_id)
            if origins:
                for span in region_spans[region]:
                    span.update(result_origin(result, accepted))
            spans += region_spans[region]
        elif kind == "choices" and value.get("start") is None and value.get("end") is None:
            document_choice(str(result.get("from_name", "choices")), value.get("choices"), where, schema, name, article_labels, skipped)
        elif kind == "choices":
            labels.append({**choice_label(result, value, where, reader), **label_details(entry), **(result_origin(result, accepted) if origins else {}), "_from": where})
        else:
            raise Bad(f"{where}: result type {kind!r} is not imported (use labels, choices or relation)")
    relations = [
        {**relation, **(result_origin(result, accepted) if origins else {})}
        for i, result in pending for relation in _relations(result, f"{at}.result[{i}]", region_spans, schema, name, article_id)
    ]
    block = {"annotator": name, "labels": labels, "spans": spans, "relations": relations}
    if article_labels:
        block["article_labels"] = article_labels
    return block


def result_origin(result: dict[str, Any], accepted: dict[str, Any] | None = None) -> dict[str, Any]:
    """An annotation's result item as this tool's origin: "suggested" when it is a prediction accepted unchanged (Label
    Studio's ``origin`` "prediction"): by the suggester its ``meta`` names, as this tool's export writes it, else as
    `accepted` says (the prediction the annotation began from); anything else, "prediction-changed" (a person changed
    it) included, is manual."""
    if result.get("origin") != "prediction":
        return {}
    meta = result.get("meta")
    if isinstance(meta, dict) and meta.get("suggester") is not None:
        return {"origin": "suggested", "suggester": meta["suggester"], "suggester_version": meta.get("suggester_version", "")}
    return dict(accepted or {})


def document_choice(
    group: str, choices: Any, where: str, schema: dict[str, Any], name: str, article_labels: dict[str, list[str]], skipped: Skipped,
) -> None:
    """Choices with no region (a document class) into `article_labels`: the schema's article label group named `group`
    (the control tag's from_name), several values only where it is multiple; skipped and reported when there is no such group."""
    if not isinstance(choices, list) or not choices or not all(isinstance(x, str) for x in choices):
        raise Bad(f"{where}: value.choices must be a non-empty list of choice names")
    groups = labelschema.article_groups(schema)
    if group not in groups and len(choices) > 1:  # a multiple-choice config with nowhere to go: refused, never cut to one
        raise Bad(f"{where}: {len(choices)} choices in {group!r} ({', '.join(choices)}) cannot be stored: the schema has no article "
                  f"label group {group!r} to take several values (and a region's choice must name exactly one sentence label)")
    if group not in groups:
        skipped.add(name, document_class(group))
        return
    values = sorted(set(choices) | set(article_labels.get(group, [])))
    if len(values) > 1 and not groups[group]["multiple"]:
        raise Bad(f"{where}: {len(values)} choices in {group!r} ({', '.join(values)}), but the schema's article label group "
                  f"{group!r} takes one value (say \"multiple\": true in the schema to import several)")
    reason = labelschema.check_article_values(schema, group, values)
    if reason:
        raise Bad(f"{where}: {reason}")
    article_labels[group] = values


def label_details(entry: dict[str, Any]) -> dict[str, Any]:
    """The annotation's lead_time (seconds) and updated_at, which a label keeps."""
    out: dict[str, Any] = {}
    lead_time = entry.get("lead_time")
    if isinstance(lead_time, (int, float)) and not isinstance(lead_time, bool) and lead_time >= 0:
        out["seconds"] = lead_time
    if isinstance(entry.get("updated_at"), str):
        out["updated_at"] = entry["updated_at"]
    return out


def _task_data(task: Any) -> tuple[dict[str, Any], str]:
    """The task's data object and its text."""
    if not isinstance(task, dict):
        raise Bad("a Label Studio task must be an object")
    data = task.get("data")
    if not isinstance(data, dict):
        hint = looks_like(task)
        raise Bad(f"the task has no 'data' object: this looks like {hint}" if hint else "the task has no 'data' object")
    text = data.get("text")
    if not isinstance(text, str):
        raise Bad(f"the task's data has no 'text' string{keys_hint('text', data, 'data')}")
    return data, text


def _entries(task: dict[str, Any], key: str, objects_only: bool = True) -> list[Any]:
    """The task's annotations (or completions, or predictions): a list, of objects unless ids are allowed."""
    entries = task.get(key) or []
    if not isinstance(entries, list):
        raise Bad(f"'{key}' must be a list")
    if objects_only and not all(isinstance(e, dict) for e in entries):
        raise Bad(f"'{key}' must be a list of objects")
    return entries


def region_spans_of(
    value: dict[str, Any], region: str, where: str, reader: Offsets, annotator: str, article_id: str, prefix: str = "value."
) -> list[dict[str, Any]]:
    """A ``labels`` result: one span per label name, all over the region's text; `prefix` is where the region's keys sit."""
    names = value.get("labels")
    if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
        raise Bad(f"{where}: {prefix}labels must be a non-empty list of label names")
    start, end = reader.read(value.get("start"), value.get("end"), value.get("text"), where, _names(prefix))
    return [
        {"id": derived_uid(annotator, article_id, region if k == 0 else f"{region}\x00{k}"), "label": name, "start": start, "end": end, "_from": where}
        for k, name in enumerate(names)
    ]


def _names(prefix: str) -> tuple[str, str, str]:
    return (f"{prefix}start", f"{prefix}end", f"{prefix}text")


def choice_label(result: dict[str, Any], value: dict[str, Any], where: str, reader: Offsets, prefix: str = "value.") -> dict[str, Any]:
    """A ``choices`` result over a region: a sentence label for the sentences it covers (one label a sentence).

    A choice with no region is a document class: the callers give it to document_choice instead.
    """
    choices = value.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], str):
        raise Bad(
            f"{where}: {prefix}choices over a region must name exactly one sentence label; a multiple-choice class "
            f"({result.get('from_name', 'choices')}) can only be an article label (a choice without a region)"
        )
    return {"label": choices[0], "_covers": list(reader.read(value.get("start"), value.get("end"), value.get("text"), where, _names(prefix)))}


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
            "_from": where,
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
