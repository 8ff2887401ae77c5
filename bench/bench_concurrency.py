"""Concurrent saves, the full run of issue 7: 8 annotators x 500 saves plus one annotator bursting, through gunicorn -w 4.

    python bench/bench_concurrency.py      # SQLite; and PostgreSQL too when DATABASE_URL points at one

The shape that made Potato answer HTTP 500 to 4-7 % of saves on this machine:
8 annotator processes save labels (PUT) and spans (POST with a client id, one
in five sent twice as after a lost response) as fast as the server answers,
four of them on each of two shared articles; at the same time one more
annotator saves from 4 requests at once (autosave bursts from several tabs):
the same sentence's label and the same span ids, 4 times simultaneously.

Afterwards the database is compared with what was sent: each label must be
the last one sent with a version counting every write (for the bursts: the
highest version, whose audit entry names the stored label), each span id
exactly one row, and the audit log exactly one entry per write. Printed:
saves/s, p50/p99 latency (closed loop: queueing included), 5xx responses, and
lost or duplicated records. Gated: zero 5xx and zero lost or duplicated
records on every database; speed against floors that catch a regression to
the polling SQLite writers (35 saves/s measured before the writer queue).
bench_api.py measures the tuned throughput and the p99 at a paced 300 saves/s.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402
from gunicorn_server import start_server, stop_server  # noqa: E402
from machine import describe  # noqa: E402
from sqlalchemy import create_engine, select  # noqa: E402

WORKERS = 4
ANNOTATORS = 8
SAVES = 500  # per annotator
BURST_TABS = 4  # simultaneous requests of the bursting annotator
BURSTS = 60  # each: one label PUT and one span POST from every tab at once
SENTENCES = 30
LABELS = ("CFS", "UFS", "NFS")
TARGET_SAVES_PER_S = 100.0
TARGET_P99_MS = 500.0


def sentence_text(i: int) -> str:
    return f"Officials said on Monday that the rate rose by {i % 17 + 1}.{i % 10} percent in region {i}, the highest in {1990 + i % 30}."


def set_up(database_uri: str) -> dict:
    from annotator import create_app
    from annotator.db import db
    from annotator.db.models import Article
    from annotator.domain import accounts, assignment, projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "bench"})
    with app.app_context():
        db.create_all()
        s = db.session
        project = projects.create_project(s, "Concurrency bench")
        text = " ".join(sentence_text(i) for i in range(SENTENCES))
        articles.store_articles(s, project, [ArticleRecord("left", "Left", text), ArticleRecord("right", "Right", text)], "bench")
        users = [accounts.create_user(s, f"ann{k}") for k in range(ANNOTATORS)] + [accounts.create_user(s, "tabs")]
        for k, user in enumerate(users):
            assignment.assign_to_user(s, project.id, user, ["left", "right"] if user.name == "tabs" else ["left" if k % 2 else "right"])
        tokens = {user.name: accounts.issue_token(s, user) for user in users}
        s.commit()
        ids = dict(s.execute(select(Article.external_id, Article.id)).all())
        db.session.remove()
        db.engine.dispose()
    plan = {f"ann{k}": {"token": tokens[f"ann{k}"], "article": ids["left" if k % 2 else "right"]} for k in range(ANNOTATORS)}
    return {"plan": plan, "tabs": {"token": tokens["tabs"], "article": ids["left"]}}


# ----------------------------------------------------------------- clients
def annotator(args: tuple) -> dict:
    """One annotator, closed loop: 500 saves, two in three labels, one in three spans (one in five of those sent twice)."""
    name, entry, base, start_at = args
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {entry['token']}"
    article = entry["article"]
    latencies, statuses, errors = [], Counter(), []
    labels: dict[int, list[str]] = defaultdict(list)
    spans: list[str] = []
    time.sleep(max(0.0, start_at - time.time()))
    saves = 0
    i = 0
    while saves < SAVES:
        if i % 3 == 2:
            uid = f"{name}-span-{i:05d}"
            start = (i * 13) % 2000
            body = {"label": ("QUOTE", "SOURCE", "CUE")[i % 3], "start": start, "end": start + 5 + i % 20, "id": uid}
            for attempt in range(2 if i % 5 == 0 and saves < SAVES - 1 else 1):
                began = time.perf_counter()
                response = http.post(f"{base}/api/articles/{article}/spans", json=body, timeout=60)
                latencies.append(time.perf_counter() - began)
                statuses[response.status_code] += 1
                saves += 1
                if response.status_code != (201 if attempt == 0 else 200):
                    errors.append(f"{name} POST span: {response.status_code} {response.text[:120]}")
            spans.append(uid)
        else:
            sentence = (i * 7 + len(name)) % SENTENCES
            label = LABELS[(i + int(name[3:])) % 3]
            began = time.perf_counter()
            response = http.put(f"{base}/api/articles/{article}/labels/{sentence}", json={"label": label, "seconds": 1}, timeout=60)
            latencies.append(time.perf_counter() - began)
            statuses[response.status_code] += 1
            saves += 1
            if response.status_code != 200:
                errors.append(f"{name} PUT label: {response.status_code} {response.text[:120]}")
            labels[sentence].append(label)
        i += 1
    return {"name": name, "latencies": latencies, "statuses": statuses, "errors": errors, "labels": dict(labels), "spans": spans}


def tabs(args: tuple) -> dict:
    """One annotator saving from BURST_TABS requests at once: the same label and the same span id, simultaneously."""
    entry, base, start_at = args
    article = entry["article"]
    latencies, statuses, errors = [], Counter(), []
    lock = threading.Lock()
    line = threading.Barrier(BURST_TABS)
    puts: Counter[int] = Counter()

    def tab(t: int) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {entry['token']}"
        for b in range(BURSTS):
            line.wait()
            sentence = b % SENTENCES
            began = time.perf_counter()
            response = http.put(f"{base}/api/articles/{article}/labels/{sentence}", json={"label": LABELS[(b + t) % 3], "seconds": 1}, timeout=60)
            elapsed = time.perf_counter() - began
            body = {"label": "SOURCE", "start": 3 * b, "end": 3 * b + 4, "id": f"tabs-span-{b:04d}"}
            began = time.perf_counter()
            created = http.post(f"{base}/api/articles/{article}/spans", json=body, timeout=60)
            with lock:
                latencies.extend([elapsed, time.perf_counter() - began])
                statuses[response.status_code] += 1
                statuses[created.status_code] += 1
                puts[sentence] += 1
                if response.status_code != 200:
                    errors.append(f"tabs PUT label: {response.status_code} {response.text[:120]}")
                if created.status_code not in (200, 201):
                    errors.append(f"tabs POST span: {created.status_code} {created.text[:120]}")

    time.sleep(max(0.0, start_at - time.time()))
    threads = [threading.Thread(target=tab, args=(t,)) for t in range(BURST_TABS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"name": "tabs", "latencies": latencies, "statuses": statuses, "errors": errors, "puts": dict(puts),
            "spans": [f"tabs-span-{b:04d}" for b in range(BURSTS)]}


def check_database(database_uri: str, results: list[dict], burst: dict) -> tuple[int, list[str]]:
    """Lost or duplicated records: every difference between what was sent and what is stored."""
    from annotator.db.models import Annotation, AuditEntry, Sentence, Span, User

    engine = create_engine(database_uri)
    with engine.connect() as conn:
        names = dict(conn.execute(select(User.id, User.name)).all())
        stored = {(names[u], i): (label, version) for u, i, label, version in conn.execute(
            select(Annotation.user_id, Sentence.index, Annotation.label, Annotation.version).join(Sentence))}
        span_rows = Counter((names[u], uid) for u, uid in conn.execute(select(Span.user_id, Span.uid)))
        audit = conn.execute(select(AuditEntry.user_id, AuditEntry.entity, AuditEntry.entity_id, AuditEntry.after).order_by(AuditEntry.id)).all()
    engine.dispose()
    problems = []
    sent_labels = 0
    for r in results:
        for sentence, labels in r["labels"].items():
            sent_labels += len(labels)
            if stored.get((r["name"], sentence)) != (labels[-1], len(labels)):
                problems.append(f"{r['name']} sentence {sentence}: stored {stored.get((r['name'], sentence))}, sent {len(labels)} ending {labels[-1]}")
    tab_audit = defaultdict(list)
    for user, entity, _entity_id, after in audit:
        if names.get(user) == "tabs" and entity == "label":
            tab_audit[after["sentence"]].append(after)
    for sentence, count in burst["puts"].items():
        sent_labels += count
        entries = tab_audit.get(sentence, [])
        last = max(entries, key=lambda a: a["version"]) if entries else None
        if sorted(a["version"] for a in entries) != list(range(1, count + 1)) or last is None or stored.get(("tabs", sentence)) != (last["label"], count):
            problems.append(f"tabs sentence {sentence}: {count} writes, stored {stored.get(('tabs', sentence))}, audit versions {sorted(a['version'] for a in entries)}")
    expected_labels = {(r["name"], s) for r in results for s in r["labels"]} | {("tabs", s) for s in burst["puts"]}
    problems += [f"label nobody sent: {key}" for key in set(stored) - expected_labels]
    sent_spans = {(r["name"], uid) for r in [*results, burst] for uid in r["spans"]}
    problems += [f"span {key}: {span_rows.get(key, 0)} rows" for key in sent_spans if span_rows.get(key) != 1]
    problems += [f"span nobody sent: {key}" for key in span_rows if key not in sent_spans]
    entities = Counter(entity for _, entity, _, _ in audit)
    if entities["label"] != sent_labels:
        problems.append(f"audit: {entities['label']} label entries for {sent_labels} label writes")
    if entities["span"] != len(sent_spans):
        problems.append(f"audit: {entities['span']} span entries for {len(sent_spans)} spans")
    return len(problems), problems


def report(name: str, value: float, target: float, unit: str, lower_is_better: bool = True) -> bool:
    ok = value <= target if lower_is_better else value >= target
    sign = "<=" if lower_is_better else ">="
    print(f"  {name:<40} {value:>9.1f} {unit:<7} target {sign} {target:g} {unit:<7} {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def bench_database(label: str, database_uri: str, workdir: Path) -> bool:
    setup = set_up(database_uri)
    process, base = start_server(database_uri, workdir / f"gunicorn-{label}.log", WORKERS)
    try:
        start_at = time.time() + 1.0  # every client starts at this moment, after the pool is up
        with mp.get_context("fork").Pool(ANNOTATORS + 1) as pool:
            burst_job = pool.apply_async(tabs, ((setup["tabs"], base, start_at),))
            results = pool.map(annotator, [(name, entry, base, start_at) for name, entry in setup["plan"].items()])
            burst = burst_job.get()
        wall = time.time() - start_at
    finally:
        stop_server(process)
    log = (workdir / f"gunicorn-{label}.log").read_text()
    everything = [*results, burst]
    latencies = sorted(x for r in everything for x in r["latencies"])
    statuses = sum((r["statuses"] for r in everything), Counter())
    errors = [e for r in everything for e in r["errors"]]
    server_errors = sum(n for code, n in statuses.items() if code >= 500) + log.count("Traceback")
    lost, problems = check_database(database_uri, results, burst)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    print(f"\n{label}: gunicorn -w {WORKERS}; {ANNOTATORS} annotators x {SAVES} saves (4 per article) + 1 annotator x "
          f"{BURST_TABS} simultaneous requests x {BURSTS} bursts: {len(latencies)} saves in {wall:.1f} s, statuses {dict(statuses)}", flush=True)
    ok = report("saves/s (all clients, closed loop)", len(latencies) / wall, TARGET_SAVES_PER_S, "saves/s", lower_is_better=False)
    print(f"  {'p50 latency':<40} {pct(50):>9.1f} ms")
    ok &= report("p99 latency", pct(99), TARGET_P99_MS, "ms")
    ok &= report("5xx responses and server tracebacks", server_errors, 0, "")
    ok &= report("other unexpected responses", sum(1 for e in errors if not re.search(r": 5\d\d ", e)), 0, "")
    ok &= report("lost or duplicated records", lost, 0, "")
    for line in (errors[:5] + problems[:10]):
        print(f"    {line}")
    return ok


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    print(f"machine: {describe()}", flush=True)
    print(f"note: the {ANNOTATORS + 1} client processes and the {WORKERS} server workers share these {os.cpu_count()} cores")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ok &= bench_database("SQLite (WAL)", f"sqlite:///{workdir / 'bench.sqlite3'}", workdir)
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql")):
            from annotator.config import database_url

            base = database_url("")
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            try:
                ok &= bench_database("PostgreSQL", base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}", workdir)
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                admin.dispose()
        else:
            print("\nPostgreSQL: skipped (set DATABASE_URL=postgresql://... to run it)")
    print(f"\n{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
