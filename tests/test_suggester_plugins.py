"""The `annotator.suggesters` entry-point group: a real (tiny) installed distribution adds a suggester that `suggest run` runs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Sentence, Suggestion
from annotator.domain import suggesters
from annotator.stats import attribution

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Tram line delayed\nThe council said the tram would open in 2027.\nRiders were angry.\n"

PLUGIN = '''
"""A suggester from another package: marks every "said" as a CUE and calls the first sentence NFS."""
import re

from annotator.domain.suggestions import Proposal


class SaidFinder:
    name = "said-finder"
    version = "0.1"

    def propose(self, text, sentences):
        spans = [(f"c{i}", "CUE", m.start(), m.end(), 0.42) for i, m in enumerate(re.finditer(r"\\bsaid\\b", text))]
        return Proposal(self.name, self.version, labels=[(0, "NFS", 0.3)] if sentences else [], spans=spans)


def make():
    return SaidFinder()
'''


def install(folder: Path, module: str, body: str, target: str) -> None:
    """A distribution as pip leaves it: the module, and NAME-VERSION.dist-info with METADATA and entry_points.txt."""
    (folder / f"{module}.py").write_text(body, encoding="utf-8")
    info = folder / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[annotator.suggesters]\n{module} = {module}:{target}\n", encoding="utf-8")


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))  # also clears the import system's caches
    return folder


@pytest.fixture
def news(runner, tmp_path):
    assert runner.invoke(args=["projects", "create", "News"]).exit_code == 0
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"id": "tram", "text": TEXT}) + "\n", encoding="utf-8")
    assert runner.invoke(args=["import", "News", str(path)]).exit_code == 0
    return runner


def test_an_installed_package_adds_a_suggester_that_suggest_run_uses(app, news, plugin_dir):
    module = f"said_finder_{uuid.uuid4().hex[:8]}"  # a fresh module name: nothing cached from another test
    install(plugin_dir, module, textwrap.dedent(PLUGIN), "make")
    assert [s.name for s in suggesters.installed()] == [attribution.NAME, "said-finder"]
    result = news.invoke(args=["suggest", "run", "News"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(f"suggesters: {attribution.NAME}/{attribution.VERSION}, said-finder/0.1")
    with app.app_context():
        mine = db.session.execute(
            select(Suggestion.kind, Suggestion.label, Suggestion.start, Suggestion.end, Suggestion.score, Sentence.index, Suggestion.version)
            .outerjoin(Sentence, Sentence.id == Suggestion.sentence_id).where(Suggestion.suggester == "said-finder")
            .order_by(Suggestion.kind)
        ).all()
    said = TEXT.index("said")
    assert mine == [("label", "NFS", None, None, 0.3, 0, "0.1"), ("span", "CUE", said, said + 4, 0.42, None, "0.1")]


def test_without_the_package_only_the_built_in_suggester_runs(app, news, plugin_dir):
    assert [s.name for s in suggesters.installed()] == [attribution.NAME]
    assert news.invoke(args=["suggest", "run", "News"]).output.rstrip().endswith(f"suggesters: {attribution.NAME}/{attribution.VERSION}")


@pytest.mark.parametrize(
    "body, target, reason",
    [
        ("def make():\n    raise RuntimeError('no model file')\n", "make", "failed: RuntimeError: no model file"),
        ("def make():\n    return object()\n", "make", "made an object without name, version, propose"),
        ("x = 1\n", "missing", "failed: AttributeError"),
    ],
)
def test_a_broken_package_is_a_one_line_error_that_names_it(app, news, plugin_dir, body, target, reason):
    module = f"broken_{uuid.uuid4().hex[:8]}"
    install(plugin_dir, module, body, target)
    result = news.invoke(args=["suggest", "run", "News"])
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(f"Error: the annotator.suggesters entry point {module!r} ({module}:{target}) {reason}"), result.output
    with app.app_context():
        assert db.session.scalar(select(Suggestion.id)) is None


def test_on_the_upload_page_a_broken_package_leaves_the_upload_standing_and_says_why(app, browser, plugin_dir):
    import io

    from annotator.db.models import Article
    from tests.conftest import add_user

    module = f"broken_{uuid.uuid4().hex[:8]}"
    install(plugin_dir, module, "def make():\n    raise RuntimeError('no model file')\n", "make")
    add_user(app, "root", "admin")
    assert browser.login("root", "correct horse").status_code == 302
    project = {"name": "news", "schema_source": "preset", "preset": "claims", "annotators_per_article": "2", "majority_threshold": "1"}
    assert browser.post("/admin/projects/new", project, content_type="multipart/form-data").status_code == 302
    data = {"files": [(io.BytesIO((json.dumps({"id": "tram", "text": TEXT}) + "\n").encode()), "a.jsonl")], "on_duplicate": "error", "suggest": "y"}
    response = browser.post("/admin/projects/1/upload", data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Imported 1 new" in html
    assert f"Suggestions were not computed: the annotator.suggesters entry point {module!r}" in html.replace("&#39;", "'")
    with app.app_context():
        assert db.session.scalar(select(Article.external_id)) == "tram" and db.session.scalar(select(Suggestion.id)) is None


FAILING = '''
from annotator.domain.suggestions import Proposal


class Picky:
    name = "picky"
    version = "1"

    def propose(self, text, sentences):
        if "boom" in text:
            raise ValueError("cannot read this one")
        return Proposal(self.name, self.version, spans=[("x", "CUE", 0, 3, 0.5)])


def make():
    return Picky()
'''


def test_a_suggester_that_fails_midway_is_a_one_line_error_and_the_batches_before_stay(app, runner, tmp_path, plugin_dir, monkeypatch):
    module = f"picky_{uuid.uuid4().hex[:8]}"
    install(plugin_dir, module, FAILING, "make")
    monkeypatch.setattr(suggesters, "BATCH", 2)  # batches of two: computed in a forked process while this one stores
    assert runner.invoke(args=["projects", "create", "News"]).exit_code == 0
    texts = {f"a{i}": f"Story {i}\nThe mayor said it rained.\n" for i in range(5)}
    texts["a4"] = "Story 4\nboom\n"
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()), encoding="utf-8")
    assert runner.invoke(args=["import", "News", str(path)]).exit_code == 0
    result = runner.invoke(args=["suggest", "run", "News"])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == (
        "Error: a suggester failed on article batch 3: ValueError: cannot read this one")
    with app.app_context():
        from annotator.db.models import Article

        done = db.session.scalars(select(Article.external_id).join(Suggestion, Suggestion.article_id == Article.id)
                                  .where(Suggestion.suggester == "picky").distinct()).all()
    assert sorted(done) == ["a0", "a1", "a2", "a3"]  # the first two batches were stored; a re-run completes the rest


DYING = '''
import os
import signal

from annotator.domain.suggestions import Proposal


class Dying:
    name = "dying"
    version = "1"

    def propose(self, text, sentences):
        if "boom" in text:
            os.kill(os.getpid(), signal.SIGKILL)  # the process computing suggestions dies, as the OOM killer would do it
        return Proposal(self.name, self.version, spans=[("x", "CUE", 0, 3, 0.5)])


def make():
    return Dying()
'''


def test_a_worker_that_dies_is_a_one_line_error_not_a_wait(app, runner, tmp_path, plugin_dir, monkeypatch):
    module = f"dying_{uuid.uuid4().hex[:8]}"
    install(plugin_dir, module, DYING, "make")
    monkeypatch.setattr(suggesters, "BATCH", 2)  # three batches, over two forked workers
    assert runner.invoke(args=["projects", "create", "News"]).exit_code == 0
    texts = {f"a{i}": f"Story {i}\nThe mayor said it rained.\n" for i in range(5)}
    texts["a3"] = "Story 3\nboom\n"
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()), encoding="utf-8")
    assert runner.invoke(args=["import", "News", str(path)]).exit_code == 0
    result = runner.invoke(args=["suggest", "run", "News"])
    assert result.exit_code == 1 and "Traceback" not in result.output and result.output.strip().splitlines()[-1] == (
        f"Error: a process computing suggestions stopped (exit code -{int(signal.SIGKILL)})")  # after the progress bar's line


SLOW = '''
import time

from annotator.domain.suggestions import Proposal


class Slow:
    name = "slow"
    version = "1"

    def propose(self, text, sentences):
        time.sleep(0.5)
        return Proposal(self.name, self.version)


def make():
    return Slow()
'''


def test_the_workers_die_with_a_suggest_run_killed_with_sigkill(database_uri, runner, tmp_path, plugin_dir):
    from tests.process_tree import children, running

    install(plugin_dir, f"slow_{uuid.uuid4().hex[:8]}", SLOW, "make")
    assert runner.invoke(args=["projects", "create", "News"]).exit_code == 0
    path = tmp_path / "a.jsonl"  # two batches: each worker takes one and sleeps on it for 25 s or 5 s
    path.write_text("".join(json.dumps({"id": f"a{i}", "text": f"Story {i}\nIt rained.\n"}) + "\n" for i in range(suggesters.BATCH + 10)))
    assert runner.invoke(args=["import", "News", str(path)]).exit_code == 0
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "t", "PYTHONPATH": os.pathsep.join([str(plugin_dir), str(ROOT)])}
    process = subprocess.Popen([sys.executable, "-m", "annotator", "suggest", "run", "News"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and len(workers) < 2:  # (a resource tracker may be a third child)
            workers = {pid for pid in children(process.pid) if running(pid)}
            time.sleep(0.05)
        assert process.poll() is None and len(workers) >= 2, f"no two workers seen: {process.communicate()}"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(running(pid) for pid in workers):
            time.sleep(0.05)
        assert not [pid for pid in workers if running(pid)], "the workers outlived the suggest run killed with SIGKILL"
    finally:
        for pid in workers:  # only when the test failed: do not leave them sleeping
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.communicate()
