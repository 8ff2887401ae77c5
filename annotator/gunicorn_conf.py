"""gunicorn's settings for the app, inside the package so that a wheel carries them:

    gunicorn -c python:annotator.gunicorn_conf 'annotator:create_app()'

A checkout's ./gunicorn.conf.py imports this module, as gunicorn reads that file from its working directory.
Options on the command line (or in GUNICORN_CMD_ARGS) win over these: `-w 5`, `-b 127.0.0.1:9000`.

With three workers or more (PostgreSQL's rule, WEB_CONCURRENCY or `-w`), the master imports the app once and
forks the workers from it (preload): they share the imported code's memory pages instead of each importing
Flask and SQLAlchemy. With two (SQLite on two cores) it does not: see PRELOAD_FROM_WORKERS. A database
connection must not cross that fork (the children would share its socket or SQLite file handle with the
master and with each other), so the master never connects: create_app only builds the engine, which
connects on first use; pre_fork and post_fork make sure of it whatever a later start-up step does.

Timeout: gunicorn's 30 s worker timeout does not end a long request in a threaded worker (its main thread
keeps reporting in); a reverse proxy's read timeout does (README, Deployment).
"""
from __future__ import annotations

import gc
import os
import shlex
import sys
from typing import Any, Callable, Mapping

from annotator.stats.numbers import whole_number

__all__ = ["bind", "workers", "worker_class", "threads", "preload_app", "pre_fork", "post_fork"]  # for `import *` in ./gunicorn.conf.py

# Threaded workers (gthread): each keeps its clients' connections open between requests (HTTP keep-alive) and
# serves THREADS requests at once. A sync worker closes the connection after every answer and then waits for
# the client to close its end, so every request paid a new TCP connection and that wait: on the 2-core machine,
# side by side (bench/peer_rounds.py's workload, load 6-10 from other jobs), the article JSON p50 went from
# 1.1-1.5 ms to 0.8-1.0 ms and batch saves at 8 clients from 131-144/s (3 sync workers) to 297-375/s (2 x 4 threads).
# gthread itself, with a busy connection's next request read by the thread that answered it (annotator/gunicorn_worker.py).
worker_class = "annotator.gunicorn_worker.KeepAliveThreadWorker"
THREADS = 4
threads = THREADS


def worker_count(environ: Mapping[str, str], cores: int) -> int:
    """WEB_CONCURRENCY if set (gunicorn's own default reads it too); else one worker per core on SQLite, where
    writes take turns on one lock and each worker's THREADS already overlap the waits (a third worker on 2 cores
    added no saves/s and 90 MB), and 2 x cores + 1 on PostgreSQL (gunicorn's suggested start: while a worker
    waits on the database server, another uses the core)."""
    raw = environ.get("WEB_CONCURRENCY", "").strip()
    if raw:
        workers = whole_number(raw, 1000)
        if not workers:  # None, or 0
            raise ValueError(f"WEB_CONCURRENCY must be a whole number of workers from 1 to 1000 (got {raw[:40]!r})")
        return workers
    url = environ.get("DATABASE_URL", "").strip()
    on_sqlite = not url or url.startswith("sqlite")
    return cores if on_sqlite else 2 * cores + 1


def _cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Never on all interfaces by default, even when PORT is set (gunicorn's own default would then be 0.0.0.0):
# a reverse proxy belongs in front (README, Deployment).
bind = ["127.0.0.1:8000"]
workers = worker_count(os.environ, _cores())

# Preload pays when several workers share the master's pages; the master's own copy of the app costs the same
# however many there are. Measured on the 2-core machine with bench/peer_rounds.py's workload (4,000 saves, pages,
# an export), 2 workers, preloaded or not, 3 runs each: summed PSS 190-210 vs 196-209 MB (no saving: the workers'
# writes copy the shared pages), cold start 0.62-0.73 vs 0.63-0.72 s, and summed RSS 295-318 vs 257-272 MB (the
# master's ~55 MB of app counted once more). With 3 workers, bench/bench_gunicorn_memory.py measured summed PSS
# 164-169 MB preloaded vs 230 MB not.
PRELOAD_FROM_WORKERS = 3


def workers_run(default: int, argv: list[str], environ: Mapping[str, str]) -> int:
    """The workers gunicorn will run: GUNICORN_CMD_ARGS, then its command line, win over this file's `workers`.

    gunicorn applies them after reading this file, and its preload option only turns preload on: decided from
    this file's count alone, `-w 4` on SQLite ran four workers without preload, `-w 2` on PostgreSQL preloaded two.
    Read with gunicorn's own parser, as gunicorn reads them."""
    from gunicorn.config import Config

    parser = Config().parser()
    count = default
    for args in (shlex.split(environ.get("GUNICORN_CMD_ARGS", "")), argv):
        asked = parser.parse_known_args(args)[0].workers
        if asked is not None:
            count = asked
    return count


def _gunicorn_argv() -> list[str]:
    """The command line when this process is gunicorn's (`gunicorn ...` or `python -m gunicorn ...`), else none."""
    main = sys.modules.get("__main__")
    ran = os.path.basename(sys.argv[0]) == "gunicorn" or getattr(getattr(main, "__spec__", None), "name", "") == "gunicorn.__main__"
    return sys.argv[1:] if ran else []


preload_app = workers_run(workers, _gunicorn_argv(), os.environ) >= PRELOAD_FROM_WORKERS


def pre_fork(server: Any, worker: Any) -> None:
    """In the master, before each fork: close the connections its pools hold (none, unless a start-up step
    used the database), so that none crosses the fork. Forgetting them in the child is not enough: the
    child would still hold the socket or file, and SQLite keeps each open file's lock state per process.

    Then freeze the master's objects (gc.freeze, as Python's documentation advises before a fork): the
    workers' garbage collector never walks them, so it never writes to their pages, which stay shared
    instead of being copied into every worker at its first full collection (bench/bench_gunicorn_memory.py:
    summed PSS of master + 3 workers 193 -> 147 MB after a few hundred requests)."""
    _each_engine(server, lambda engine: engine.dispose())
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    """In the new worker: forget the pools inherited from the master without closing their connections
    (closing would end the master's too), SQLAlchemy's advice for os.fork, so the worker opens its own even
    if the master had one checked out when it forked."""
    _each_engine(server, lambda engine: engine.dispose(close=False))


def _each_engine(server: Any, action: Callable[[Any], None]) -> None:
    """`action` on every engine of the app the master loaded (preload); nothing when it loaded none."""
    app = getattr(server.app, "callable", None)
    extension = getattr(app, "extensions", {}).get("sqlalchemy")
    if extension is None:
        return
    with app.app_context():
        for engine in extension.engines.values():
            action(engine)
