"""What the web app imports: create_app (each gunicorn worker's code) loads neither the migrations' libraries nor the
CLI's commands, and the `annotator` command still lists and runs every command."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner
from sqlalchemy import inspect

from annotator.cli import COMMANDS, AnnotatorGroup
from annotator.db import db

from .conftest import make_app

PACKAGE = Path(__file__).resolve().parents[1] / "annotator"
FLASK_COMMANDS = {"run", "shell", "routes"}  # FlaskGroup's own


def test_create_app_loads_neither_migrations_nor_the_cli_commands(tmp_path):
    """Flask-Migrate brings Alembic, Mako and Pygments (~11 MB per process); the command modules bring the export
    and import formats and multiprocessing; on SQLite, PostgreSQL's dialect is ~2 MB; markdown-it-py waits for the
    first guidelines. A worker needs none of them to answer a save or the article JSON."""
    code = (
        "import json, sys\n"
        "from annotator import create_app\n"
        f"create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path}/app.sqlite3', 'SECRET_KEY': 'x'}})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'flask_migrate', 'mako', 'pygments', 'markdown_it')"
        " or m.startswith(('annotator.cli.', 'sqlalchemy.dialects.postgresql')))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_a_command_loads_its_module_when_it_runs(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["segment", "-"], input="One sentence. Another one.")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.output.splitlines()] == ["One sentence.", "Another one."]
    assert "segment" in app.cli.commands


def test_help_lists_every_command_with_its_help_line(app):
    result = CliRunner().invoke(AnnotatorGroup(create_app=lambda: app), ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = {}
    for line in result.output.split("Commands:\n", 1)[1].splitlines():
        name, _, help_line = line.strip().partition(" ")
        listed[name] = help_line.strip()
    assert set(listed) == set(COMMANDS) | FLASK_COMMANDS
    for name in COMMANDS:
        command = app.cli.get_command(click.Context(app.cli), name)
        assert listed[name] == command.get_short_help_str(limit=200) != "", name
    assert listed["db"] == "Perform database migrations."


def _top_level_commands() -> set[tuple[str, str]]:
    """(module, attribute) of every click command defined in annotator/cli/*.py that is not another's subcommand."""
    commands, nested = {}, set()
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        module = importlib.import_module(f"annotator.cli.{path.stem}" if path.stem != "__init__" else "annotator.cli")
        for attribute, value in vars(module).items():
            if isinstance(value, click.Command) and value.callback.__module__ == module.__name__:
                commands[(path.stem, attribute)] = value
                if isinstance(value, click.Group):
                    nested.update(id(c) for c in value.commands.values())
    return {key for key, command in commands.items() if id(command) not in nested}


def test_commands_lists_every_command_the_cli_modules_define():
    """One place lists the commands: a command written in a module but missing from COMMANDS would never load."""
    registered = {tuple(target.split(":")) for target in COMMANDS.values()}
    assert _top_level_commands() <= registered
    assert ("database", "register_migrations") in registered


def test_flask_migrates_commands_still_work(database_uri):
    """`annotator db ...` sets Flask-Migrate up on the app when it is used."""
    app = make_app(database_uri, create=False)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "current"])  # alembic prints to the real stdout, not the runner's
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert {"alembic_version", "articles", "users"} <= set(inspect(db.engine).get_table_names())
        db.engine.dispose()


# NumPy (~11 MB) and the agreement figures (~6 MB more) serve the reviewer pages, the queue, exports, suggesters and
# the gold refresh of many articles; a worker that only answers annotators never needs them, and gunicorn's master (preload)
# would make every worker carry them.
HEAVY = ("numpy", "annotator.stats.agreement", "annotator.domain.agreement")
LOADED = f"sorted(m for m in sys.modules if m in {HEAVY!r})"


def test_create_app_loads_neither_numpy_nor_the_agreement_figures(tmp_path):
    code = (
        "import json, sys\n"
        "from annotator import create_app\n"
        f"create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path}/app.sqlite3', 'SECRET_KEY': 'x'}})\n"
        f"print(json.dumps({LOADED}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# A worker process: the annotators' requests (no span of theirs can become gold: one marker each, two needed), then
# what needs the figures. Prints what was loaded after each step and what the database holds.
WORKER = """
import json, re, sys
from annotator import create_app
from annotator.db import db
from annotator.db.models import GoldLabel, GoldSpan

uri, article, project = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "x"})
out = {}

def loaded():
    return %s

def client(name):
    http = app.test_client()
    page = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert http.post("/login", data={"name": name, "password": "correct horse", "csrf_token": token}).status_code == 302
    token = re.search(r'name="csrf-token" content="([^"]+)"', http.get("/").get_data(as_text=True)).group(1)
    http.environ_base["HTTP_X_CSRFTOKEN"] = token
    return http

def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    return response

ann, ben = client("ann"), client("ben")
ok(ann.get("/healthz"))
ok(ann.get(f"/annotate/{article}"))
ok(ann.get(f"/api/articles/{article}"))
ok(ann.put(f"/api/articles/{article}/labels/0", json={"label": "CFS"}))
ok(ben.put(f"/api/articles/{article}/labels/0", json={"label": "CFS"}))  # two agree: the sentence's gold label
ok(ann.post(f"/api/articles/{article}/spans", json={"label": "QUOTE", "start": 0, "end": 3}), 201)
ok(ben.post(f"/api/articles/{article}/changes", json={"operations": [
    {"op": "put_label", "sentence_index": 1, "label": "UFS"},
    {"op": "create_span", "label": "SOURCE", "start": 4, "end": 9},
]}))
with app.app_context():
    out["gold_labels"] = [[g.label, g.provenance] for g in db.session.query(GoldLabel).order_by(GoldLabel.id)]
out["common"] = loaded()
ok(ben.post(f"/api/articles/{article}/spans", json={"label": "QUOTE", "start": 0, "end": 3}), 201)  # two markers: it can be gold
with app.app_context():
    out["gold_spans"] = [[g.label, g.start, g.end, g.provenance] for g in db.session.query(GoldSpan)]
out["refresh"] = loaded()
page = ok(client("rita").get(f"/review/{project}/agreement")).get_data(as_text=True)
out["agreement_page"] = "Krippendorff" in page
out["agreement"] = loaded()
print(json.dumps(out))
""" % LOADED


def test_a_worker_answers_annotators_without_numpy_and_loads_it_for_the_figures(tmp_path):
    """Login, the annotation page, the article JSON, /healthz, label, span and batch saves leave NumPy and the figures
    unloaded, and so does a span two annotators marked (the article's gold refresh, without NumPy since one_article.py);
    the agreement page loads them and works."""
    from annotator.db.models import Article, Assignment, Sentence
    from annotator.domain import accounts, labelschema, projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    uri = f"sqlite:///{tmp_path}/worker.sqlite3"
    app = make_app(uri)
    with app.app_context():
        session = db.session
        ids = {name: accounts.create_user(session, name, role, "correct horse").id
               for name, role in (("ann", "annotator"), ("ben", "annotator"), ("rita", "reviewer"))}
        project = projects.create_project(session, "news", labelschema.preset("claims"), annotators_per_article=2)
        articles.store_articles(session, project, [ArticleRecord("a1", "Ferry", "The ferry was late. Tolls rose by 7.5%.", {})], "test")
        article = session.query(Article).filter_by(project_id=project.id).one()
        session.add_all([Assignment(user_id=ids[name], article_id=article.id) for name in ("ann", "ben")])
        projects.add_members(session, project.id, [accounts.get_user(session, "rita")])
        session.commit()
        assert session.query(Sentence).filter_by(article_id=article.id).count() == 2
        article_id, project_id = article.id, project.id
        db.engine.dispose()
    result = subprocess.run([sys.executable, "-c", WORKER, uri, str(article_id), str(project_id)], capture_output=True, text=True,
                            timeout=120, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["gold_labels"] == [["CFS", "unanimous"]]
    assert out["common"] == []
    assert out["gold_spans"] == [["QUOTE", 0, 3, "unanimous"]]
    assert "numpy" not in out["refresh"]  # one article's gold, as a save recomputes it: gold/one_article.py
    assert out["agreement_page"] is True
    assert out["agreement"] == sorted(HEAVY)
