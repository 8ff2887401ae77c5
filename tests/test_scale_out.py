"""Scale-out: nothing lives in one process's memory that another worker or host would miss.

Two app instances (create_app twice on one database, and a second Python
process) must agree on: login throttling counters, sessions and CSRF tokens
(signed cookies: the same SECRET_KEY is enough), the agreement cache (a table,
keyed by the project revision), and the generated SECRET_KEY of workers that
start together. Removing the database row must remove the effect: that is
what shows the state is there and nowhere else. Last, the package is scanned
for module-level dicts, lists and sets that anything mutates.
"""
from __future__ import annotations

import ast
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from annotator import config
from annotator.db import db
from annotator.db.models import CacheEntry, LoginFailure, Project
from annotator.domain.agreement import cache as pa  # where summary() looks up compute_summary

from .conftest import Browser, add_user, make_app
from .test_route_matrix import caller, seed

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "annotator"
PASSWORD = "correct horse"


@pytest.fixture
def two_apps(app, database_uri):
    """The conftest app and a second instance on the same database, as two workers would be."""
    other = make_app(database_uri, create=False)
    yield app, other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_throttling_counts_across_instances(two_apps):
    first, second = two_apps
    add_user(first, "ann")
    limit = first.config["LOGIN_MAX_FAILURES"]
    for i in range(limit):
        app = first if i % 2 else second  # failures land on both workers, as a load balancer spreads them
        assert Browser(app.test_client()).login("ann", "wrong password").status_code == 401
    for app in (first, second):
        assert Browser(app.test_client()).login("ann", PASSWORD).status_code == 429
    # the lock is the database row and nothing else: remove it and both instances let ann in
    with first.app_context():
        db.session.execute(delete(LoginFailure))
        db.session.commit()
    for app in (first, second):
        assert Browser(app.test_client()).login("ann", PASSWORD).status_code == 302


def test_a_session_and_its_csrf_token_work_on_another_instance(two_apps, database_uri):
    first, second = two_apps
    world = seed(first)
    browser = caller(first, world, "annotator")  # logged in on the first instance
    cookie = browser.client.get_cookie("session")
    token = browser.csrf()
    other = second.test_client()
    other.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    page = other.get("/")
    assert page.status_code == 200 and world.names["annotator"] in page.get_data(as_text=True)
    # a write with the CSRF token the first instance put in the page
    response = other.put(f"/api/articles/{world.article_a}/labels/1", json={"label": "UFS"}, headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.get_data(as_text=True)
    # an instance with another SECRET_KEY does not accept it: the key is what the workers must share
    stranger = make_app(database_uri, create=False, SECRET_KEY="another-secret")
    try:
        client = stranger.test_client()
        client.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
        assert client.get("/").status_code == 302
    finally:
        with stranger.app_context():
            db.engine.dispose()


SECOND_PROCESS = textwrap.dedent(
    """
    import json, sys
    from tests.conftest import Browser, make_app

    uri, cookie, locked = sys.argv[1:4]
    app = make_app(uri, create=False, SECRET_KEY="test-secret")
    client = app.test_client()
    client.set_cookie("session", cookie)
    home = client.get("/review/")  # reviewers only: a 200 means the cookie is the reviewer's session here too
    login = Browser(app.test_client()).login(locked, "correct horse")
    print(json.dumps({"review": home.status_code, "login": login.status_code}))
    """
)


def test_another_process_sees_the_same_session_and_lock(app, database_uri):
    """A separate Python process (another gunicorn worker, another host) on the same database."""
    world = seed(app)
    browser = caller(app, world, "reviewer")
    add_user(app, "locked")
    # failures until the pair's wait is a minute or more (1 s, 2 s, 4 s ...), each after the previous wait,
    # on a clock that stands still between them: the other process, on the real clock, must see the wait
    from annotator.db import models
    from annotator.domain import throttle

    now = [models.utcnow()]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(throttle, "utcnow", lambda: now[0])
        for i in range(app.config["LOGIN_MAX_FAILURES"] + 6):
            assert Browser(app.test_client()).login("locked", "wrong password").status_code == 401
            now[0] += timedelta(seconds=2 ** max(0, i - app.config["LOGIN_MAX_FAILURES"] + 1) + 0.1)
    run = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, database_uri, browser.client.get_cookie("session").value, "locked"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {"review": 200, "login": 429}, seen


def test_agreement_cache_is_shared_through_the_database(two_apps, monkeypatch):
    """Issue 16 changed who fills the cache: a page (GET) never writes, so it only reads the table; a writer
    (here the domain call `annotator agreement` makes) stores the figures, and every instance's page is served from them."""
    first, second = two_apps
    world = seed(first)
    reviewer_first, reviewer_second = caller(first, world, "reviewer"), caller(second, world, "reviewer")
    path = f"/review/{world.project}/agreement"
    calls: list[int] = []
    real = pa.compute_summary

    def counted(session, head, *args, **kwargs):
        calls.append(head.revision)
        return real(session, head, *args, **kwargs)

    monkeypatch.setattr(pa, "compute_summary", counted)
    assert reviewer_first.client.get(path).status_code == 200
    assert len(calls) == 1
    with first.app_context():
        assert db.session.execute(select(CacheEntry.key)).all() == []  # the page computed, and stored nothing
        revision = db.session.scalar(select(Project.revision).where(Project.id == world.project))
        pa.summary(db.session, world.project)  # a writer fills the cache (the CLI's `annotator agreement`)
        entries = db.session.execute(select(CacheEntry.key, CacheEntry.revision)).all()
    assert [r for _, r in entries if "summary" in _] == [revision], entries
    assert calls == [revision, revision]
    # both instances are served from the table
    assert reviewer_first.client.get(path).status_code == 200
    assert reviewer_second.client.get(path).status_code == 200
    assert calls == [revision, revision]
    # a label saved on the second instance moves the revision: the pages compute the new figures, without storing them
    annotator = caller(second, world, "annotator")
    assert annotator.send_json("PUT", f"/api/articles/{world.article_a}/labels/1", {"label": "NFS"}).status_code == 200
    assert reviewer_first.client.get(path).status_code == 200
    assert reviewer_second.client.get(path).status_code == 200
    assert calls == [revision, revision, revision + 1, revision + 1]
    with second.app_context():
        assert [r for _, r in db.session.execute(select(CacheEntry.key, CacheEntry.revision)).all()] == [revision]


def _secret_keys(folders: list[str], barrier, queue) -> None:  # noqa: ANN001
    keys = []
    for folder in folders:
        barrier.wait(30)  # all workers start on each folder together
        keys.append(config.secret_key(folder))
    queue.put(keys)


def test_workers_starting_together_share_one_generated_secret_key(tmp_path, monkeypatch):
    """12 processes race to create the key in each of 150 fresh folders. Creating the file with O_EXCL and then
    writing it let a loser read it empty in about 7 % of the races (about 10 of the 150 folders), so that
    worker signed sessions with another key."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    folders = [tmp_path / str(n) for n in range(150)]
    for folder in folders:
        folder.mkdir()
    context = multiprocessing.get_context("fork")
    queue, barrier = context.Queue(), context.Barrier(12)
    workers = [context.Process(target=_secret_keys, args=([str(f) for f in folders], barrier, queue)) for _ in range(12)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    for n, folder in enumerate(folders):
        keys = {keys[n] for keys in results}
        stored = (folder / "secret_key").read_text()
        assert keys == {stored} and len(stored) == 64, (folder, keys)
        assert (folder / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only
        assert [p.name for p in folder.iterdir()] == ["secret_key"]  # no temporary file left behind


def test_an_empty_secret_key_file_is_refused_with_its_path(tmp_path, monkeypatch):
    """A key file left empty (by a version that created it before writing it) is not a key: say so at start."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(RuntimeError, match="secret_key is empty: delete it"):
        config.secret_key(str(tmp_path))


# ----------------------------------------------------------------- module-level mutable state
MUTATING_METHODS = {
    "append", "add", "update", "setdefault", "pop", "popitem", "clear", "extend", "insert", "remove", "discard",
    "sort", "reverse", "appendleft", "popleft", "__setitem__", "__delitem__", "move_to_end",
}
MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque", "WeakValueDictionary", "WeakKeyDictionary"}


def _is_mutable(value: ast.expr) -> bool:
    if isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in MUTABLE_CALLS
    return False


def module_state(package: Path) -> tuple[dict[str, set[str]], list[str]]:
    """(module -> names of module-level mutable containers, mutations of them found anywhere in the package)."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in sorted(package.rglob("*.py"))}
    state: dict[str, set[str]] = {}
    for path, tree in trees.items():
        names = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and _is_mutable(node.value):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and node.value is not None and _is_mutable(node.value) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        state[str(path.relative_to(package.parent))] = names - {"__all__"}
    everywhere = set().union(*state.values())
    found = []
    for path, tree in trees.items():
        where = path.relative_to(package.parent)
        own = state[str(where)]
        imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        visible = own | (imported & everywhere)
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                found.append(f"{where}:{node.lineno}: global {', '.join(node.names)}")
            target = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING_METHODS:
                target = node.func.value
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                for t in (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]):
                    if isinstance(t, (ast.Subscript, ast.Attribute)) and isinstance(t.value, (ast.Name, ast.Attribute)):
                        target = t.value
            if isinstance(target, ast.Name) and target.id in visible and not _shadowed(tree, node, target.id):
                found.append(f"{where}:{node.lineno}: {target.id} (module-level) is changed")
            elif isinstance(target, ast.Attribute) and target.attr in everywhere and isinstance(target.value, ast.Name) and target.value.id not in ("self", "cls"):
                found.append(f"{where}:{node.lineno}: {target.value.id}.{target.attr} (module-level) is changed")
    return state, found


def _shadowed(tree: ast.Module, node: ast.AST, name: str) -> bool:
    """True when `name` at `node` is a local of the enclosing function (assigned or a parameter there)."""
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and any(n is node for n in ast.walk(func)):
            params = {a.arg for a in func.args.args + func.args.kwonlyargs + func.args.posonlyargs}
            if name in params:
                return True
            for inner in ast.walk(func):
                if isinstance(inner, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in inner.targets):
                    return True
                if isinstance(inner, (ast.AnnAssign, ast.For)) and isinstance(inner.target, ast.Name) and inner.target.id == name:
                    return True
    return False


def test_no_module_level_state_is_mutated():
    """Module-level containers are constants (schemas, presets, prebuilt statements); none may be changed at run time."""
    state, found = module_state(PACKAGE)
    assert sum(len(v) for v in state.values()) > 0  # the scan sees the package's constants
    assert not found, "module-level state changed at run time (another worker would not see it):\n" + "\n".join(found)


def test_the_state_scan_finds_a_cache_in_a_module(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("CACHE = {}\nHITS = []\n\ndef get(k):\n    CACHE[k] = 1\n    HITS.append(k)\n    return CACHE\n")
    (package / "b.py").write_text("from .a import CACHE\nfrom . import a\n\ndef clear():\n    CACHE.clear()\n    a.HITS.append(0)\n")
    (package / "c.py").write_text("COUNT = 0\n\ndef bump():\n    global COUNT\n    COUNT += 1\n\ndef local():\n    CACHE = {}\n    CACHE['x'] = 1\n")
    _, found = module_state(package)
    assert len(found) == 5, found
    assert not any("c.py:9" in f for f in found)  # a local of the same name is not module state
