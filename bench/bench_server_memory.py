"""The server's memory through issue 17's page and export phases, as the peerbench harness drives them.

    python bench/bench_server_memory.py [--db ROUND.sqlite3] [--checkout DIR ...] [--rounds 3]
        [--json 400] [--html 200] [--exports 3] [--env NAME=VALUE ...]

A copy of a database the harness filled (e.g. /work/benchcmp/round1.sqlite3: 1,000 articles with 4
annotators' labels and spans) goes to a temporary folder; a user and an admin are created through the CLI
(`users create --password-stdin`, `users token`); then, per round and per checkout (interleaved, their order
alternating), gunicorn starts from the checkout exactly as the harness starts it (`python -m gunicorn -w 2 -b
127.0.0.1:PORT 'annotator:create_app()'`, cwd the checkout, so its ./gunicorn.conf.py applies) and gets:

  * `json`: N x GET /api/articles/<id> with the annotator's token (one keep-alive connection);
  * `html`: N x GET /annotate/<id> with a session cookie from the login form;
  * `export`: N x GET /projects/<id>/export.jsonl?unit=article with the admin's token (a new connection each,
    as the harness), then one sentence-unit export.

After each phase: summed RSS and PSS of the process tree (/proc/PID/smaps_rollup), and the peak summed RSS
sampled every 50 ms during it (the harness's figure). Medians per checkout, with the load average.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gunicorn_server import free_port, memory_kb, stop_server, tree  # noqa: E402

PASSWORD = "rss-bench-password-0123456789"
SECRET = "rss-bench-secret-0123456789abcdef"
PHASES = ("start", "json", "login", "html", "export", "sentences")


class Peak(threading.Thread):
    """The peak summed RSS of the tree, every 50 ms (VmRSS, as the harness reads it)."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peak, self.stop = root, 0, threading.Event()

    def run(self) -> None:
        pids = tree(self.root)
        while not self.stop.is_set():
            total = 0
            for pid in pids:
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                except OSError:
                    pass
            self.peak = max(self.peak, total)
            self.stop.wait(0.05)


class Http:
    """One keep-alive connection (http.client, as the harness), cookies kept."""

    def __init__(self, port: int, headers: dict[str, str] | None = None):
        self.port, self.headers, self.cookies, self.conn = port, dict(headers or {}), {}, None

    def request(self, method: str, path: str, form: dict | None = None, ok: tuple = (200,)) -> bytes:
        headers = dict(self.headers)
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for key, value in response.getheaders():
            if key.lower() == "set-cookie":
                name, _, val = value.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = val.strip()
        if response.status not in ok:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        if response.will_close:
            self.close()
        return data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def cli(checkout: Path, env: dict, *argv: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "annotator", *argv], cwd=checkout, env=env, input=stdin,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"annotator {' '.join(argv)}: {result.stderr[-500:]}")
    return result.stdout


def prepare(source: Path, workdir: Path) -> dict:
    """The template database: the harness's copy plus an annotator (assigned one article) and an admin."""
    db = workdir / "template.sqlite3"
    shutil.copy(source, db)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT)}
    import sqlite3
    with sqlite3.connect(db) as conn:
        project_id, project = conn.execute(
            "SELECT p.id, p.name FROM projects p JOIN articles a ON a.project_id = p.id GROUP BY p.id "
            "ORDER BY count(*) DESC, p.id DESC LIMIT 1").fetchone()
        article_id, external = conn.execute("SELECT id, external_id FROM articles WHERE project_id = ? ORDER BY id LIMIT 1",
                                            (project_id,)).fetchone()
    for name, role in (("rss-ann", "annotator"), ("rss-admin", "admin")):
        cli(ROOT, env, "users", "create", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
    cli(ROOT, env, "projects", "members", project, "--add", "rss-ann")
    cli(ROOT, env, "assign", project, "--user", "rss-ann", "--articles", external)
    tokens = {name: cli(ROOT, env, "users", "token", name).strip().splitlines()[-1] for name in ("rss-ann", "rss-admin")}
    with sqlite3.connect(db) as conn:  # the CLI's writes into the file itself, so that a copy of it has them
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"db": db, "project": project_id, "article": article_id, "tokens": tokens}


def start(checkout: Path, db: Path, port: int, log: Path, extra_env: dict) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": SECRET,
           "PYTHONPATH": str(checkout), **extra_env}
    env.pop("WEB_CONCURRENCY", None)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "annotator:create_app()"],
                               cwd=checkout, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()[-2000:]}")
        try:
            Http(port).request("GET", "/healthz")
            break
        except (OSError, RuntimeError, http.client.HTTPException):
            time.sleep(0.05)
    while len(tree(process.pid)) < 3:
        time.sleep(0.05)
    time.sleep(1.0)  # both workers booted
    return process


def one_run(checkout: Path, setup: dict, workdir: Path, sizes: dict, extra_env: dict) -> dict:
    db = workdir / "run.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(setup["db"], db)
    port = free_port()
    process = start(checkout, db, port, workdir / "gunicorn.log", extra_env)
    out: dict = {}
    try:
        pids = tree(process.pid)

        def record(phase: str, peak: Peak | None) -> None:
            time.sleep(0.3)
            totals = memory_kb(pids)
            out[phase] = {"rss": totals["Rss:"] / 1024, "pss": totals["Pss:"] / 1024,
                          "peak": (peak.peak if peak else totals["Rss:"]) / 1024,
                          "each": [round(memory_kb([pid])["Rss:"] / 1024) for pid in pids]}

        def phase(name: str, action) -> None:
            peak = Peak(process.pid)
            peak.start()
            try:
                action()
            finally:
                peak.stop.set()
                peak.join()
            record(name, peak)

        record("start", None)
        article, project = setup["article"], setup["project"]

        def json_gets() -> None:
            client = Http(port, {"Authorization": "Bearer " + setup["tokens"]["rss-ann"]})
            for _ in range(sizes["json"]):
                client.request("GET", f"/api/articles/{article}")
            client.close()

        browser = Http(port)

        def login() -> None:
            html = browser.request("GET", "/login")
            token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', html)
            browser.request("POST", "/login", form={"name": "rss-ann", "password": PASSWORD, "csrf_token": token.group(1).decode()},
                            ok=(302,))

        def html_gets() -> None:
            for _ in range(sizes["html"]):
                browser.request("GET", f"/annotate/{article}")
            browser.close()

        def exports() -> None:
            headers = {"Authorization": "Bearer " + setup["tokens"]["rss-admin"]}
            for _ in range(sizes["exports"]):
                client = Http(port, headers)
                body = client.request("GET", f"/projects/{project}/export.jsonl?unit=article")
                client.close()
                out.setdefault("export_lines", body.count(b"\n"))

        def sentence_export() -> None:
            headers = {"Authorization": "Bearer " + setup["tokens"]["rss-admin"]}
            if sizes["exports"]:
                client = Http(port, headers)
                client.request("GET", f"/projects/{project}/export.jsonl")
                client.close()

        phase("json", json_gets)
        phase("login", login)
        phase("html", html_gets)
        phase("export", exports)
        phase("sentences", sentence_export)
        if tree(process.pid) != pids:
            raise RuntimeError("a worker was replaced during the run")
    finally:
        stop_server(process)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a database the peerbench harness filled "
                        "(default: $PEERBENCH_WORKDIR/annotator-data/annotator.sqlite3, which bench/peer_rounds.py leaves)")
    parser.add_argument("--checkout", type=Path, action="append", help="checkouts to compare (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=int, default=400)
    parser.add_argument("--html", type=int, default=200)
    parser.add_argument("--exports", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="also each process's RSS after each phase")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (e.g. MALLOC_ARENA_MAX=2)")
    args = parser.parse_args()
    if args.db is None:  # run_all.py runs it without arguments: the harness's last database, if there is one
        workdir = os.environ.get("PEERBENCH_WORKDIR")
        args.db = Path(workdir, "annotator-data", "annotator.sqlite3") if workdir else None
        if args.db is None or not args.db.is_file():
            print("skipped: no database the peerbench harness filled (give --db, or set PEERBENCH_WORKDIR after bench/peer_rounds.py)")
            return 0
    checkouts = [c.resolve() for c in (args.checkout or [ROOT])]
    extra_env = dict(item.split("=", 1) for item in args.env)
    sizes = {"json": args.json, "html": args.html, "exports": args.exports}
    results: dict[Path, list[dict]] = {c: [] for c in checkouts}
    with tempfile.TemporaryDirectory(prefix="rss-bench-") as tmp:
        workdir = Path(tmp)
        setup = prepare(args.db, workdir)
        for r in range(args.rounds):
            order = checkouts if r % 2 == 0 else checkouts[::-1]
            for checkout in order:
                load = os.getloadavg()[0]
                result = one_run(checkout, setup, workdir, sizes, extra_env)
                result["load"] = load
                results[checkout].append(result)
                print(f"round {r + 1} {checkout.name:<12} load {load:4.1f}  " + "  ".join(
                    f"{p} {result[p]['rss']:.0f}/{result[p]['pss']:.0f} (peak {result[p]['peak']:.0f})" for p in PHASES), flush=True)
                if args.verbose:
                    print("    RSS per process (master, workers): " + "  ".join(f"{p} {result[p]['each']}" for p in PHASES))
    print("\nmedians, MB: summed RSS / PSS after each phase (peak summed RSS during it)")
    for checkout, runs in results.items():
        cells = []
        for p in PHASES:
            med = {k: statistics.median(run[p][k] for run in runs) for k in ("rss", "pss", "peak")}
            cells.append(f"{p} {med['rss']:.0f}/{med['pss']:.0f} ({med['peak']:.0f})")
        print(f"  {checkout.name:<12} " + "  ".join(cells) + f"  load {statistics.median(r['load'] for r in runs):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
