"""Registers the blueprints: one per concern."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import main

    app.register_blueprint(main.bp)
    from .exports import bp as exports_bp; app.register_blueprint(exports_bp)  # noqa: E702
    from .annotate import bp as annotate_bp; app.register_blueprint(annotate_bp)  # noqa: E702
    from .api import bp as api_bp; app.register_blueprint(api_bp)  # noqa: E702
    from .admin import register as register_admin; register_admin(app)  # noqa: E702  (admin + segmentation)
    from .review import bp as review_bp; app.register_blueprint(review_bp)  # noqa: E702  (agreement, queue, adjudication)
