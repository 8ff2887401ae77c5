"""Every script in bench/ answers --help with what it measures, and runs nothing then.

Before, bench_api.py, bench_upload_vs_saves.py and ten others had no options at all: `--help` was ignored and
the benchmark itself ran (minutes of gunicorn and 40,000-article uploads on a shared machine).
"""
from __future__ import annotations

import ast
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


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_says_what_the_script_measures_and_runs_nothing(script: Path, tmp_path):
    env = {**os.environ, "PEERBENCH_WORKDIR": str(tmp_path), "DATABASE_URL": ""}  # nothing to reach, should a script run
    process = subprocess.Popen([sys.executable, str(script), "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                               env=env, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it ran the benchmark: stop it and the servers it started
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{script.name} --help still ran after 60 s: it ran the benchmark")
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stderr[-2000:]
    first = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))).splitlines()[0]
    assert result.stdout.startswith("usage: ") and " ".join(first.split()) in " ".join(result.stdout.split()), result.stdout[:500]
    assert list(tmp_path.iterdir()) == []


def test_run_all_refuses_a_name_that_is_no_benchmark():
    """Before, a typo ran no benchmark and ended with "0 of 0 benchmarks met their targets", exit 0."""
    result = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "agreemnt"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no benchmark named agreemnt" in result.stderr, result
