"""gunicorn for the benchmarks: the app on a free localhost port with N workers, started and stopped cleanly.

With the settings a deployment uses (annotator/gunicorn_conf.py: the app preloaded in the master, the
workers forked from it), so the figures are the production setup's; `-w` here wins over its worker rule.
The scripts that import it put the checkout on sys.path first (for tests.process_tree).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.process_tree import children

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONFIG = "python:annotator.gunicorn_conf"


def start_server(database_uri: str, log: Path, workers: int = 4, extra: tuple[str, ...] = (),
                 config: str = CONFIG) -> tuple[subprocess.Popen, str]:
    """Start gunicorn on the database and wait until every worker answers; (process, base URL). `extra`: more
    gunicorn options; `config`: another settings file or module."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "bench"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", config, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", *extra, "annotator:create_app()"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{log.read_text()}")
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}")
        for _ in range(4 * workers):  # every worker has loaded the app and opened its connections
            requests.get(f"{base}/healthz", timeout=10)
        return process, base
    except BaseException:
        stop_server(process)
        raise


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tree(root: int) -> list[int]:
    """`root` and its children (gunicorn's master and its workers), from /proc."""
    return [root, *children(root)]


def memory_kb(pids: list[int], keys: tuple[str, ...] = ("Rss:", "Pss:")) -> dict[str, int]:
    """Summed smaps_rollup fields (kB) of the processes; a process gone meanwhile counts nothing."""
    totals = dict.fromkeys(keys, 0)
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, *value = line.split()
            if key in totals:
                totals[key] += int(value[0])
    return totals
