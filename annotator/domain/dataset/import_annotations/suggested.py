"""What began as a suggestion, read back from the article format: an item's origin, and the article's suggestions.

item_origin() reads an annotator's label, span or relation's origin / suggester / suggester_version (as
records.origin_json spells them in the export). exported_suggestions() reads the export's
`suggestions` object into one Proposal per suggester, checked like the annotations (label schema,
offsets, the spans a relation names), for suggestions.rows_for / store_many to store: an exported
span or relation id is the id rows_for computes from the suggester and the item, so a round trip
keeps them; a label's suggestion has no id in the export (its id names a database sentence).
"""
from __future__ import annotations

import math
from typing import Any

from annotator.db.models import ORIGINS
from annotator.domain.annotations import check_label, check_relation, check_span
from annotator.domain.dataset.import_annotations.values import Bad, an_id, an_object, api, clip, integer, listed, string
from annotator.domain.dataset.ingest import _unstorable
from annotator.domain.suggestions import Proposal

Origin = tuple[str, str | None, str | None]  # (origin, suggester, suggester_version)
MAX_SUGGESTER = 100  # the database's column sizes (models.py)
MAX_SUGGESTER_VERSION = 64
_WHOSE = {"score", "suggester", "suggester_version"}
_KEYS = {"suggester", "suggester_version", "labels", "spans", "relations"}
_LABEL_KEYS = {"sentence", "label"} | _WHOSE
_SPAN_KEYS = {"id", "label", "start", "end", "text"} | _WHOSE
_RELATION_KEYS = {"id", "type", "from", "to"} | _WHOSE


def item_origin(raw: dict[str, Any], at: str) -> Origin:
    """An annotator's item: 'manual' (also when left out) names no suggester; 'suggested' names one and its version."""
    value = raw.get("origin") or "manual"
    suggester, version = raw.get("suggester"), raw.get("suggester_version")
    if value not in ORIGINS:
        raise Bad(f"{at}.origin must be one of {', '.join(ORIGINS)} (got {clip(value)})")
    if value == "manual":
        if suggester is not None or version is not None:
            raise Bad(f"{at}: a manual item names no suggester (suggester and suggester_version must be null)")
        return ("manual", None, None)
    return ("suggested", suggester_name(suggester, f"{at}.suggester"), suggester_version(version, f"{at}.suggester_version"))


def suggester_name(value: Any, what: str) -> str:
    string(value, what)
    if not 1 <= len(value) <= MAX_SUGGESTER or _unstorable(value):
        raise Bad(f"{what} must be 1 to {MAX_SUGGESTER} characters")
    return value


def suggester_version(value: Any, what: str) -> str:
    string(value, what)
    if len(value) > MAX_SUGGESTER_VERSION or _unstorable(value):
        raise Bad(f"{what} must be at most {MAX_SUGGESTER_VERSION} characters")
    return value


class _Proposals:
    """The proposals being read, one per suggester; an item whose version is not its suggester's first is noted."""

    def __init__(self, raw: dict[str, Any]):
        self.by_name: dict[str, Proposal] = {}
        self.default = (raw.get("suggester"), raw.get("suggester_version"))  # items may leave these to the top level

    def of(self, item: dict[str, Any], at: str, key: tuple) -> Proposal:
        name = suggester_name(item.get("suggester", self.default[0]), f"{at}.suggester")
        version = suggester_version(item.get("suggester_version", self.default[1]), f"{at}.suggester_version")
        proposal = self.by_name.get(name) or self.by_name.setdefault(name, Proposal(name, version))
        if version != proposal.version:
            proposal.versions[key] = version
        return proposal


def exported_suggestions(raw: Any, schema: dict[str, Any], text: str) -> list[Proposal]:
    """The export's `suggestions` object as one Proposal per suggester; Bad with the reason for anything wrong.

    A label's sentence index is checked against the article's sentences when they are known (store.py).
    """
    raw = an_object(raw, "suggestions", _KEYS)
    proposals = _Proposals(raw)
    for i, item in enumerate(listed(raw, "labels", "suggestions.")):
        at = f"suggestions.labels[{i}]"
        item = an_object(item, at, _LABEL_KEYS)
        index = integer(item.get("sentence"), f"{at}.sentence")
        if index < 0:
            raise Bad(f"{at}.sentence must be >= 0")
        label = api(check_label, at, schema, item.get("label"))
        proposals.of(item, at, ("label", index, label)).labels.append((index, label, _score(item, at)))
    spans: dict[str, tuple[str, str]] = {}  # id -> (suggester, label)
    for i, item in enumerate(listed(raw, "spans", "suggestions.")):
        at = f"suggestions.spans[{i}]"
        item = an_object(item, at, _SPAN_KEYS)
        key = an_id(item.get("id"), f"{at}.id")
        label, start, end = api(check_span, at, schema, len(text), item.get("label"), item.get("start"), item.get("end"))
        given = item.get("text")
        if given is not None and string(given, f"{at}.text") != text[start:end]:
            raise Bad(f"{at}: text {clip(given)} does not match text[{start}:{end}] = {clip(text[start:end])}")
        if key in spans:
            raise Bad(f"{at}: span id {key!r} appears twice")
        proposal = proposals.of(item, at, ("span", key))
        proposal.spans.append((key, label, start, end, _score(item, at)))
        spans[key] = (proposal.suggester, label)
    for i, item in enumerate(listed(raw, "relations", "suggestions.")):
        at = f"suggestions.relations[{i}]"
        item = an_object(item, at, _RELATION_KEYS)
        source, target = an_id(item.get("from"), f"{at}.from"), an_id(item.get("to"), f"{at}.to")
        rel_type = string(item.get("type"), f"{at}.type")
        proposal = proposals.of(item, at, ("relation", rel_type, source, target))
        for end_name, ref in (("from", source), ("to", target)):
            if spans.get(ref, ("",))[0] != proposal.suggester:
                raise Bad(f"{at}: '{end_name}' names span {ref!r}, which is not a suggested span of {proposal.suggester!r} in this article")
        api(check_relation, at, schema, rel_type, spans[source][1], spans[target][1])
        proposal.relations.append((rel_type, source, target, _score(item, at)))
    return list(proposals.by_name.values())


def _score(item: dict[str, Any], at: str) -> float:
    score = item.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) or not 0 <= score <= 1:
        raise Bad(f"{at}.score must be a number from 0 to 1")
    return float(score)
