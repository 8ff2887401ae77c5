"""`annotator export --format label-studio|doccano|citron`: the checks of what goes with what, the writing, the report.

The domain (domain/dataset/export/formats/) shapes and streams; this module refuses option
combinations that make no sense with one line, opens the output (a .part file moved into place
at the end, or stdout) and reports on stderr what went where and what the format could not hold.
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from annotator.cli.export_outputs import Outputs, make_folder, open_outputs
from annotator.db import db
from annotator.db.models import Project
from annotator.domain.dataset import export
from annotator.domain.dataset.export import formats
from annotator.domain.wording import counted

RECORD_NAMES = {"label-studio": "task", "doccano": "line", "citron": "document"}


def check_options(ctx: click.Context, fmt: str, split_spec: str | None, users_out: str | None) -> None:
    """One line for an option that does not go with the format."""
    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT

    if fmt == formats.DEFAULT_FORMAT:
        for name, option in (("offsets", "--offsets"), ("users_out", "--users-out")):
            if given(name):
                raise click.UsageError(f"{option} goes with --format {'doccano' if name == 'offsets' else 'label-studio'}")
        return
    for name, option in (("unit", "--unit"), ("jobs", "--jobs"), ("schema_unit", "--schema")):
        if given(name):
            raise click.UsageError(f"{option} is for --format jsonl (the {fmt} format has one record per article and one writer)")
    if split_spec:
        raise click.UsageError(f"--split is for --format jsonl (the {fmt} format is one file)")
    if given("offsets") and fmt != "doccano":
        raise click.UsageError("--offsets goes with --format doccano")
    if users_out and fmt != "label-studio":
        raise click.UsageError("--users-out goes with --format label-studio")


def export_in_format(p: Project, fmt: str, filters: export.Filters, output: str | None, offsets: str, users_out: str | None) -> None:
    """Write the project in `fmt` to `output` (stdout without one) and report on stderr, in the snapshot the caller
    began before it checked `filters` (transactions.begin_snapshot)."""
    folder = fmt != "label-studio" and output is not None and (output.endswith(("/", os.sep)) or Path(output).is_dir())
    try:
        formats.check_format(fmt, filters, file_per_document=folder)
    except export.ExportError as exc:
        raise click.ClickException(str(exc)) from None
    total = export.count_articles(db.session, p.id)
    with ExitStack() as stack:
        bar = stack.enter_context(
            click.progressbar(length=total, label=f"exporting {p.name}", file=sys.stderr, show_pos=True)
        ) if total > export.BATCH_SIZE else None
        progress = bar.update if bar else None
        if folder:
            paths = {"": Path(output or "")}
            written = (_citron_files if fmt == "citron" else _doccano_files)(p, filters, paths[""], offsets, progress)
        else:
            paths, handles = open_outputs(stack, output, None, [""])
            written = formats.write(db.session, p.id, fmt, filters, handles[""], offsets, progress=progress)
            handles[""].flush()
    if users_out:
        Path(users_out).write_text(json.dumps(written.users, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"exported {counted(written.articles, 'article')}, {counted(written.records, RECORD_NAMES[fmt])} ({fmt}) to {paths['']}", err=True)
    if users_out:
        click.echo(f"wrote the user ids of completed_by to {users_out} (import-annotations --users {users_out} reads it)", err=True)
    for line in written.left_out.lines():
        click.echo(f"not in the {fmt} format: {line.removeprefix('skipped for ')}", err=True)


def _citron_files(p: Project, filters: export.Filters, folder: Path, _offsets: str, progress) -> formats.Written:  # noqa: ANN001
    """-o DIR/ with --format citron: one Citron document per file, as Citron's trainer reads a folder
    (DIR/<article>.<annotator>.json, each written as .part and renamed; files of earlier exports stay)."""
    make_folder(folder)
    written = formats.Written()
    taken: set[str] = set()
    for article, annotator, document in formats.documents(db.session, p.id, "citron", filters, written, progress=progress):
        path = folder / formats.file_name((article, annotator), taken)
        part = path.with_name(path.name + ".part")
        part.write_bytes(export.dumpb(document))
        os.replace(part, path)
    return written


def _doccano_files(p: Project, filters: export.Filters, folder: Path, offsets: str, progress) -> formats.Written:  # noqa: ANN001
    """-o DIR/ with --format doccano: DIR/<name>.jsonl per person, as doccano's export zip holds, in one pass
    over the articles (each written as .part, all renamed when the export succeeds)."""
    written = formats.Written()
    make_folder(folder)
    taken: set[str] = set()
    paths: dict[str, Path] = {}
    outputs = Outputs({})
    with outputs:
        for _article, annotator, line in formats.documents(db.session, p.id, "doccano", filters, written, offsets, progress):
            if annotator not in paths:
                paths[annotator] = folder / formats.file_name((annotator,), taken, ".jsonl")
                outputs.add(annotator, paths[annotator])
            outputs.handles[annotator].write(export.dumpb(line))
    return written
