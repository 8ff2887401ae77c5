"""gunicorn with and without preload: the server's memory after its first requests, and its cold start.

    python bench/bench_gunicorn_memory.py [--rounds 3]

With preload, the master imports the app once and forks the workers from it, so their imported code is
shared memory (copy-on-write) and none of them imports it again; the shipped settings
(annotator/gunicorn_conf.py) do it from three workers. The shipped settings with `preload_app = True`
against the same with `preload_app = False` (each worker imports the app itself, as gunicorn does by
default), on SQLite, 3 workers, in alternating rounds (the machine is shared: ratios within a round say
more than the absolute figures):

  * cold start: from starting gunicorn to the first 200 of /healthz (wall time, and the CPU seconds the
    process tree had used by then);
  * memory once every worker has answered its first requests (the login page, an article's JSON, a
    save): summed RSS and summed PSS of the process tree, from /proc/<pid>/smaps_rollup. RSS counts a
    page shared by four processes four times; PSS splits it among them, so its sum is what the server
    really occupies.

Summed RSS barely moves with preload, or rises: the master now holds the app too, and each worker's RSS
still counts the pages it shares with it. PSS is the figure that shows the sharing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import set_up  # noqa: E402
from gunicorn_server import free_port, memory_kb, stop_server, tree  # noqa: E402
from machine import describe  # noqa: E402

WORKERS = 3
REQUESTS_PER_WORKER = 4  # API calls each worker must have answered before memory is read
TARGET_PSS_RATIO = 0.8  # summed PSS with preload / without, in the same round
TARGET_START_RATIO = 1.0  # cold start with preload / without, in the same round
PRELOAD = "from annotator.gunicorn_conf import *  # noqa: F403\npreload_app = True\n"
NO_PRELOAD = "from annotator.gunicorn_conf import *  # noqa: F403\npreload_app = False\n"


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """Summed (RSS, PSS) of the processes, in MB."""
    totals = memory_kb(pids)
    return totals["Rss:"] / 1024, totals["Pss:"] / 1024


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def served(access_log: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for line in access_log.read_text().splitlines():
        pid, _, path = (line.split() + ["", ""])[:3]
        if path.startswith("/api/"):
            counts[int(pid.strip("<>"))] = counts.get(int(pid.strip("<>")), 0) + 1
    return counts


def first_requests(base: str, setup: dict, access_log: Path, workers: list[int]) -> None:
    """The login page, an article's JSON and a save, from several clients at once, until every worker
    has answered REQUESTS_PER_WORKER API calls."""
    plans = list(setup["plan"].values())

    def client(k: int) -> None:
        plan = plans[k % len(plans)]
        http = requests.Session()
        http.get(f"{base}/login", timeout=30).raise_for_status()
        http.headers["Authorization"] = f"Bearer {plan['token']}"
        article = plan["articles"][0]
        http.get(f"{base}/api/articles/{article}", timeout=30).raise_for_status()
        http.put(f"{base}/api/articles/{article}/labels/{k % plan['sentences'][0]}", json={"label": "CFS", "seconds": 1},
                 timeout=30).raise_for_status()

    deadline = time.monotonic() + 120
    while True:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(2 * WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counts = served(access_log)
        if all(counts.get(pid, 0) >= REQUESTS_PER_WORKER for pid in workers):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every worker answered: {counts} for {workers}")


def run(database_uri: str, workdir: Path, config: str, setup: dict) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    access_log, log = workdir / f"access-{port}.log", workdir / f"gunicorn-{port}.log"
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "bench", "PYTHONPATH": str(ROOT)}
    env.pop("WEB_CONCURRENCY", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", config, "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
         "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s %(U)s", "annotator:create_app()"],
        cwd=workdir, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.perf_counter() - started > 120:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.01)
        cold_start = time.perf_counter() - started
        cold_cpu = cpu_seconds(tree(process.pid))
        while len(tree(process.pid)) < WORKERS + 1:
            time.sleep(0.05)
        workers = tree(process.pid)[1:]
        first_requests(base, setup, access_log, workers)
        time.sleep(0.5)
        pids = tree(process.pid)
        if pids[1:] != workers:
            raise RuntimeError(f"workers changed during the run: {workers} -> {pids[1:]}")
        rss, pss = memory_mb(pids)
        master_rss, master_pss = memory_mb(pids[:1])
        return {"start_s": cold_start, "start_cpu_s": cold_cpu, "rss_mb": rss, "pss_mb": pss,
                "master_rss_mb": master_rss, "master_pss_mb": master_pss}
    finally:
        stop_server(process)


def report(name: str, value: float, target: float | None, unit: str) -> bool:
    if target is None:
        print(f"  {name:<48} {value:>8.2f} {unit}", flush=True)
        return True
    ok = value < target
    print(f"  {name:<48} {value:>8.2f} {unit:<4} target < {target:g} {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print(f"machine: {describe()}")
    print(f"load average before the run: {os.getloadavg()[0]:.1f}")
    modes: dict[str, str] = {}
    results: dict[str, list[dict]] = {"preload": [], "no preload": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for mode, settings in (("preload", PRELOAD), ("no preload", NO_PRELOAD)):
            (workdir / f"{mode.replace(' ', '_')}.py").write_text(settings)
            modes[mode] = str(workdir / f"{mode.replace(' ', '_')}.py")
        uri = f"sqlite:///{workdir / 'bench.sqlite3'}"
        setup = set_up(uri)
        for r in range(rounds):
            order = ["preload", "no preload"] if r % 2 == 0 else ["no preload", "preload"]
            for mode in order:
                result = run(uri, workdir, modes[mode], setup)
                results[mode].append(result)
                print(f"round {r + 1}, {mode:<10}: first 200 after {result['start_s']:.2f} s ({result['start_cpu_s']:.2f} s CPU), "
                      f"summed RSS {result['rss_mb']:.0f} MB, PSS {result['pss_mb']:.0f} MB "
                      f"(master RSS {result['master_rss_mb']:.0f} MB, PSS {result['master_pss_mb']:.0f} MB)", flush=True)
    ok = True
    print(f"\nSQLite, gunicorn -w {WORKERS}, median of {rounds} rounds:")
    for mode in results:
        for key, label, unit in (("start_s", "cold start to first 200", "s"), ("start_cpu_s", "CPU used by then", "s"),
                                 ("rss_mb", "summed RSS after first requests", "MB"), ("pss_mb", "summed PSS after first requests", "MB")):
            report(f"{mode}: {label}", statistics.median(r[key] for r in results[mode]), None, unit)
    pairs = list(zip(results["preload"], results["no preload"], strict=True))
    ok &= report("PSS ratio, preload / without (median of rounds)", statistics.median(p["pss_mb"] / n["pss_mb"] for p, n in pairs),
                 TARGET_PSS_RATIO, "x")
    ok &= report("cold start ratio, preload / without", statistics.median(p["start_s"] / n["start_s"] for p, n in pairs),
                 TARGET_START_RATIO, "x")
    report("RSS ratio, preload / without", statistics.median(p["rss_mb"] / n["rss_mb"] for p, n in pairs), None, "x")
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
