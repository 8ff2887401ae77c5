"""`annotator import-annotations` onto stored articles: 1,500 articles' labels and spans by 2 annotators.

    python bench/bench_import_annotations.py              # SQLite; and PostgreSQL too when DATABASE_URL points at one
    python bench/bench_import_annotations.py --runs 1 --articles 300

The articles are imported first (not timed); then the annotations file is imported onto them and timed, with every
statement that reaches the database counted (SQLAlchemy's before_cursor_execute; an executemany is one). Checked
line by line, the import ran about 9 queries per article and annotator; read per chunk of lines, a few per chunk.
Targets: under 0.2 statements per article (a per-line query would be 1 or more), and the wall time below.
Each run gets a fresh database (PostgreSQL: a schema of its own, dropped after). Median of the runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, report  # noqa: E402

ARTICLES = 1500
ANNOTATORS = ("ann", "ben")
TEXT = "The toll rose by {n} percent. Drivers were angry. The mayor said it was needed. Critics disagreed. Nobody knows more. It ends here."
STATEMENTS_PER_ARTICLE = 0.2
TARGET_S = {"sqlite": 10.0, "postgresql": 20.0}  # before: medians 22.7 s and 81.3 s (load 9-15); after 5.2 s and 11.5 s


def write_files(folder: Path, n: int) -> tuple[Path, Path]:
    plain, annotated = folder / "articles.jsonl", folder / "annotations.jsonl"
    with plain.open("w", encoding="utf-8") as a, annotated.open("w", encoding="utf-8") as b:
        for i in range(n):
            text = TEXT.format(n=i)
            a.write(json.dumps({"id": f"a-{i}", "text": text}) + "\n")
            b.write(json.dumps({"id": f"a-{i}", "text": text, "annotations": [
                {"annotator": who, "labels": [{"sentence": s, "label": ("CFS", "UFS", "NFS")[(s + k) % 3]} for s in range(6)],
                 "spans": [{"id": f"{who}-{s}", "label": "QUOTE", "start": start, "end": start + 8 + k}
                           for s, start in enumerate((0, 30, 50, 80))]}
                for k, who in enumerate(ANNOTATORS)]}) + "\n")
    return plain, annotated


def one_run(uri: str, plain: Path, annotated: Path) -> tuple[float, int]:
    """(seconds, statements) of the timed import-annotations on a fresh database at `uri`."""
    from sqlalchemy import event

    from annotator import create_app
    from annotator.db import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench"})
    runner = app.test_cli_runner()
    for args in (["init"], ["projects", "create", "bench"], ["import", "bench", str(plain)]):
        result = runner.invoke(args=args)
        if result.exit_code:
            sys.exit(f"{' '.join(args)} failed: {result.output.strip()}")
    with app.app_context():
        engine = db.engine
    seen = [0]

    def count(*_args) -> None:  # noqa: ANN002
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    started = time.perf_counter()
    result = runner.invoke(args=["import-annotations", "bench", str(annotated)])
    elapsed = time.perf_counter() - started
    event.remove(engine, "before_cursor_execute", count)
    if result.exit_code:
        sys.exit(f"import-annotations failed: {result.output.strip()}")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return elapsed, seen[0]


def postgres_schema(url: str):
    """A fresh schema on the server at `url`: (uri for the app, drop())."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

    driver = url if "+" in url.split("://", 1)[0] else url.replace("postgresql://", "postgresql+psycopg://", 1)
    return driver + ("&" if "?" in driver else "?") + f"options=-csearch_path%3D{schema}", drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--articles", type=int, default=ARTICLES)
    args = parser.parse_args()
    import annotator

    print(f"machine: {describe()}; load average {os.getloadavg()[0]:.1f}; code: {Path(annotator.__file__).parent.parent}")
    backends = ["sqlite"]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql")):
        backends.append("postgresql")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        plain, annotated = write_files(Path(tmp), args.articles)
        for backend in backends:
            times, counts = [], []
            for attempt in range(args.runs):
                drop = None
                if backend == "sqlite":
                    uri = f"sqlite:///{tmp}/bench{attempt}.sqlite3"
                else:
                    uri, drop = postgres_schema(url.replace("postgres://", "postgresql://", 1))
                try:
                    elapsed, statements = one_run(uri, plain, annotated)
                finally:
                    if drop is not None:
                        drop()
                times.append(elapsed)
                counts.append(statements)
                print(f"{backend} run {attempt + 1}: {elapsed:.2f} s, {statements} statements", flush=True)
            n = args.articles
            ok &= report(f"{backend}: import-annotations of {n} articles x {len(ANNOTATORS)} annotators onto stored ones (median)",
                         statistics.median(times), TARGET_S[backend] * n / ARTICLES, "s")
            ok &= report(f"{backend}: statements per article", statistics.median(counts) / n, STATEMENTS_PER_ARTICLE, "")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
