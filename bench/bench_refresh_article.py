"""Benchmark (issue 17): the CPU time of one article's automatic-gold refresh, as a rater's span save runs it.

    python bench/bench_refresh_article.py DB.sqlite3 [--project ID] [--articles 300] [--repeats 7]

On a COPY of a SQLite database (the peerbench workload's, say; the file given is
never written): incremental.article_changed for each of the project's first
--articles articles (default: the project with the highest id), each in its own
write transaction as a save runs it, after a warm-up pass; the minimum over
--repeats passes of the process CPU time per refresh, the statements one refresh
executes, and the load average (the machine may be shared: the minimum of
several passes means more than any one).

Figures (2-core VM shared with other jobs, load 14-15; a copy of the database of issue 17's save shape in process:
300 of the harness's articles, each with four annotators' label, quote and source, gold current):
    main at e44b702                   min 2.353 ms (passes 2.353-3.425)   4 statements
    one article without NumPy         min 0.794 ms (passes 0.794-0.942)   2 statements
  (gold/one_article.py: everything in one prebuilt read on the driver's cursor, the rule's inputs in plain Python,
  where the batch path read in three statements through SQLAlchemy's execution and built NumPy arrays.)
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from annotator import create_app  # noqa: E402
from annotator.db import db  # noqa: E402
from annotator.db.transactions import begin_write  # noqa: E402
from annotator.domain.gold import incremental  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--project", type=int)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.sqlite3"
        shutil.copy(args.database, copy)
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{copy}", "SECRET_KEY": "bench" * 8})
        with app.app_context():
            session = db.session
            project_id = args.project or session.execute(text("SELECT max(id) FROM projects")).scalar()
            ids = [row[0] for row in session.execute(
                text("SELECT id FROM articles WHERE project_id = :p ORDER BY id LIMIT :n"), {"p": project_id, "n": args.articles})]
            session.commit()

            def refresh(article_id: int) -> None:
                begin_write(session)
                incremental.article_changed(session, project_id, article_id)
                session.commit()

            for article_id in ids:  # warm-up: first-use work, and the gold made current once
                refresh(article_id)
            passes = []
            for _ in range(args.repeats):
                start = time.process_time()
                for article_id in ids:
                    refresh(article_id)
                passes.append((time.process_time() - start) / len(ids) * 1000)
            statements: list[str] = []
            event.listen(db.engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
            refresh(ids[0])
    print(describe())
    print(f"project {project_id}, {len(ids)} articles; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"CPU per one-article refresh: min {min(passes):.3f} ms (passes: {' '.join(f'{p:.3f}' for p in passes)})")
    print(f"statements per refresh (its transaction's BEGIN included): {len(statements)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
