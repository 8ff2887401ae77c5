"""`annotator gold rebuild PROJECT [--fix]`: automatic gold from scratch, compared with what the writes kept current."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from annotator.cli.errors import fail, project_or_fail
from annotator.db import db
from annotator.domain.gold import rebuild


@click.group("gold")
def gold_group() -> None:
    """Automatic gold: check it against the rule, rebuild it."""


@gold_group.command("rebuild")
@click.argument("project")
@click.option("--fix", is_flag=True, help="Store what the rule gives where it differs (otherwise only report).")
@click.option("--batch-articles", type=click.IntRange(min=1, max=100_000), default=rebuild.REFRESH_BATCH_ARTICLES, show_default=True,
              help="Articles recomputed per transaction (memory grows with it).")
@with_appcontext
def gold_rebuild(project: str, fix: bool, batch_articles: int) -> None:
    """Recompute all automatic gold from scratch and list where it differs from what is stored.

    Exit 0 with "no differences"; with differences, exit 1 unless --fix stored the rule's result.
    Human gold (adjudicated, imported) is never touched.
    """
    p = project_or_fail(project)
    report = rebuild.rebuild(db.session, p.id, fix=fix, batch_articles=batch_articles)
    if not report.differences:
        click.echo(f"no differences ({report.articles} articles)")
        return
    for line in report.shown:
        click.echo(line)
    more = report.differences - len(report.shown)
    if more:
        click.echo(f"... and {more} more")
    if fix:
        click.echo(f"fixed {report.differences} differences in {report.articles} articles")
        return
    fail(f"{report.differences} differences in {report.articles} articles (run again with --fix to store the rule's result)")
