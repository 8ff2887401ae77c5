"""The web layer: one blueprint per concern, registered here (Flask only; the work is in annotator.domain)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprints (imported here, so `import annotator.web.security` stays light)."""
    from annotator.web import account, admin, annotate, api, downloads, home, rest, rest_data, review, suggestions

    for blueprint in (home.bp, account.bp, downloads.bp, annotate.bp, api.bp, suggestions.bp, rest.bp, rest_data.bp, review.bp):
        app.register_blueprint(blueprint)
    admin.register(app)  # admin pages + the segmentation pages reviewers share
