"""An exported article as one line of doccano's sequence-labelling-with-relations JSONL (doccano 1.8.4).

doccano's export is one file per person, so is this one: the line of one annotator's work,
``{"id", "text", "title", <meta keys>, "entities": [{id, label, start_offset, end_offset}],
"relations": [{id, from_id, to_id, type}]}``, entity and relation ids numbered from 1 on each line
(doccano's own are database ids).  Offsets count UTF-16 code units by default, as doccano's
editor stores them and as `import-annotations --format doccano` reads them (``code-points``
on request, for the reader's ``--offsets code-points``).

Article labels go in ``cats``, the list of category names doccano's own JSONL gives a text beside
its spans (its intent-detection export, ``{"text", "entities", "cats"}``; a text-classification
export calls the same list ``label``): every value the annotator chose, groups in name order.
doccano's categories have no groups, so `import-annotations --format doccano` puts each value
back into the one article label group of the schema that holds it; a line of a project with
article label groups always has ``cats`` (empty: the annotator chose none), one of a project
without has none.

Left out, and counted for the export's report: sentence labels (a sequence-labelling project has
no place for them), article label values that several groups of the schema share (a bare name
would not say which group it answers), and meta keys that are doccano's own (id, text, title,
entities, relations, label, labels, cats, data).
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Any

from annotator.domain import labelschema
from annotator.domain.dataset.foreign.report import Skipped

OFFSETS = ("utf16", "code-points")
RESERVED = ("id", "text", "title", "entities", "relations", "label", "labels", "cats", "data")


def shared_values(schema: dict[str, Any]) -> frozenset[str]:
    """The article label values that more than one group of the schema allows: not writable as a bare category."""
    seen: set[str] = set()
    shared: set[str] = set()
    for group in labelschema.article_groups(schema).values():
        shared.update(seen.intersection(group["values"]))
        seen.update(group["values"])
    return frozenset(shared)


def line(record: dict[str, Any], entry: dict[str, Any] | None, offsets: str, left_out: Skipped,
         shared: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The doccano line of one annotator's entry on an article (None: the article with nothing of theirs);
    `shared`: the article label values several groups allow (shared_values), left out."""
    text = record["text"]
    out: dict[str, Any] = {"id": record["id"], "text": text, "title": record["title"]}
    for key, value in record["meta"].items():
        if key in RESERVED:
            left_out.add(entry["annotator"] if entry else "meta", f"meta key(s) doccano uses itself ({key})")
        else:
            out[key] = value
    spans = entry["spans"] if entry else []
    relations = entry["relations"] if entry else []
    if entry and entry["labels"]:
        left_out.add(entry["annotator"], "sentence label(s): doccano's sequence labelling has no place for them", len(entry["labels"]))
    where = _utf16(text) if offsets == "utf16" else None
    number = {span["id"]: k for k, span in enumerate(spans, start=1)}
    out["entities"] = [
        {"id": number[span["id"]], "label": span["label"], "start_offset": _offset(span["start"], where),
         "end_offset": _offset(span["end"], where)}
        for span in spans
    ]
    out["relations"] = [
        {"id": k, "from_id": number[rel["from"]], "to_id": number[rel["to"]], "type": rel["type"]}
        for k, rel in enumerate(relations, start=1)
    ]
    if entry and "article_labels" in entry:  # the project has article label groups
        out["cats"] = _cats(entry["article_labels"], shared, entry["annotator"], left_out)
    return out


def _cats(chosen: dict[str, str | list[str]], shared: frozenset[str], who: str, left_out: Skipped) -> list[str]:
    """The annotator's article label values as doccano categories, groups in name order; shared values left out."""
    cats = []
    for group in sorted(chosen):
        value = chosen[group]
        for name in value if isinstance(value, list) else [value]:
            if name in shared:
                left_out.add(who, "article label value(s) that several groups share: doccano's categories have no groups")
            else:
                cats.append(name)
    return cats


def _utf16(text: str) -> list[int] | None:
    """Code-point offsets of the characters beyond U+FFFF (two UTF-16 units each); None when there are none."""
    if text.isascii():
        return None
    astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF]
    return astral or None


def _offset(point: int, astral: list[int] | None) -> int:
    """A code-point offset in UTF-16 code units (each earlier astral character counts twice)."""
    return point if astral is None else point + bisect_left(astral, point)
