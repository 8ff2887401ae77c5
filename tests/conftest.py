"""Builds the app on a fresh database per test: SQLite always, PostgreSQL too when DATABASE_URL is set.

The tables come from a copy (tests/schema_pool.py): a SQLite template file, a reused and emptied PostgreSQL schema.

CSRF stays on, as in production: helpers fetch the token like a browser does.
"""
from __future__ import annotations

import functools
import os
import re
import socket
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from jinja2.bccache import Bucket, BytecodeCache

from annotator import create_app
from annotator.config import database_url
from annotator.db import db

from .schema_pool import SchemaPool, SqliteTemplate
from .worker_database import worker_database

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# pytestmark for browser test modules: Debian's Chromium through Playwright, skipped where it is absent.
needs_chromium = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent")]

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def pytest_configure(config):
    config.addinivalue_line("markers", "real_password_hashing: keep the production password hash (scrypt)")
    config.addinivalue_line("markers", "both_databases: a browser test that runs on PostgreSQL too (see pytest_generate_tests)")


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    """A browser test checks the page, and runs on SQLite only: the server's answers on PostgreSQL are checked request
    by request by the test-client tests, its concurrency by gunicorn ones (test_concurrency), so a browser run on
    PostgreSQL doubled ~85 of the slowest tests for nothing of its own. A test marked `both_databases` (the whole
    annotation round trip) keeps both. Done before the `database_uri` fixture's own parametrization, which yields to
    a parametrize mark."""
    node = metafunc.definition
    if ("database_uri" in metafunc.fixturenames and node.get_closest_marker("browser") is not None
            and node.get_closest_marker("both_databases") is None):
        node.add_marker(pytest.mark.parametrize("database_uri", ["sqlite"], indirect=True))


# Modules whose tests take tens of seconds each (a wheel build, gunicorn servers, imports and exports killed on purpose):
# collected first. xdist hands tests out in collection order, so alphabetically they came last, where one worker could
# still be building the wheel (~1-2 min here) while the other had nothing left to run; first, the short tests fill in
# behind them. The order inside each module stays as written. test_query_plans' PostgreSQL set-up (1,500 articles
# through both bulk imports) is the run's single longest item: 248 s of wall of these modules' 1,508 s in one process.
SLOW_FIRST = ("test_query_plans.py", "test_wheel.py", "test_crash_safety.py", "test_gunicorn_fork.py", "test_concurrency.py",
              "test_suggester_plugins.py", "test_rest_pipeline.py", "test_server_memory.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: n for n, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable: the rest keep their order


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """The suite runs on every core the process may use and one more (pytest-xdist, see below), unless told `-n N`
    (`-n 0`: in this process). Set here rather than as `-n auto` in pyproject's addopts, which would make `-p no:xdist` (or a
    checkout without pytest-xdist) fail on an unknown `-n`."""
    worker = hasattr(config, "workerinput")  # a worker's own run: xdist clears its -n, and it must stay in-process
    if getattr(config.option, "numprocesses", 0) is None and not worker:
        config.option.numprocesses = "auto"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """One worker more than the cores this process may run on (not the machine's: a container or `taskset` may allow
    fewer). Many tests wait rather than compute (a gunicorn server starting, Chromium drawing a page, PostgreSQL
    answering, a killed process's sleep): with one worker per core the whole run kept 2 cores only ~133% busy here,
    and a third worker runs while the others wait."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1


@functools.cache
def schema_pool() -> SchemaPool | None:
    """This run's pool of PostgreSQL schemas with the tables made (None without PostgreSQL)."""
    url = postgres_url()
    return SchemaPool(url, db.metadata) if url else None


@functools.cache
def sqlite_template() -> SqliteTemplate:
    return SqliteTemplate(db.metadata)


def pytest_sessionfinish(session, exitstatus):
    if schema_pool.cache_info().currsize and schema_pool() is not None:
        schema_pool().close()
    if sqlite_template.cache_info().currsize:
        sqlite_template().close()


@pytest.fixture(autouse=True)
def _login_clock_stands_still(monkeypatch):
    """The login throttle's clock (throttle.utcnow: the login and password-change views read it) stands still in a test.

    A pair that used its free failures waits 1 s before its next try, and on a loaded machine that second could pass
    between a test's two requests: the right password then logged in (302) where the test expects the 429 (3 of 160
    throttling tests in one loaded run). A test that lets time pass sets the clock itself."""
    from annotator.db import models
    from annotator.domain import throttle

    now = models.utcnow()
    monkeypatch.setattr(throttle, "utcnow", lambda: now)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(request, monkeypatch):
    """scrypt costs ~0.2 s a hash by design; tests create hundreds of users, so they use a cheap hash.

    Tests marked `real_password_hashing` check the production setting itself.
    """
    if request.node.get_closest_marker("real_password_hashing") is None:
        from annotator.db import models

        monkeypatch.setattr(models, "PASSWORD_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture(autouse=True, scope="session")
def _shared_url_builders() -> Iterator[None]:
    """Each app compiles two Python functions per URL rule (Werkzeug's URL builders): 0.1-0.2 s of the ~0.2 s
    an app costs, and the suite makes thousands of apps. The builder is a pure function of the rule's text and
    parsed parts (rules with defaults also depend on their values: those compile as usual), so one compiled per
    rule serves every app (tests/test_shared_url_builders.py checks the URLs are the same)."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:  # a Werkzeug that builds URLs otherwise: every app compiles its own, as before
        yield
        return
    builders: dict[tuple, Any] = {}

    def shared(self: Rule, append_unknown: bool = True):  # noqa: ANN202
        if self.defaults:
            return compile_builder(self, append_unknown)
        key = (append_unknown, self.rule, tuple(self._trace))
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", shared)
        yield


class SharedTemplateCode(BytecodeCache):
    """Jinja's bytecode cache, in memory for the run (see _shared_template_code)."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])  # Jinja drops it if the source's checksum differs

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(autouse=True, scope="session")
def _shared_template_code() -> Iterator[None]:
    """Each app has its own Jinja environment, which parsed and compiled every template it rendered afresh: ~25 ms a
    template, and the suite's thousands of apps render a few each (a fifth of the CPU of the page tests). Jinja's
    bytecode cache, shared by the run's apps, compiles each template once; its key is the template's name and file,
    and it holds the source's checksum, so a changed file compiles again (tests/test_shared_template_code.py checks the
    pages are the same). Set through Flask's class-wide jinja_options, which each app copies into its environment."""
    from flask import Flask

    options = {**Flask.jinja_options, "bytecode_cache": SharedTemplateCode()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Flask, "jinja_options", options)
        yield


# A dialect's attributes that differ between two engines on the same kind of database without changing the SQL it
# compiles: the schema a PostgreSQL test's search_path names, and the per-engine objects (the driver module, the type
# memos, the preparer and type compiler, the begin that tune_sqlite installs on each SQLite engine).
_PER_ENGINE = frozenset({"default_schema_name"})
_PLAIN = (bool, int, float, str, bytes, tuple, frozenset, type(None))


def dialect_signature(dialect: Any) -> tuple:
    """What a statement's compiled form depends on in a dialect: its class and every plain setting (server version,
    paramstyle, feature flags, linting, identifier lengths), and its JSON functions by identity."""
    plain = tuple(sorted((name, value) for name, value in vars(dialect).items()
                         if isinstance(value, _PLAIN) and name not in _PER_ENGINE))
    return (type(dialect), plain, id(getattr(dialect, "_json_serializer", None)), id(getattr(dialect, "_json_deserializer", None)))


@pytest.fixture(autouse=True, scope="session")
def _shared_compiled_sql() -> Iterator[None]:
    """SQLAlchemy compiles each statement once per engine (its compiled cache is the engine's, keyed by the dialect
    instance), and every test's app has an engine of its own: a fifth to a quarter of a page test's CPU went into
    compiling again the statements the previous test had compiled. A production engine lives as long as its process
    and compiles each statement once. Here statements compile once per kind of dialect for the run: the first
    dialect seen with a signature (dialect_signature) compiles for every later one with the same signature, into one
    cache. A statement that fails to compile is not cached, so it fails in every test that runs it; execution (bind
    and result conversions, the driver, the connection) stays each engine's own
    (tests/test_shared_compiled_sql.py checks the SQL and results are the same)."""
    from sqlalchemy.sql.elements import ClauseElement
    from sqlalchemy.util import LRUCache

    compile_w_cache = ClauseElement._compile_w_cache
    canonical: dict[tuple, Any] = {}
    compiled: LRUCache = LRUCache(20000)

    def shared(self: ClauseElement, dialect: Any, *, compiled_cache: Any, **kw: Any):  # noqa: ANN202
        if compiled_cache is None:  # caching turned off for this execution: as asked
            return compile_w_cache(self, dialect, compiled_cache=None, **kw)
        first = canonical.setdefault(dialect_signature(dialect), dialect)
        return compile_w_cache(self, first, compiled_cache=compiled, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ClauseElement, "_compile_w_cache", shared)
        yield


def corpus_file(name: str) -> Path:
    """A file of ../shared/corpus, or skip the test when shared/ is absent."""
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (shared corpus not available)")
    return path


@functools.cache
def postgres_url() -> str | None:
    """DATABASE_URL when it names PostgreSQL; in a parallel run, this worker's own database next to it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql")):
        return None
    return worker_database(database_url(""), os.environ.get("PYTEST_XDIST_WORKER"))


# A test's PostgreSQL sessions commit without waiting for the WAL to reach the disk (synchronous_commit=off): a flush
# costs ~4 ms a commit here and the suite commits tens of thousands of times. What a commit shows other sessions, its
# locks and its errors are the same; only a crash of the PostgreSQL server itself could lose the last commits, and no
# test crashes it (the crash tests kill the app's processes).
NO_COMMIT_FLUSH = "%20-csynchronous_commit%3Doff"


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """A database nobody else uses: a SQLite file in `folder`, or a fresh PostgreSQL schema (dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'test.sqlite3'}"
        return
    url = postgres_url()
    if url is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    pool = schema_pool()
    pool.create(schema)
    try:
        yield url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}{NO_COMMIT_FLUSH}"
    finally:
        pool.release(schema)  # emptied for the next test when create_all's tables are all it holds, else dropped


_TEST_SCHEMA = re.compile(r"[?&]options=-csearch_path%3D(t_[0-9a-f]{16})" + re.escape(NO_COMMIT_FLUSH) + "$")


def install_tables(database_uri: str) -> bool:
    """Make the app's tables in a new test database by copying them (see schema_pool); False: use create_all."""
    if database_uri.startswith("sqlite"):
        return sqlite_template().install(database_uri)
    match = _TEST_SCHEMA.search(database_uri)
    pool = schema_pool()
    if match is None or pool is None or not pool.is_empty(match.group(1)):
        return False
    pool.adopt(match.group(1))
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test's own database, on SQLite and (when DATABASE_URL says so) PostgreSQL."""
    with fresh_database(request.param, tmp_path) as uri:
        yield uri


def make_app(database_uri: str, create: bool = True, **config: Any):
    """The app on this database; `create=False` leaves it empty (for migrations to fill)."""
    created = create and install_tables(database_uri)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "SECRET_KEY": "test-secret",
            "SQLITE_CHECKPOINT_EVERY": 0,  # no checkpoint by chance: tests that trace statements see the same each run
            **config,
        }
    )
    if create and not created:
        with app.app_context():
            db.create_all()
    return app


@pytest.fixture
def app(database_uri: str):
    app = make_app(database_uri)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Browser:
    """A test client that behaves like a browser: it reads the CSRF token from the page."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None

    def get(self, url: str, **kw):
        response = self.client.get(url, **kw)
        match = _CSRF.search(response.get_data(as_text=True)) if response.mimetype == "text/html" else None
        if match:
            self.token = match.group(1)
        return response

    def csrf(self) -> str:
        if self.token is None:
            self.get("/login")
        assert self.token
        return self.token

    def post(self, url: str, data: dict | None = None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf())
        return self.client.post(url, data=data, **kw)

    def send_json(self, method: str, url: str, payload: Any = None, **kw):
        headers = {"X-CSRFToken": self.csrf(), **kw.pop("headers", {})}
        return self.client.open(url, method=method, json=payload, headers=headers, **kw)

    def login(self, name: str, password: str):
        self.get("/login")
        response = self.post("/login", {"name": name, "password": password})
        self.get("/")  # the session changed: pick up its token
        return response


@pytest.fixture
def browser(app) -> Browser:
    return Browser(app.test_client())


def token_form(**fields: str) -> dict[str, str]:
    """The admin page's token form: its fields and a one-use issue key (each call a new one, as each page view)."""
    from annotator.domain.accounts import new_issue_key

    return {"issue_key": new_issue_key(), **fields}


def add_user(app, name: str, role: str = "annotator", password: str = "correct horse") -> int:
    from annotator.domain import accounts

    with app.app_context():
        user = accounts.create_user(db.session, name, role, password)
        db.session.commit()
        return user.id


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the whole run; each test opens its own context (cookies, storage)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def localhost_socket() -> socket.socket:
    """A socket bound to a localhost port the kernel picked, for a server process to inherit (gunicorn's
    `-b fd://N` with `pass_fds`). The port is never free between choosing and serving: a port probed free and
    bound later by the server can be taken meanwhile by any process, a parallel test worker's server included."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve the app on a free localhost port in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join(5)


@pytest.fixture
def server(app) -> Iterator[str]:
    """The app on a free localhost port, against the test's own database."""
    with serving(app) as url:
        yield url


def add_member(app, project_id: int, *names: str) -> None:
    """Make these users members of the project (its annotators are the assignment pool; its reviewers may open it)."""
    from sqlalchemy import select

    from annotator.db.models import User
    from annotator.domain import projects

    with app.app_context():
        users = list(db.session.scalars(select(User).where(User.name.in_(names))))
        assert len(users) == len(set(names)), f"no such user among {names}"
        projects.add_members(db.session, project_id, users)
        db.session.commit()
