"""Fact-claim annotator: a Flask app factory in the style of Flask's tutorial (flaskr)."""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # Flask is imported by create_app: `import annotator.stats.segment` stays light
    from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent


def app_folder(name: str) -> Path:
    """templates, static or migrations: inside the package when installed from a wheel (the build copies
    them there, see setup.py), else the top-level folder of the source checkout (tests, `pip install -e .`)."""
    for folder in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if folder.is_dir():
            return folder
    raise RuntimeError(f"annotator: no {name}/ folder in {PACKAGE_DIR} nor beside it: reinstall the package")


def instance_path() -> str | None:
    """ANNOTATOR_INSTANCE if set, else None for Flask's default: `instance/` beside a source checkout's
    package, `<prefix>/var/annotator-instance` for an installed one."""
    value = os.environ.get("ANNOTATOR_INSTANCE", "").strip()
    return os.path.abspath(value) if value else None


def create_app(config: Mapping[str, Any] | None = None) -> "Flask":
    """Build the app; `config` overrides what the environment says (tests use it)."""
    from annotator.web.flask_app import App

    app = App(
        __name__,
        instance_path=instance_path(),
        template_folder=str(app_folder("templates")),
        static_folder=str(app_folder("static")),
    )
    from annotator import config as config_module

    config_module.configure(app, config or {})

    from annotator import db as db_module

    db_module.init_app(app)

    from annotator import web as views
    from annotator.web import auth, security

    security.init_app(app)
    auth.init_app(app)
    views.init_app(app)

    from annotator import cli

    cli.init_app(app)

    proxies = int(app.config.get("PROXY_COUNT", 0))
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Trust X-Forwarded-* from exactly this many proxies: client address for throttling, https for URLs.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    return app
