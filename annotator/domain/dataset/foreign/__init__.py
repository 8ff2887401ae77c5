"""Other tools' exports as article-format records, for import_annotations.import_records.

One module per tool and format (label_studio.py, label_studio_min.py, doccano.py, citron.py), each a function
``TOOL_records(text, file, annotator, schema, offsets)`` yielding (line,
record); regions.py holds what they share: reading region offsets (UTF-16 or
code points), the span and relation ids derived from region ids, and the
record they make.  To read another tool: a module like those, its name in
FORMATS and a branch in read_records.
"""
from __future__ import annotations

from typing import Any, Iterator

from annotator.domain.dataset.foreign.citron import citron_records
from annotator.domain.dataset.foreign.doccano import doccano_records
from annotator.domain.dataset.foreign.label_studio import json_array_objects, label_studio_records, users_map
from annotator.domain.dataset.foreign.label_studio_min import label_studio_min_records
from annotator.domain.dataset.foreign.report import Skipped
from annotator.domain.dataset.foreign.sniff import csv_hint, looks_like
from annotator.domain.dataset.ingest import IngestError, jsonl_objects

FORMATS = ("article", "label-studio", "label-studio-min", "doccano", "citron")  # "article": this tool's own format, read by import_annotations itself
OFFSETS = ("auto", "utf16", "code-points")

__all__ = [
    "FORMATS", "OFFSETS", "Skipped", "citron_records", "doccano_records", "label_studio_min_records", "label_studio_records", "read_records",
    "users_map",
]


def read_records(
    fmt: str, text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto", skipped: Skipped | None = None,
    users: dict[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, article-format record) of a file in `fmt` (this tool's article JSONL or another tool's export): its annotations
    as `annotator`'s where the file names nobody; what is left out goes to `skipped`.  A file that is plainly of another
    format is refused here, before any record: one line naming what it looks like and the --format to use."""
    check_format(text, file, fmt)
    if fmt == "article":
        return jsonl_objects(text, file)
    if fmt == "label-studio":
        return label_studio_records(text, file, annotator, schema, offsets, skipped, users)
    if fmt == "label-studio-min":
        return label_studio_min_records(text, file, annotator, schema, offsets, skipped, users)
    if fmt == "doccano":
        return doccano_records(text, file, annotator, schema, offsets, skipped)
    if fmt == "citron":
        return citron_records(text, file, annotator, offsets, skipped, schema)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS[1:])})")


def check_format(text: str, file: str, fmt: str) -> None:
    """Refuse a CSV export, and a JSON array given to a JSONL reader (article, doccano), naming what the file looks like.

    The readers refuse each record that looks like another format's (sniff.looks_like);
    this catches what they would only call invalid JSON.
    """
    hint = csv_hint(text)
    if hint:
        raise IngestError(file, 1, f"this is {hint}")
    if fmt in ("article", "doccano") and text.lstrip().startswith("["):
        line, first = next(json_array_objects(text, file), (1 + text[: len(text) - len(text.lstrip())].count("\n"), None))
        hint = looks_like(first)
        raise IngestError(file, line, f"this looks like {hint}" if hint else f"a JSON array: --format {fmt} reads JSONL, one object per line")
