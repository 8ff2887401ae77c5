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

# The seeding and the WSGI calls, shared with bench_write_lock.py: passed to the child as source (see child_app.py)
CHILD_APP = (Path(__file__).resolve().parent / "child_app.py").read_text(encoding="utf-8")

CHILD = r"""
import cProfile, itertools, json, logging, pstats, sys, time
checkout, kind, rounds, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, checkout)
logging.disable(logging.WARNING)

app, token, ids, sentences = seeded_app("request-cpu-", [("long", "Saves", 400), ("page", "Page", 25)])
statuses = []
call = wsgi_caller(app, token, statuses)
serial = itertools.count()


def article_json():
    call("GET", f"/api/articles/{ids['page']}")


def batch_save(name="long"):
    call("POST", f"/api/articles/{ids[name]}/changes", batch_body(next(serial), sentences[name]))


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
    out = subprocess.run([sys.executable, "-c", CHILD_APP + CHILD, str(checkout), kind, str(rounds), str(n)], capture_output=True, text=True,
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
