"""CPU per API request in the app itself (no server): the article JSON and a batch save, checkouts side by side.

    python bench/bench_request_cpu.py [--checkout DIR ...] [--rounds 7] [--requests 300]

For issue 17's two rows that the app's own work decides: the article JSON (GET /api/articles/<id>, the page's
load) and the batch save (POST /api/articles/<id>/changes with a label and two spans, the page's save queue).
Each checkout runs in a child process of its own (rounds alternate between checkouts, so a busy shared machine
weighs on all alike) on its own fresh SQLite file, seeded through the domain functions every checkout since
issue 17 has (a 25-sentence article for the page, as the harness's,
with a label and two spans of the annotator's; a 400-sentence one for the saves; an annotator with a token): the requests go through the WSGI app with
the annotator's Bearer token, as gunicorn would call it.

Two figures per request kind:
- CPU us per request (process time, median of the rounds): what the machine pays, but it moves with the load;
- Python calls per request (a profiler that ticks once per call and return, so it does not depend on the
  load at all): what most of this app's per-request cost is made of; C work (SQLite, JSON encoding) does not
  show in it. A change that removes Python calls shows here even on a busy machine.

No target: it compares checkouts (e.g. the session's start against main); the rows themselves are measured
against Potato with bench/peer_rounds.py.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402

CHILD = r"""
import cProfile, io, itertools, json, logging, pstats, sys, tempfile, time
checkout, kind, rounds, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, checkout)
logging.disable(logging.WARNING)
from sqlalchemy import select
from annotator import create_app
from annotator.db import db
from annotator.db.models import Article, Sentence
from annotator.domain import accounts, assignment, labelschema, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

def text(n):
    return " ".join(f"The minister said on day {i} that fares would rise by {i % 9 + 1}% next year, critics said." for i in range(n))

uri = f"sqlite:///{tempfile.mkdtemp(prefix='request-cpu-')}/bench.sqlite3"
app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench"})
with app.app_context():
    from annotator.db.migrating import upgrade_schema
    upgrade_schema()
    s = db.session
    ann = accounts.create_user(s, "ann", "annotator", None)
    project = projects.create_project(s, "Bench", labelschema.preset("claims"))
    articles.store_articles(s, project, [ArticleRecord("long", "Saves", text(400)), ArticleRecord("page", "Page", text(25))], "bench")
    assignment.assign_to_user(s, project.id, ann, ["long", "page"])
    token = accounts.issue_token(s, ann)
    s.commit()
    ids = dict(s.execute(select(Article.external_id, Article.id)).all())
    sentences = {name: [(x.index, x.start) for x in s.scalars(select(Sentence).where(Sentence.article_id == ids[name]).order_by(Sentence.index))]
                 for name in ids}
statuses = []
serial = itertools.count()


def call(method, path, body=b""):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json", "wsgi.errors": sys.stderr,
               "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
               "HTTP_AUTHORIZATION": "Bearer " + token, "HTTP_HOST": "127.0.0.1:8000", "REMOTE_ADDR": "127.0.0.1"}
    body = b"".join(app.wsgi_app(environ, lambda status, headers, exc=None: statuses.append(status)))
    if not statuses[-1].startswith("200"):
        statuses[-1] += " " + body[:300].decode("utf-8", "replace")


def article_json():
    call("GET", f"/api/articles/{ids['page']}")


def batch_save(name="long"):
    k = next(serial)
    index, start = sentences[name][k % len(sentences[name])]
    operations = [
        {"op": "put_label", "sentence_index": index, "label": "CFS", "seconds": 12.5},
        {"op": "create_span", "id": f"q{k:031d}", "label": "QUOTE", "start": start + k // len(sentences[name]), "end": start + 20},
        {"op": "create_span", "id": f"s{k:031d}", "label": "SOURCE", "start": start + 22 + k // len(sentences[name]), "end": start + 30},
    ]
    call("POST", f"/api/articles/{ids[name]}/changes", json.dumps({"request_id": f"r{k:031d}", "operations": operations}).encode())


for _ in range(3):  # the page's article holds some of the annotator's work, as after a few saves
    batch_save("page")


one = article_json if kind == "json" else batch_save
for _ in range(50):
    one()
ticks = itertools.count()
profile = cProfile.Profile(lambda: next(ticks), 1.0)
profile.enable()
for _ in range(100):
    one()
profile.disable()
calls = pstats.Stats(profile).total_calls / 100
cpu = []
for _ in range(rounds):
    started = time.process_time()
    for _ in range(n):
        one()
    cpu.append((time.process_time() - started) / n * 1e6)
bad = [s for s in statuses if not s.startswith("200")]
print(json.dumps({"us": cpu, "calls": calls, "bad": bad[:3]}))
"""


def run(checkout: Path, kind: str, rounds: int, n: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(checkout), kind, str(rounds), str(n)], capture_output=True, text=True,
                         timeout=1800, cwd=checkout)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["bad"]:
        raise RuntimeError(f"{checkout}: {kind} answered {result['bad']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", help="checkouts to compare (default: this one)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per checkout and request kind")
    parser.add_argument("--requests", type=int, default=300, help="requests per timed round")
    args = parser.parse_args()
    checkouts = [c.resolve() for c in (args.checkout or [ROOT])]
    print(f"machine: {describe()}; load average before: {os.getloadavg()[0]:.2f}")
    for kind, name in (("json", "GET /api/articles/<id>"), ("save", "POST /api/articles/<id>/changes (label + 2 spans)")):
        cpu: dict[Path, list[float]] = {c: [] for c in checkouts}
        calls: dict[Path, float] = {}
        for _ in range(args.rounds):  # one round per child, alternating, so that the load falls on every checkout alike
            for checkout in checkouts:
                result = run(checkout, kind, 1, args.requests)
                cpu[checkout] += result["us"]
                calls[checkout] = result["calls"]
        for checkout in checkouts:
            print(f"{name}: {statistics.median(cpu[checkout]):.0f} us CPU (rounds {', '.join(f'{v:.0f}' for v in cpu[checkout])}), "
                  f"{calls[checkout]:.0f} Python calls per request  {checkout}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
