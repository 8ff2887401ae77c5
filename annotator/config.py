"""Configuration from the environment, with safe defaults for a single machine."""
from __future__ import annotations

import os
import re
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from annotator.stats.numbers import whole_number

DEFAULT_MAX_UPLOAD_MB = 32


def database_url(instance_path: str) -> str:
    """DATABASE_URL if set (postgres URLs get the psycopg 3 driver), else SQLite in instance/."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "annotator.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/.

    When several workers start at once, each writes its key to a temporary file of its own (0600) and links
    it to the name, which fails if the name exists: the name only ever points at a complete key, and whoever
    loses the race reads the winner's (an empty or half-written file read by a loser gave that worker
    another key, so its sessions failed in the other workers)."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        key = secrets.token_hex(32)
        fd, temporary = tempfile.mkstemp(prefix=".secret_key-", dir=instance_path)  # mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(key)
            os.link(temporary, path)
            return key
        except FileExistsError:
            pass  # another worker's key is there, complete
        finally:
            os.unlink(temporary)
    stored = path.read_text().strip()
    if not stored:
        raise RuntimeError(f"{path} is empty: delete it (a new key is then generated) or set SECRET_KEY")
    return stored


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


MAX_REMEMBER_DAYS = 3650

# Each numeric setting: (environment variable, default, lowest, highest, unit). The bounds keep every value
# usable where it ends up (a cookie's expiry or a backoff must stay a date: 10**14 seconds overflowed at login).
NUMERIC_SETTINGS = {
    "MAX_UPLOAD_MB": ("ANNOTATOR_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, 1, 100_000, "megabytes"),
    "LOGIN_MAX_FAILURES": ("ANNOTATOR_LOGIN_MAX_FAILURES", 5, 1, 1_000, "failures"),
    "LOGIN_MAX_FAILURES_PER_ADDRESS": ("ANNOTATOR_LOGIN_MAX_FAILURES_PER_ADDRESS", 50, 1, 1_000_000, "failures"),
    "LOGIN_LOCKOUT_SECONDS": ("ANNOTATOR_LOGIN_LOCKOUT_SECONDS", 300, 1, 31_536_000, "seconds"),
    "LOGIN_WINDOW_SECONDS": ("ANNOTATOR_LOGIN_WINDOW_SECONDS", 3600, 1, 31_536_000, "seconds"),
    "PROXY_COUNT": ("ANNOTATOR_PROXY_COUNT", 0, 0, 10, "proxies"),
    "REMEMBER_DAYS": ("ANNOTATOR_REMEMBER_DAYS", 30, 1, MAX_REMEMBER_DAYS, "days"),
}


def _env_number(key: str) -> int:
    """A numeric setting from the environment, refused at start-up (not at the first request) when it is not
    a whole number within its bounds."""
    variable, default, low, high, unit = NUMERIC_SETTINGS[key]
    raw = os.environ.get(variable, str(default)).strip()
    value = whole_number(raw, high)
    if value is None or value < low:
        raise ValueError(f"{variable} must be a whole number of {unit} from {low} to {high} (got {raw[:40]!r})")
    return value


# A name the app is served under: a host name or address, or .example.org for it and every name under it (werkzeug's
# rule); no scheme, path, port or wildcard, which would never match a Host header and lock everyone out.
_HOST_NAME = re.compile(r"\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\]")


def trusted_hosts() -> list[str] | None:
    """ANNOTATOR_TRUSTED_HOSTS: the comma-separated names the app is served under, or None (unset: any Host header is
    taken, as a local demo needs). Set, a request for another host is a 400 (web/hosts.py), so that no link the app
    builds from the Host header (the REST API's absolute `next`) points at a host a client made up. Refused at
    start-up when a name could never match."""
    raw = os.environ.get("ANNOTATOR_TRUSTED_HOSTS", "").strip()
    if not raw:
        return None
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    for name in names:
        if not _HOST_NAME.fullmatch(name):
            raise ValueError("ANNOTATOR_TRUSTED_HOSTS must be the host names the app is served under, separated by commas, "
                             f"like annotate.example.org,.example.org (no scheme, port or path; got {name[:60]!r})")
    return names


def configure(app: Flask, overrides: Mapping[str, Any]) -> None:
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url(app.instance_path),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=_env_flag("ANNOTATOR_HTTPS"),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=_env_flag("ANNOTATOR_HTTPS"),
        PREFERRED_URL_SCHEME="https" if _env_flag("ANNOTATOR_HTTPS") else "http",
        MAX_CONTENT_LENGTH=_env_number("MAX_UPLOAD_MB") * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        LOGIN_MAX_FAILURES=_env_number("LOGIN_MAX_FAILURES"),
        LOGIN_MAX_FAILURES_PER_ADDRESS=_env_number("LOGIN_MAX_FAILURES_PER_ADDRESS"),
        LOGIN_LOCKOUT_SECONDS=_env_number("LOGIN_LOCKOUT_SECONDS"),
        LOGIN_WINDOW_SECONDS=_env_number("LOGIN_WINDOW_SECONDS"),
        PROXY_COUNT=_env_number("PROXY_COUNT"),
        TRUSTED_HOSTS=trusted_hosts(),
    )
    app.config.update(overrides)
    # How long "keep me logged in" lasts, checked on the server too (auth._load_user): every worker reads
    # the same environment. Also the longest a session may last.
    if "REMEMBER_DAYS" not in app.config:
        app.config["REMEMBER_DAYS"] = _env_number("REMEMBER_DAYS")
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=app.config["REMEMBER_DAYS"])
    if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides:
        # A server connection can drop while pooled; a SQLite file cannot, so it skips the ping per checkout.
        is_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {} if is_sqlite else {"pool_pre_ping": True}
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(app.instance_path)
