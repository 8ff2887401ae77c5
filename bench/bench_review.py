"""Benchmark of the reviewer side: agreement straight from the database, and the agreement page.

Run from the repository root:  python bench/bench_review.py

1. All label metrics together (percent agreement, Fleiss' kappa, Gwet's AC1,
   Krippendorff's alpha, alpha per label, pairwise Cohen's kappa) for
   1,000,000 ratings (333,334 sentences x 3 annotators, 5 % missing, 3
   labels) in SQLite, starting from the database: the SQLAlchemy Core query,
   the arrays, the metrics. Cold: a new engine and connection each run (the
   SQLite page cache is per connection; the OS file cache is warm) and no
   cache_entries row used. Target: median < 1.5 s.
2. The agreement page (GET /review/<id>/agreement, Flask test client, logged
   in as a reviewer) of a project of 10,000 sentences x 3 annotators with
   quotes, sources and links: every figure computed (cache_entries emptied
   first: intervals by bootstrap over 500 articles, per annotator, spans,
   relations) and rendered. Target: median < 1 s. The warm figure (served
   from cache_entries, stored first: a GET never stores) is printed too.
3. The disagreement queue (GET /review/<id>/queue) of the same project: its
   disputes computed on the GET (no stored entry, as after an annotator's
   save), the disputes alone, and the page served from a stored entry of the
   same revision (as after an adjudication, whose POST stores it). Reference
   figures, no target.

Both databases are built once with Core bulk inserts in a temporary
directory and kept in bench/out/ (git-ignored); --rebuild makes them again.
Prints each figure next to its target, PASS/FAIL and the machine; exits 1 on
a miss.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_agreement import LABELS, make_codes  # noqa: E402
from machine import describe  # noqa: E402
from sqlalchemy import delete, insert, text  # noqa: E402

from annotator import create_app
from annotator.db import db  # noqa: E402
from annotator.db.models import Annotation, Article, CacheEntry, Project, ProjectMember, Relation, Sentence, Span, User
from annotator.domain import agreement as pa  # noqa: E402
from annotator.domain import labelschema  # noqa: E402
from annotator.stats.agreement import LabelMatrix, label_report  # noqa: E402

OUT = HERE / "out"
BIG_DB = OUT / "review_1m_v3.sqlite3"  # v3: with project_members (migration 0004)
PAGE_DB = OUT / "review_page_10k_v3.sqlite3"
N_BIG = 333_334
N_PAGE = 10_000
SENTENCES_PER_ARTICLE = 20
ANNOTATORS = ("anna", "ben", "chloe")
REVIEWER, PASSWORD = "rita", "bench-reviewer-password"
METRICS_TARGET_S = 1.5
PAGE_TARGET_S = 1.0
CHUNK = 50_000


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def app_for(path: Path):
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench", "TESTING": True})


def _chunks(rows: list, size: int = CHUNK):
    for k in range(0, len(rows), size):
        yield rows[k:k + size]


def build(path: Path, n_items: int, with_spans: bool, seed: int = 13) -> None:
    """A project of n_items sentences x 3 annotators (5 % missing, 3 labels), Core bulk inserts."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / path.name
        app = app_for(work)
        started = time.perf_counter()
        with app.app_context():
            db.create_all()
            conn = db.session.connection()
            conn.execute(insert(User), [{"id": i + 1, "name": n, "role": "annotator"} for i, n in enumerate(ANNOTATORS)])
            reviewer = User(name=REVIEWER, role="reviewer")
            reviewer.set_password(PASSWORD)
            conn.execute(insert(User), [{"id": len(ANNOTATORS) + 1, "name": REVIEWER, "role": "reviewer", "password_hash": reviewer.password_hash}])
            conn.execute(insert(Project), [{"id": 1, "name": "bench", "label_schema": labelschema.preset("claims"), "guidelines": "",
                                            "guidelines_version": 1, "annotators_per_article": 3, "majority_threshold": 1.0, "revision": 1}])
            # the reviewer (and the annotators) are the project's members: reviewers open only their projects
            conn.execute(insert(ProjectMember), [{"project_id": 1, "user_id": i + 1} for i in range(len(ANNOTATORS) + 1)])
            n_articles = (n_items + SENTENCES_PER_ARTICLE - 1) // SENTENCES_PER_ARTICLE
            sentence = "Officials said the cost rose to {n} million this year. "
            texts, offsets = [], []
            for a in range(n_articles):
                k = min(SENTENCES_PER_ARTICLE, n_items - a * SENTENCES_PER_ARTICLE)
                parts, pos = [], 0
                for i in range(k):
                    s = sentence.format(n=(a * 7 + i) % 90 + 10)
                    offsets.append((a + 1, i, pos, pos + len(s) - 1))
                    parts.append(s)
                    pos += len(s)
                texts.append("".join(parts))
            for chunk in _chunks([{"id": a + 1, "project_id": 1, "external_id": f"art-{a:06d}", "title": f"Article {a}", "text": t, "meta": {},
                                   "sha256": "0" * 64} for a, t in enumerate(texts)]):
                conn.execute(insert(Article), chunk)
            for chunk in _chunks([{"id": k + 1, "article_id": a, "index": i, "start": s, "end": e} for k, (a, i, s, e) in enumerate(offsets)]):
                conn.execute(insert(Sentence), chunk)
            codes = make_codes(n_items, seed)
            rng = np.random.default_rng(seed + 1)
            seconds = rng.gamma(2.0, 6.0, size=codes.shape).round(2)
            rows = [
                {"user_id": j + 1, "sentence_id": i + 1, "label": LABELS[c], "seconds": float(seconds[i, j]), "guidelines_version": 1,
                 "version": 1, "needs_review": False}
                for i, j in zip(*(x.tolist() for x in np.nonzero(codes >= 0)), strict=True) for c in (int(codes[i, j]),)
            ]
            for chunk in _chunks(rows):
                conn.execute(insert(Annotation), chunk)
            if with_spans:
                _spans(conn, offsets, codes, rng)
            db.session.commit()
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            db.session.remove()
            db.engine.dispose()
        OUT.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            if Path(str(work) + suffix).exists():
                shutil.move(str(work) + suffix, str(path) + suffix)
        print(f"built {path.relative_to(ROOT)}: {len(rows):,} ratings in {time.perf_counter() - started:.1f} s", flush=True)


def _spans(conn, offsets, codes, rng) -> None:  # noqa: ANN001
    """In 30 % of sentences a quote and its source; each annotator marks them exactly (80 %),
    one character off (10 %) or not at all (10 %), and links them (90 %)."""
    span_rows, links = [], []
    next_id = 1
    for k, (article, _i, start, _end) in enumerate(offsets):
        if rng.random() >= 0.3:
            continue
        for j in range(codes.shape[1]):
            if codes[k, j] < 0:
                continue
            ids = []
            for label, (s, e) in (("QUOTE", (start + 19, start + 50)), ("SOURCE", (start, start + 9))):
                r = rng.random()
                if r >= 0.9:
                    continue
                if r >= 0.8:
                    e += 1
                span_rows.append({"id": next_id, "uid": f"s{next_id:08d}", "article_id": article, "user_id": j + 1, "label": label, "start": s, "end": e})
                ids.append(next_id)
                next_id += 1
            if len(ids) == 2 and rng.random() < 0.9:
                links.append({"uid": f"r{len(links):08d}", "article_id": article, "user_id": j + 1, "type": "attributed_to",
                              "from_span_id": ids[0], "to_span_id": ids[1]})
    for chunk in _chunks(span_rows):
        conn.execute(insert(Span), chunk)
    for chunk in _chunks(links):
        conn.execute(insert(Relation), chunk)


def bench_metrics(runs: int) -> tuple[float, list[float], object]:
    times, report = [], None
    for _ in range(runs):
        app = app_for(BIG_DB)
        with app.app_context():
            started = time.perf_counter()
            report = pa.label_metrics(db.session, 1)
            times.append(time.perf_counter() - started)
            db.session.remove()
            db.engine.dispose()
    return statistics.median(times), times, report


def bench_page(runs: int) -> tuple[float, list[float], float, int]:
    app = app_for(PAGE_DB)
    client = app.test_client()
    with app.app_context():
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        response = client.post("/login", data={"name": REVIEWER, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, "the reviewer could not log in"
    cold, warm, size = [], [], 0
    for _ in range(runs):
        with app.app_context():
            db.session.execute(delete(CacheEntry))
            db.session.commit()
            db.session.remove()
        started = time.perf_counter()
        response = client.get("/review/1/agreement")
        cold.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        size = len(response.data)
        with app.app_context():  # stored, as the CLI or a writer stores them: a GET never does, so it alone warms nothing
            pa.summary(db.session, 1)
            pa.suggestions(db.session, 1)
            db.session.remove()
        started = time.perf_counter()
        assert client.get("/review/1/agreement").status_code == 200
        warm.append(time.perf_counter() - started)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return statistics.median(cold), cold, statistics.median(warm), size


def bench_queue(runs: int) -> tuple[list[float], list[float], list[float], int]:
    """The disagreement queue (GET /review/1/queue) of the page project: its disputes computed (no cache_entries row, as
    after any annotator's save: a GET never stores them), and served from a stored entry of the same revision (as after
    an adjudication, whose POST stores them); and the disputes alone, computed."""
    app = app_for(PAGE_DB)
    client = app.test_client()
    with app.app_context():
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        assert client.post("/login", data={"name": REVIEWER, "password": PASSWORD, "csrf_token": token}).status_code == 302
    cold, warm, alone, rows = [], [], [], 0
    for _ in range(runs):
        with app.app_context():
            db.session.execute(delete(CacheEntry))
            db.session.commit()
            db.session.remove()
        started = time.perf_counter()
        assert client.get("/review/1/queue").status_code == 200
        cold.append(time.perf_counter() - started)
        with app.app_context():
            started = time.perf_counter()
            rows = len(pa.disagreements(db.session, 1, use_cache=False))
            alone.append(time.perf_counter() - started)
            pa.disagreements(db.session, 1)  # stored, as an adjudication's POST does
            db.session.remove()
        started = time.perf_counter()
        assert client.get("/review/1/queue").status_code == 200
        warm.append(time.perf_counter() - started)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return cold, warm, alone, rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per figure (the median is reported)")
    ap.add_argument("--rebuild", action="store_true", help="build the benchmark databases again")
    args = ap.parse_args()
    print(f"machine: {describe()} | {platform.platform()} | nproc {nproc()} | python {platform.python_version()} | numpy {np.__version__}", flush=True)
    for path, n, spans in ((BIG_DB, N_BIG, False), (PAGE_DB, N_PAGE, True)):
        if args.rebuild or not path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            build(path, n, spans)
    ok = True

    median, times, report = bench_metrics(args.runs)
    codes = make_codes(N_BIG)
    expected = label_report(LabelMatrix(codes, list(ANNOTATORS), LABELS))
    same = all(
        (getattr(report, k).value == getattr(expected, k).value) or abs(getattr(report, k).value - getattr(expected, k).value) < 1e-12
        for k in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha")
    )
    passed = median < METRICS_TARGET_S and same
    ok &= passed
    print(
        f"all label metrics from the database, {report.n_items:,} sentences x 3 annotators, {report.n_ratings:,} ratings (query included, cold): "
        f"median {median:.3f} s (min {min(times):.3f}, max {max(times):.3f}, {len(times)} runs) target < {METRICS_TARGET_S} s "
        f"{'PASS' if passed else 'FAIL'}",
        flush=True,
    )
    print(f"  alpha {report.krippendorff_alpha.value:.4f}  fleiss {report.fleiss_kappa.value:.4f}  ac1 {report.gwet_ac1.value:.4f}  "
          f"percent {report.percent_agreement.value:.4f}; equal to agreement.label_report on the generating arrays: {same}", flush=True)

    median, cold, warm, size = bench_page(args.runs)
    passed = median < PAGE_TARGET_S
    ok &= passed
    print(
        f"agreement page, {N_PAGE:,} sentences x 3 annotators with spans and links, every figure computed (cache emptied) and rendered: "
        f"median {median:.3f} s (min {min(cold):.3f}, max {max(cold):.3f}, {len(cold)} runs) target < {PAGE_TARGET_S} s "
        f"{'PASS' if passed else 'FAIL'}",
        flush=True,
    )
    print(f"  same page served from cache_entries: median {warm:.3f} s; page size {size / 1024:.0f} KiB", flush=True)

    cold, warm, alone, rows = bench_queue(args.runs)
    print(
        f"disagreement queue, the same project ({rows:,} disputed sentences): computed on the GET (no stored entry) median "
        f"{statistics.median(cold):.3f} s (min {min(cold):.3f}, max {max(cold):.3f}), of which the disputes "
        f"{statistics.median(alone):.3f} s; served from a stored entry of the same revision median {statistics.median(warm):.3f} s "
        f"({len(cold)} runs, reference)",
        flush=True,
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
