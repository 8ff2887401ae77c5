"""`annotator assign`: articles to annotators, balanced, by hand, or re-balanced after members left."""
from __future__ import annotations

from typing import BinaryIO

import click
from flask.cli import with_appcontext

from annotator.cli.errors import commit_or_fail, fail, project_or_fail
from annotator.db import db
from annotator.db.models import Project
from annotator.domain import accounts, assignment, projects
from annotator.domain.dataset.ingest import IngestError, decode
from annotator.domain.wording import counted, plural


@click.command("assign")
@click.argument("project")
@click.option("--per-article", metavar="N", type=click.IntRange(min=1, max=projects.MAX_ANNOTATORS_PER_ARTICLE), help="Give every article N distinct annotators, balanced.")
@click.option("--user", "user_name", metavar="NAME", help="Assign articles to this annotator by hand (with --articles).")
@click.option("--articles", "article_ids", multiple=True, metavar="ID...",
              help="External article ids for --user, each its own argument (quote an id with spaces): --articles ID ID ...")
@click.option("--articles-from", "articles_from", type=click.File("rb"), metavar="FILE|-",
              help="Read article ids for --user from a file, one per line ('-' reads stdin); an id never holds a line break (import refuses one).")
@click.option("--rebalance", is_flag=True, help="Take unstarted work from annotators who left the project or were deactivated, top up to N, even out loads.")
# the ids after the first of --articles ID ID ...: click gives an option one value each
@click.argument("more_ids", nargs=-1, metavar="[--articles ID...]")
@with_appcontext
def assign_command(project: str, per_article: int | None, user_name: str | None, article_ids: tuple[str, ...], articles_from: BinaryIO | None,
                   rebalance: bool, more_ids: tuple[str, ...]) -> None:
    """Assign articles to annotators (idempotent: existing assignments are kept).

    By hand, each article id is one argument (quote an id with spaces):
    `annotator assign PROJECT --user NAME --articles "Story 1" story-2`.
    """
    p = project_or_fail(project)
    if per_article and user_name:
        fail("give --per-article or --user, not both")
    if (article_ids or more_ids or articles_from) and not user_name:
        fail("article ids are for assigning by hand: give --user NAME too")
    if more_ids and not article_ids:
        fail(f"article ids follow --articles (got {more_ids[0]!r}): --articles ID ID ...")
    if rebalance:
        if user_name:
            fail("give --rebalance or --user, not both")
        _rebalance(p, per_article)
    elif per_article:
        result = commit_or_fail(lambda: assignment.assign_balanced(db.session, p.id, per_article))
        short = result.articles_short
        note = f"; {counted(short, 'article')} {'has' if short == 1 else 'have'} fewer than {per_article} (not enough annotators)" if short else ""
        click.echo(f"{counted(result.created, 'new assignment')}{note}")
    elif user_name:
        ids = [x.strip() for x in (*article_ids, *more_ids) if x.strip()]  # imported ids are stripped too
        if articles_from is not None:
            ids += _ids_from(articles_from)
        _assign_by_hand(p, user_name, ids)
    else:
        fail("give --per-article N or --user NAME --articles ID...")


def _rebalance(p: Project, per_article: int | None) -> None:
    done = commit_or_fail(lambda: assignment.rebalance(db.session, p.id, per_article))
    for name, external_id, work in done.kept:
        click.echo(f"kept {name} on {external_id}: {work} {plural(work, 'label or span', 'labels or spans')} already made")
    short = f"; {counted(done.articles_short, 'article')} still short of annotators" if done.articles_short else ""
    click.echo(f"removed {len(done.removed)}, kept {len(done.kept)} started, added {done.created}, moved {len(done.moved)}{short}")


def _assign_by_hand(p: Project, user_name: str, ids: list[str]) -> None:
    if not ids:
        fail("--user needs article ids: --articles ID ... or --articles-from FILE")
    try:
        user = accounts.get_user(db.session, user_name)
    except accounts.AccountError as exc:
        fail(str(exc))

    def assign() -> int:
        try:
            return assignment.assign_to_user(db.session, p.id, user, assignment.expand_joined_ids(db.session, p.id, ids))
        except assignment.AssignmentError as exc:
            if any(" " in x for x in ids):
                raise assignment.AssignmentError(f"{exc} (an id with spaces is one id: give each id its own argument, --articles ID ID ...)") from None
            raise

    created = commit_or_fail(assign)
    click.echo(f"{counted(created, 'new assignment')} for {user_name}")


def _ids_from(stream: BinaryIO) -> list[str]:
    """Article ids, one per line (blank lines skipped, ends stripped as import does), from a UTF-8 file or stdin."""
    name = getattr(stream, "name", None)
    name = name if isinstance(name, str) and name != "<stdin>" else "<stdin>"
    try:
        text = decode(stream.read(), name)
    except IngestError as exc:
        fail(str(exc))
    return [line.strip() for line in text.splitlines() if line.strip()]
