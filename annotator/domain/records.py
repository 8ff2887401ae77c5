"""One spelling of labels, spans, relations and timestamps as JSON, for the API and the export alike.

The API (annotations.py's answers and audit entries) and the export
(dataset/export/) used to spell the same label differently: the API cut
timestamps to milliseconds and rounded `seconds` to 3 decimals, the export
gave both as stored. These functions are the one spelling, the export's:
it is lossless (an export -> import -> export round trip gives the same
bytes, tests/test_export.py) and data users rely on it, and it meets the API's
documented contract as well (openapi.json: an ISO 8601 date-time in UTC
ending in Z; seconds a number). The export leaves out what is the API's alone:
a label's edit counter (`version`), which the export does not carry.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def timestamp(value: datetime | str | None) -> str | None:
    """ISO 8601 in UTC ending in Z, with microseconds only when there are some.

    Takes a datetime (naive ones are UTC), or the text SQLite stores
    ('2026-11-24 10:00:00.000000', UTC): converting that text directly skips
    a parse and a format per value, which the export's millions of rows feel.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return f"{value[:10]}T{value[11:19]}Z" if value.endswith(".000000") else f"{value[:10]}T{value[11:]}Z"
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat() + "Z"


def label_json(
    sentence: int,
    label: str,
    seconds: float,
    guidelines_version: int,
    version: int | None,
    updated_at: datetime | str | None,
    needs_review: bool,
) -> dict[str, Any]:
    """An annotator's label on a sentence (its 0-based index); `version`, the API's edit counter, left out when None.

    `seconds` is the stored time as a float, not rounded (rounding would lose what an import stored).
    """
    seconds = float(seconds)
    if version is None:
        return {"sentence": sentence, "label": label, "seconds": seconds, "guidelines_version": guidelines_version,
                "updated_at": timestamp(updated_at), "needs_review": bool(needs_review)}
    return {"sentence": sentence, "label": label, "seconds": seconds, "guidelines_version": guidelines_version, "version": version,
            "updated_at": timestamp(updated_at), "needs_review": bool(needs_review)}


def span_json(uid: str, label: str, start: int, end: int, text: str) -> dict[str, Any]:
    """A span of the article `text` (code-point offsets), with the text it covers."""
    return {"id": uid, "label": label, "start": start, "end": end, "text": text[start:end]}


def relation_json(uid: str, rel_type: str, from_uid: str, to_uid: str) -> dict[str, Any]:
    """A relation between two spans, named by their ids."""
    return {"id": uid, "type": rel_type, "from": from_uid, "to": to_uid}


def origin_json(origin: str | None, suggester: str | None, suggester_version: str | None) -> dict[str, Any]:
    """Where a label, span or link came from: 'manual', or 'suggested' (accepted, not changed by hand since) by which suggester."""
    return {"origin": origin or "manual", "suggester": suggester, "suggester_version": suggester_version}


def article_label_json(group: str, values: list[str], guidelines_version: int, version: int | None, updated_at: datetime | str | None) -> dict[str, Any]:
    """An annotator's answer in an article-level label group: its values (a sorted list); `version` left out when None."""
    out = {"group": group, "values": sorted(values), "guidelines_version": guidelines_version, "version": version,
           "updated_at": timestamp(updated_at)}
    if version is None:
        del out["version"]
    return out
