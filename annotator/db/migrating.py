"""The schema's migrations: Alembic revisions in migrations/, run through Flask-Migrate.

Only what migrates loads this (`annotator init`, `annotator demo`, `annotator db ...`, tests): Flask-Migrate
imports Alembic, Mako and Pygments (~11 MB and ~150 ms), which every gunicorn worker would otherwise carry
without ever using them.
"""
from __future__ import annotations

from flask import Flask, current_app

from annotator import app_folder
from annotator.db import db


def init_migrations(app: Flask) -> None:
    """Set Flask-Migrate up on `app` (once): its settings in app.extensions["migrate"] and its `db` command group
    on app.cli."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(app_folder("migrations")), render_as_batch=True)


def upgrade_schema(revision: str = "head") -> None:
    """Upgrade the current app's database to `revision` (create it from nothing, or bring it up to date)."""
    from flask_migrate import upgrade

    init_migrations(current_app._get_current_object())  # type: ignore[attr-defined]
    upgrade(revision=revision)
