"""Run every benchmark in bench/ (each a script that prints its figures and targets).

    python bench/run_all.py            # all of them
    python bench/run_all.py import api # only bench_import.py and bench_api.py

Exits non-zero when any benchmark misses a target or fails.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    known = [s.stem.removeprefix("bench_") for s in scripts]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"only these (bench_NAME.py): {', '.join(known)}")
    names = parser.parse_args(argv).names
    unknown = [n for n in names if n not in known]
    if unknown:  # a typo ran nothing and said every benchmark met its targets
        parser.error(f"no benchmark named {', '.join(unknown)}")
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = []
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"=== {script.name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.perf_counter() - started:.1f} s", flush=True)
        if code:
            failed.append(script.name)
    print(f"\n{len(scripts) - len(failed)} of {len(scripts)} benchmarks met their targets" + (f"; missed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
