"""Benchmark (issue 16): gold kept current by the writes, on the 1M-label fixture of bench_export.py.

    python bench/bench_gold.py [--sentences N] [--changes 1000]

On a copy of bench_export.py's fixture (333,334 sentences x 3 annotators =
1,000,002 labels; --sentences N builds a smaller one for a quick run):
1. 1,000 random label changes through the domain write path
   (annotations.write(put_label), each its own transaction, as the API saves),
   alternating in blocks with the same save minus the gold step (what a save
   cost before issue 16, when gold was left to the next reader): median and
   p95 wall time and CPU time of each. Target: the save with gold within 10 %
   of the save without.
2. Then the next export (the real CLI in a subprocess, as bench_export.py):
   it has no gold to bring up to date any more, the saves did; its wall time
   and peak memory (PSS of the process tree, or the largest RSS). Targets:
   < 20 s and < 300 MB.
Prints the load average next to every figure: on a busy machine the wall
times mean little, the CPU times more.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import bench_export  # noqa: E402
from machine import describe  # noqa: E402

TARGET_SLOWDOWN = 1.10
BLOCK = 50  # saves per block; blocks alternate with and without the gold step


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def saves(db_path: Path, changes: int, seed: int = 13) -> dict[str, list[tuple[float, float]]]:
    """(wall, cpu) seconds of each save, with and without the gold step, in alternating blocks."""
    from sqlalchemy import insert, select

    from annotator import create_app
    from annotator.db import db
    from annotator.db.models import Article, Assignment, User
    from annotator.domain import annotations
    from annotator.domain.gold import incremental

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "bench"})
    rng = random.Random(seed)
    out: dict[str, list[tuple[float, float]]] = {"with gold": [], "without gold": []}
    real = incremental.label_changed
    with app.app_context():
        session = db.session
        users = list(session.scalars(select(User.id).where(User.role == "annotator").order_by(User.id)))
        article_ids = list(session.scalars(select(Article.id).order_by(Article.id)))
        picked = [(rng.choice(article_ids), rng.randrange(bench_export.PER_ARTICLE), rng.choice(users), rng.choice(bench_export.LABELS))
                  for _ in range(changes)]
        with annotations_transaction(session):
            rows = {(a, u) for a, _, u, _ in picked}
            session.execute(insert(Assignment).prefix_with("OR IGNORE"), [{"article_id": a, "user_id": u, "status": "in_progress"}
                                                                          for a, u in sorted(rows)])
        for k, (article, index, user, label) in enumerate(picked):
            with_gold = (k // BLOCK) % 2 == 0
            incremental.label_changed = real if with_gold else (lambda *a, **kw: None)
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                annotations.write(session, lambda a=article, i=index, u=user, x=label: annotations.put_label(session, u, a, i, x))
            except annotations.AnnotationError:
                continue  # a sentence index past a short article's end
            out["with gold" if with_gold else "without gold"].append((time.perf_counter() - wall, time.process_time() - cpu))
        incremental.label_changed = real
    return out


def annotations_transaction(session):  # noqa: ANN001, ANN201
    from annotator.db.transactions import transaction

    return transaction(session)


def export(db_path: Path) -> tuple[float, float, int]:
    """(seconds, peak MB, exit code) of `annotator export bench`."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "SECRET_KEY": "bench", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "annotator", "export", "bench", "-o", str(db_path.with_suffix(".jsonl"))],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pss_peak = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        pss_peak = max(pss_peak, bench_export.tree_memory_kb(child.pid)[1])
        time.sleep(0.05)
    return time.perf_counter() - started, max(pss_peak, usage.ru_maxrss) / 1024, os.waitstatus_to_exitcode(status)


def remove(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=bench_export.N_SENTENCES)
    parser.add_argument("--changes", type=int, default=1000)
    args = parser.parse_args()
    bench_export.OUT.mkdir(parents=True, exist_ok=True)
    if args.sentences == bench_export.N_SENTENCES:
        fixture = bench_export.OUT / f"export-fixture-{bench_export.FIXTURE_VERSION}.sqlite3"
    else:
        bench_export.N_SENTENCES = args.sentences
        fixture = bench_export.OUT / f"gold-fixture-{args.sentences}.sqlite3"
    if not fixture.exists():
        bench_export.build(fixture)
    work = bench_export.OUT / "gold-bench.sqlite3"
    remove(work)
    shutil.copyfile(fixture, work)
    print(describe())
    print(f"{args.sentences} sentences x 3 annotators; {args.changes} label changes ({load()})")
    timings = saves(work, args.changes)
    medians = {}
    for name, values in timings.items():
        walls, cpus = sorted(w for w, _ in values), sorted(c for _, c in values)
        medians[name] = (statistics.median(walls), statistics.median(cpus))
        print(f"save {name:13}: median {1000 * medians[name][0]:.2f} ms wall, {1000 * medians[name][1]:.2f} ms CPU; "
              f"p95 {1000 * walls[int(0.95 * len(walls))]:.2f} ms wall ({len(values)} saves, {load()})")
    ratio = medians["with gold"][1] / medians["without gold"][1]
    print(f"save with gold / without, median CPU: {ratio:.3f} (target <= {TARGET_SLOWDOWN})  {'PASS' if ratio <= TARGET_SLOWDOWN else 'FAIL'}")
    seconds, mb, code = export(work)
    ok = code == 0 and seconds < bench_export.TARGET_SECONDS and mb < bench_export.TARGET_RSS_MB
    print(f"next export (gold already current): {seconds:.1f} s, peak {mb:.0f} MB, exit {code} "
          f"(targets < {bench_export.TARGET_SECONDS:.0f} s, < {bench_export.TARGET_RSS_MB:.0f} MB; {load()})  {'PASS' if ok else 'FAIL'}")
    remove(work)
    return 0 if ok and ratio <= TARGET_SLOWDOWN else 1


if __name__ == "__main__":
    sys.exit(main())
