"""The export in other tools' formats: Label Studio, doccano, BBC Citron.

Each is built on the article unit (shape.iter_articles, so on the same batched load and the same
filters) and streamed: one article's output is written before the next is read.  One module per
format turns an article record into that tool's shape; this module writes them:

* ``label-studio``: one JSON array of tasks (Label Studio's JSON export), see label_studio.py;
* ``doccano``: JSONL, one line per article of one annotator's work (doccano's export is a file
  per person; `--annotator NAME` picks the person, or `-o DIR/` writes DIR/<name>.jsonl for each), see doccano.py;
* ``citron``: JSONL, one Citron document per article and annotator, see citron.py (or, as Citron's
  trainer reads a folder of files, a file per document: `documents` and `file_name`).

Gold is not in these formats (they carry each person's work), so ``gold_only`` is refused.
`import-annotations --format label-studio|doccano|citron` reads each back to the same spans,
relations, article labels and (Label Studio) sentence labels; what a format cannot hold is counted in the
returned ``left_out`` (foreign.report.Skipped) for the export to report.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Project, User
from annotator.domain.dataset.export.formats import citron, doccano, label_studio
from annotator.domain.dataset.export.formats.suggested import with_suggestions
from annotator.domain.dataset.export.options import ExportError, Filters
from annotator.domain.dataset.export.shape import iter_articles
from annotator.domain.dataset.export.write import dumpb
from annotator.domain.dataset.foreign.report import Skipped

FORMATS = ("jsonl", "label-studio", "doccano", "citron")  # jsonl: the unit records (write.py)
DEFAULT_FORMAT = "jsonl"
OFFSETS = doccano.OFFSETS
_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass
class Written:
    """What a foreign-format export wrote: articles, records (tasks, lines, documents), the Label Studio
    user ids it used (id -> name, the --users map), and what the format could not hold."""

    articles: int = 0
    records: int = 0
    users: dict[str, str] = field(default_factory=dict)
    left_out: Skipped = field(default_factory=Skipped)


def check_format(fmt: str, filters: Filters, file_per_document: bool = False) -> None:
    """ExportError for a format the filters make no sense with (file_per_document: -o DIR/, a file per person or document)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == DEFAULT_FORMAT:
        return
    if filters.gold_only:
        raise ExportError(f"--gold-only is for --format jsonl: the {fmt} format carries each annotator's work, not gold")
    if fmt == "doccano" and len(filters.annotators) != 1 and not file_per_document:
        raise ExportError("--format doccano writes one person's annotations (doccano's files name nobody): "
                          "give one --annotator NAME, or -o DIR/ for a file per person")


def write(session: Session, project_id: int, fmt: str, filters: Filters, out: IO[bytes], offsets: str = "utf16",
          progress: Callable[[int], None] | None = None) -> Written:
    """Stream the project's articles to `out` in `fmt` (label-studio, doccano or citron)."""
    check_format(fmt, filters)
    if fmt == DEFAULT_FORMAT:
        raise ExportError("the jsonl format is written by write.py's unit records")
    if offsets not in OFFSETS:
        raise ExportError(f"unknown offsets {offsets!r} (choose from {', '.join(OFFSETS)})")
    written = Written()
    if fmt == "label-studio":
        _label_studio(session, project_id, iter_articles(session, project_id, filters, progress=progress), out, written)
        return written
    for _article, _annotator, item in documents(session, project_id, fmt, filters, written, offsets, progress):
        out.write(dumpb(item))
    return written


def documents(session: Session, project_id: int, fmt: str, filters: Filters, written: Written, offsets: str = "utf16",
              progress: Callable[[int], None] | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(article id, annotator, doccano line or Citron document) of each article and annotator, counted in `written`."""
    shared = doccano.shared_values(session.scalar(select(Project.label_schema).where(Project.id == project_id)) or {})
    for record in iter_articles(session, project_id, filters, progress=progress):
        written.articles += 1
        for entry in record["annotations"]:
            if fmt == "doccano":
                item = doccano.line(record, entry, offsets, written.left_out, shared)
            else:
                item = citron.document(record, entry, written.left_out)
            written.records += 1
            yield record["id"], entry["annotator"], item


def file_name(parts: tuple[str, ...], taken: set[str], suffix: str = ".json") -> str:
    """A file name of its own: the parts (article id, annotator) joined by '.', runs of characters unsafe
    in a file name as '-', a number added when two would be the same (also on case-insensitive file systems)."""
    stem = ".".join(_safe(part) for part in parts)
    name, k = f"{stem}{suffix}", 1
    while name.lower() in taken:
        k += 1
        name = f"{stem}.{k}{suffix}"
    taken.add(name.lower())
    return name


def _safe(value: str) -> str:
    return _UNSAFE.sub("-", value).strip("-.")[:100] or "_"


def _label_studio(session: Session, project_id: int, records: Any, out: IO[bytes], written: Written) -> None:
    """One JSON array, a task per line, streamed: '[' first, ']' last."""
    user_ids = {name: uid for uid, name in session.execute(select(User.id, User.name))}
    out.write(b"[")
    for record, suggestions in with_suggestions(session, project_id, records):
        for entry in record["annotations"]:
            written.users[str(user_ids[entry["annotator"]])] = entry["annotator"]
        out.write(b"\n" if written.records == 0 else b",\n")
        out.write(dumpb(label_studio.task(record, user_ids, suggestions))[:-1])
        written.articles += 1
        written.records += 1
    out.write(b"\n]\n" if written.records else b"]\n")
