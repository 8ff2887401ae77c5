"""Label schemas: what a project's annotators may say, validated before it is stored.

A schema is plain JSON:

    {"sentence_labels": [{"name", "description", "color", "key"}, ...],
     "span_labels":     [{"name", "description", "color", "key"}, ...],
     "relation_types":  [{"name", "description", "color", "key", "from": [span labels], "to": [span labels]}]}

Keys are single keyboard characters, unique across the whole schema; j and k
are kept for moving between sentences.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

RESERVED_KEYS = frozenset({"j", "k"})
SECTIONS = ("sentence_labels", "span_labels", "relation_types")
_ITEM_FIELDS = {"name", "description", "color", "key"}
_RELATION_FIELDS = _ITEM_FIELDS | {"from", "to"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


class SchemaError(ValueError):
    """A label schema that cannot be used; the message says where and why."""


_SPANS = [
    {"name": "QUOTE", "description": "The reported content: what is said, in direct or indirect speech.", "color": "#1f77b4", "key": "q"},
    {"name": "SOURCE", "description": "Who or what the quote is attributed to: a person, an office, a document.", "color": "#2ca02c", "key": "s"},
    {"name": "CUE", "description": "The words that signal attribution: said, told, according to.", "color": "#9467bd", "key": "c"},
]
_RELATIONS = [
    {"name": "attributed_to", "description": "Links a quote to its source.", "color": "#555555", "key": "l", "from": ["QUOTE"], "to": ["SOURCE"]},
]

_PRESETS: dict[str, dict[str, Any]] = {
    "claims": {
        "sentence_labels": [
            {"name": "CFS", "description": "Check-worthy factual statement: a factual claim the public would want verified.", "color": "#d62728", "key": "1"},
            {"name": "UFS", "description": "Unimportant factual statement: factual, but not worth checking.", "color": "#ff7f0e", "key": "2"},
            {"name": "NFS", "description": "Non-factual statement: opinion, question, prediction or other non-claim.", "color": "#7f7f7f", "key": "3"},
        ],
        "span_labels": _SPANS,
        "relation_types": _RELATIONS,
    },
    "checkthat": {
        "sentence_labels": [
            {"name": "Yes", "description": "Check-worthy: worth fact-checking (CLEF CheckThat!).", "color": "#d62728", "key": "1"},
            {"name": "No", "description": "Not check-worthy.", "color": "#7f7f7f", "key": "2"},
        ],
        "span_labels": _SPANS,
        "relation_types": _RELATIONS,
    },
    "fullfact": {
        "sentence_labels": [
            {"name": "personal", "description": "Personal experience.", "color": "#8c564b", "key": "1"},
            {"name": "quantity", "description": "Quantity in the past or present.", "color": "#d62728", "key": "2"},
            {"name": "correlation", "description": "Correlation or causation.", "color": "#ff7f0e", "key": "3"},
            {"name": "rules", "description": "Current laws or rules of operation.", "color": "#2ca02c", "key": "4"},
            {"name": "prediction", "description": "Prediction.", "color": "#9467bd", "key": "5"},
            {"name": "other", "description": "Other type of claim.", "color": "#17becf", "key": "6"},
            {"name": "not_claim", "description": "Not a claim.", "color": "#7f7f7f", "key": "7"},
        ],
        "span_labels": _SPANS,
        "relation_types": _RELATIONS,
    },
}

DEFAULT_PRESET = "claims"
PRESET_NAMES = tuple(_PRESETS)


def preset(name: str) -> dict[str, Any]:
    """A fresh copy of a preset schema."""
    if name not in _PRESETS:
        raise SchemaError(f"unknown preset {name!r} (choose from {', '.join(PRESET_NAMES)})")
    return copy.deepcopy(_PRESETS[name])


def loads(text: str) -> dict[str, Any]:
    """Parse and validate a schema given as JSON text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise SchemaError("not valid JSON: nested too deeply") from None
    except ValueError:  # a number with more digits than Python converts
        raise SchemaError("not valid JSON: a number has too many digits") from None
    return validate(data)


def validate(data: Any) -> dict[str, Any]:
    """Check a schema and return a normalised copy (defaults filled in); raise SchemaError."""
    if not isinstance(data, dict):
        raise SchemaError("a schema must be a JSON object")
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise SchemaError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; expected {', '.join(SECTIONS)}")
    out: dict[str, Any] = {}
    used_keys: dict[str, str] = {}
    for section in SECTIONS:
        items = data.get(section, [])
        if not isinstance(items, list):
            raise SchemaError(f"{section} must be a list")
        out[section] = [
            _item(section, i, item, used_keys) for i, item in enumerate(items)
        ]
        names = [item["name"] for item in out[section]]
        for name in names:
            if names.count(name) > 1:
                raise SchemaError(f"{section}: duplicate name {name!r}")
    if not out["sentence_labels"]:
        raise SchemaError("sentence_labels must name at least one label")
    span_names = {s["name"] for s in out["span_labels"]}
    for i, rel in enumerate(out["relation_types"]):
        for end in ("from", "to"):
            for label in rel[end]:
                if label not in span_names:
                    raise SchemaError(f"relation_types[{i}] ({rel['name']}): {end!r} names unknown span label {label!r}")
    return out


def _item(section: str, i: int, item: Any, used_keys: dict[str, str]) -> dict[str, Any]:
    where = f"{section}[{i}]"
    if not isinstance(item, dict):
        raise SchemaError(f"{where} must be an object")
    allowed = _RELATION_FIELDS if section == "relation_types" else _ITEM_FIELDS
    unknown = set(item) - allowed
    if unknown:
        raise SchemaError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SchemaError(f"{where}: name must be 1-64 letters, digits, '_', '.' or '-' (got {name!r})")
    where = f"{where} ({name})"
    description = item.get("description", "")
    if not isinstance(description, str):
        raise SchemaError(f"{where}: description must be text")
    color = item.get("color", PALETTE[i % len(PALETTE)])
    if not isinstance(color, str) or not _COLOR.match(color):
        raise SchemaError(f"{where}: color must look like #1f77b4 (got {color!r})")
    key = item.get("key")
    if key is not None:
        if not isinstance(key, str) or len(key) != 1 or key.isspace():
            raise SchemaError(f"{where}: key must be a single character (got {key!r})")
        key = key.lower()
        if key in RESERVED_KEYS:
            raise SchemaError(f"{where}: key {key!r} is reserved for moving between sentences")
        if key in used_keys:
            raise SchemaError(f"{where}: key {key!r} is already used by {used_keys[key]}")
        used_keys[key] = name
    out = {"name": name, "description": description, "color": color.lower(), "key": key}
    if section == "relation_types":
        for end in ("from", "to"):
            labels = item.get(end)
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
                raise SchemaError(f"{where}: {end!r} must be a non-empty list of span label names")
            out[end] = list(labels)
    return out


def names(schema: dict[str, Any], section: str) -> list[str]:
    return [item["name"] for item in schema.get(section, [])]


def relation_allows(schema: dict[str, Any], rel_type: str, from_label: str, to_label: str) -> str | None:
    """None when the schema allows this relation, else the reason it does not."""
    for rel in schema.get("relation_types", []):
        if rel["name"] == rel_type:
            if from_label not in rel["from"]:
                return f"relation {rel_type!r} cannot start at a {from_label} span (allowed: {', '.join(rel['from'])})"
            if to_label not in rel["to"]:
                return f"relation {rel_type!r} cannot end at a {to_label} span (allowed: {', '.join(rel['to'])})"
            return None
    return f"unknown relation type {rel_type!r} (schema has: {', '.join(names(schema, 'relation_types')) or 'none'})"
