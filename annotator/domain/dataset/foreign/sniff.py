"""Which export a record looks like, so that a file given with the wrong --format (or an
unsupported export) gets one line that says what to use instead of a reason about a missing key."""
from __future__ import annotations

import csv
from typing import Any


def looks_like(obj: Any) -> str | None:
    """A hint naming the export `obj` looks like, or None."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("data"), dict) and ("annotations" in obj or "predictions" in obj or "text" not in obj):
        return "a Label Studio task: use --format label-studio"
    if "annotation_id" in obj and "annotator" in obj:  # keys Label Studio's JSON_MIN converter writes on every record
        return "a Label Studio JSON_MIN record: use --format label-studio-min"
    if "text" in obj and isinstance(obj.get("quotes"), list):
        return "a Citron document: use --format citron"
    if "text" in obj and isinstance(obj.get("annotations"), list):
        return "this tool's article format: use --format article"
    if "text" in obj and any(key in obj for key in ("entities", "cats", "label", "labels")):
        return "a doccano record: use --format doccano --as NAME"
    return None


def csv_hint(text: str) -> str | None:
    """A Label Studio CSV export (a header row of names, not JSON)."""
    first = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0]
    try:
        header = next(csv.reader([first]), [])
    except csv.Error:  # not CSV either
        return None
    if first[:1] not in ("[", "{") and "annotator" in header:
        return "a Label Studio CSV export: CSV is not imported (its labels are JSON inside cells); export JSON from Label Studio"
    return None
