"""The wheel carries the app: templates, static files and migrations travel inside the package.

The build runs on a copy of the checkout (in-tree builds leave build/ and *.egg-info behind, and two
builds in one folder would race). `.ci/wheel-check` goes further: a fresh virtual environment, gunicorn, HTTP.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from annotator import create_app
from annotator.db.migrating import init_migrations

ROOT = Path(__file__).resolve().parents[1]
APP_FOLDERS = ("templates", "static", "migrations")
# what a build reads; tests/, bench/, instance/, .git stay behind as they would in an sdist
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "annotator", *APP_FOLDERS)
_JUNK = shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.egg-info", "build")


def checkout_files(folder: str) -> set[str]:
    """Files of a top-level folder, relative to the repository, without Python's caches."""
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"}
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel --no-deps .` of a copy of the checkout, as a user or CI builds it (isolated build)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=_JUNK)
        elif path.exists():
            shutil.copy2(path, src / name)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(src)],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = (work / "dist").glob("annotator-*.whl")
    return built


@pytest.mark.wheel
def test_wheel_contains_templates_static_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for must in ("annotator/templates/base.html", "annotator/templates/admin/_layout.html",
                 "annotator/static/js/annotate.js", "annotator/static/css/app.css", "annotator/static/favicon.svg",
                 "annotator/migrations/env.py", "annotator/migrations/alembic.ini", "annotator/migrations/script.py.mako",
                 "annotator/migrations/versions/0001_initial_schema.py",
                 "annotator/demo/articles.jsonl", "annotator/openapi.json",
                 "annotator/gunicorn_conf.py"):  # README's `gunicorn -c python:annotator.gunicorn_conf`
        assert must in names, must
    # every file of the three top-level folders, nothing left out and no caches
    for folder in APP_FOLDERS:
        missing = {f"annotator/{name}" for name in checkout_files(folder)} - names
        assert not missing, missing
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


@pytest.mark.wheel
def test_unpacked_wheel_is_a_complete_app(wheel, tmp_path):
    """The wheel's files alone (no checkout on the path): init, demo, login, annotation page, static file."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    run_dir = tmp_path / "elsewhere"  # not the checkout, so nothing is found by accident through the cwd
    run_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
           "ANNOTATOR_INSTANCE": str(tmp_path / "instance"), "SECRET_KEY": "x"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], env=env, cwd=run_dir, capture_output=True, text=True, timeout=120)

    init = run("-m", "annotator", "init")
    assert init.returncode == 0, init.stdout + init.stderr
    demo = run("-m", "annotator", "demo", "--no-serve")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    password = re.search(r"^\s+alice\s+annotator\s+(\S+)$", demo.stdout, re.M).group(1)
    probe = run("-c", f"""
import json, re, annotator
from annotator import create_app
from annotator.db.migrating import init_migrations
app = create_app()
init_migrations(app)
client = app.test_client()
login = client.get("/login")
token = re.search(r'name="csrf-token" content="([^"]+)"', login.text).group(1)
client.post("/login", data={{"name": "alice", "password": {password!r}, "csrf_token": token}})
page = client.get("/continue", follow_redirects=True)
print(json.dumps({{
    "package": annotator.__file__, "templates": app.jinja_loader.searchpath, "static": app.static_folder,
    "migrations": app.extensions["migrate"].directory, "instance": app.instance_path,
    "login": login.status_code, "page": page.status_code, "page_path": page.request.path,
    "annotate_page": "data-article-id=" in page.text,
    "static_js": client.get("/static/js/annotate.js").status_code,
}}))
""")
    assert probe.returncode == 0, probe.stdout + probe.stderr
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    package = Path(seen["package"]).parent
    assert package == site / "annotator"
    assert [Path(p) for p in seen["templates"]] == [package / "templates"]
    assert Path(seen["static"]) == package / "static"
    assert Path(seen["migrations"]) == package / "migrations"
    assert Path(seen["instance"]) == tmp_path / "instance"
    assert seen["login"] == 200 and seen["static_js"] == 200
    assert seen["page"] == 200 and seen["page_path"].startswith("/annotate/") and seen["annotate_page"]


def test_a_source_checkout_uses_its_top_level_folders():
    """No copy step: tests and `pip install -e .` run from templates/, static/, migrations/ and instance/."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    init_migrations(app)
    assert [Path(p) for p in app.jinja_loader.searchpath] == [ROOT / "templates"]
    assert Path(app.static_folder) == ROOT / "static"
    assert Path(app.extensions["migrate"].directory) == ROOT / "migrations"
    if "ANNOTATOR_INSTANCE" not in os.environ:
        assert Path(app.instance_path) == ROOT / "instance"


def test_annotator_instance_names_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_INSTANCE", str(tmp_path / "inst"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert Path(app.instance_path) == tmp_path / "inst"
    assert (tmp_path / "inst" / "secret_key").is_file()  # the generated key lives there, so the folder is made
    # a relative value is taken from the working directory, as a user typing it means
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANNOTATOR_INSTANCE", "rel")
    assert Path(create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"}).instance_path) == tmp_path / "rel"
