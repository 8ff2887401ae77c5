"""The `annotator` command: every bulk job works headless from here.

Bad input exits non-zero with a one-line reason (click's "Error: ...");
long work prints progress on stderr. This module holds the group, the console
entry point, the database-error translation and the registration; each family
of commands has its own module (database, accounts, projects, articles,
assign, demo, dataset, agreement, gold, suggest), listed in COMMANDS and
imported only when one of its commands runs or shows its help: create_app
registers the names, and a web worker never loads a command (nor what the
commands import: the export and import formats, multiprocessing, Flask-Migrate).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from annotator import create_app
from annotator.db import db
from annotator.db.failures import failure_line
from annotator.db.transactions import disk_full, log_disk_full

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
        """Flask's own commands (`shell`, `routes`) too; the app's are translated where they are looked up
        (LazyCommands.get_command), however they are run."""
        with failures_as_lines(ctx):
            return super().invoke(ctx)


@contextmanager
def failures_as_lines(ctx: click.Context) -> Iterator[None]:
    """A command's failures as one line each (click's "Error: ...", exit 1), never a traceback: a name taken meanwhile,
    a file it could not write, and whatever kept it from the database (db.failures: busy, no schema, no server,
    read-only, not a database, a full disk)."""
    try:
        yield
    except IntegrityError as exc:
        raise taken_meanwhile(exc) from None
    except OSError as exc:
        raise file_failure(exc) from None
    except DBAPIError as exc:
        if disk_full(exc):
            log_disk_full(exc, " ".join(("running annotator", *command_path(ctx))))
        raise click.ClickException(failure_line(exc, _database_named())) from None


def _database_named() -> str:
    """The database as a message names it: the SQLite file, or the server's URL without its password."""
    try:
        url = db.engine.url
    except RuntimeError:  # no app context
        return "the database"
    return (url.database or "the database") if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=True)


def translating(command: click.Command) -> click.Command:
    """The command, its failures said in one line (failures_as_lines) however it is run: `annotator` runs it from its
    own group, `flask --app annotator` from Flask's, the tests from app.cli; each looks it up in LazyCommands."""
    if getattr(command, "_annotator_translates", False):
        return command
    invoke = command.invoke

    def translated(ctx: click.Context):  # noqa: ANN202
        with failures_as_lines(ctx):
            return invoke(ctx)

    command.invoke = translated  # type: ignore[method-assign]
    command._annotator_translates = True  # type: ignore[attr-defined]
    return command


def taken_meanwhile(exc: IntegrityError) -> click.ClickException:
    """A command's insert that met a unique key: the name (a project's, a user's) was checked free and taken before the
    insert, by another admin's request meanwhile. One line, as a REST request's 409 says, not a traceback; the command's
    transaction was rolled back."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    return click.ClickException(f"another change to the same data was made meanwhile ({reason}); nothing was changed: run the command again")


def file_failure(exc: OSError) -> OSError | click.ClickException:
    """A file or folder the command could not write or read (`export -o` into a folder that cannot be made, a full disk,
    no permission): one line naming it, as `cp` says it, not a traceback. A pipe closed by its reader (`| head`) stays
    as it was: Python ends quietly."""
    if isinstance(exc, BrokenPipeError):
        return exc
    return click.ClickException(f"{exc.filename}: {exc.strerror}" if exc.filename else f"cannot write the output: {exc.strerror or exc}")


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


# Every command, in one place: its name -> "module:attribute" in this package. The attribute is the click
# command, or a function that registers it on the app (Flask-Migrate's `db` group needs the app).
COMMANDS = {
    "export": "dataset:export_command",
    "import-annotations": "dataset:import_annotations_command",
    "agreement": "agreement:agreement_command",
    "gold": "gold:gold_group",
    "suggest": "suggest:suggest_group",
    "init": "database:init_command",
    "backup": "database:backup_command",
    "db": "database:register_migrations",
    "users": "accounts:users_group",
    "projects": "projects:projects_group",
    "import": "articles:import_command",
    "segment": "articles:segment_command",
    "assign": "assign:assign_command",
    "demo": "demo:demo_command",
}


class LazyCommands(AppGroup):
    """The app's command group (app.cli) with COMMANDS' modules imported on first use: listing the names costs
    nothing, and `annotator --help` imports them all to show their help lines."""

    def __init__(self, app: Flask, commands: dict[str, str], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.app = app
        self.lazy = dict(commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported on first use. Every way of running one of the app's commands asks
        here first (`annotator`, app.cli itself as in tests, `flask --app`), and a web worker never does: so the
        app's engine gets the missing-file check here, in command-line processes only."""
        with self.app.app_context():
            refuse_missing_sqlite(db.engine)
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.load(cmd_name)
        command = super().get_command(ctx, cmd_name)
        return None if command is None else translating(command)

    def load(self, name: str) -> None:
        """Import the command's module and register the command (or let its function register it)."""
        from importlib import import_module

        module, _, attribute = self.lazy[name].partition(":")
        target = getattr(import_module(f"{__name__}.{module}"), attribute)
        if isinstance(target, click.Command):
            self.add_command(target, name)
        else:
            target(self.app)
        if name not in self.commands:
            raise RuntimeError(f"annotator: {self.lazy[name]} did not register the command {name!r}")


# The commands that create the database, by their names from the top (`db upgrade` is the one of the db group).
# Every other one refuses a SQLite file that does not exist: connecting would create it empty, and a read-only
# command (`db current` too) then left that file behind and blamed a missing schema; `db stamp` left one that
# claimed a schema it had not got.
CREATES_DATABASE = frozenset({("init",), ("db", "upgrade"), ("demo",)})


def refuse_missing_sqlite(engine: Engine) -> None:
    """Make a command outside CREATES_DATABASE fail with one line when the SQLite file is absent, creating nothing.

    Attached when a command is looked up (LazyCommands.get_command), so a web worker's engine never has it; checked
    when a connection opens (so commands that never touch the database, `segment`, `suggest text`, run without one),
    and only inside a command: a request that `annotator run` serves has no click context and is left alone.
    """
    path = _sqlite_file(engine)
    if path is None or getattr(engine, "_annotator_refuses_missing", False):
        return

    @event.listens_for(engine, "do_connect")
    def _refuse(_dialect, _record, _cargs, _cparams):  # noqa: ANN001, ANN202
        ctx = click.get_current_context(silent=True)
        command = command_path(ctx) if ctx else ()
        creates = any(command[:len(maker)] == maker for maker in CREATES_DATABASE)
        if command and not creates and not _exists(path):
            raise click.ClickException(_no_database(path))
        return None  # connect as usual

    engine._annotator_refuses_missing = True  # type: ignore[attr-defined]


def refuse_shell_without_database() -> dict[str, object]:
    """Flask's `shell` is the group's own command, never looked up in LazyCommands, so a query typed into it
    created the missing SQLite file empty. As a shell context processor this runs when the shell starts, before
    its prompt: a missing file ends it with the commands' one line (exit 1), and the engine refuses as theirs does."""
    engine = db.engine  # the shell runs in the app's context
    path = _sqlite_file(engine)
    if path is not None and not _exists(path):
        raise click.ClickException(_no_database(path))
    refuse_missing_sqlite(engine)
    return {}


def _sqlite_file(engine: Engine) -> str | None:
    """The SQLite file the engine opens, or None: another database, in memory, or a URI (SQLite's own options)."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


def _no_database(path: str) -> str:
    return f"no database at {path}; run `annotator init`"


def command_path(ctx: click.Context) -> tuple[str, ...]:
    """The names of the running command under the top group: ("db", "current") for `annotator db current`."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return tuple(reversed(names))


def _exists(path: str) -> bool:
    """Whether the file is there; True when it cannot be looked at (a name too long, a folder without search
    permission): SQLite then fails to open it with its own one-line reason instead of a traceback from here."""
    try:
        return Path(path).exists()
    except OSError:
        return True


def init_app(app: Flask) -> None:
    """Register the commands' names on the app; their modules load when used (see LazyCommands)."""
    group = LazyCommands(app, COMMANDS, name=app.cli.name)
    group.commands.update(app.cli.commands)  # any a blueprint registered
    app.cli = group
    app.shell_context_processor(refuse_shell_without_database)
