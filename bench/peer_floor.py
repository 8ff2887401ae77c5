"""Issue 17's floor row alone: batch saves by 8 annotators at 8 clients against the server's floor (GET /healthz at 8
clients), on one server, checkouts or settings side by side, with where the machine's time went.

    python bench/peer_floor.py [--variant DIR[:NAME=VALUE,...]] ... [--trials 3] [--workdir DIR] [--first-raters]

bench/peer_rounds.py runs the whole side-by-side (every row, Potato, Label Studio: about ten minutes a round); this
runs only the row that still fails, in about a minute a variant after a set-up of one, so that a change (a checkout,
or an environment variable the server reads, e.g. WEB_CONCURRENCY=1) can be tried against the shipped server within
minutes. The workload, the adapter and the floor are peer_rounds.py's (the shared harness's article set and
annotations, one batch request a save), on one fresh SQLite file set up once and copied back before every run, so
that every run saves into the same database: a save's cost grows with the annotators an article already has (its
gold and marker counts read them), and on one database that each run added 8 more to, the server's CPU per save went
from 2.7 ms in the first run to 4-5 ms after nine, charging each variant for the runs before it. Each trial runs
every variant once, in turn, each on a server of its own started with the shipped gunicorn settings
(./gunicorn.conf.py, from the variant's checkout), with annotators of its own (so every save is a first save, as in
the rounds). The set-up also saves the rounds' first phase (2,000 saves by two annotators at one client in the
rounds, here at eight: the same rows), so that every save of a run is, as in the rounds' c8 phase, an article's
third or fourth rater: then a save's label may unmake its sentence's gold and its spans' (two raters agreed), and
41% of the saves recompute their article's gold, against 9% of first and second raters' saves; without it
(--first-raters, as this script ran before) a save held the write turn for 1.7 ms of CPU, with it 3.0 ms (in
process, main at e44b702, load 7-11). Every run's annotators are assigned at set-up, which may also weigh on a save
(2.8-3.4 ms of server CPU per save with 4 runs' annotators assigned, against 1.9-2.2 ms in runs of one variant
alone, another hour): compare figures within one invocation.

Per variant and trial it prints:
- saves/s and floor/s and their ratio (the row: >= 0.5);
- the server tree's CPU per save and per floor request, user and system apart (from /proc: it moves with the
  machine's load, but both figures of a line were taken a few seconds apart);
- the machine's idle share during each phase (/proc/stat): a phase that leaves a core idle is bound by waiting
  (a lock, the clients), not by the CPU.

Figures, the rounds' shape (3rd and 4th raters), main at e44b702 (A) against one article's gold without NumPy in
one read, with its few writes prebuilt (B), alternating, `--trials 2`; the 2-core machine was saturated by other
jobs (load 17, no core idle in any phase), so the floor itself moved 182-307/s and the ratios mean little:
    A  saves 78.3/s, floor 235.9/s, ratio 0.332; server CPU per save 5.96 + 0.73 ms
    B  saves 110.0/s, floor 306.9/s, ratio 0.358; server CPU per save 4.58 + 0.65 ms
    A  saves 95.1/s, floor 182.1/s, ratio 0.522; server CPU per save 5.78 + 0.79 ms
    B  saves 103.8/s, floor 220.5/s, ratio 0.471; server CPU per save 5.37 + 0.86 ms
  a second invocation, B first, at load 4.5-6 (21-29% of the machine idle during the saves: they wait for the
  write turn, not for a core):
    B  saves 247.6/s, floor 797.6/s, ratio 0.310; server CPU per save 4.52 + 0.72 ms
    A  saves 171.9/s, floor 823.5/s, ratio 0.209; server CPU per save 6.01 + 0.88 ms
    B  saves 192.4/s, floor 880.9/s, ratio 0.218; server CPU per save 5.78 + 0.97 ms
    A  saves 189.2/s, floor 606.0/s, ratio 0.312; server CPU per save 6.38 + 0.83 ms

Needs the harness (../shared/peerbench, or $PEERBENCH_DIR); without it, says so and exits 0. Its work folder
(--workdir or $PEERBENCH_WORKDIR, default a new temporary folder) holds the database and the server's log.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peer_rounds  # noqa: E402

SAVES = 2000  # a phase, as the harness runs it (its mapping of the articles needs each of them saved on)


def variant(spec: str) -> tuple[Path, dict[str, str]]:
    """'DIR' or 'DIR:NAME=VALUE,...': a checkout and the environment its server gets on top of the adapter's."""
    directory, _, settings = spec.partition(":")
    env = dict(item.split("=", 1) for item in settings.split(",") if item)
    return Path(directory).resolve(), env


def server_cpu(pb, root: int) -> tuple[float, float]:  # noqa: ANN001
    """User and system CPU seconds of the server's process tree so far."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in pb.tree_pids(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # a process that just ended
            continue
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / tick, system / tick


def database_files(database: Path) -> list[Path]:
    """The SQLite database's file and its write-ahead log's two."""
    return [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]


def keep_database(database: Path) -> Path:
    """A copy of the database's files as they are now (no server running), in a folder beside it."""
    kept = database.parent / "as-set-up"
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir()
    for path in database_files(database):
        if path.exists():
            shutil.copy2(path, kept / path.name)
    return kept


def restore_database(database: Path, kept: Path) -> None:
    """The database's files as keep_database found them (a log file that was not there then is removed)."""
    for path in database_files(database):
        copy = kept / path.name
        if copy.exists():
            shutil.copy2(copy, path)
        else:
            path.unlink(missing_ok=True)


def machine_idle() -> tuple[int, int]:
    """(idle + iowait, all) jiffies of every core since boot."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    return values[3] + values[4], sum(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", help="DIR[:NAME=VALUE,...] (default: this checkout)")
    parser.add_argument("--trials", type=int, default=3, help="rounds of every variant in turn")
    parser.add_argument("--workdir", default=os.environ.get("PEERBENCH_WORKDIR"))
    parser.add_argument("--first-raters", action="store_true", help="no first phase at set-up: every save is an article's 1st or 2nd rater")
    args = parser.parse_args()
    if not (peer_rounds.HARNESS / "bench.py").is_file():
        print(f"skipped: no peerbench harness at {peer_rounds.HARNESS} (set PEERBENCH_DIR)")
        return 0
    variants = [variant(v) for v in (args.variant or [str(peer_rounds.ROOT)])]
    os.environ["PEERBENCH_WORKDIR"] = args.workdir or tempfile.mkdtemp(prefix="peer-floor-")
    pb = peer_rounds.harness()
    os.makedirs(os.path.join(pb.WORK, "logs"), exist_ok=True)
    sys.path.insert(0, str(peer_rounds.ROOT))
    from machine import describe  # noqa: PLC0415

    from annotator.gunicorn_conf import worker_count  # noqa: PLC0415

    print(f"machine: {describe()}")
    workers = worker_count({}, len(os.sched_getaffinity(0)))
    adapter = peer_rounds.batch_adapter(pb)(types.SimpleNamespace(
        url=None, app_dir=str(variants[0][0]), app_python=sys.executable, no_manage=False, workers=workers,
        database_url=None, saves=SAVES))
    docs = pb.gen_docs(1000)
    slots = args.trials * len(variants)
    phases = [pb.gen_annotations(docs, [f"t{k}u{i}" for i in range(8)], rand_seed=100 + k)[:SAVES] for k in range(slots)]
    first = [] if args.first_raters else pb.gen_annotations(docs, ["ann1", "ann2"], rand_seed=1)[:SAVES]  # the rounds' c1 phase
    warmup = dict(phases[0][0], annotator="warmup")
    adapter.prepare(sorted({a["annotator"] for phase in [*phases, first] for a in phase} | {"warmup"}), 1)
    try:
        adapter.cold_start()
        adapter.settle()
        adapter.import_docs(docs, rep=0)
        adapter.assign_and_map(docs, [*phases, first, [warmup]])
        if first:
            done = pb.run_saves(adapter, first, 8, 900)
            print(f"set-up: the rounds' first phase, {done['n']} saves ({done['errors']} errors)", flush=True)
    finally:  # a server left running would answer the next run's requests from this run's database
        adapter.stop()
    base_env = adapter._env
    database = Path(adapter.database_url.removeprefix("sqlite:///"))
    as_set_up = keep_database(database)
    for slot in range(slots):
        restore_database(database, as_set_up)
        directory, env = variants[slot % len(variants)]
        adapter.app_dir = str(directory)
        adapter._env = lambda env=env: dict(base_env(), **env)
        try:
            adapter.cold_start()
            adapter.settle()
            adapter.save(adapter.client("warmup"), warmup["doc"], warmup)  # the database is as set up again: the warm-up save is not in it
            pb.run_pages(adapter, 0, 50)  # every worker has answered before the clock starts
            idle0, cpu0 = machine_idle(), server_cpu(pb, adapter.proc.pid)
            saves = pb.run_saves(adapter, phases[slot], 8, 600)
            idle1, cpu1 = machine_idle(), server_cpu(pb, adapter.proc.pid)
            floor = adapter._floor()
            idle2, cpu2 = machine_idle(), server_cpu(pb, adapter.proc.pid)
        finally:
            adapter.stop()
        n, m = max(1, saves["n"]), max(1, floor["n"])
        name = f"{directory}" + (":" + ",".join(f"{k}={v}" for k, v in env.items()) if env else "")
        print(f"{name}\n  saves {saves['throughput_per_s']:.1f}/s ({saves['errors']} errors), floor {floor['throughput_per_s']:.1f}/s "
              f"({floor['errors']} errors): ratio {saves['throughput_per_s'] / floor['throughput_per_s']:.3f}\n"
              f"  server CPU per save {1e3 * (cpu1[0] - cpu0[0]) / n:.2f} ms user + {1e3 * (cpu1[1] - cpu0[1]) / n:.2f} ms system; "
              f"per floor request {1e3 * (cpu2[0] - cpu1[0]) / m:.2f} + {1e3 * (cpu2[1] - cpu1[1]) / m:.2f} ms\n"
              f"  machine idle: {(idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1]):.0%} of the saves, "
              f"{(idle2[0] - idle1[0]) / max(1, idle2[1] - idle1[1]):.0%} of the floor; load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
