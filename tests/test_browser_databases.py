"""Browser tests run on SQLite only, but those marked both_databases (conftest.pytest_generate_tests): a browser run
on PostgreSQL doubled the slowest tests of the suite for nothing the test-client tests do not check already."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_browser_tests_are_collected_on_sqlite_and_only_the_marked_ones_on_postgresql():
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none", "PYTHONPATH": str(ROOT)}  # collection connects to nothing
    files = ["tests/test_annotate_browser.py", "tests/test_guidelines_browser.py", "tests/test_write_lock.py"]  # two pages, one not
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider", *files],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    on_postgres = sorted(i for i in ids if "_browser.py" in i and "postgres" in i)
    assert on_postgres == [
        "tests/test_annotate_browser.py::test_annotator_workflow_keyboard_mouse_links_reload_and_blind[postgres]",
        "tests/test_annotate_browser.py::test_the_same_span_marked_in_two_tabs_is_stored_once[postgres]",
    ]
    assert any("_browser.py" in i and "sqlite" in i for i in ids)
    assert any(i.startswith("tests/test_guidelines_browser.py") for i in ids)
    # the other tests keep both databases
    others = [i for i in ids if i.startswith("tests/test_write_lock.py")]
    assert any("postgres" in i for i in others) and any("sqlite" in i for i in others)
