"""A command on a database it cannot use says why in one line and exits 1, whichever way it is run.

Each condition is real: a write lock held by a second connection, a database with no tables, a PostgreSQL port
nobody listens on, a database opened read-only, a file that is not a database. `annotator` said some of these in
one line ("database error: database is locked"), `flask --app annotator` and app.cli (as in tests) gave a traceback
for all of them, and a file that is not a database was a traceback everywhere.
"""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import annotator.db
from annotator.db import transactions

from .conftest import fresh_database

LAUNCHERS = [["-m", "annotator"], ["-m", "flask", "--app", "annotator"]]
LAUNCHER_IDS = ["annotator", "flask"]


def run(launcher: list[str], url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x"}
    return subprocess.run([sys.executable, *launcher, *args], env=env, capture_output=True, text=True, timeout=120, input=stdin)


def one_line(result: subprocess.CompletedProcess) -> str:
    """The command's only line on stderr, "Error: ...", having exited 1."""
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


@pytest.mark.parametrize("launcher", LAUNCHERS, ids=LAUNCHER_IDS)
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_database_without_tables_says_to_run_init(tmp_path, launcher, backend):
    with fresh_database(backend, tmp_path) as url:
        if backend == "sqlite":
            sqlite3.connect(url.removeprefix("sqlite:///")).close()  # the file exists, with no table
        line = one_line(run(launcher, url, "users", "list"))
    assert "the database has no schema yet" in line and "run `annotator init` first" in line, line


@pytest.mark.parametrize("launcher", LAUNCHERS, ids=LAUNCHER_IDS)
def test_a_postgresql_server_that_is_not_there_is_named(launcher):
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/annotator"
    line = one_line(run(launcher, url, "users", "list"))
    assert line.startswith("Error: cannot connect to the database server") and "DATABASE_URL" in line, line


@pytest.mark.parametrize("launcher", LAUNCHERS, ids=LAUNCHER_IDS)
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_read_only_database_says_so_and_changes_nothing(tmp_path, launcher, backend):
    """SQLite opened read-only (mode=ro: as a file this user may not write; chmod would not stop root), PostgreSQL
    with every transaction read-only (as a hot standby): a write is refused by the database itself."""
    with fresh_database(backend, tmp_path) as url:
        assert run(["-m", "annotator"], url, "init").returncode == 0
        if backend == "sqlite":
            readonly = f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
        else:
            readonly = url + "%20-cdefault_transaction_read_only%3Don"
        line = one_line(run(launcher, readonly, "users", "create", "ann", "--role", "annotator", "--password-stdin", stdin="a long password\n"))
        assert line.startswith("Error: the database is read-only"), line
        listed = run(["-m", "annotator"], url, "users", "list")
    assert listed.returncode == 0 and "ann" not in listed.stdout, listed


@pytest.mark.parametrize("launcher", LAUNCHERS, ids=LAUNCHER_IDS)
def test_a_file_that_is_not_a_database_is_named(tmp_path, launcher):
    path = tmp_path / "notes.sqlite3"
    path.write_text("these are someone's notes, not a database\n" * 200)
    line = one_line(run(launcher, f"sqlite:///{path}", "users", "list"))
    assert line == f"Error: {path} is not a SQLite database (file is not a database); check DATABASE_URL", line


@pytest.mark.parametrize("database_uri", ["sqlite"], indirect=True)
def test_a_write_while_another_connection_holds_the_sqlite_lock_is_one_line(app, runner, database_uri, monkeypatch):
    """Another process's write transaction holds the lock past the wait (shortened here from 30 s): app.cli (what
    `flask --app annotator` and the tests run) raised the OperationalError as a traceback."""
    monkeypatch.setattr(annotator.db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(transactions, "QUEUE_TIMEOUT_S", 0.1)
    with app.app_context():
        annotator.db.db.engine.dispose()  # new connections take the shorter busy timeout
    holder = sqlite3.connect(Path(database_uri.removeprefix("sqlite:///")), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        result = runner.invoke(args=["users", "create", "ann", "--role", "annotator", "--password-stdin"], input="a long password\n")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: the database is busy: another process"), result.output
    assert "run the command again" in lines[0]
