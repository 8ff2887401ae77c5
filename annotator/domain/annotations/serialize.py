"""The JSON shapes of a label, a span, a relation and a timestamp, as the API returns them and the audit trail keeps them."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def label_dict(sentence_index: int, label: str, seconds: float, guidelines_version: int, version: int, updated_at: datetime | None, needs_review: bool) -> dict[str, Any]:
    return {
        "sentence": sentence_index,
        "label": label,
        "seconds": round(float(seconds), 3),
        "guidelines_version": guidelines_version,
        "version": version,
        "updated_at": iso(updated_at),
        "needs_review": bool(needs_review),
    }


def span_dict(uid: str, label: str, start: int, end: int, text: str) -> dict[str, Any]:
    return {"id": uid, "label": label, "start": start, "end": end, "text": text[start:end]}


def relation_dict(uid: str, rel_type: str, from_uid: str, to_uid: str) -> dict[str, Any]:
    return {"id": uid, "type": rel_type, "from": from_uid, "to": to_uid}

