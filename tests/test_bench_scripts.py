"""Every script in bench/ answers --help with what it measures, and runs nothing then.

Before, bench_api.py, bench_upload_vs_saves.py and ten others had no options at all: `--help` was ignored and
the benchmark itself ran (minutes of gunicorn and 40,000-article uploads on a shared machine).
"""
from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _scripts() -> list[Path]:
    """The files of bench/ that run as a script (an `if __name__ == "__main__":` block); the others are their helpers."""
    out = []
    for path in sorted(BENCH.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body):
            out.append(path)
    return out


SCRIPTS = _scripts()


def test_the_scripts_were_found():
    names = {p.name for p in SCRIPTS}
    assert {"bench_api.py", "bench_upload_vs_saves.py", "bench_server_memory.py", "bench_gunicorn_memory.py", "run_all.py"} <= names
    assert "gunicorn_server.py" not in names and "machine.py" not in names


# One interpreter runs every script's `--help` as `python bench/X.py --help` would (as __main__, its folder first on
# sys.path, that argv), one after the other: one start-up and one import of the app for all of them, where a process
# per script paid them 28 times. Each script's answer is one JSON line on stdout; each script's name goes to stderr
# as it starts, so that one which runs its benchmark instead is named when the run is stopped.
_HELP_ALL = r"""
import contextlib, io, json, runpy, sys
bench, scripts = sys.argv[1], sys.argv[2:]
sys.path.insert(0, bench)
report = sys.stdout
for script in scripts:
    print(script, file=sys.stderr, flush=True)
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [script, "--help"]
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exit:
            code = exit.code
    print(json.dumps({"script": script, "code": code or 0, "stdout": out.getvalue(), "stderr": err.getvalue()}), file=report, flush=True)
"""


def test_help_says_what_each_script_measures_and_runs_nothing(tmp_path):
    env = {**os.environ, "PEERBENCH_WORKDIR": str(tmp_path), "DATABASE_URL": ""}  # nothing to reach, should a script run
    process = subprocess.Popen([sys.executable, "-c", _HELP_ALL, str(BENCH), *map(str, SCRIPTS)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # one ran the benchmark: stop it and the servers it started, and name it
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        pytest.fail(f"{Path(stderr.split()[-1]).name} --help still ran after 120 s: it ran the benchmark")
    assert process.returncode == 0, stderr[-2000:]
    answers = {Path(a["script"]).name: a for a in map(json.loads, stdout.splitlines())}
    assert sorted(answers) == [script.name for script in SCRIPTS], stderr[-2000:]  # every script answered
    for script in SCRIPTS:
        answer = answers[script.name]
        assert answer["code"] == 0, (script.name, answer["stderr"][-2000:])
        first = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))).splitlines()[0]
        assert answer["stdout"].startswith("usage: "), (script.name, answer["stdout"][:500])
        assert " ".join(first.split()) in " ".join(answer["stdout"].split()), (script.name, answer["stdout"][:500])
    assert list(tmp_path.iterdir()) == []


def test_run_all_refuses_a_name_that_is_no_benchmark():
    """Before, a typo ran no benchmark and ended with "0 of 0 benchmarks met their targets", exit 0."""
    result = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "agreemnt"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no benchmark named agreemnt" in result.stderr, result


def test_the_children_seed_and_save_through_the_shared_source(tmp_path, monkeypatch):
    """bench_request_cpu.py and bench_write_lock.py hand their children bench/child_app.py's source (one copy of the
    seeding and the WSGI calls, where each had its own): run as they run it, it seeds the articles, answers the
    article JSON and a batch save with 200, and the save's label and spans are stored."""
    import tempfile

    from sqlalchemy import func, select

    from annotator.db import db
    from annotator.db.models import Annotation, Span

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for script in ("bench_request_cpu.py", "bench_write_lock.py"):
        assert 'CHILD_APP + CHILD' in (BENCH / script).read_text(encoding="utf-8"), script
    child: dict = {}
    exec((BENCH / "child_app.py").read_text(encoding="utf-8"), child)  # noqa: S102 - as `python -c` runs it in the child
    app, token, ids, sentences = child["seeded_app"]("bench-test-", [("long", "Saves", 40), ("page", "Page", 3)])
    assert [len(sentences[name]) for name in ("long", "page")] == [40, 3]
    statuses: list[str] = []
    call = child["wsgi_caller"](app, token, statuses)
    call("GET", f"/api/articles/{ids['page']}")
    for k in (0, 40):  # the second round shifts the spans by a character: new spans, no conflict
        call("POST", f"/api/articles/{ids['long']}/changes", child["batch_body"](k, sentences["long"]))
    assert [s[:3] for s in statuses] == ["200"] * 3, statuses
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Span)) == 4
        assert db.session.scalar(select(func.count()).select_from(Annotation)) == 1  # sentence 0 labelled twice: one label
        db.engine.dispose()


def test_pytest_benchmark_is_not_loaded(request):
    """The benchmarks are bench/'s scripts. pytest-benchmark, where an environment has it (nothing here asks for it),
    warned twice a run, "Benchmarks are automatically disabled because xdist plugin is active", from the controller
    and each worker: pyproject's addopts block it, so it is not loaded to disable anything."""
    assert request.config.pluginmanager.is_blocked("benchmark")
    assert not request.config.pluginmanager.has_plugin("benchmark")
