"""`annotator import` and `annotator segment`: articles into a project, and the sentences a text splits into."""
from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path

import click
from flask.cli import with_appcontext

from annotator.cli.errors import fail, project_or_fail
from annotator.cli.suggest import suggest_imported
from annotator.db import db
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import IngestError, decode, expand_paths, read_path
from annotator.domain.wording import counted
from annotator.stats.segment import segment

IMPORTABLE = (".txt", ".jsonl", ".csv")


@click.command("import")
@click.argument("project")
@click.argument("paths", nargs=-1, required=True)
@click.option("--on-duplicate", type=click.Choice(articles.ON_DUPLICATE), default="error", show_default=True,
              help="What to do with an article id the project already has.")
@click.option("--suggest", is_flag=True, help="Then compute suggestions for the new and updated articles (as `annotator suggest run`).")
@with_appcontext
def import_command(project: str, paths: tuple[str, ...], on_duplicate: str, suggest: bool) -> None:
    """Import articles from .txt, .jsonl, .csv files or folders ('-' reads JSONL from stdin).

    Each file is all or nothing: a bad line rejects that whole file
    (reported as FILE:LINE: reason) and the others still import. A big file is
    stored in short chunks that stay invisible until the whole file is in.
    With --suggest, suggestions follow once the import has committed.
    """
    p = project_or_fail(project)
    files = list(expand_paths(paths))
    if not files:
        fail("no files to import")
    total = articles.StoreResult()
    rejected: list[str] = []
    show_progress = len(files) > 3 and sys.stderr.isatty() or len(files) > 20
    with click.progressbar(files, label="importing", file=sys.stderr, show_pos=True) if show_progress else nullcontext(files) as items:
        for name, explicit in items:
            if not explicit and Path(name).suffix.lower() not in IMPORTABLE:
                continue  # folders may hold other files; named files must be importable
            try:
                records = read_path(name, stdin=sys.stdin.buffer)
                result = articles.import_records(db.session, p, records, name, on_duplicate)  # type: ignore[arg-type]
                total.merge(result)
            except IngestError as exc:
                db.session.rollback()  # not a write: ends the read a rejected file may leave open (its check for ids taken)
                rejected.append(str(exc))
                click.echo(str(exc), err=True)
    click.echo(
        f"imported {len(total.created)} new, {len(total.updated)} updated, {len(total.skipped)} skipped"
        f" into {p.name}; {counted(len(rejected), 'file')} rejected"
    )
    if suggest:
        suggest_imported(p, total.created + total.updated)
    if rejected:
        sys.exit(1)


@click.command("segment")
@click.argument("file", default="-")
def segment_command(file: str) -> None:
    """Print the sentences of FILE (or stdin) as JSON lines with code-point offsets."""
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        text = decode(data, "<stdin>" if file == "-" else file)
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror}")
    except IngestError as exc:
        fail(str(exc))
    out = sys.stdout
    for start, end in segment(text):
        out.write(json.dumps({"start": start, "end": end, "text": text[start:end]}, ensure_ascii=False) + "\n")
