"""What the web app imports: create_app (each gunicorn worker's code) loads neither the migrations' libraries nor the
CLI's commands, and the `annotator` command still lists and runs every command."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner
from sqlalchemy import inspect

from annotator.cli import COMMANDS, AnnotatorGroup
from annotator.db import db

from .conftest import make_app

PACKAGE = Path(__file__).resolve().parents[1] / "annotator"
FLASK_COMMANDS = {"run", "shell", "routes"}  # FlaskGroup's own


def test_create_app_loads_neither_migrations_nor_the_cli_commands(tmp_path):
    """Flask-Migrate brings Alembic, Mako and Pygments (~11 MB per process); the command modules bring the export
    and import formats and multiprocessing; on SQLite, PostgreSQL's dialect is ~2 MB; markdown-it-py waits for the
    first guidelines. A worker needs none of them to answer a save or the article JSON."""
    code = (
        "import json, sys\n"
        "from annotator import create_app\n"
        f"create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path}/app.sqlite3', 'SECRET_KEY': 'x'}})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'flask_migrate', 'mako', 'pygments', 'markdown_it')"
        " or m.startswith(('annotator.cli.', 'sqlalchemy.dialects.postgresql')))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_a_command_loads_its_module_when_it_runs(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["segment", "-"], input="One sentence. Another one.")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.output.splitlines()] == ["One sentence.", "Another one."]
    assert "segment" in app.cli.commands


def test_help_lists_every_command_with_its_help_line(app):
    result = CliRunner().invoke(AnnotatorGroup(create_app=lambda: app), ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = {}
    for line in result.output.split("Commands:\n", 1)[1].splitlines():
        name, _, help_line = line.strip().partition(" ")
        listed[name] = help_line.strip()
    assert set(listed) == set(COMMANDS) | FLASK_COMMANDS
    for name in COMMANDS:
        command = app.cli.get_command(click.Context(app.cli), name)
        assert listed[name] == command.get_short_help_str(limit=200) != "", name
    assert listed["db"] == "Perform database migrations."


def _top_level_commands() -> set[tuple[str, str]]:
    """(module, attribute) of every click command defined in annotator/cli/*.py that is not another's subcommand."""
    commands, nested = {}, set()
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        module = importlib.import_module(f"annotator.cli.{path.stem}" if path.stem != "__init__" else "annotator.cli")
        for attribute, value in vars(module).items():
            if isinstance(value, click.Command) and value.callback.__module__ == module.__name__:
                commands[(path.stem, attribute)] = value
                if isinstance(value, click.Group):
                    nested.update(id(c) for c in value.commands.values())
    return {key for key, command in commands.items() if id(command) not in nested}


def test_commands_lists_every_command_the_cli_modules_define():
    """One place lists the commands: a command written in a module but missing from COMMANDS would never load."""
    registered = {tuple(target.split(":")) for target in COMMANDS.values()}
    assert _top_level_commands() <= registered
    assert ("database", "register_migrations") in registered


def test_flask_migrates_commands_still_work(database_uri):
    """`annotator db ...` sets Flask-Migrate up on the app when it is used."""
    app = make_app(database_uri, create=False)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "current"])  # alembic prints to the real stdout, not the runner's
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert {"alembic_version", "articles", "users"} <= set(inspect(db.engine).get_table_names())
        db.engine.dispose()
