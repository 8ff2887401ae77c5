"""An exported article as a Label Studio task (Label Studio's JSON export format, as 1.23.2 writes it).

``data``: ``id`` (the article's id), ``title``, ``text``; the task's ``meta``: the article's meta.
``annotations``: one per annotator, ``completed_by`` the annotator's user id in this tool (an
integer, as Label Studio's JSON export gives it; `annotator export --users-out FILE` writes the
``{"<id>": "<name>"}`` map that `import-annotations --users FILE` reads back, and without it the
import names them ``ls-user-<id>``), ``result`` holding:

* each span as a ``labels`` region (``from_name`` "label", region id = the span's id, code-point
  offsets, as Label Studio counts them, with the covered text);
* each relation as a ``relation`` item between the two regions, its type in ``labels``;
* each sentence label as a ``choices`` result over the sentence's text (``from_name``
  "sentence_label"), which the Label Studio reader turns back into a label on that sentence;
* each label, span and relation with Label Studio's ``origin``: "prediction" for an accepted
  suggestion, with ``meta`` {"suggester", "suggester_version"} (which the reader turns back into
  the suggested origin), else "manual";
* each article label group the annotator answered as a ``choices`` result with no region
  (``from_name`` the group's name, as Label Studio writes a document-level Choices tag), which the
  reader turns back into that article label.

``lead_time`` is the sum of the annotator's label seconds on the article (Label Studio keeps one
time per annotation: read back, every label gets that sum), ``created_at`` / ``updated_at`` the
first and last of their labels' update times.  ``predictions``: one per suggester, ``model_version``
the suggester's name (what the reader names the suggester after; the version is not carried),
``score`` the mean of its items' scores and each result item with its own ``score``.  Label
suggestions are written as choices, but the reader imports only the span and link predictions.
"""
from __future__ import annotations

from typing import Any

SPAN_FROM = "label"
SENTENCE_FROM = "sentence_label"
TO_NAME = "text"


def task(record: dict[str, Any], user_ids: dict[str, int], suggestions: list[tuple]) -> dict[str, Any]:
    """The Label Studio task of an article-unit record and its suggestions (see suggested.py)."""
    text = record["text"]
    bounds = {s["index"]: (s["start"], s["end"]) for s in record["sentences"]}
    out: dict[str, Any] = {"data": {"id": record["id"], "title": record["title"], "text": text}}
    if record["meta"]:
        out["meta"] = record["meta"]
    out["annotations"] = [_annotation(entry, user_ids[entry["annotator"]], text, bounds) for entry in record["annotations"]]
    out["predictions"] = _predictions(suggestions, text, bounds)
    return out


def _annotation(entry: dict[str, Any], user_id: int, text: str, bounds: dict[int, tuple[int, int]]) -> dict[str, Any]:
    result = [_origin(_region(span["id"], span["start"], span["end"], span["text"], span["label"]), span) for span in entry["spans"]]
    result += [_origin(_relation(rel["from"], rel["to"], rel["type"]), rel) for rel in entry["relations"]]
    result += [_origin(_choice(label["sentence"], label["label"], text, bounds), label) for label in entry["labels"]]
    result += [_document_choice(group, value) for group, value in sorted(entry.get("article_labels", {}).items())]
    times = sorted(label["updated_at"] for label in entry["labels"] if label["updated_at"])
    annotation: dict[str, Any] = {
        "completed_by": user_id,
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "lead_time": sum(label["seconds"] for label in entry["labels"]),
    }
    if times:
        annotation["created_at"], annotation["updated_at"] = times[0], times[-1]
    return annotation


def _origin(result: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The result item with Label Studio's ``origin`` for the item's: an accepted suggestion is a "prediction"
    (its suggester and version in the result's ``meta``), anything else "manual"."""
    if item.get("origin") == "suggested":
        result["origin"] = "prediction"
        result["meta"] = {"suggester": item["suggester"], "suggester_version": item["suggester_version"]}
    else:
        result["origin"] = "manual"
    return result


def _region(region_id: str, start: int, end: int, text: str, label: str) -> dict[str, Any]:
    return {"id": region_id, "from_name": SPAN_FROM, "to_name": TO_NAME, "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": [label]}}


def _relation(source: str, target: str, rel_type: str) -> dict[str, Any]:
    return {"from_id": source, "to_id": target, "type": "relation", "direction": "right", "labels": [rel_type]}


def _choice(index: int, label: str, text: str, bounds: dict[int, tuple[int, int]]) -> dict[str, Any]:
    start, end = bounds[index]
    return {"id": f"sentence-{index}", "from_name": SENTENCE_FROM, "to_name": TO_NAME, "type": "choices",
            "value": {"start": start, "end": end, "text": text[start:end], "choices": [label]}}


def _document_choice(group: str, value: str | list[str]) -> dict[str, Any]:
    """An article label: choices over the whole document (no region), one value or several."""
    return {"id": f"article-{group}", "from_name": group, "to_name": TO_NAME, "type": "choices",
            "value": {"choices": value if isinstance(value, list) else [value]}}


def _predictions(suggestions: list[tuple], text: str, bounds: dict[int, tuple[int, int]]) -> list[dict[str, Any]]:
    """One prediction per suggester (see the module doc)."""
    by_suggester: dict[str, list[dict[str, Any]]] = {}
    for suggester, _version, kind, label, index, start, end, uid, from_uid, to_uid, score in suggestions:
        if kind == "span":
            item = _region(uid, start, end, text[start:end], label)
        elif kind == "relation":
            item = _relation(from_uid, to_uid, label)
        elif index in bounds:
            item = _choice(index, label, text, bounds)
        else:
            continue
        item["score"] = score
        by_suggester.setdefault(suggester, []).append(item)
    return [
        {"model_version": name, "score": sum(item["score"] for item in items) / len(items), "result": items}
        for name, items in by_suggester.items()
    ]
