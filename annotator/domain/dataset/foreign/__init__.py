"""Other tools' exports as article-format records, for import_annotations.import_records.

One module per tool (label_studio.py, doccano.py, citron.py), each a function
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
from annotator.domain.dataset.foreign.label_studio import label_studio_records, users_map
from annotator.domain.dataset.foreign.report import Skipped

FORMATS = ("article", "label-studio", "doccano", "citron")  # "article": this tool's own format, read by import_annotations itself
OFFSETS = ("auto", "utf16", "code-points")

__all__ = ["FORMATS", "OFFSETS", "Skipped", "citron_records", "doccano_records", "label_studio_records", "read_records", "users_map"]


def read_records(
    fmt: str, text: str, file: str, annotator: str, schema: dict[str, Any], offsets: str = "auto", skipped: Skipped | None = None,
    users: dict[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, article-format record) of another tool's file, its annotations as `annotator`'s; what is left out goes to `skipped`."""
    if fmt == "label-studio":
        return label_studio_records(text, file, annotator, schema, offsets, skipped, users)
    if fmt == "doccano":
        return doccano_records(text, file, annotator, schema, offsets, skipped)
    if fmt == "citron":
        return citron_records(text, file, annotator, offsets, skipped)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS[1:])})")
