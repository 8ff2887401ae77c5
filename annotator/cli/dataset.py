"""The dataset commands: `annotator export` and `annotator import-annotations`.

Thin click wrappers over domain/dataset/ (export/, import_annotations/, foreign/); errors exit
non-zero with one line, progress goes to stderr.
"""
from __future__ import annotations

import gc
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import IO, Iterable, Iterator

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from annotator.cli.export_formats import check_options as check_format_options
from annotator.cli.export_formats import export_in_format
from annotator.cli.export_outputs import open_outputs
from annotator.db import db
from annotator.db.models import Project
from annotator.db.transactions import begin_snapshot, share_snapshot, transaction
from annotator.domain import projects
from annotator.domain.dataset import export, foreign, import_annotations, import_suggestions
from annotator.domain.dataset.export import formats
from annotator.domain.wording import counted, plural
from annotator.stats.numbers import whole_number


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.command("export")
@click.argument("project", required=False)
@click.option("--unit", type=click.Choice(export.UNITS), default=export.DEFAULT_UNIT, show_default=True,
              help="article: one lossless record per article; sentence: one training record per sentence.")
@click.option("-o", "--output", metavar="FILE", help="Output file (default: standard output). With --split: a prefix or a folder.")
@click.option("--gold-only", is_flag=True, help="Only sentences (articles) with a gold label.")
@click.option("--annotator", "annotators", multiple=True, metavar="NAME",
              help="Only this annotator's annotations (repeat for several).")
@click.option("--labels", help="Only sentences labelled with one of these, e.g. CFS,UFS (gold label, else annotators').")
@click.option("--split", "split_spec", metavar="NAME=P,...",
              help="Split by article, e.g. train=0.8,dev=0.1,test=0.1: one file per split (OUT.train.jsonl, ... or DIR/train.jsonl).")
@click.option("--seed", type=int, default=export.DEFAULT_SEED, show_default=True, help="Seed of the split (same seed, same split).")
@click.option("--jobs", type=click.IntRange(min=1), help="Processes to export with (default: one per CPU, up to 4, for projects of over 1,000 articles).")
@click.option("--schema", "schema_unit", type=click.Choice(export.UNITS), help="Print the JSON Schema of a unit and exit.")
@click.option("--format", "fmt", type=click.Choice(formats.FORMATS), default=formats.DEFAULT_FORMAT, show_default=True,
              help="jsonl: this tool's records; label-studio: a JSON array of tasks; doccano: one person's JSONL; citron: Citron documents.")
@click.option("--offsets", type=click.Choice(formats.OFFSETS), default="utf16", show_default=True,
              help="doccano: how offsets count (doccano's editor counts UTF-16 units).")
@click.option("--users-out", type=click.Path(dir_okay=False), help="label-studio: write the completed_by ids -> names map (for --users).")
@click.pass_context
@with_appcontext
def export_command(ctx: click.Context, project: str | None, unit: str, output: str | None, gold_only: bool, annotators: tuple[str, ...],
                   labels: str | None, split_spec: str | None, seed: int, jobs: int | None, schema_unit: str | None, fmt: str,
                   offsets: str, users_out: str | None) -> None:
    """Export a project as JSONL (sentence records by default), or in Label Studio, doccano or Citron format.

    Records stream in article order with constant memory. With --split, each
    article goes to one split, picked by a hash of its id and --seed: the same
    seed gives the same files, and adding articles later never moves one.
    """
    check_format_options(ctx, fmt, split_spec, users_out)
    if schema_unit:
        click.echo(json.dumps(export.schema(schema_unit), indent=2, ensure_ascii=False))
        return
    if not project:
        _fail("give a PROJECT to export (or --schema article|sentence)")
    # One snapshot, whatever annotators save while it runs (PostgreSQL; workers read it too), begun before the options
    # are checked: --labels checked before it passed a label renamed meanwhile, which then matched no record (exit 0).
    begin_snapshot(db.session)
    p, filters, splits = _export_options(project or "", gold_only, annotators, labels, split_spec)
    if splits and not output:
        _fail("--split writes one file per split: give -o PREFIX or -o FOLDER/")
    if fmt != formats.DEFAULT_FORMAT:
        export_in_format(p, fmt, filters, output, offsets, users_out)
        return

    total = export.count_articles(db.session, p.id)
    if jobs is None:
        jobs = min(MAX_AUTO_JOBS, os.cpu_count() or 1) if total > PARALLEL_FROM else 1
    if "fork" not in multiprocessing.get_all_start_methods():
        jobs = 1
    names = [name for name, _ in splits] if splits else [""]
    with ExitStack() as stack:
        if threading.current_thread() is threading.main_thread():
            # SIGTERM unwinds like Ctrl-C: the .part files and the workers' folder are removed, the workers stopped.
            stack.callback(signal.signal, signal.SIGTERM, signal.signal(signal.SIGTERM, _terminate))
        paths, handles = open_outputs(stack, output, splits, names)
        bar = stack.enter_context(
            click.progressbar(length=total, label=f"exporting {p.name}", file=sys.stderr, show_pos=True)
        ) if total > export.BATCH_SIZE else None
        progress = bar.update if bar else None
        ranges = export.article_ranges(db.session, p.id, jobs) if jobs > 1 else [(0, None)]
        if len(ranges) == 1:
            stack.callback(gc.set_threshold, *gc.get_threshold())
            gc.set_threshold(*EXPORT_GC_THRESHOLD)
            records = export.iter_records(db.session, p.id, unit, filters, progress=progress)
            written = write_records(records, handles, unit, splits, seed)
        else:
            snapshot = Snapshot(share_snapshot(db.session), db.session.scalar(select(Project.label_schema).where(Project.id == p.id)))
            written = _export_in_parallel(db.engine.url, p.id, unit, filters, ranges, handles, splits, seed, progress, snapshot)
        for handle in handles.values():
            handle.flush()
    _report(unit, written, paths, names if splits else [])


def _export_options(project: str, gold_only: bool, annotators: tuple[str, ...], labels: str | None,
                    split_spec: str | None) -> tuple[Project, export.Filters, list[tuple[str, float]] | None]:
    """The project, the checked filters and the splits; a bad one fails the command with its message."""
    try:
        p = projects.get_project(db.session, project)
        filters = export.check_filters(
            db.session, p, export.Filters(gold_only=gold_only, annotators=tuple(annotators), labels=export.parse_labels(labels))
        )
        splits = export.parse_split(split_spec) if split_spec else None
    except (projects.ProjectError, export.ExportError) as exc:
        raise click.ClickException(str(exc)) from None
    return p, filters, splits


def _report(unit: str, written: dict[str, int], paths: dict[str, Path], split_names: list[str]) -> None:
    """What went where, on stderr; a warning for any split that got no record."""
    for name, n in written.items():
        click.echo(f"exported {counted(n, unit + ' record')} to {paths[name]}", err=True)
    empty = [name for name in split_names if not written.get(name)]
    if empty:
        click.echo(
            f"warning: empty {plural(len(empty), 'split')} {', '.join(empty)}: no exported record fell there (each article goes to one split "
            "by a hash of its id, so with few articles a small split can get none; try other proportions or --seed)",
            err=True,
        )


def _terminate(signum: int, _frame) -> None:  # noqa: ANN001
    raise SystemExit(128 + signum)


# Records are short-lived trees of dicts: a full collection every 700 allocations only costs time.
EXPORT_GC_THRESHOLD = (100_000, 50, 100)


@dataclass(frozen=True)
class Snapshot:
    """What an export's workers read: the export's PostgreSQL snapshot (its id; None on SQLite, which cannot share
    one), and the label schema it holds, which each worker checks against its own (SQLite: a label renamed while the
    workers started would name one label two ways in one file)."""

    shared: str | None
    schema: dict


SCHEMA_CHANGED = ("the project's label schema changed while it was exported (a label renamed or the schema edited): "
                  "nothing was written; export again")

# Projects with more articles than this are exported by one process per CPU (at most MAX_AUTO_JOBS).
PARALLEL_FROM = 2 * export.BATCH_SIZE
MAX_AUTO_JOBS = 4


def write_records(records: Iterable[dict], handles: dict[str, IO[bytes]], unit: str,
                  splits: list[tuple[str, float]] | None, seed: int) -> dict[str, int]:
    """Write JSONL lines; with splits, each article's records to the file of its split. Returns counts."""
    dumps = export.dumpb
    written = {name: 0 for name in handles}
    if not splits:
        out = handles[""]
        n = 0
        for record in records:
            out.write(dumps(record))
            n += 1
        written[""] = n
        return written
    split_of = export.split_of
    article_key = "article_id" if unit == "sentence" else "id"
    last_article, name = None, ""
    for record in records:
        article_id = record[article_key]
        if article_id != last_article:  # records come article by article
            last_article, name = article_id, split_of(article_id, splits, seed)
        handles[name].write(dumps(record))
        written[name] += 1
    return written


def _export_in_parallel(url, project_id: int, unit: str, filters: export.Filters, ranges: list[tuple[int, int | None]],  # noqa: ANN001
                        handles: dict[str, IO[bytes]], splits: list[tuple[str, float]] | None, seed: int, progress,  # noqa: ANN001
                        snapshot: Snapshot) -> dict[str, int]:
    """One forked process per article range writes its own part files; the parts are then joined in order.

    The output is byte for byte what one process writes. Each worker opens its
    own database connection (never one inherited from this process) and reads
    this process's snapshot (PostgreSQL; it stays open until the workers end).
    """
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    where = next((Path(h.name).parent for h in handles.values() if isinstance(getattr(h, "name", None), str) and Path(h.name).is_file()), None)
    remove_abandoned_folders(Path(where or tempfile.gettempdir()))
    folder = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=where))
    workers = []
    try:
        gc.freeze()  # the workers inherit this process's objects: never collecting them keeps the pages shared
        for k, id_range in enumerate(ranges):
            parts = {name: folder / f"{k}.{name or 'all'}.jsonl" for name in handles}
            worker = context.Process(
                target=_export_worker, args=(url, project_id, unit, filters, id_range, parts, splits, seed, queue, k, os.getpid(), snapshot.shared),
                daemon=True,
            )
            worker.start()
            workers.append((worker, parts))
        gc.unfreeze()
        written = {name: 0 for name in handles}
        done: set[int] = set()
        while len(done) < len(workers):
            try:
                message = queue.get(timeout=0.5)
            except Empty:
                failed = [w.exitcode for w, _ in workers if w.exitcode not in (None, 0)]
                if failed:
                    raise click.ClickException(f"an export worker failed (exit code {failed[0]}); see the messages above") from None
                continue
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1])
            else:
                _, k, counts, schema = message
                if schema != snapshot.schema:
                    raise click.ClickException(SCHEMA_CHANGED)
                done.add(k)
                for name, n in counts.items():
                    written[name] += n
        for worker, _ in workers:
            worker.join()
        for name, out in handles.items():
            for _, parts in workers:
                _append(parts[name], out)
        return written
    finally:
        for worker, _ in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
        shutil.rmtree(folder, ignore_errors=True)


def _append(path: Path, out: IO[bytes]) -> None:
    """Copy a part file to the end of `out`, in the kernel when it can (sendfile)."""
    out.flush()
    with open(path, "rb") as part:
        size = os.fstat(part.fileno()).st_size
        sent = 0
        try:
            while sent < size:
                n = os.sendfile(out.fileno(), part.fileno(), sent, size - sent)
                if n == 0:
                    break
                sent += n
        except (OSError, AttributeError, ValueError):  # no sendfile for this pair (or no real file): copy the rest
            pass
        if sent < size:
            part.seek(sent)
            shutil.copyfileobj(part, out, 1 << 20)


# The workers' part files go to a folder named WORK_PREFIX + the exporting process's id + a random tail,
# next to the output (or in the temporary folder for stdout). A SIGKILLed export cannot remove it: the next
# export into the same place removes every such folder whose process is gone.
WORK_PREFIX = ".export-"


def remove_abandoned_folders(where: Path) -> int:
    """Delete the part-file folders of exports that were killed; returns how many."""
    removed = 0
    try:
        candidates = list(where.glob(f"{WORK_PREFIX}*-*"))
    except OSError:
        return 0
    for folder in candidates:
        pid = whole_number(folder.name[len(WORK_PREFIX):].split("-", 1)[0], 2**31 - 1)  # never "²" nor 20 digits
        if pid is None or not folder.is_dir() or _alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def die_with_parent(parent: int) -> None:
    """In a forked worker: be killed when the exporting process dies, however it dies (Linux), and leave Ctrl-C to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the workers itself
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler, inherited by fork
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's finally (and os.getppid below) must do
        pass
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def _export_worker(url, project_id: int, unit: str, filters: export.Filters, id_range: tuple[int, int | None],  # noqa: ANN001
                   parts: dict[str, Path], splits: list[tuple[str, float]] | None, seed: int, queue, k: int,  # noqa: ANN001
                   parent: int, shared: str | None) -> None:
    """Runs in a forked child: a fresh engine and session, one range of articles, own part files; the export's
    snapshot (`shared`, PostgreSQL), and the label schema it read sent back with the counts."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from annotator.db import tune_sqlite

    die_with_parent(parent)
    gc.set_threshold(*EXPORT_GC_THRESHOLD)
    engine = create_engine(url)
    tune_sqlite(engine)
    try:
        with Session(engine) as session, ExitStack() as stack:
            begin_snapshot(session, shared)  # its range from the export's snapshot, as a single process reads the whole project
            schema = session.scalar(select(Project.label_schema).where(Project.id == project_id))
            handles = {name: stack.enter_context(open(path, "wb", buffering=1 << 20)) for name, path in parts.items()}
            records = export.iter_records(session, project_id, unit, filters, progress=lambda n: queue.put(("progress", n)), id_range=id_range)
            counts = write_records(records, handles, unit, splits, seed)
        queue.put(("done", k, counts, schema))
    finally:
        engine.dispose()


def _annotator_options(fmt: str, pseudo: str | None, users_file: str | None) -> dict[str, str]:
    """Check --as and --users against the format; the --users map (Label Studio id or e-mail -> name)."""
    from annotator.domain import accounts
    from annotator.domain.dataset.ingest import IngestError, decode

    if fmt == "article" and pseudo:
        _fail("--as is for --format label-studio, doccano or citron; article files name their annotators")
    if fmt == "doccano" and not pseudo:
        _fail(f"--format {fmt} needs --as NAME: the annotator its annotations belong to (its files name nobody)")
    if users_file and not fmt.startswith("label-studio"):
        _fail("--users is for --format label-studio or label-studio-min")
    users: dict[str, str] = {}
    try:
        if pseudo:
            accounts.check_name(pseudo)
        if users_file:
            users = foreign.users_map(decode(Path(users_file).read_bytes(), users_file), users_file)
            for name in set(users.values()):
                accounts.check_name(name)
    except accounts.AccountError as exc:
        _fail(f"--as / --users: {exc}")
    except IngestError as exc:
        _fail(str(exc))
    return users


@click.command("import-annotations")
@click.argument("project")
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(foreign.FORMATS), default="article", show_default=True,
              help="article: this tool's JSONL; label-studio: Label Studio's JSON; label-studio-min: its JSON_MIN; doccano: its JSONL; citron: Citron documents.")
@click.option("--as", "pseudo", metavar="NAME",
              help="The annotator of doccano annotations, and of Label Studio annotations and Citron documents that name nobody.")
@click.option("--users", "users_file", type=click.Path(exists=True, dir_okay=False),
              help="Label Studio: a JSON object mapping user ids or e-mails to names (unmapped ids become ls-user-ID).")
@click.option("--on-duplicate", type=click.Choice(import_annotations.ON_DUPLICATE), default="error", show_default=True,
              help="An annotator who already annotated the article (or gold already there): error, skip, or replace it.")
@click.option("--match-by", type=click.Choice(import_annotations.MATCH_BY), default="id", show_default=True,
              help="Which article a record goes onto: the one with its id, or the one with the identical text (merging exports).")
@click.option("--offsets", type=click.Choice(foreign.OFFSETS), default="auto", show_default=True,
              help="How offsets count: auto checks each Label Studio region against its text; doccano's default is utf16.")
@click.option("--strict", is_flag=True, help="Exit non-zero when anything was skipped (cancelled annotations, drafts, document classes, duplicates...).")
@click.option("--as-suggestions", is_flag=True,
              help="Load the file's labels, spans and relations as suggestions of the suggester --as NAME, never as annotations.")
@click.option("--suggester-version", metavar="V", default="imported",
              help="The version the imported suggestions carry (default: a Label Studio prediction's model_version, else 'imported').")
@click.pass_context
@with_appcontext
def import_annotations_command(ctx: click.Context, project: str, files: tuple[str, ...], fmt: str, pseudo: str | None,
                               users_file: str | None, on_duplicate: str, match_by: str, offsets: str, strict: bool,
                               as_suggestions: bool, suggester_version: str) -> None:
    """Import annotated articles: this tool's article JSONL, or Label Studio / doccano / Citron files.

    Missing articles and annotators are created (annotators as inactive users
    without a password). Each file is one transaction: a bad line rejects the
    whole file (FILE:LINE: reason) and the other files still import.

    With --as-suggestions --as NAME, another tool's predictions become suggestions
    that annotators accept or reject (a score per item where the file has one, else 1);
    importing again replaces NAME's suggestions on those articles. A Label Studio
    file with full predictions gives those (the people's annotations are left out);
    without, its annotations are the suggestions.
    """
    from annotator.domain.dataset.ingest import IngestError

    try:
        p = projects.get_project(db.session, project)
    except projects.ProjectError as exc:
        _fail(str(exc))
        return
    if as_suggestions or _given(ctx, "suggester_version"):
        if match_by != "id":
            _fail("--match-by is for annotations: suggestions go onto articles by id")
        _import_suggestions(ctx, p, files, fmt, pseudo, offsets, as_suggestions, suggester_version)
        return
    users = _annotator_options(fmt, pseudo, users_file)
    schema = p.label_schema
    total = import_annotations.ImportResult()
    rejected = incomplete = 0
    for name in files:
        try:
            skipped = foreign.Skipped()
            records = _records(name, fmt, pseudo or "", schema, offsets, skipped, users)
            with stored_meanwhile(name), transaction(db.session):  # one file, one transaction: a bad line stores nothing of its file
                result = import_annotations.import_records(db.session, p, records, name, on_duplicate, match_by=match_by)  # type: ignore[arg-type]
            total.merge(result)
            incomplete += bool(skipped or result.skipped or result.ambiguous)
            click.echo(f"{name}: {result.summary()}", err=True)
            for line in result.match_lines(name) if match_by == "text" else []:
                click.echo(line, err=True)
            if result.users_created:
                click.echo(f"{name}: new {plural(len(result.users_created), 'annotator')}: {', '.join(result.users_created)}", err=True)
            for line in result.annotator_lines() + skipped.lines():
                click.echo(f"{name}: {line}", err=True)
        except IngestError as exc:
            rejected += 1
            click.echo(str(exc), err=True)
    click.echo(f"imported into {p.name}: {total.summary()}; {counted(rejected, 'file')} rejected")
    if rejected:
        sys.exit(1)
    if strict and incomplete:
        click.echo(f"--strict: {counted(incomplete, 'file')} had skipped items (listed above)", err=True)
        sys.exit(1)


def _records(name: str, fmt: str, pseudo: str, schema: dict, offsets: str, skipped: foreign.Skipped,
             users: dict[str, str] | None = None):  # noqa: ANN202
    """(line, article-format record) pairs of one file (or stdin for '-'), in any format import-annotations reads."""
    from annotator.domain.dataset.ingest import IngestError, decode

    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise IngestError(name, None, f"cannot read: {exc.strerror}") from None
    text = decode(data, name)
    return foreign.read_records(fmt, text, name, pseudo, schema, offsets, skipped, users)


def _import_suggestions(ctx: click.Context, p: Project, files: tuple[str, ...], fmt: str, pseudo: str | None, offsets: str,
                        as_suggestions: bool, version: str) -> None:
    """import-annotations --as-suggestions: each file's annotations become suggestions of the suggester --as NAME."""
    from annotator.domain.dataset.ingest import IngestError

    if not as_suggestions:
        _fail("--suggester-version goes with --as-suggestions")
    if not pseudo:
        _fail("--as-suggestions needs --as NAME: the suggester the suggestions are named after")
    if _given(ctx, "on_duplicate"):
        _fail("--on-duplicate is for annotations: importing suggestions again replaces NAME's suggestions on those articles")
    for option, check, value in (("--as", import_suggestions.check_name, pseudo), ("--suggester-version", import_suggestions.check_version, version)):
        try:
            check(value or "")
        except ValueError as exc:
            _fail(f"{option}: {exc}")
    total = import_suggestions.SuggestionImport()
    rejected = 0
    for name in files:
        try:
            skipped = foreign.Skipped()
            records = _records(name, fmt, pseudo, p.label_schema, offsets, skipped)
            with stored_meanwhile(name), transaction(db.session):  # one file, one transaction: a bad line stores nothing of its file
                result = import_suggestions.import_records(db.session, p, records, name, pseudo, version,
                                                           model_versions=not _given(ctx, "suggester_version"))
            total.merge(result)
            click.echo(f"{name}: {result.summary()}", err=True)
            for line in skipped.lines():
                click.echo(f"{name}: {line}", err=True)
        except IngestError as exc:
            rejected += 1
            click.echo(str(exc), err=True)
    click.echo(f"imported into {p.name} as suggestions of {pseudo}/{version}: {total.summary()}; {counted(rejected, 'file')} rejected")
    if rejected:
        sys.exit(1)


@contextmanager
def stored_meanwhile(name: str) -> Iterator[None]:
    """A file's transaction that met another's rows on a unique key (PostgreSQL: an upload or another import stored one of
    its new articles or users after it looked) is that file rejected, with one line, and the next file goes on."""
    from sqlalchemy.exc import IntegrityError

    from annotator.domain.dataset.ingest import IngestError

    try:
        yield
    except IntegrityError:
        raise IngestError(name, None, "another import stored some of the same articles or users meanwhile; nothing of this "
                                      "file was stored: import it again") from None


def _given(ctx: click.Context, option: str) -> bool:
    """Whether the command line set this option (not its default)."""
    return ctx.get_parameter_source(option) is not click.core.ParameterSource.DEFAULT
