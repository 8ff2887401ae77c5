"""Registers the blueprints: one per concern."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import main

    app.register_blueprint(main.bp)
