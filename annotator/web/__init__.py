"""Registers the blueprints: one per concern."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from annotator.web import home as main

    app.register_blueprint(main.bp)
    from annotator.web.downloads import bp as exports_bp; app.register_blueprint(exports_bp)  # noqa: E702
    from annotator.web.annotate import bp as annotate_bp; app.register_blueprint(annotate_bp)  # noqa: E702
    from annotator.web.api import bp as api_bp; app.register_blueprint(api_bp)  # noqa: E702
    from annotator.web.admin import register as register_admin; register_admin(app)  # noqa: E702  (admin + segmentation)
    from annotator.web.review import bp as review_bp; app.register_blueprint(review_bp)  # noqa: E702  (agreement, queue, adjudication)
