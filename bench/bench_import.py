"""Import of 1,000 news-style articles (~3,000 characters each) into SQLite through `annotator import`.

Target: under 3 s wall time for the whole command (process start, parse,
segment, commit), median of three runs on fresh databases.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, report  # noqa: E402

ARTICLES = 1000
CHARS = 3000
TARGET_S = 3.0

SUBJECTS = ["The minister", "Dr. Okafor", "The U.S. envoy", "Lt. Col. Haines", "A spokeswoman for the council", "Sen. Ruiz", "The company"]
VERBS = ["said", "told reporters", "wrote in a statement", "claimed", "announced"]
CLAIMS = [
    "spending rose by 3.5% to $1.2bn last year",
    "the bridge carries 32,000 vehicles a day",
    "unemployment fell to its lowest level since 2008",
    "the new rules will take effect on Jan. 5",
    "the deal was worth approx. €40m",
    "the figures were published at https://example.org/report.pdf",
]


def article(rng: random.Random, i: int) -> dict:
    title = f"Report {i}: {rng.choice(CLAIMS).capitalize()}"
    lines = [title, f"By Staff Writer {i}"]
    size = len(title)
    while size < CHARS:
        s = rng.choice(SUBJECTS)
        if rng.random() < 0.4:
            sentence = f"“{rng.choice(CLAIMS).capitalize()},” {s.lower() if s.startswith('The') else s} {rng.choice(VERBS)}."
        else:
            sentence = f"{s} {rng.choice(VERBS)} that {rng.choice(CLAIMS)}. It was not the first time… but it mattered."
        lines.append(sentence)
        size += len(sentence) + 1
    return {"id": f"bench-{i}", "title": title, "text": "\n".join(lines), "meta": {"n": i}}


def run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    return result


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    print(f"machine: {describe()}")
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "articles.jsonl"
        with data.open("w", encoding="utf-8") as fh:
            for i in range(ARTICLES):
                fh.write(json.dumps(article(rng, i), ensure_ascii=False) + "\n")
        print(f"input: {ARTICLES} articles, {data.stat().st_size / 1e6:.1f} MB")
        times = []
        for attempt in range(3):
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/bench{attempt}.sqlite3", "SECRET_KEY": "bench"}
            cli = [sys.executable, "-m", "annotator"]
            run([*cli, "init"], env)
            run([*cli, "projects", "create", "bench"], env)
            started = time.perf_counter()
            result = run([*cli, "import", "bench", str(data)], env)
            times.append(time.perf_counter() - started)
            print(f"run {attempt + 1}: {times[-1]:.2f} s — {result.stdout.strip()}")
        ok = report("annotator import of 1,000 articles (median of 3)", statistics.median(times), TARGET_S, "s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
