"""Work inside the write lock per batch save: instructions, SQLite statements and Python calls, checkouts side by side.

    python bench/bench_write_lock.py [--checkout DIR ...] [--saves 100] [--no-callgrind] [--others 3]

Why: with 8 annotators saving at once on SQLite, the saves run one at a time through the writer queue
(db/transactions.py writer_queue: an OS file lock, then BEGIN IMMEDIATE ... COMMIT), so the time that lock is
held per save is the saves' ceiling (issue 17: ~3.5 ms held, ~285 saves/s). Everything moved out of it raises
that ceiling. Time is not measured here (it moves with the machine's load); these three counts do not:
- instructions inside the lock per save (valgrind callgrind, collecting only while the lock is held: a tiny C
  helper, built with gcc at run time, toggles collection with CALLGRIND_TOGGLE_COLLECT), and per whole request
  (the same, collecting over the WSGI call), on the real interpreter binary with PYTHONHASHSEED=0;
- SQLite statements inside the lock per save (the driver's trace callback, on only while it is held; BEGIN and
  COMMIT count);
- pages written to SQLite's log per save (the log's growth over the saves, no checkpoint in between): each is
  written by the COMMIT inside the lock and again when a checkpoint copies it into the database;
- Python calls inside the lock per save, and per whole request (a profiler ticking once per call, as
  bench/bench_request_cpu.py counts them).

The save is bench/bench_request_cpu.py's batch kind: POST /api/articles/<id>/changes with a request id, a label
and two spans, on a 400-sentence article of a fresh SQLite file (a file, so the writer queue's flock is real),
through the WSGI app with the annotator's Bearer token. The lock's region is writer_queue's block, which this
script wraps (the hot path enters it once per save: run_write -> transaction(queue=True)).

It also prints the statements inside the lock by kind, and SQLite's virtual-machine instructions per statement kind
(a progress handler ticking at every one): where the C side of the lock's work goes.

Figures per save (2-core VM shared with other jobs, which these counts do not depend on; Python 3.11.7, SQLite
file, 100 saves after 50 warm-up; `python bench/bench_write_lock.py --checkout OLD --checkout NEW`):
                                   instructions      instructions   statements   SQLite VM      Python calls   Python calls
                                   in the lock       per request    in the lock  instructions   in the lock    per request
    main at 88bfb5a                3.972 M           5.494 M        19           10,869         1,148          2,276
    fix-lock (issue 17)            2.798 M           4.624 M        17            6,106           873          2,145
    main at 7916c75                -                 -              17            6,141           875          2,169
    fix-scale                      -                 -              17            1,901           876          2,173
  the same with 40 saves after the 50 (callgrind's run, `--saves 40`; the VM count is lower as fewer spans are there):
    main at 7916c75                2.570 M           4.477 M        17            4,551           875          2,167
    fix-scale                      2.158 M           4.016 M        17            1,600           876          2,174
  SQLite VM instructions of the three statements that grew with the article (100 saves; `--others 3`: three annotators
  labelled every sentence and marked a quote of their own on each before, 1,200 spans more):
                                   markers (x2)   spans over the sentence   progress ('done')   all    all, --others 3
    main at 7916c75                2,088          1,745                     1,762               6,141  25,281 (markers 14,094, spans 8,786)
    fix-scale                         88          1,127                       121               1,901   3,616 (markers 90, spans 2,748)
  markers: one seek on (article_id, start, end, label, user_id), not a scan of the article's spans; progress: the
  sentences next to the one written looked at first, not a walk from the first sentence; spans over the sentence: the
  spans that start before its end, in the index's order (no sort), still one stabbing query (no bound on span length).
fsyncs inside the lock over 650 saves (strace; the machine's disk decides the milliseconds, not the count):
    main at 925e9f8                39 (168-263 ms)    SQLite's automatic checkpoint ran inside the COMMIT that crossed 1,000 pages
    fix-lock2                      9-10 (19-84 ms)    a queued write checkpoints after letting the lock go (one in 50, by chance);
                                                      what is left is the log's header, synced when a writer starts it afresh
What moved out of (or shrank in) the lock: the read transaction's COMMIT (before the queue) and the ORM's commit
bookkeeping (after it: the driver's COMMIT inside); the batch's shape check and request fingerprint (before the
transaction); progress decided with EXISTS (stops at the first unlabelled sentence) in one UPDATE on SQLite; Prepared
statements reusing the transaction's connection and skipping the listener lists when no listener exists; (fix-scale)
the reads that grew with the article's spans and with the sentences behind the one saved.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The seeding and the WSGI calls, shared with bench_request_cpu.py: passed to the child as source (see child_app.py)
CHILD_APP = (Path(__file__).resolve().parent / "child_app.py").read_text(encoding="utf-8")

CHILD = r"""
import contextlib, cProfile, ctypes, itertools, json, logging, os, pstats, sys
checkout, mode, n, helper, others = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
sys.path.insert(0, checkout)
logging.disable(logging.WARNING)
from annotator.db import db, transactions

app, token, ids, sentences = seeded_app("write-lock-", [("long", "Saves", 400)])
if others:  # annotators who went through the article before: a label and a quote of their own on every sentence
    from annotator.db.models import Annotation, Sentence, Span, User
    from sqlalchemy import select as select_
    with app.app_context():
        s = db.session
        rows = s.execute(select_(Sentence.id, Sentence.start).where(Sentence.article_id == ids["long"])).all()
        for k in range(others):
            user = User(name=f"other{k}", role="annotator")
            s.add(user)
            s.flush()
            s.add_all(Annotation(user_id=user.id, sentence_id=sid, label="CFS", guidelines_version=1) for sid, _ in rows)
            # each one's own offsets: one marker each, below any min_raters, as the save's spans are
            s.add_all(Span(article_id=ids["long"], user_id=user.id, label="QUOTE", start=start, end=start + 10 + k) for _, start in rows)
        s.commit()
        s.remove()
statuses = []
call = wsgi_caller(app, token, statuses)
serial = itertools.count()


def batch_save():
    call("POST", f"/api/articles/{ids['long']}/changes", batch_body(next(serial), sentences["long"]))


# What runs while the lock is held: the hooks below start and stop counting there (and only there).
on, off = (lambda: None), (lambda: None)
entered = [0]
queue = transactions.writer_queue


@contextlib.contextmanager
def counted_queue(session):
    with queue(session):
        entered[0] += 1
        on()
        try:
            yield
        finally:
            off()


transactions.writer_queue = counted_queue
for _ in range(50):
    batch_save()
entered[0] = 0
result = {}
if mode in ("calls", "calls-request"):
    ticks = itertools.count()
    profile = cProfile.Profile(lambda: next(ticks), 1.0)
    if mode == "calls":
        on, off = profile.enable, profile.disable
        for _ in range(n):
            batch_save()
    else:
        profile.enable()
        for _ in range(n):
            batch_save()
        profile.disable()
    stats = pstats.Stats(profile)
    result["calls"] = stats.total_calls / n
    top = sorted(stats.stats.items(), key=lambda item: -item[1][3])[:40]  # by cumulative calls
    result["top"] = [f"{v[1] / n:8.1f} {v[3] / n:8.0f} {k[0].rsplit('/', 1)[-1]}:{k[1]}({k[2]})" for k, v in top]
elif mode == "statements":
    statements, tracing = [], [False]
    with app.app_context():
        engine = db.engine

    steps = {}

    def trace(sql):
        if tracing[0]:
            statements.append(" ".join(sql.split()[:3])[:40])

    def step():  # SQLite's virtual machine instructions, for the statement traced last
        if tracing[0] and statements:
            steps[statements[-1]] = steps.get(statements[-1], 0) + 1
        return 0

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        dbapi_connection.set_trace_callback(trace)
        dbapi_connection.set_progress_handler(step, 1)

    engine.dispose()  # reconnect: every connection from now on traces (nothing else listens: Prepared stays on the cursor)

    def start():
        tracing[0] = True

    def stop():
        tracing[0] = False

    on, off = start, stop
    for _ in range(n):
        batch_save()
    result["statements"] = len(statements) / n
    result["kinds"] = sorted({s: statements.count(s) / n for s in statements}.items(), key=lambda kv: -kv[1])
    result["steps"] = sorted(((s, v / n) for s, v in steps.items()), key=lambda kv: -kv[1])
elif mode == "pages":  # pages written to SQLite's log per save: the log's growth with no checkpoint in between
    with app.app_context():
        engine = db.engine
    engine._annotator_checkpoint_every = 0  # no checkpoint after a write (transactions.checkpoint_now_and_then)
    database = engine.url.database
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(database + "-wal")
    for _ in range(n):
        batch_save()
    with engine.connect() as connection:
        page = connection.exec_driver_sql("PRAGMA page_size").scalar()
    result["pages"] = (os.path.getsize(database + "-wal") - size) / (page + 24) / n  # a frame: 24-byte header + page
elif mode == "fsyncs":  # the parent runs this child under strace: only the saves, nothing counted here
    for _ in range(n):
        batch_save()
else:  # callgrind: "lock" collects while the lock is held, "request" over each whole request
    toggle = ctypes.CDLL(helper).annotator_toggle_collect
    if mode == "lock":
        on = off = toggle
        for _ in range(n):
            batch_save()
    else:
        for _ in range(n):
            toggle()
            batch_save()
            toggle()
bad = [s for s in statuses if not s.startswith("200")]
result["bad"] = bad[:3]
result["entered"] = entered[0] / n
print(json.dumps(result))
"""

HELPER = "#include <valgrind/callgrind.h>\nvoid annotator_toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }\n"


def interpreter() -> str:
    """The interpreter binary itself (valgrind must not follow a pyenv shim or a wrapper script)."""
    return os.path.realpath(sys.executable)


def build_helper(directory: Path) -> Path:
    source, library = directory / "toggle.c", directory / "toggle.so"
    source.write_text(HELPER)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def child(checkout: Path, mode: str, n: int, helper: Path, valgrind: list[str] | None = None, others: int = 0) -> dict:
    command = [*(valgrind or []), interpreter(), "-c", CHILD_APP + CHILD, str(checkout), mode, str(n), str(helper), str(others)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=checkout, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["bad"]:
        raise RuntimeError(f"{checkout}: the save answered {result['bad']}")
    if result["entered"] != 1:
        raise RuntimeError(f"{checkout}: the write lock was taken {result['entered']} times per save, not once")
    return result


def fsyncs(checkout: Path, n: int, directory: Path, others: int = 0) -> dict:
    """fsync and fdatasync calls of n saves (and the 50 before them), inside the write lock (between writer_queue's
    flock and its unlock) and outside it, with the seconds they took: strace's record of the child."""
    out = directory / "strace.out"
    child(checkout, "fsyncs", n, Path("-"), ["strace", "-f", "-T", "-e", "trace=flock,fsync,fdatasync", "-o", str(out)], others)
    held: dict[str, bool] = {}
    counts = {"locks": 0, "inside": 0, "inside_s": 0.0, "outside": 0, "outside_s": 0.0}
    for line in out.read_text().splitlines():
        lock = re.match(r"(\d+)\s+flock\(\d+, (LOCK_EX|LOCK_UN)", line)
        if lock:
            held[lock.group(1)] = lock.group(2) == "LOCK_EX"
            counts["locks"] += lock.group(2) == "LOCK_EX"
            continue
        sync = re.match(r"(\d+)\s+f(?:data)?sync\(.*<([\d.]+)>$", line)
        if sync:
            where = "inside" if held.get(sync.group(1)) else "outside"
            counts[where] += 1
            counts[where + "_s"] += float(sync.group(2))
    return counts


def instructions(checkout: Path, mode: str, n: int, helper: Path, directory: Path, others: int = 0) -> float:
    """Instructions collected per save by callgrind (only inside the toggled region)."""
    out = directory / f"callgrind.{mode}.out"
    child(checkout, mode, n, helper, ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}"], others)
    totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
    assert totals, "no totals in callgrind's output"
    return int(totals.group(1)) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", help="checkouts to compare (default: this one)")
    parser.add_argument("--saves", type=int, default=100, help="saves counted (after 50 not counted)")
    parser.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts (the slow part)")
    parser.add_argument("--top", action="store_true", help="print the functions with the most calls inside the lock")
    parser.add_argument("--others", type=int, default=0,
                        help="annotators who labelled every sentence and marked a quote on each before (their spans make the article's)")
    parser.add_argument("--fsync-saves", type=int, default=600,
                        help="saves run under strace to count fsyncs inside and outside the lock (0: skip; a checkpoint "
                             "comes about every 60 saves, so a few hundred are needed)")
    args = parser.parse_args()
    checkouts = [c.resolve() for c in (args.checkout or [ROOT])]
    with tempfile.TemporaryDirectory(prefix="write-lock-") as name:
        directory = Path(name)
        helper = build_helper(directory) if not args.no_callgrind else Path("-")
        for checkout in checkouts:
            calls = child(checkout, "calls", args.saves, helper, others=args.others)
            request_calls = child(checkout, "calls-request", args.saves, helper, others=args.others)["calls"]
            statements = child(checkout, "statements", args.saves, helper, others=args.others)
            pages = child(checkout, "pages", args.saves, helper, others=args.others)["pages"]
            line = (f"{checkout}: in the lock {statements['statements']:.1f} statements, {calls['calls']:.0f} Python calls, "
                    f"{pages:.1f} log pages written; "
                    f"whole request {request_calls:.0f} Python calls")
            if not args.no_callgrind:
                inside = instructions(checkout, "lock", args.saves, helper, directory, args.others)
                request = instructions(checkout, "request", args.saves, helper, directory, args.others)
                line += f"; instructions: {inside / 1e6:.3f} M in the lock, {request / 1e6:.3f} M per request"
            print(line)
            print("  statements: " + ", ".join(f"{kind} x{count:g}" for kind, count in statements["kinds"]))
            print(f"  SQLite VM instructions in the lock: {sum(v for _, v in statements['steps']):.0f}: "
                  + ", ".join(f"{kind} {count:.0f}" for kind, count in statements["steps"]))
            if args.fsync_saves and shutil.which("strace"):
                f = fsyncs(checkout, args.fsync_saves, directory, args.others)
                print(f"  fsyncs over {f['locks']} saves: {f['inside']} inside the lock ({f['inside_s'] * 1e3:.1f} ms), "
                      f"{f['outside']} outside it ({f['outside_s'] * 1e3:.1f} ms)")
            elif args.fsync_saves:
                print("  fsyncs: not counted (no strace on this machine: apt-get install strace)")
            if args.top:
                print("\n".join("  " + row for row in calls["top"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
