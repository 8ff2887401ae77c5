"""`annotator suggest ...`: suggested annotations from the command line.

`annotator suggest text [FILE|-]` prints the attribution suggester's QUOTE /
SOURCE / CUE spans and links for a `.txt` article or a `.jsonl` file of
`{"id", "text"}` lines, one JSON line per article, with code-point offsets
(like `annotator segment`).  The whole input is read and checked before
anything is printed: a bad line exits non-zero with `FILE:LINE: reason`.

`run`, `train` and `evaluate` work on a project in the database, thin over
domain/suggesters.py, claim_training.py and suggestion_quality.py.
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from annotator.cli import suggesting
from annotator.cli.errors import fail, project_or_fail
from annotator.db import db
from annotator.db.models import Project
from annotator.db.transactions import transaction
from annotator.domain import accounts, suggesters, suggestion_quality
from annotator.domain.dataset.ingest import IngestError, decode, jsonl_objects, missing_key
from annotator.domain.suggestions import SuggestionError
from annotator.domain.wording import counted
from annotator.stats.attribution import DEFAULT_THRESHOLD, suggest

STDIN_ID = "stdin"


@click.group("suggest")
def suggest_group() -> None:
    """Suggested annotations: compute, train, measure, or try the attribution suggester on text."""


@suggest_group.command("text")
@click.argument("file", default="-")
@click.option("--threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD, show_default=True,
              help="Keep suggestions scoring at least this much.")
def text_command(file: str, threshold: float) -> None:
    """Suggest quotes, sources, cues and links for FILE (.txt or .jsonl; '-' or nothing: stdin).

    Stdin is read as JSONL when it starts with '{', else as one article.
    Prints {"id", "spans", "relations"} per article.
    """
    try:
        articles = read_articles(file)
    except IngestError as exc:
        fail(str(exc))
    out = sys.stdout
    for article_id, text in articles:
        row = {"id": article_id, **suggest(text, threshold=threshold).to_dict()}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_articles(file: str) -> list[tuple[str, str]]:
    """(id, text) of each article in FILE; IngestError names the file and line."""
    if file == "-":
        name = "<stdin>"
        text = decode(sys.stdin.buffer.read(), name)
        if text.lstrip().startswith("{"):
            return parse_jsonl(text, name)
        return [(STDIN_ID, _article_text(text, name))]
    suffix = Path(file).suffix.lower()
    if suffix not in (".txt", ".jsonl"):
        raise IngestError(file, None, f"unknown format {suffix or '(no extension)'!r}; use .txt or .jsonl")
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise IngestError(file, None, f"cannot read: {exc.strerror}") from None
    text = decode(data, file)
    if suffix == ".txt":
        return [(Path(file).stem, _article_text(text, file))]
    return parse_jsonl(text, file)


def _article_text(text: str, name: str, line: int | None = None) -> str:
    if not text.strip():
        raise IngestError(name, line, "empty text")
    return text


def parse_jsonl(text: str, name: str) -> list[tuple[str, str]]:
    """`{"id", "text"}` per line (other keys are ignored); the id defaults to FILE-LINE, as on import."""
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for lineno, obj in jsonl_objects(text, name):
        if not isinstance(obj, dict):
            raise IngestError(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
        if "text" not in obj:
            raise IngestError(name, lineno, missing_key("text", obj))
        if not isinstance(obj["text"], str):
            raise IngestError(name, lineno, f"'text' must be a string, got {type(obj['text']).__name__}")
        raw_id = obj.get("id", f"{Path(name).stem}-{lineno}")
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
            raise IngestError(name, lineno, "'id' must be a string or an integer")
        article_id = str(raw_id)
        if article_id in seen:
            raise IngestError(name, lineno, f"duplicate id {article_id!r} (first on line {seen[article_id]})")
        seen[article_id] = lineno
        out.append((article_id, obj["text"]))
    if not out:
        raise IngestError(name, None, "no articles in file")
    return out


def suggesters_for(project: Project) -> list[suggesters.Suggester]:
    """What runs on the project; a package whose suggester cannot be loaded is a one-line error naming it."""
    try:
        return suggesters.for_project(db.session, project.id)
    except SuggestionError as exc:
        fail(exc.message)


def run_suggesters(project: Project, ids: list[int], label: str, chosen: list[suggesters.Suggester] | None = None) -> dict[str, Any]:
    """Suggestions for these articles, one write transaction per batch, with a progress bar on stderr for long runs."""
    chosen = chosen if chosen is not None else suggesters_for(project)
    try:
        if len(ids) <= suggesters.BATCH:
            return suggesting.run(db.session, project.id, ids, chosen)
        with click.progressbar(length=len(ids), label=label, file=sys.stderr, show_pos=True) as bar:
            done = [0]

            def progress(n: int, _total: int) -> None:
                bar.update(n - done[0])
                done[0] = n

            return suggesting.run(db.session, project.id, ids, chosen, progress=progress)
    except SuggestionError as exc:  # the batches stored before stay; a re-run completes them
        fail(exc.message)


def describe_run(project: Project, counts: dict[str, Any]) -> str:
    """The one-line summary of a run, with a reminder when annotators cannot see the suggestions yet."""
    line = f"{counted(counts['suggestions'], 'suggestion')}, {counts['new']} new, for {counted(counts['articles'], 'article')} of {project.name}"
    if not project.suggestions_enabled:
        line += " (suggestions are off for this project: annotators see none until an admin turns them on)"
    return line


def suggest_imported(project: Project, external_ids: list[str]) -> None:
    """`annotator import --suggest`: suggestions for the articles an import created or updated, once it has committed."""
    if not external_ids:
        click.echo("suggestions: no new or updated articles")
        return
    ids = suggesters.article_ids(db.session, project.id, external_ids)
    click.echo(f"suggestions: {describe_run(project, run_suggesters(project, ids, 'suggesting'))}")


@suggest_group.command("run")
@click.argument("project")
@click.option("--articles", "article_ids", multiple=True, metavar="ID...",
              help="Only these articles (external ids), each its own argument: --articles ID ID ...")
# the ids after the first of --articles ID ID ...: click gives an option one value each
@click.argument("more_ids", nargs=-1, metavar="[--articles ID...]")
@with_appcontext
def run_command(project: str, article_ids: tuple[str, ...], more_ids: tuple[str, ...]) -> None:
    """Compute and store suggestions for a project's articles (all, or those named).

    Runs the built-in attribution rules, the suggesters packages add (entry-point
    group annotator.suggesters) and the project's trained claim model if it has one.
    A re-run replaces each suggester's suggestions; unchanged ones keep annotators' decisions.
    A label rename or schema edit while it runs stops it (the articles done keep theirs): run it again.
    """
    p = project_or_fail(project)
    if more_ids and not article_ids:
        fail(f"article ids follow --articles (got {more_ids[0]!r})")
    wanted = [x.strip() for x in (*article_ids, *more_ids) if x.strip()] if article_ids else None
    if article_ids and not wanted:
        fail("--articles needs at least one article id")
    try:
        ids = suggesters.article_ids(db.session, p.id, wanted)
    except SuggestionError as exc:
        fail(exc.message)
    chosen = suggesters_for(p)
    counts = run_suggesters(p, ids, f"suggesting for {p.name}", chosen)
    click.echo(f"{describe_run(p, counts)}; suggesters: {', '.join(f'{s.name}/{s.version}' for s in chosen)}")


@suggest_group.command("train")
@click.argument("project")
@click.option("--folds", type=click.IntRange(min=2, max=50), help="Cross-validation folds, by article  [default: 5]")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@with_appcontext
def train_command(project: str, folds: int | None, as_json: bool) -> None:
    """Train the claim-label suggester on the project's gold labels (else the annotators' strict majority).

    Prints the model's version and its held-out macro-F1 and accuracy by article folds
    next to always predicting the most common label. With too few labels nothing is
    stored and no claim labels are suggested.
    """
    from annotator.domain import claim_training  # loads scipy: only this command, not every command's start
    from annotator.stats import claims

    p = project_or_fail(project)
    try:
        with transaction(db.session):
            stored = claim_training.train(db.session, p.id, folds or claims.DEFAULT_FOLDS)
            summary = claim_training.summary(stored)
    except claims.NotEnoughLabels as exc:
        fail(f"not enough labels to train the claim suggester: {exc}; it suggests no labels until there are (nothing was stored)")
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    base = summary["baseline"]
    click.echo(f"trained {summary['suggester']} version {summary['version']} on {counted(summary['sentences'], 'sentence')} "
               f"of {counted(summary['articles'], 'article')} of {p.name}")
    click.echo(f"held out: macro-F1 {_num(summary['macro_f1'])}, accuracy {_num(summary['accuracy'])}")
    click.echo(f"majority baseline: macro-F1 {_num(base['macro_f1'])}, accuracy {_num(base['accuracy'])}")
    click.echo(f"scheme: {summary['scheme']}")
    click.echo(f"`annotator suggest run {shlex.quote(p.name)}` now suggests claim labels with it")


@suggest_group.command("evaluate")
@click.argument("project")
@click.option("--against", "against", required=True, metavar="gold|ANNOTATOR",
              help="The reference: the project's gold, or one annotator's own annotations.")
@click.option("--suggester", metavar="NAME", help="Only this suggester's suggestions (by name; default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@with_appcontext
def evaluate_command(project: str, against: str, suggester: str | None, as_json: bool) -> None:
    """Score the stored suggestions against gold or an annotator, on the articles the reference worked on.

    Spans per label, exact and overlap (one-to-one matching), links, and sentence labels
    (accuracy, macro-F1): the agreement module's matching.
    """
    p = project_or_fail(project)
    names = suggestion_quality.suggester_names(db.session, p.id)
    if not names:
        fail(f"{p.name} has no suggestions: run `annotator suggest run {shlex.quote(p.name)}` first")
    if suggester is not None and suggester not in names:
        fail(f"no suggestions from {suggester!r} in {p.name} (there are from: {', '.join(names)})")
    if against == "gold":
        reference, whose = suggestion_quality.gold(db.session, p.id), "gold"
    else:
        try:
            user = accounts.get_user(db.session, against)
        except accounts.AccountError as exc:
            fail(f"--against: {exc} (give gold or an annotator's name)")
        reference, whose = suggestion_quality.annotator(db.session, p.id, user.id), user.name
    figures = suggestion_quality.measure(db.session, p.id, reference, suggester)
    if not figures["articles"]:
        fail(f"{whose} has no labels, spans or links in {p.name}: nothing to score against")
    figures = {"project": p.name, "against": whose, "suggester": suggester, **figures}
    if as_json:
        click.echo(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    for line in quality_table(figures):
        click.echo(line)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def quality_table(figures: dict[str, Any]) -> list[str]:
    """The evaluation as a readable table: a row per span label, then links and sentence labels."""
    which = f"{figures['suggester']}'s suggestions" if figures["suggester"] else "suggestions"
    lines = [f"{which} in {figures['project']} against {figures['against']}, on {counted(figures['articles'], 'article')}", ""]
    lines.append(f"{'':<16}{'exact':^27}  {'overlap':^27}")
    lines.append(f"{'span label':<16}" + "".join(f"{h:>9}" for h in ("P", "R", "F1")) + "  "
                 + "".join(f"{h:>9}" for h in ("P", "R", "F1")) + f"{'tp/fp/fn (exact)':>20}")
    for label, modes in figures["spans"].items():
        exact, overlap = modes["exact"], modes["overlap"]
        cells = "".join(f"{_num(exact[k]):>9}" for k in ("precision", "recall", "f1")) + "  "
        cells += "".join(f"{_num(overlap[k]):>9}" for k in ("precision", "recall", "f1"))
        lines.append(f"{label:<16}{cells}{exact['tp']:>12}/{exact['fp']}/{exact['fn']}")
    if not figures["spans"]:
        lines.append("(no spans on either side)")
    links = figures["links"]
    lines.append("")
    lines.append(f"links: precision {_num(links['precision'])}, recall {_num(links['recall'])}, F1 {_num(links['f1'])} "
                 f"(tp {links['tp']}, fp {links['fp']}, fn {links['fn']})")
    labels = figures["labels"]
    if labels["n"]:
        lines.append(f"sentence labels: accuracy {_num(labels['accuracy'])}, macro-F1 {_num(labels['macro_f1'])} on {counted(labels['n'], 'sentence')}")
    else:
        lines.append(f"sentence labels: not scored ({labels['reason']})")
    return lines
