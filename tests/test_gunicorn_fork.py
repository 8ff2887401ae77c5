"""No database connection crosses gunicorn's fork, on SQLite and (with DATABASE_URL) PostgreSQL.

The shipped settings (annotator/gunicorn_conf.py) preload the app in the master and fork the workers
from it when there are three workers or more (the tests below ask for five through WEB_CONCURRENCY). A connection the master held at that moment would live on in every worker: the same socket or
SQLite file description, used by several processes at once. Real gunicorn, real requests from several
workers at once; then the process tree is read from /proc: which process holds which handle on the
database (the SQLite file and its -wal/-shm, or a TCP socket to PostgreSQL, matched to its backend in
pg_stat_activity), and whether two processes share one (the same socket, or for a file the same open
file description, asked of the kernel with kcmp).

Two lines of defence, each tested: create_app() opens no connection (so the master has none to hand
on), and the hooks close or drop whatever a later start-up step might open in the master.
"""
from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests
from sqlalchemy import create_engine, make_url, text

from annotator.gunicorn_conf import worker_count

from .conftest import localhost_socket, postgres_url
from .process_tree import children
from .test_concurrency import set_up, stop

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 3
pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads the process tree from Linux's /proc")


@dataclass(frozen=True)
class Handle:
    pid: int
    fd: int
    what: str  # the file's path, or "socket:[inode]"


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    access_log: Path
    database_uri: str

    @property
    def master(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        return children(self.master)

    def served(self) -> dict[int, int]:
        """Successful API requests per worker pid, from the access log."""
        counts: dict[int, int] = {}
        for line in self.access_log.read_text().splitlines():
            pid, status, path = (line.split() + ["", "", ""])[:3]
            if status == "200" and path.startswith("/api/"):
                worker = int(pid.strip("<>"))  # gunicorn writes %(p)s as <pid>
                counts[worker] = counts.get(worker, 0) + 1
        return counts


def tcp_sockets() -> dict[int, tuple[int, int]]:
    """Socket inode -> (local port, remote port), for every TCP socket of this network namespace."""
    table = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            table[int(fields[9])] = (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16))
    return table


def database_handles(pid: int, database_uri: str) -> list[Handle]:
    """What `pid` holds open on the database: the SQLite file, its -wal and -shm, or sockets to PostgreSQL."""
    url = make_url(database_uri)
    sqlite = url.get_backend_name() == "sqlite"
    files = {os.path.realpath(url.database + suffix) for suffix in ("", "-wal", "-shm")} if sqlite else set()
    sockets = {} if sqlite else tcp_sockets()
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if sqlite and link in files:
            found.append(Handle(pid, int(fd), link))
        elif not sqlite and link.startswith("socket:["):
            ports = sockets.get(int(link[8:-1]))
            if ports and ports[1] == (url.port or 5432):
                found.append(Handle(pid, int(fd), link))
    return found


KCMP_SYSCALL = {"x86_64": 312, "aarch64": 272}
KCMP_FILE = 0


def same_open_file(a: Handle, b: Handle) -> bool:
    """Whether two processes' descriptors are one open file (inherited across a fork), not two opens of it."""
    if a.what != b.what:
        return False
    if a.what.startswith("socket:["):
        return True  # a socket cannot be opened twice: one inode in two processes is one socket
    number = KCMP_SYSCALL.get(platform.machine())
    if number is None:
        pytest.skip(f"kcmp's system call number on {platform.machine()} is not known here")
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(ctypes.c_long(number), ctypes.c_long(a.pid), ctypes.c_long(b.pid), ctypes.c_long(KCMP_FILE),
                          ctypes.c_ulong(a.fd), ctypes.c_ulong(b.fd))
    if result < 0:
        pytest.skip(f"kcmp refused: {os.strerror(ctypes.get_errno())}")
    return result == 0


def shared_handles(server: Server) -> list[tuple[Handle, Handle]]:
    """Every database handle that two processes of the server's tree hold together."""
    held = [h for pid in [server.master, *server.workers()] for h in database_handles(pid, server.database_uri)]
    return [(a, b) for i, a in enumerate(held) for b in held[i + 1:] if a.pid != b.pid and same_open_file(a, b)]


@contextmanager
def gunicorn(database_uri: str, tmp_path: Path, *options: str, env: dict | None = None) -> Iterator[Server]:
    """gunicorn with WORKERS workers on a free port, from the checkout (so ./gunicorn.conf.py applies unless
    `-c` says otherwise), logging each request's worker pid; stopped on leaving."""
    sock = localhost_socket()
    port = sock.getsockname()[1]
    access_log = tmp_path / f"access-{port}.log"
    access_log.touch()
    environ = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "fork-test", "PYTHONPATH": str(ROOT), **(env or {})}
    log = tmp_path / f"gunicorn-{port}.log"
    with sock:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *options, "-w", str(WORKERS), "-b", f"fd://{sock.fileno()}", "--timeout", "20",
             "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s %(U)s", "annotator:create_app()"],
            cwd=ROOT, env=environ, stdout=log.open("w"), stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),),
        )
    server = Server(process, f"http://127.0.0.1:{port}", access_log, database_uri)
    try:
        deadline = time.monotonic() + 90
        while len(server.workers()) < WORKERS or "Booting worker" not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not start its workers:\n" + log.read_text()[-3000:]
            time.sleep(0.1)
        while True:  # the workers listen
            try:
                requests.get(f"{server.base}/login", timeout=5)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "gunicorn did not answer:\n" + log.read_text()[-3000:]
                time.sleep(0.1)
        yield server
    finally:
        stop(process)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def exercise(server: Server, world: dict) -> None:
    """Reads and writes from several clients at once until every worker has answered API calls."""
    article, tokens = world["article"], list(world["tokens"].values())
    failures: list[str] = []

    def client(k: int) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {tokens[k % len(tokens)]}"
        for i in range(4):
            for response in (http.get(f"{server.base}/api/articles/{article}", timeout=20),
                             http.put(f"{server.base}/api/articles/{article}/labels/{(i + k) % world['sentences']}",
                                      json={"label": "CFS", "seconds": 1}, timeout=20)):
                if response.status_code != 200:
                    failures.append(f"{response.request.method} {response.url}: {response.status_code} {response.text[:200]}")

    deadline = time.monotonic() + 120
    while True:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(2 * WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures, failures[:5]
        served = server.served()
        if all(served.get(pid, 0) >= 2 for pid in server.workers()):
            return
        assert time.monotonic() < deadline, f"not every worker answered: {served} for {server.workers()}"


def tagged(database_uri: str) -> tuple[str, str]:
    """The URI with an application_name of its own on PostgreSQL (to find its backends); (uri, name)."""
    if not database_uri.startswith("postgresql"):
        return database_uri, ""
    name = f"fork_{uuid.uuid4().hex[:12]}"
    return database_uri + ("&" if "?" in database_uri else "?") + f"application_name={name}", name


def backend_holders(name: str, workers: list[int], master: int, database_uri: str) -> dict[int, list[int]]:
    """PostgreSQL backend pid -> the server's processes that hold its client socket."""
    admin = create_engine(postgres_url())
    try:
        with admin.connect() as conn:
            rows = conn.execute(text("SELECT pid, client_port FROM pg_stat_activity WHERE application_name = :name"),
                                {"name": name}).all()
    finally:
        admin.dispose()
    sockets = tcp_sockets()
    holders: dict[int, list[int]] = {}
    for backend, client_port in rows:
        holders[backend] = [
            pid for pid in [master, *workers] for h in database_handles(pid, database_uri)
            if sockets.get(int(h.what[8:-1]), (None,))[0] == client_port
        ]
    return holders


def test_worker_count_rule():
    assert worker_count({}, cores=2) == 2  # SQLite by default: one per core (each with THREADS threads)
    assert worker_count({"DATABASE_URL": "sqlite:////srv/a.sqlite3"}, cores=4) == 4
    assert worker_count({"DATABASE_URL": "postgresql://db/annotator"}, cores=2) == 5  # 2 x cores + 1
    assert worker_count({"DATABASE_URL": "postgresql://db/annotator", "WEB_CONCURRENCY": "7"}, cores=2) == 7
    for bad in ("0", "-2", "three", "1e3", "100000"):
        with pytest.raises(ValueError, match="WEB_CONCURRENCY"):
            worker_count({"WEB_CONCURRENCY": bad}, cores=2)


def test_the_master_freezes_its_objects_before_forking():
    """The workers' garbage collector must not walk the objects they inherit: a full collection writes to every
    object's header and so copies the pages it shares with the master into each worker (PSS)."""
    import gc
    from types import SimpleNamespace

    from annotator.gunicorn_conf import pre_fork

    gc.unfreeze()
    try:
        pre_fork(SimpleNamespace(app=SimpleNamespace()), None)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


def test_the_packaged_settings_load_by_module_name_and_the_command_line_wins(tmp_path):
    """The README's `-c python:annotator.gunicorn_conf`, from a folder without the checkout's gunicorn.conf.py."""
    def settings(*options: str, **env: str) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")}
        environ.update(PYTHONPATH=str(ROOT), SECRET_KEY="x", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **env)
        run = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "python:annotator.gunicorn_conf", "--print-config",
                              *options, "annotator:create_app()"],
                             cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        return dict((part.strip() for part in line.split("=", 1)) for line in run.stdout.splitlines() if " = " in line)

    shipped = settings()
    assert shipped["bind"] == "['127.0.0.1:8000']"
    assert shipped["workers"] == str(len(os.sched_getaffinity(0)))  # SQLite: one per core
    assert shipped["preload_app"] == str(len(os.sched_getaffinity(0)) >= 3)  # preload from three workers
    assert settings(WEB_CONCURRENCY="2")["preload_app"] == "False"  # two: the master's copy would cost more than it shares
    assert settings(WEB_CONCURRENCY="3")["preload_app"] == "True"
    assert shipped["worker_class"] == "annotator.gunicorn_worker.KeepAliveThreadWorker" and shipped["threads"] == "4"  # keep-alive, 4 requests at once
    assert "post_fork" in shipped["post_fork"] and "pre_fork" in shipped["pre_fork"]
    assert settings(WEB_CONCURRENCY="6")["workers"] == "6"
    overridden = settings("-w", "2", "-b", "127.0.0.1:9999", WEB_CONCURRENCY="6")
    assert overridden["workers"] == "2" and overridden["bind"] == "['127.0.0.1:9999']"
    assert overridden["preload_app"] == "False"  # the preload rule follows the workers gunicorn runs, not this file's count


def test_preload_follows_the_workers_the_command_line_asks_for(tmp_path):
    """Found by the session attacker: preload_app was decided from the file's own count, before gunicorn applied
    `-w` (or GUNICORN_CMD_ARGS) over it, so `-w 4` on SQLite ran four workers without preload and `-w 2` on
    PostgreSQL (five by default) preloaded for two; gunicorn has no option that turns preload off again."""
    def settings(*options: str, **env: str) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")}
        environ.update(PYTHONPATH=str(ROOT), SECRET_KEY="x", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
        environ.update(env)
        run = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "python:annotator.gunicorn_conf", "--print-config",
                              *options, "annotator:create_app()"],
                             cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        found = dict((part.strip() for part in line.split("=", 1)) for line in run.stdout.splitlines() if " = " in line)
        return {"workers": found["workers"], "preload_app": found["preload_app"]}

    assert settings("-w", "4") == {"workers": "4", "preload_app": "True"}
    assert settings("--workers=3") == {"workers": "3", "preload_app": "True"}
    assert settings(GUNICORN_CMD_ARGS="-w 4") == {"workers": "4", "preload_app": "True"}
    assert settings("-w", "2", GUNICORN_CMD_ARGS="-w 4") == {"workers": "2", "preload_app": "False"}  # the command line last
    postgres = "postgresql://nobody@127.0.0.1:1/none"  # --print-config never connects
    assert settings("-w", "2", DATABASE_URL=postgres) == {"workers": "2", "preload_app": "False"}
    assert settings(DATABASE_URL=postgres, WEB_CONCURRENCY="5") == {"workers": "5", "preload_app": "True"}


LOAD_THE_APP = """
import os, sys
from annotator import create_app
from tests.test_gunicorn_fork import database_handles

app = create_app()
print(len(database_handles(os.getpid(), sys.argv[1])))
"""


def test_loading_the_app_opens_no_connection(database_uri, tmp_path):
    """What the master does with preload: create_app() alone, in a process of its own, holds nothing open on
    the database (the engine connects on first use). The fork hooks are the second line, not the first."""
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "fork-test", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", LOAD_THE_APP, database_uri], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "0", run.stdout


def test_no_connection_crosses_the_fork(database_uri, tmp_path):
    """As the benchmarks start it: from the checkout (its ./gunicorn.conf.py), with -w on the command line."""
    world = set_up(database_uri)
    uri, name = tagged(database_uri)
    with gunicorn(uri, tmp_path, env={"WEB_CONCURRENCY": "5"}) as server:
        workers = server.workers()
        assert len(workers) == WORKERS, workers  # -w wins over the settings and WEB_CONCURRENCY
        maps = Path(f"/proc/{server.master}/maps").read_text()
        assert "markupsafe" in maps or "nh3" in maps, "the master did not load the app: no preload"
        assert database_handles(server.master, uri) == [], "the master connected while loading the app"
        exercise(server, world)
        assert server.workers() == workers, "a worker was replaced"
        assert database_handles(server.master, uri) == []
        for pid in workers:
            assert database_handles(pid, uri), f"worker {pid} answered API calls without a database handle"
        assert shared_handles(server) == []
        if name:
            holders = backend_holders(name, workers, server.master, uri)
            assert len(holders) >= WORKERS, holders
            assert all(len(pids) == 1 and pids[0] in workers for pids in holders.values()), holders


MASTER_CONNECTS = '''
from annotator.gunicorn_conf import *  # noqa: F403
from sqlalchemy import text


def when_ready(server):
    """A start-up step that uses the database in the master, after the app is loaded and before the forks."""
    app = server.app.wsgi()
    from annotator.db import db

    with app.app_context():
        db.session.execute(text("SELECT 'opened by the master'"))
        db.session.remove()  # the connection goes back to the pool, open
'''
NO_PRE_FORK = '''

def pre_fork(server, worker):
    pass
'''
NO_POST_FORK = '''

def post_fork(server, worker):
    pass
'''


def one_by_one(server: Server, world: dict) -> None:
    """API calls from one client, one at a time (so that even a connection the workers share answers them),
    until two workers have answered some. Each on a connection of its own (the threaded workers keep a
    connection open between requests, and it would stay with the worker that accepted it)."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {next(iter(world['tokens'].values()))}"
    http.headers["Connection"] = "close"
    for i in range(40):
        assert http.get(f"{server.base}/api/articles/{world['article']}", timeout=20).status_code == 200
        response = http.put(f"{server.base}/api/articles/{world['article']}/labels/{i % world['sentences']}",
                            json={"label": "NFS", "seconds": 1}, timeout=20)
        assert response.status_code == 200, response.text[:300]
        if i >= 3 and len(server.served()) >= 2:
            return
    raise AssertionError(f"one worker answered everything: {server.served()}")


def own_handles(server: Server, pid: int) -> list[Handle]:
    """The database handles `pid` holds that no other process of the server shares."""
    others = [h for other in [server.master, *server.workers()] if other != pid for h in database_handles(other, server.database_uri)]
    return [h for h in database_handles(pid, server.database_uri) if not any(same_open_file(h, o) for o in others)]


def last_activity(name: str, server: Server) -> dict[int, object]:
    """PostgreSQL backend pid -> when its state last changed, for the backends whose socket the master holds."""
    holders = backend_holders(name, server.workers(), server.master, server.database_uri)
    admin = create_engine(postgres_url())
    try:
        with admin.connect() as conn:
            rows = conn.execute(text("SELECT pid, state_change FROM pg_stat_activity WHERE application_name = :name"),
                                {"name": name}).all()
    finally:
        admin.dispose()
    return {pid: changed for pid, changed in rows if server.master in holders.get(pid, [])}


@pytest.mark.parametrize("hooks", ["shipped", "post_fork only", "none"])
def test_a_connection_the_master_opened_stays_in_the_master(database_uri, tmp_path, hooks):
    """A start-up step connects in the master. Shipped: the master closes it before forking (pre_fork), so no
    process shares a handle. With only post_fork, the workers inherit the handle but leave it alone and open
    their own. With neither, the workers answer through the master's connection: the check must see it."""
    world = set_up(database_uri)
    uri, name = tagged(database_uri)
    config = tmp_path / "gunicorn_master_connects.py"
    config.write_text(MASTER_CONNECTS + {"shipped": "", "post_fork only": NO_PRE_FORK, "none": NO_PRE_FORK + NO_POST_FORK}[hooks])
    with gunicorn(uri, tmp_path, "-c", str(config)) as server:
        workers = server.workers()
        inherited = shared_handles(server)
        if hooks == "shipped":
            assert inherited == []
            assert database_handles(server.master, uri) == [], "the master's connection was not closed before the forks"
            exercise(server, world)
            assert shared_handles(server) == []
            for pid in workers:
                assert own_handles(server, pid), f"worker {pid} answered API calls without a connection of its own"
            if name:
                holders = backend_holders(name, workers, server.master, uri)
                assert all(len(pids) == 1 and pids[0] in workers for pids in holders.values()), holders
            return
        # the master kept its connection, and every worker holds it too
        assert {h.pid for pair in inherited for h in pair} == {server.master, *workers}, inherited
        before = last_activity(name, server) if name else {}
        one_by_one(server, world)
        served = [pid for pid, count in server.served().items() if count]
        assert served and set(served) <= set(workers), served
        own = {pid: own_handles(server, pid) for pid in served}
        after = last_activity(name, server) if name else {}
        if hooks == "post_fork only":
            assert all(own.values()), f"a worker answered without a connection of its own: {own}"
            assert after == before, "a worker used the master's connection"
        else:
            # (the first API call also opens a second connection, for the token's last use: hence "a worker")
            assert not all(own.values()), f"every worker answered through a connection of its own: {own}"
            assert after != before or not name, "the master's backend was not used"
