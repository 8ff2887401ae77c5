"""Benchmark: the sentence export of a project with 1,000,000 sentence annotations.

    python bench/bench_export.py [--rebuild]

Builds (once; cached in bench/out/, keyed by FIXTURE_VERSION) a SQLite
project of 333,334 sentences in 33,334 articles, each sentence labelled by 3
annotators (1,000,002 labels); every third sentence carries, per annotator, a
QUOTE and its SOURCE linked by attributed_to (666,672 spans, 333,336
relations); every sentence has a gold label and every third one gold spans
and a gold relation. Then runs the real CLI in a subprocess,

    python -m annotator export bench -o bench/out/export.sentence.jsonl

and reports its wall time and peak RSS against the targets: under 20 s and
under 300 MB. The export forks one worker per CPU for big projects, so the RSS
reported is the sum over the whole process tree, sampled every 50 ms (and at
least getrusage's largest single process).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXTURE_VERSION = "v1"
OUT = ROOT / "bench" / "out"
N_SENTENCES = 333_334
PER_ARTICLE = 10
ANNOTATORS = ("ann1", "ann2", "ann3")
TARGET_SECONDS = 20.0
TARGET_RSS_MB = 300.0
LABELS = ("CFS", "UFS", "NFS")


def sentence_text(i: int) -> tuple[str, tuple[int, int] | None, tuple[int, int] | None]:
    """A sentence, with (quote, source) offsets inside it for every third one."""
    if i % 3 == 0:
        quote = f"The bridge will cost {i} dollars 💸 more than planned"
        source = f"Minister Zoe\u0308 Okafor-{i % 97}"
        text = f"“{quote},” said {source}."
        q0 = 1
        s0 = text.index(source)
        return text, (q0, q0 + len(quote)), (s0, s0 + len(source))
    return f"Officials counted {i} vehicles on the café’s street on Tuesday, a record.", None, None


def build(path: Path) -> None:
    from sqlalchemy import create_engine, insert

    from annotator.db import db
    from annotator.db.models import Annotation, Article, GoldLabel, GoldRelation, GoldSpan, Project, Relation, Sentence, Span, User
    from annotator.domain import labelschema

    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{tmp}")
    db.metadata.create_all(engine)
    now = datetime(2026, 11, 24, 10, 0, 0, tzinfo=timezone.utc)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
        conn.execute(insert(Project), [{"id": 1, "name": "bench", "label_schema": labelschema.preset("claims"), "guidelines": "",
                                         "guidelines_version": 1, "annotators_per_article": 3, "majority_threshold": 1.0, "revision": 0, "created_at": now}])
        names = (*ANNOTATORS, "reviewer")
        conn.execute(insert(User), [{"id": k + 1, "name": n, "role": "reviewer" if n == "reviewer" else "annotator", "active": True,
                                      "password_hash": None, "created_at": now} for k, n in enumerate(names)])
        import hashlib

        sentence_id = span_id = relation_id = gold_span_id = 0
        n_articles = (N_SENTENCES + PER_ARTICLE - 1) // PER_ARTICLE
        batch: dict[str, list] = {k: [] for k in ("articles", "sentences", "labels", "spans", "relations", "gold", "gold_spans", "gold_relations")}

        def flush() -> None:
            for key, model in (("articles", Article), ("sentences", Sentence), ("labels", Annotation), ("spans", Span), ("relations", Relation),
                               ("gold", GoldLabel), ("gold_spans", GoldSpan), ("gold_relations", GoldRelation)):
                if batch[key]:
                    conn.execute(insert(model), batch[key])
                    batch[key].clear()

        i = 0
        for a in range(1, n_articles + 1):
            parts, bounds, pos = [], [], 0
            marks = []
            for _ in range(min(PER_ARTICLE, N_SENTENCES - i)):
                text, quote, source = sentence_text(i)
                bounds.append((pos, pos + len(text)))
                if quote and source:
                    marks.append((len(bounds) - 1, (pos + quote[0], pos + quote[1]), (pos + source[0], pos + source[1])))
                parts.append(text)
                pos += len(text) + 2
                i += 1
            body = "\r\n".join(parts) + "\r\n"
            batch["articles"].append({"id": a, "project_id": 1, "external_id": f"bench-{a:06d}", "title": f"Article {a}", "text": body,
                                      "meta": {"n": a}, "sha256": hashlib.sha256(body.encode()).hexdigest(), "created_at": now})
            for index, (s, e) in enumerate(bounds):
                sentence_id += 1
                batch["sentences"].append({"id": sentence_id, "article_id": a, "index": index, "start": s, "end": e})
                for u in range(3):
                    batch["labels"].append({"user_id": u + 1, "sentence_id": sentence_id, "label": LABELS[(sentence_id + (u == 2)) % 3],
                                            "seconds": 2.5, "guidelines_version": 1, "version": 1, "needs_review": False, "updated_at": now})
                batch["gold"].append({"sentence_id": sentence_id, "label": LABELS[sentence_id % 3], "provenance": "majority",
                                      "reviewer_id": None, "reason": None, "updated_at": now})
            for _index, quote, source in marks:
                for u in range(3):
                    span_id += 2
                    relation_id += 1
                    batch["spans"].append({"id": span_id - 1, "uid": f"q{span_id - 1}", "article_id": a, "user_id": u + 1, "label": "QUOTE",
                                           "start": quote[0], "end": quote[1], "created_at": now, "updated_at": now})
                    batch["spans"].append({"id": span_id, "uid": f"s{span_id}", "article_id": a, "user_id": u + 1, "label": "SOURCE",
                                           "start": source[0], "end": source[1], "created_at": now, "updated_at": now})
                    batch["relations"].append({"id": relation_id, "uid": f"r{relation_id}", "article_id": a, "user_id": u + 1, "type": "attributed_to",
                                               "from_span_id": span_id - 1, "to_span_id": span_id, "created_at": now})
                gold_span_id += 2
                batch["gold_spans"].append({"id": gold_span_id - 1, "uid": f"gq{gold_span_id - 1}", "article_id": a, "label": "QUOTE", "start": quote[0],
                                            "end": quote[1], "provenance": "unanimous", "reviewer_id": None, "updated_at": now})
                batch["gold_spans"].append({"id": gold_span_id, "uid": f"gs{gold_span_id}", "article_id": a, "label": "SOURCE", "start": source[0],
                                            "end": source[1], "provenance": "adjudicated", "reviewer_id": 4, "updated_at": now})
                batch["gold_relations"].append({"uid": f"gr{gold_span_id}", "article_id": a, "type": "attributed_to", "from_span_id": gold_span_id - 1,
                                                "to_span_id": gold_span_id, "provenance": "unanimous", "reviewer_id": None})
            if len(batch["labels"]) >= 60_000:
                flush()
        flush()
    engine.dispose()
    os.replace(tmp, path)
    print(f"built {path.name}: {N_SENTENCES:,} sentences, {N_SENTENCES * 3:,} labels, {span_id:,} spans, {relation_id:,} relations "
          f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def tree_memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process and all its descendants, from /proc (Linux).

    RSS counts pages a forked worker shares with its parent once per process;
    PSS divides each shared page among the processes sharing it, so the PSS
    sum is the memory the process tree really holds."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    rss = pss = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            with open(f"/proc/{current}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def refresh_gold(fixture: Path, env: dict[str, str]) -> tuple[float, float, float, int]:
    """Bring automatic gold up to date from scratch in its own process: (seconds, peak RSS in MB,
    longest wait of a concurrent writer in seconds, writes made meanwhile).

    An export first makes automatic gold current (gold.ensure_auto_gold); that
    work happens once per change of the labels, so it is measured here, apart
    from the export itself. Meanwhile this process writes to the database every
    20 ms, queued as annotators' saves are (db.writer_queue), and times how long each write waits for
    the refresh's write transactions.
    """
    import sqlite3

    with sqlite3.connect(fixture) as conn:
        conn.execute("DELETE FROM cache_entries WHERE key LIKE 'autogold:%'")
    code = (
        "import resource, sys, time\n"
        "from annotator import create_app\n"
        "from annotator.domain import gold, projects\n"
        "from annotator.db import db\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    started = time.perf_counter()\n"
        "    gold.ensure_auto_gold(db.session, projects.get_project(db.session, 'bench').id)\n"
        "    print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = sqlite3.connect(fixture, timeout=120, isolation_level=None)
    longest, writes = 0.0, 0
    with open(f"{fixture}.write-lock", "a+b") as queue:  # the app's writers queue on this lock (db.writer_queue)
        while child.poll() is None:
            started = time.perf_counter()
            fcntl.flock(queue, fcntl.LOCK_EX)
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE users SET active = active WHERE id = -1")
            writer.execute("COMMIT")
            fcntl.flock(queue, fcntl.LOCK_UN)
            longest, writes = max(longest, time.perf_counter() - started), writes + 1
            time.sleep(0.02)
    writer.close()
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(stderr)
    out = stdout.split()
    return float(out[0]), float(out[1]), longest, writes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached fixture database")
    parser.add_argument("export_args", nargs="*", help="extra arguments for 'annotator export' (after --), e.g. -- --jobs 1")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    fixture = OUT / f"export-fixture-{FIXTURE_VERSION}.sqlite3"
    if args.rebuild or not fixture.exists():
        build(fixture)
    output = OUT / "export.sentence.jsonl"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{fixture}", "SECRET_KEY": "bench", "PYTHONPATH": str(ROOT)}
    gold_seconds, gold_mb, gold_wait, gold_writes = refresh_gold(fixture, env)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "annotator", "export", "bench", "-o", str(output), *args.export_args],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rss_peak = pss_peak = 0
    while True:  # the export may fork workers: sample the memory of the whole process tree
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)  # this child's own rusage (with its reaped workers)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            break
        rss, pss = tree_memory_kb(child.pid)
        rss_peak, pss_peak = max(rss_peak, rss), max(pss_peak, pss)
        time.sleep(0.05)
    stdout, stderr = child.stdout.read(), child.stderr.read()
    run = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    seconds = time.perf_counter() - started
    largest_mb = usage.ru_maxrss / 1024  # Linux: kilobytes; the largest single process
    peak_mb = max(pss_peak / 1024, largest_mb)
    cpu = usage.ru_utime + usage.ru_stime
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        print("FAIL: the export exited with", run.returncode)
        return 1
    lines = 0
    with open(output, encoding="utf-8") as fh:
        first = json.loads(fh.readline())
        lines = 1 + sum(1 for _ in fh)
    annotations = len(first["annotations"])
    ok_count = lines == N_SENTENCES and annotations == 3
    ok_time, ok_rss = seconds < TARGET_SECONDS, peak_mb < TARGET_RSS_MB
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, Python {platform.python_version()}")
    print(f"fixture: {fixture.name} ({fixture.stat().st_size / 2**20:.0f} MB), output {output.stat().st_size / 2**20:.0f} MB, {lines:,} sentence records")
    print(f"records: {lines:,} (want {N_SENTENCES:,}) with {annotations} annotators each  {'PASS' if ok_count else 'FAIL'}")
    print(f"cpu time of the export: {cpu:.1f} s; load average before: {load_before:.1f} on {os.cpu_count()} cpus (other work slows the wall time)")
    print(f"wall time: {seconds:.1f} s (target < {TARGET_SECONDS:.0f} s)  {'PASS' if ok_time else 'FAIL'}")
    print(f"before it, automatic gold recomputed from scratch (what the first export after labelling pays): "
          f"{gold_seconds:.1f} s, peak RSS {gold_mb:.0f} MB (reported, no target); a writer saving every 20 ms meanwhile "
          f"waited at most {gold_wait * 1000:.0f} ms ({gold_writes} saves)")
    print(f"peak memory: {peak_mb:.0f} MB = max(PSS of all the export's processes together, RSS of the largest one: {largest_mb:.0f} MB); "
          f"RSS summed over processes {rss_peak / 1024:.0f} MB counts shared pages twice (target < {TARGET_RSS_MB:.0f} MB)  {'PASS' if ok_rss else 'FAIL'}")
    return 0 if ok_count and ok_time and ok_rss else 1


if __name__ == "__main__":
    sys.exit(main())
