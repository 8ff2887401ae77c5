"""`annotator init`, `annotator db ...` and `annotator backup`: the database's schema and a consistent copy of it."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from annotator.cli.errors import fail
from annotator.db import db
from annotator.db.migrating import init_migrations, upgrade_schema


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database schema (same as `annotator db upgrade`)."""
    upgrade_schema()
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


def register_migrations(app: Flask) -> None:
    """`annotator db ...`: Flask-Migrate's commands (`db upgrade`, `db current`, ...), which Flask-Migrate
    registers on the app itself when it is set up."""
    init_migrations(app)


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_command(path: str) -> None:
    """Copy a live SQLite database consistently (SQLite's online backup API)."""
    import sqlite3
    from contextlib import closing

    if db.engine.dialect.name != "sqlite":
        fail("backup copies SQLite databases; for PostgreSQL use pg_dump (see README)")
    source_path = db.engine.url.database
    if not source_path or not Path(source_path).is_file():  # connect() would create an empty one and "back it up"
        fail(f"no database at {source_path}; check DATABASE_URL or run `annotator init`")
    target = Path(path)
    if target.exists():
        fail(f"{path} exists; choose a new file")
    try:
        with closing(sqlite3.connect(source_path)) as source, closing(sqlite3.connect(target)) as dest:
            source.backup(dest)
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        fail(f"backup to {path} failed: {exc}")
    click.echo(f"backed up {source_path} to {path}")
