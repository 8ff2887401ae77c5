"""`annotator demo`: set up the demo (domain/demo.py) and serve it on Flask's development server."""
from __future__ import annotations

import errno
import socket

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from annotator.cli.errors import commit_or_fail, fail
from annotator.db import db
from annotator.db.migrating import upgrade_schema
from annotator.domain.demo import DEMO_PROJECT, DEMO_USERS, set_up_demo

DEMO_LOCAL_ONLY = (
    "the demo is for local use only: it serves on Flask's development server without a buffering proxy; "
    "to let others in, deploy with gunicorn behind nginx or Caddy (README: Deployment)"
)
DEMO_NOT_SERVED = "set up, not served (--no-serve): `annotator demo` serves it, for local use only (README: Deployment)"


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up the demo and exit without serving it.")
@with_appcontext
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Set up a demo project with sample articles and users (idempotent), then serve it (not with --no-serve)."""
    if not no_serve:
        _check_port(host, port)
    upgrade_schema()
    passwords = commit_or_fail(lambda: set_up_demo(db.session))
    click.echo(f"demo project: {DEMO_PROJECT}")
    click.echo("demo users:")
    for (name, role), password in zip(DEMO_USERS, passwords, strict=True):
        click.echo(f"  {name:<9} {role:<10} {password}" if password else f"  {name:<9} (already there: keeps its password)")
    if not all(passwords):
        click.echo("existing users keep their passwords (set a new one with `annotator users password NAME`)")
    if no_serve:
        # it serves nothing: saying it serves on the development server misled (a user looked for the port)
        click.echo(DEMO_NOT_SERVED)
        return
    click.echo(DEMO_LOCAL_ONLY)
    click.echo(f"serving on http://{host}:{port}/  (Ctrl-C to stop)")
    from werkzeug.serving import run_simple

    # Not app.run(): Flask ignores that call inside a `flask` CLI command.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    trust_where_served(app, host)
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def trust_where_served(app: Flask, host: str) -> None:
    """With ANNOTATOR_TRUSTED_HOSTS set (for the deployed app), the demo also answers at the address it serves on and
    as localhost: it printed http://127.0.0.1:5000/, and that address must open, not be refused as a foreign host."""
    trusted = app.config.get("TRUSTED_HOSTS")
    if trusted is not None:
        app.config["TRUSTED_HOSTS"] = [*trusted, *(name for name in (host, "127.0.0.1", "localhost") if name not in trusted)]


def _check_port(host: str, port: int) -> None:
    """Fail before anything is set up when the server could not listen: werkzeug would say so only after the demo
    printed its new passwords (which a rerun does not print again), and not how to choose another port."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} is in use by another program; serve the demo on another port: annotator demo --port {port + 1}")
        fail(f"cannot serve on {host}:{port}: {exc}")
