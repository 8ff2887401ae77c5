"""The `annotator` command: every bulk job works headless from here.

Bad input exits non-zero with a one-line reason (click's "Error: ...");
long work prints progress on stderr. This module holds the group, the console
entry point, the database-error translation and the registration; each family
of commands has its own module (database, accounts, projects, articles,
assign, demo, dataset, agreement, gold, suggest).
"""
from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from annotator import create_app
from annotator.cli.accounts import ACCOUNT_COMMANDS
from annotator.cli.agreement import AGREEMENT_COMMANDS
from annotator.cli.articles import ARTICLE_COMMANDS
from annotator.cli.assign import ASSIGN_COMMANDS
from annotator.cli.database import DATABASE_COMMANDS
from annotator.cli.dataset import DATASET_COMMANDS
from annotator.cli.demo import DEMO_COMMANDS
from annotator.cli.gold import GOLD_COMMANDS
from annotator.cli.projects import PROJECT_COMMANDS
from annotator.cli.suggest import SUGGEST_COMMANDS
from annotator.db.transactions import DISK_FULL_MESSAGE, disk_full, log_disk_full

NOT_UTF8 = "the argument {} is not valid UTF-8; names, ids and paths must be UTF-8 (rename such a file)"


class AnnotatorGroup(FlaskGroup):
    """Flask's CLI group, with database failures turned into one-line reasons."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """The same check as main()'s, for every other way the group is invoked (tests, embedding): an argument
        that is not UTF-8 is a one-line error, not a traceback deep inside a command."""
        bad = not_utf8(args)
        if bad is not None:
            raise click.ClickException(NOT_UTF8.format(bad))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            if disk_full(exc):
                log_disk_full(exc, f"running annotator {ctx.invoked_subcommand or ''}".strip())
                raise click.ClickException(DISK_FULL_MESSAGE) from None
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if "no such table" in reason or "does not exist" in reason:
                raise click.ClickException(f"the database has no schema yet ({reason}); run `annotator init` first") from None
            raise click.ClickException(f"database error: {reason}") from None


def not_utf8(args: list[str]) -> str | None:
    """The first argument that is not valid UTF-8, shown as its bytes (Python keeps such bytes as lone surrogates), or None."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return repr(os.fsencode(arg))
    return None


def main(args: list[str] | None = None) -> None:
    """Console script entry point."""
    args = sys.argv[1:] if args is None else args
    bad = not_utf8(args)
    if bad is not None:  # caught before anything else: otherwise it surfaces as a UnicodeEncodeError traceback wherever it is first used
        click.echo(f"Error: {NOT_UTF8.format(bad)}", err=True)
        sys.exit(2)
    cli = AnnotatorGroup(create_app=lambda: create_app(), help="Fact-claim annotator: build fact-checking datasets.")
    cli.main(args=args, prog_name="annotator")


COMMANDS = (
    *DATASET_COMMANDS,
    *AGREEMENT_COMMANDS,
    *GOLD_COMMANDS,
    *SUGGEST_COMMANDS,
    *DATABASE_COMMANDS,
    *ACCOUNT_COMMANDS,
    *PROJECT_COMMANDS,
    *ARTICLE_COMMANDS,
    *ASSIGN_COMMANDS,
    *DEMO_COMMANDS,
)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
