"""Fact-claim annotator: a Flask app factory in the style of Flask's tutorial (flaskr)."""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # Flask is imported by create_app: `import annotator.segment` stays light
    from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> "Flask":
    """Build the app; `config` overrides what the environment says (tests use it)."""
    from flask import Flask

    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    from . import config as config_module

    config_module.configure(app, config or {})

    from . import db as db_module

    db_module.init_app(app)

    from . import auth, security, views

    security.init_app(app)
    auth.init_app(app)
    views.init_app(app)

    from . import cli

    cli.init_app(app)

    proxies = int(app.config.get("PROXY_COUNT", 0))
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Trust X-Forwarded-* from exactly this many proxies: client address for throttling, https for URLs.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    return app
