"""The hot SELECTs on the driver's cursor (db/prepared.py) against SQLAlchemy's execution, and what it gives the article JSON.

    python bench/bench_prepared.py [--checkout DIR ...] [--rounds 7]

Part 1, in this process, on a SQLite file seeded here: each Prepared statement of the package run N times
through Connection.execute (SQLAlchemy's execution: compiled-cache lookup, execution context, CursorResult,
Row) and through Prepared.rows (the driver's cursor), alternating, median us per statement run.

Part 2, each checkout in a child process (alternating, so that a busy shared machine weighs on all alike):
GET /api/articles/<id> with an annotator's Bearer token through the WSGI app (no test client, no server),
CPU us per request, median of the rounds. Compare this checkout with one before db/prepared.py.

Target (issue 17): every Prepared statement runs in less time than through SQLAlchemy (exit 1 if not); the
article JSON's CPU is compared by eye with a checkout from before db/prepared.py (--checkout OLD --checkout NEW).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402

TEXT = ("The council met on Tuesday. \u201cWe will cut the fares by 10% next year,\u201d said the mayor, Ana Ruiz. "
        "Critics said the plan was unfunded. The vote is set for May. ") * 8

SEED = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from sqlalchemy import select
from annotator import create_app
from annotator.db import db
from annotator.db.models import Article
from annotator.domain import accounts, annotations, assignment, labelschema, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "bench"})
with app.app_context():
    from annotator.db.migrating import upgrade_schema
    upgrade_schema()
    s = db.session
    ann = accounts.create_user(s, "ann", "annotator", None)
    project = projects.create_project(s, "Bench", labelschema.preset("claims"))
    articles.store_articles(s, project, [ArticleRecord("a1", "Fares", sys.argv[3])], "bench")
    assignment.assign_to_user(s, project.id, ann, ["a1"])
    token = accounts.issue_token(s, ann)
    s.commit()
    article = s.scalar(select(Article.id))
    quote = sys.argv[3].index("\u201c")
    for index in range(0, 8, 2):
        annotations.write(s, lambda index=index: annotations.put_label(s, ann.id, article, index, "CFS", 3.0))
    annotations.write(s, lambda: annotations.create_span(s, ann.id, article, "QUOTE", quote, quote + 20, "bench-quote"))
    print(json.dumps({"token": token, "article": article, "user": ann.id}))
"""

REQUESTS = r"""
import io, json, sys, time
sys.path.insert(0, sys.argv[2])
from annotator import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "bench"})
token, article, n = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def environ():
    return {"REQUEST_METHOD": "GET", "PATH_INFO": f"/api/articles/{article}", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "wsgi.version": (1, 0), "HTTP_AUTHORIZATION": "Bearer " + token, "HTTP_HOST": "127.0.0.1:8000", "REMOTE_ADDR": "127.0.0.1"}
statuses = []
def one():
    body = b"".join(app.wsgi_app(environ(), lambda status, headers, exc=None: statuses.append(status)))
    return body
body = one()
assert statuses[-1].startswith("200"), statuses[-1]
for _ in range(200):
    one()
started = time.process_time()
for _ in range(n):
    one()
print(json.dumps({"us": (time.process_time() - started) / n * 1e6, "bytes": len(body)}))
"""


def seed(uri: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SEED, uri, str(ROOT), TEXT], capture_output=True, text=True, timeout=300, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def statements(uri: str, seeded: dict, rounds: int, n: int) -> bool:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select  # noqa: PLC0415

    from annotator import create_app  # noqa: PLC0415
    from annotator.db import db  # noqa: PLC0415
    from annotator.db.models import Assignment, Sentence  # noqa: PLC0415
    from annotator.domain import accounts  # noqa: PLC0415

    sys.path.insert(0, str(ROOT / "tests"))
    from test_prepared import every_prepared  # noqa: PLC0415  (every Prepared statement of the package)

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench"})
    with app.app_context():
        s = db.session
        values = {"user_id": seeded["user"], "article_id": seeded["article"], "sentence_index": 0, "request_id": "none-such",
                  "token_hash": accounts.hash_token(seeded["token"]), "uid": "bench-quote",
                  "sentence_id": s.scalar(select(Sentence.id).where(Sentence.index == 0)), "assignment_id": s.scalar(select(Assignment.id)),
                  "project_id": 1, "label": "QUOTE", "start": TEXT.index("\u201c"), "end": TEXT.index("\u201c") + 20}
        print(f"{'statement':<58} {'SQLAlchemy':>11} {'Prepared':>9}  rows")
        slower = []
        for name, prepared in every_prepared():
            params = {key: values[key] for key in prepared.statement.compile().params}
            connection = s.connection()
            sqla, raw = [], []
            for _ in range(rounds):
                started = time.perf_counter()
                for _ in range(n):
                    connection.execute(prepared.statement, params).all()
                sqla.append((time.perf_counter() - started) / n * 1e6)
                started = time.perf_counter()
                for _ in range(n):
                    prepared.rows(connection, params)
                raw.append((time.perf_counter() - started) / n * 1e6)
            rows = len(prepared.rows(connection, params))
            print(f"{name.removeprefix('annotator.'):<58} {statistics.median(sqla):>9.1f}us {statistics.median(raw):>7.1f}us  {rows}")
            if statistics.median(raw) >= statistics.median(sqla):
                slower.append(name)
        s.rollback()
    print(f"target: every Prepared statement faster than through SQLAlchemy: {'FAIL ' + ', '.join(slower) if slower else 'PASS'}")
    return not slower


def requests(checkouts: list[Path], uri: str, seeded: dict, rounds: int, n: int) -> None:
    results: dict[Path, list[float]] = {c: [] for c in checkouts}
    for _ in range(rounds):
        for checkout in checkouts:
            out = subprocess.run([sys.executable, "-c", REQUESTS, uri, str(checkout), seeded["token"], str(seeded["article"]), str(n)],
                                 capture_output=True, text=True, timeout=600, cwd=checkout)
            if out.returncode != 0:
                raise RuntimeError(f"{checkout}: {out.stderr[-2000:]}")
            results[checkout].append(json.loads(out.stdout.strip().splitlines()[-1])["us"])
    for checkout, values in results.items():
        print(f"GET /api/articles/<id>, CPU per request: {statistics.median(values):.0f} us (rounds {', '.join(f'{v:.0f}' for v in values)})  {checkout}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", help="checkouts to compare for the article JSON (default: this one)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="prepared-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        seeded = seed(uri)
        passed = statements(uri, seeded, args.rounds, 300)
        requests([c.resolve() for c in (args.checkout or [ROOT])], uri, seeded, args.rounds, 500)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
