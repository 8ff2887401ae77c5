"""What a gunicorn worker holds before its first request: the RSS of a process after `create_app()`, and what it imported.

    python bench/bench_app_memory.py [--checkout DIR ...] [--runs 5]

Each run is a fresh `python -c` on one checkout (PYTHONPATH and cwd the checkout) that builds the app on an
empty SQLite file and reads its own VmRSS from /proc/self/status, its number of modules, and which of NumPy and
the agreement figures it imported. Runs alternate between the checkouts (the machine is shared), and each
checkout's median is printed with the load average. Under gunicorn the master preloads the app and forks the
workers from it, so all of this is in the master's RSS and again in every worker's: on 2 workers a module
create_app imports counts three times in the summed RSS of the tree.

Target: create_app imports neither NumPy nor the agreement figures (they load with the first request that
needs them: tests/test_app_imports.py).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402

HEAVY = ("numpy", "annotator.stats.agreement", "annotator.domain.agreement")
PROBE = """
import json, sys
from annotator import create_app
create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "bench"})
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(json.dumps({"rss_kb": rss, "modules": len(sys.modules), "heavy": sorted(m for m in sys.modules if m in %r)}))
""" % (HEAVY,)


def probe(checkout: Path, database_uri: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    result = subprocess.run([sys.executable, "-c", PROBE, database_uri], cwd=checkout, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{checkout}: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", help="checkouts to compare (default: this one)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    checkouts = [c.resolve() for c in (args.checkout or [ROOT])]
    print(f"machine: {describe()}")
    results: dict[Path, list[dict]] = {c: [] for c in checkouts}
    loads = []
    with tempfile.TemporaryDirectory(prefix="app-memory-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'empty.sqlite3'}"
        for r in range(args.runs):
            loads.append(os.getloadavg()[0])
            for checkout in checkouts if r % 2 == 0 else checkouts[::-1]:
                results[checkout].append(probe(checkout, uri))
    print(f"load average during the runs: {min(loads):.1f}-{max(loads):.1f}")
    print(f"median of {args.runs} runs: VmRSS after create_app(), modules, heavy modules imported")
    ok = True
    for checkout, runs in results.items():
        rss = statistics.median(run["rss_kb"] for run in runs) / 1024
        spread = f"{min(run['rss_kb'] for run in runs) / 1024:.1f}-{max(run['rss_kb'] for run in runs) / 1024:.1f}"
        heavy = sorted({m for run in runs for m in run["heavy"]})
        print(f"  {str(checkout):<30} {rss:6.1f} MB ({spread})  {statistics.median(run['modules'] for run in runs):5.0f} modules  "
              f"imported: {', '.join(heavy) or 'none of them'}")
        if checkout == ROOT:
            ok = not heavy
    print("target: create_app imports neither NumPy nor the agreement figures: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
