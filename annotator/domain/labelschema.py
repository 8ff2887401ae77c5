"""Label schemas: what a project's annotators may say, validated before it is stored.

A schema is plain JSON:

    {"sentence_labels": [{"name", "description", "color", "key"}, ...],
     "span_labels":     [{"name", "description", "color", "key"}, ...],
     "relation_types":  [{"name", "description", "color", "key", "from": [span labels], "to": [span labels]}],
     "article_labels":  [{"name", "description", "values": [...], "multiple": false}]}

`article_labels` is optional: groups of labels an annotator gives the whole article once (a stance, a
document class), each with its allowed values; `multiple: true` lets an annotator pick several values.
A schema without the section is stored as it was (the normalised copy gains no empty section).

Keys are single keyboard characters, unique across the whole schema; the keys
the annotation page uses itself (RESERVED_KEYS: ? j k u n p f [ ] { } a x) are refused.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

from annotator.domain.wording import plural
from annotator.stats import strict_json, textcheck

# Every key the annotation page itself answers (static/js/annotate.js): help, next / previous sentence,
# next unlabelled, next / previous span, resize, fit, accept / reject suggestions. A schema key there would
# shadow the page's shortcut (a schema stored before a and x were the page's keeps them: its keys come first).
RESERVED_KEYS = frozenset({"?", "j", "k", "u", "n", "p", "f", "[", "]", "{", "}", "a", "x"})
RESERVED_LIST = "reserved: " + " ".join(sorted(RESERVED_KEYS))
SECTIONS = ("sentence_labels", "span_labels", "relation_types")
ARTICLE_SECTION = "article_labels"
_ARTICLE_FIELDS = {"name", "description", "values", "multiple"}
MAX_VALUE_LENGTH = 64
_ITEM_FIELDS = {"name", "description", "color", "key"}
_RELATION_FIELDS = _ITEM_FIELDS | {"from", "to"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # \Z: "$" also matches before a final newline
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}\Z")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


class SchemaError(ValueError):
    """A label schema that cannot be used; the message says where and why.

    `problems` lists each problem on its own ("sentence_labels[2].key: duplicate key "1" (also
    sentence_labels[0] (A))"); the message joins them on one line.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems if problems else [message]


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


class ValidSchema(dict):
    """A schema `validate` returned: validating it again returns it as it is (no second pass over 30,000 labels).

    Treat it as read-only; a changed copy (`dict(schema)`, `copy.deepcopy`) is a plain dict and is checked again.
    """

    def __deepcopy__(self, memo: dict) -> dict[str, Any]:
        return copy.deepcopy(dict(self), memo)


def loads(text: str) -> dict[str, Any]:
    """Parse and validate a schema given as JSON text."""
    try:
        data = strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except strict_json.NotJson as exc:  # NaN, Infinity, nested too deeply, a number with too many digits
        raise SchemaError(f"not valid JSON: {exc}") from None
    return validate(data)


def _show(value: Any) -> str:
    """A value for a message: JSON-quoted (ASCII escapes, so a NUL or a surrogate prints safely), shortened."""
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = type(value).__name__
    return shown if len(shown) <= 60 else shown[:57] + "..."


def validate(data: Any) -> dict[str, Any]:
    """Check a schema and return a normalised copy (defaults filled in); raise SchemaError listing every problem.

    One pass over the items (dictionaries for names and keys), so a schema of
    tens of thousands of labels checks in linear time.
    """
    if isinstance(data, ValidSchema):
        return data
    if not isinstance(data, dict):
        raise SchemaError("a schema must be a JSON object", [])
    problems: list[str] = []
    unknown = [key for key in data if key not in SECTIONS and key != ARTICLE_SECTION]
    if unknown:
        problems.append(f"{plural(len(unknown), 'unknown key')} {', '.join(_show(k) if textcheck.problem(k) else k for k in sorted(map(str, unknown)))}; "
                        f"expected {', '.join(SECTIONS)} (and optionally {ARTICLE_SECTION})")
    out = ValidSchema()
    used_keys: dict[str, str] = {}  # key -> where it was first used
    colours = _Colours(data)
    for section in SECTIONS:
        out[section] = _section(section, data.get(section, []), used_keys, colours, problems)
    if isinstance(data.get("sentence_labels", []), list) and not data.get("sentence_labels"):
        problems.append("sentence_labels: must name at least one label")
    _check_relation_ends(out, problems)
    if ARTICLE_SECTION in data:
        out[ARTICLE_SECTION] = _article_groups(data[ARTICLE_SECTION], problems)
    if problems:
        raise SchemaError("; ".join(problems[:_SHOWN_PROBLEMS]) + _more(problems), problems)
    return out


class _Colours:
    """The colours given to labels and relation types that name none: the palette's, in order, skipping those the
    schema gives itself, across its sections. Each section counted from the palette's start: a label given none shared
    its colour with the first label of every other section, or with one given that colour (CFS and QUOTE alike)."""

    def __init__(self, data: dict[str, Any]):
        self.taken = {item["color"].lower() for section in SECTIONS if isinstance(data.get(section), list)
                      for item in data[section] if isinstance(item, dict) and isinstance(item.get("color"), str)}
        self.given = 0

    def next(self) -> str:
        free = [colour for colour in PALETTE if colour not in self.taken]
        colour = free[0] if free else PALETTE[self.given % len(PALETTE)]  # more labels than colours: round again
        self.taken.add(colour)
        self.given += 1
        return colour


def _section(section: str, items: Any, used_keys: dict[str, str], colours: _Colours, problems: list[str]) -> list[dict[str, Any]]:
    """One section's items, normalised; a name used twice in the section is a problem."""
    if not isinstance(items, list):
        problems.append(f"{section}: must be a list")
        items = []
    names: dict[str, str] = {}  # name -> where it was first used
    checked = []
    for i, item in enumerate(items):
        one = _item(section, i, item, used_keys, colours, problems)
        if one is None:
            continue
        _note_name(f"{section}[{i}]", one["name"], names, problems)
        checked.append(one)
    return checked


def _head(where: str, item: Any, allowed: set[str], problems: list[str]) -> tuple[str | None, str] | None:
    """What a label, a relation type and an article label group are checked for alike: an object (else None) with
    only `allowed` keys, a usable name (None when not) and a description of text ("" when missing or not usable)."""
    if not isinstance(item, dict):
        problems.append(f"{where}: must be an object")
        return None
    unknown = [key for key in item if key not in allowed]
    if unknown:
        problems.append(f"{where}: {plural(len(unknown), 'unknown key')} {', '.join(_show(k) if textcheck.problem(k) else k for k in sorted(unknown))}; "
                        f"allowed: {', '.join(sorted(allowed))}")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}.name: must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit (got {_show(name)})")
        name = None
    description = item.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{where}.description: must be text (got {_show(description)})")
        description = ""
    elif textcheck.problem(description):
        problems.append(f"{where}.description: {textcheck.problem(description)}")
        description = ""
    return name, description


def _note_name(where: str, name: str | None, seen: dict[str, str], problems: list[str]) -> None:
    """A name used before in its section is a problem saying where (`seen`: name -> where it was first used)."""
    if name is None:
        return
    if name in seen:
        problems.append(f"{where}.name: duplicate name {_show(name)} (also {seen[name]})")
    else:
        seen[name] = where


def _check_relation_ends(schema: dict[str, Any], problems: list[str]) -> None:
    """Every span label a relation type may start or end at is one of the schema's span labels."""
    span_names = {s["name"] for s in schema["span_labels"]}
    for i, rel in enumerate(schema["relation_types"]):
        for end in ("from", "to"):
            for label in rel.get(end, []):
                if label not in span_names:
                    problems.append(f"relation_types[{i}].{end}: names unknown span label {_show(label)}")


_SHOWN_PROBLEMS = 50


def _more(problems: list[str]) -> str:
    extra = len(problems) - _SHOWN_PROBLEMS
    return f"; and {extra:,} more {plural(extra, 'problem')}" if extra > 0 else ""


def _item(section: str, i: int, item: Any, used_keys: dict[str, str], colours: _Colours, problems: list[str]) -> dict[str, Any] | None:
    """One label or relation type, normalised; its problems are added to `problems` (name None when it has none usable)."""
    where = f"{section}[{i}]"
    head = _head(where, item, _RELATION_FIELDS if section == "relation_types" else _ITEM_FIELDS, problems)
    if head is None:
        return None
    name, description = head
    color = item["color"] if "color" in item else colours.next()
    if not isinstance(color, str) or not _COLOR.match(color):
        problems.append(f"{where}.color: must look like #1f77b4 (got {_show(color)})")
        color = PALETTE[0]  # the schema is refused: any colour will do
    key = item.get("key")
    if key is not None:
        if not isinstance(key, str) or len(key) != 1 or key.isspace() or textcheck.problem(key) or not key.isprintable():
            problems.append(f"{where}.key: must be a single printable character (got {_show(key)})")
            key = None
        else:
            key = key.lower()
            if key in RESERVED_KEYS:
                problems.append(f"{where}.key: {_show(key)} is reserved by the annotation page ({RESERVED_LIST})")
                key = None
            elif key in used_keys:
                problems.append(f"{where}.key: duplicate key {_show(key)} (also {used_keys[key]})")
            else:
                used_keys[key] = where + (f" ({name})" if name else "")
    out = {"name": name, "description": description, "color": color.lower(), "key": key}
    if section == "relation_types":
        for end in ("from", "to"):
            labels = item.get(end)
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
                problems.append(f"{where}.{end}: must be a non-empty list of span label names (got {_show(labels)})")
                labels = []
            out[end] = list(labels)
    return out


def _article_groups(groups: Any, problems: list[str]) -> list[dict[str, Any]]:
    """The article-level label groups, normalised (`multiple` defaults to false); problems added to `problems`."""
    if not isinstance(groups, list):
        problems.append(f"{ARTICLE_SECTION}: must be a list")
        return []
    seen: dict[str, str] = {}
    checked = []
    for i, group in enumerate(groups):
        where = f"{ARTICLE_SECTION}[{i}]"
        head = _head(where, group, _ARTICLE_FIELDS, problems)
        if head is None:
            continue
        name, description = head
        _note_name(where, name, seen, problems)
        multiple = group.get("multiple", False)
        if not isinstance(multiple, bool):
            problems.append(f"{where}.multiple: must be true or false (got {_show(multiple)})")
            multiple = False
        values = _group_values(where, group.get("values"), problems)
        checked.append({"name": name, "description": description, "values": values, "multiple": multiple})
    return checked


def _group_values(where: str, values: Any, problems: list[str]) -> list[str]:
    """A group's allowed values: a non-empty list of distinct texts of 1-64 characters."""
    if not isinstance(values, list) or not values:
        problems.append(f"{where}.values: must be a non-empty list of values (got {_show(values)})")
        return []
    kept: list[str] = []
    for j, value in enumerate(values):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE_LENGTH or textcheck.problem(value):
            problems.append(f"{where}.values[{j}]: must be a text of 1-{MAX_VALUE_LENGTH} characters (got {_show(value)})")
        elif value in kept:
            problems.append(f"{where}.values[{j}]: duplicate value {_show(value)}")
        else:
            kept.append(value)
    return kept


def article_groups(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The schema's article-level label groups by name (empty when it has none)."""
    return {group["name"]: group for group in schema.get(ARTICLE_SECTION, [])}


def check_article_values(schema: dict[str, Any], group_name: str, values: list[str]) -> str | None:
    """None when `values` (distinct, non-empty) suit the group, else the reason they do not."""
    group = article_groups(schema).get(group_name)
    if group is None:
        known = ", ".join(article_groups(schema)) or "none"
        return f"unknown article label group {group_name!r} (schema has: {known})"
    if not values:
        return f"article label group {group_name!r}: give at least one value"
    if len(values) > 1 and not group["multiple"]:
        return f"article label group {group_name!r} takes one value, not {len(values)} (it is not multiple)"
    for value in values:
        if value not in group["values"]:
            return f"article label group {group_name!r} has no value {value!r} (allowed: {', '.join(group['values'])})"
    return None


NAME_RULE = "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"


def usable_name(name: Any) -> bool:
    """Whether `name` may name a label, a relation type or an article label group (NAME_RULE)."""
    return isinstance(name, str) and _NAME.match(name) is not None


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
