"""`annotator import --suggest` of 1,000 news articles (~3,000 characters each) into SQLite.

Target: under 5 s wall time for the whole command (process start, parse,
segment, commit, then the suggesters over every imported article and their
suggestions stored), median of three runs on fresh databases. The same import
without --suggest is timed alongside, so the suggestions' share shows, and
both commands' CPU time (user + system, with their child processes): on a
busy machine the wall time says more about the neighbours than about us.

The articles are paragraphs of the project's own hand-split news
(tests/data/segmentation_news.jsonl: quotes, titles and ranks, indirect speech)
shuffled into new articles with a title line.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from machine import describe, report  # noqa: E402

ARTICLES = 1000
CHARS = 3000
RUNS = 3
TARGET_S = 5.0
SEED = 20261206


def make_articles(rng: random.Random) -> list[dict]:
    paragraphs = [json.loads(line)["text"] for line in (ROOT / "tests/data/segmentation_news.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for i in range(ARTICLES):
        body: list[str] = []
        while sum(len(p) + 1 for p in body) < CHARS:
            body.append(rng.choice(paragraphs))
        title = " ".join(body[0].split()[:7]).rstrip(",.;:")
        out.append({"id": f"story-{i:04d}", "title": title, "text": "\n".join([title, *body])})
    return out


def run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        sys.exit(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    return result


def timed_import(tmp: str, name: str, data: Path, extra: list[str]) -> tuple[float, float, str]:
    """Wall time and CPU time (user + system) of one `annotator import` on a fresh database, and what it printed."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/{name}.sqlite3", "SECRET_KEY": "bench", "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "annotator"]
    run([*cli, "init"], env)
    run([*cli, "projects", "create", "bench"], env)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = run([*cli, "import", "bench", str(data), *extra], env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, " / ".join(result.stdout.strip().splitlines())


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "articles.jsonl"
        with data.open("w", encoding="utf-8") as fh:
            for record in make_articles(random.Random(SEED)):
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"input: {ARTICLES} articles, {data.stat().st_size / 1e6:.1f} MB")
        plain, suggested, plain_cpu, suggested_cpu = [], [], [], []
        for attempt in range(RUNS):  # interleaved, so a busy moment of the machine weighs on both alike
            wall, cpu, _ = timed_import(tmp, f"plain{attempt}", data, [])
            plain.append(wall)
            plain_cpu.append(cpu)
            wall, cpu, said = timed_import(tmp, f"suggest{attempt}", data, ["--suggest"])
            suggested.append(wall)
            suggested_cpu.append(cpu)
            print(f"run {attempt + 1}: import {plain[-1]:.2f} s (CPU {plain_cpu[-1]:.2f} s), "
                  f"import --suggest {suggested[-1]:.2f} s (CPU {suggested_cpu[-1]:.2f} s) — {said}", flush=True)
        print(f"import only (median of {RUNS}): {statistics.median(plain):.2f} s, CPU {statistics.median(plain_cpu):.2f} s; "
              f"the suggestions add {statistics.median(suggested) - statistics.median(plain):.2f} s, "
              f"CPU {statistics.median(suggested_cpu) - statistics.median(plain_cpu):.2f} s")
        print(f"import --suggest CPU time, both processes (median of {RUNS}): {statistics.median(suggested_cpu):.2f} s; on an idle "
              "machine the wall time is less (the suggesters run in two worker processes while the command stores)")
        ok = report(f"annotator import --suggest of {ARTICLES:,} articles (median of {RUNS})", statistics.median(suggested), TARGET_S, "s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
