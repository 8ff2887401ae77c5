"""The dataset commands: `annotator export` and `annotator import-annotations`.

Thin click wrappers over export.py and import_annotations.py; errors exit
non-zero with one line, progress goes to stderr.
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import click
from flask.cli import with_appcontext

from . import export, foreign, import_annotations, projects
from .db import begin_write, db


def _fail(message: str) -> None:
    raise click.ClickException(message)


def split_paths(output: str, names: list[str]) -> dict[str, Path]:
    """Where each split goes: DIR/NAME.jsonl for a folder (existing, or given with a
    trailing slash), else PREFIX.NAME.jsonl (a trailing .jsonl of -o is dropped)."""
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        folder = Path(output)
        return {name: folder / f"{name}.jsonl" for name in names}
    prefix = output[: -len(".jsonl")] if output.endswith(".jsonl") else output
    return {name: Path(f"{prefix}.{name}.jsonl") for name in names}


class _Outputs:
    """Files written under a temporary name and moved into place only when the export succeeds."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths
        self.parts = {name: path.with_name(path.name + ".part") for name, path in paths.items()}
        self.handles: dict[str, IO[str]] = {}

    def __enter__(self) -> dict[str, IO[str]]:
        for name, part in self.parts.items():
            part.parent.mkdir(parents=True, exist_ok=True)
            self.handles[name] = open(part, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
        return self.handles

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        for handle in self.handles.values():
            handle.close()
        for name, part in self.parts.items():
            if exc_type is None:
                os.replace(part, self.paths[name])
            else:
                part.unlink(missing_ok=True)


@click.command("export")
@click.argument("project", required=False)
@click.option("--unit", type=click.Choice(export.UNITS), default=export.DEFAULT_UNIT, show_default=True,
              help="article: one lossless record per article; sentence: one training record per sentence.")
@click.option("-o", "--output", help="Output file (default: standard output). With --split: a prefix or a folder.")
@click.option("--gold-only", is_flag=True, help="Only sentences (articles) with a gold label.")
@click.option("--annotator", "annotators", multiple=True, metavar="NAME",
              help="Only this annotator's annotations (repeat for several).")
@click.option("--labels", help="Only sentences labelled with one of these, e.g. CFS,UFS (gold label, else annotators').")
@click.option("--split", "split_spec", metavar="NAME=P,...",
              help="Split by article, e.g. train=0.8,dev=0.1,test=0.1: one file per split (OUT.train.jsonl, ... or DIR/train.jsonl).")
@click.option("--seed", type=int, default=13, show_default=True, help="Seed of the split (same seed, same split).")
@click.option("--schema", "schema_unit", type=click.Choice(export.UNITS), help="Print the JSON Schema of a unit and exit.")
@with_appcontext
def export_command(project: str | None, unit: str, output: str | None, gold_only: bool, annotators: tuple[str, ...],
                   labels: str | None, split_spec: str | None, seed: int, schema_unit: str | None) -> None:
    """Export a project as JSONL (sentence records by default).

    Records stream in article order with constant memory. With --split, each
    article goes to one split, picked by a hash of its id and --seed: the same
    seed gives the same files, and adding articles later never moves one.
    """
    if schema_unit:
        click.echo(json.dumps(export.schema(schema_unit), indent=2, ensure_ascii=False))
        return
    if not project:
        _fail("give a PROJECT to export (or --schema article|sentence)")
    try:
        p = projects.get_project(db.session, project)
        filters = export.check_filters(
            db.session, p, export.Filters(gold_only=gold_only, annotators=tuple(annotators), labels=export.parse_labels(labels))
        )
        splits = export.parse_split(split_spec) if split_spec else None
    except (projects.ProjectError, export.ExportError) as exc:
        _fail(str(exc))
        return
    if splits and not output:
        _fail("--split writes one file per split: give -o PREFIX or -o FOLDER/")

    total = export.count_articles(db.session, p.id)
    show_progress = total > export.BATCH_SIZE
    written: dict[str, int] = {}
    with ExitStack() as stack:
        if splits:
            paths = split_paths(output or "", [name for name, _ in splits])
            handles = stack.enter_context(_Outputs(paths))
        elif output and output != "-":
            paths = {"": Path(output)}
            handles = stack.enter_context(_Outputs(paths))
        else:
            paths = {"": Path("<stdout>")}
            handles = {"": sys.stdout}
        bar = stack.enter_context(
            click.progressbar(length=total, label=f"exporting {p.name}", file=sys.stderr, show_pos=True)
        ) if show_progress else None
        records = export.iter_records(db.session, p.id, unit, filters, progress=bar.update if bar else None)
        dumps = export.dumps
        if splits:
            split_of = export.split_of
            article_key = "article_id" if unit == "sentence" else "id"
            last_article, name = None, ""
            for split_name in handles:
                written[split_name] = 0
            for record in records:
                article_id = record[article_key]
                if article_id != last_article:  # records come article by article
                    last_article, name = article_id, split_of(article_id, splits, seed)
                handles[name].write(dumps(record))
                written[name] += 1
        else:
            out = handles[""]
            n = 0
            for record in records:
                out.write(dumps(record))
                n += 1
            written[""] = n
            out.flush()
    for name, n in written.items():
        where = paths[name]
        click.echo(f"exported {n} {unit} record(s) to {where}", err=True)


@click.command("import-annotations")
@click.argument("project")
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(foreign.FORMATS), default="article", show_default=True,
              help="article: annotator's own article JSONL; label-studio: its JSON export; doccano: its JSONL export.")
@click.option("--as", "pseudo", metavar="NAME", help="The (pseudo-)annotator that Label Studio or doccano annotations belong to.")
@click.option("--on-duplicate", type=click.Choice(import_annotations.ON_DUPLICATE), default="error", show_default=True,
              help="An annotator who already annotated the article (or gold already there): error, skip, or replace it.")
@click.option("--offsets", type=click.Choice(foreign.OFFSETS), default="auto", show_default=True,
              help="How Label Studio / doccano offsets count: auto checks each region against its text.")
@with_appcontext
def import_annotations_command(project: str, files: tuple[str, ...], fmt: str, pseudo: str | None, on_duplicate: str, offsets: str) -> None:
    """Import annotated articles: this tool's article JSONL, or Label Studio / doccano exports.

    Missing articles and annotators are created (annotators as inactive users
    without a password). Each file is one transaction: a bad line rejects the
    whole file (FILE:LINE: reason) and the other files still import.
    """
    from . import accounts
    from .ingest import IngestError, decode

    try:
        p = projects.get_project(db.session, project)
    except projects.ProjectError as exc:
        _fail(str(exc))
        return
    if fmt == "article" and pseudo:
        _fail("--as is for --format label-studio or doccano; article files name their annotators")
    if fmt != "article":
        if not pseudo:
            _fail(f"--format {fmt} needs --as NAME: the annotator its annotations belong to")
        try:
            accounts.check_name(pseudo or "")
        except accounts.AccountError as exc:
            _fail(f"--as: {exc}")
    schema = p.label_schema
    total = import_annotations.ImportResult()
    rejected = 0
    for name in files:
        try:
            try:
                data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            except OSError as exc:
                raise IngestError(name, None, f"cannot read: {exc.strerror}") from None
            text = decode(data, name)
            if fmt == "label-studio":
                records = foreign.label_studio_records(text, name, pseudo or "", schema, offsets)
            elif fmt == "doccano":
                records = foreign.doccano_records(text, name, pseudo or "", schema, offsets)
            else:
                records = foreign.jsonl_objects(text, name)
            begin_write(db.session)
            result = import_annotations.import_records(db.session, p, records, name, on_duplicate)  # type: ignore[arg-type]
            db.session.commit()
            total.merge(result)
            click.echo(f"{name}: {result.summary()}", err=True)
        except IngestError as exc:
            db.session.rollback()
            rejected += 1
            click.echo(str(exc), err=True)
        except BaseException:
            db.session.rollback()
            raise
    click.echo(f"imported into {p.name}: {total.summary()}; {rejected} file(s) rejected")
    if rejected:
        sys.exit(1)


DATASET_COMMANDS = (export_command, import_annotations_command)
