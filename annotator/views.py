"""Registers the blueprints: one per concern."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import main

    app.register_blueprint(main.bp)
    from .api import bp as api_bp; app.register_blueprint(api_bp)  # noqa: E702
