"""Imports insert with a few executemany statements, whatever the file's size, and every id lands on its own row."""
from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import event, select

from annotator.db import db
from annotator.db.models import Article, Relation, Sentence, Span

from .test_import_annotations import exported, stored, write_jsonl  # noqa: F401  (exported: a fixture)

COPIES = 40


def _inserts_while(app, run: Any) -> int:
    """How many INSERT statements reach the database while `run()` runs (an executemany is one)."""
    with app.app_context():
        engine = db.engine
    seen = [0]

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        seen[0] += statement.lstrip().upper().startswith("INSERT")

    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen[0]


def test_import_annotations_inserts_in_a_few_statements_whatever_the_size(app, runner, tmp_path, exported):  # noqa: F811
    records = []
    for i in range(COPIES):
        record = copy.deepcopy(exported)
        record["id"] = f"copy-{i:03d}"
        records.append(record)
    path = write_jsonl(tmp_path / "many.jsonl", records)
    result: list[Any] = []
    inserts = _inserts_while(app, lambda: result.append(runner.invoke(args=["import-annotations", "copy", path])))
    assert result[0].exit_code == 0, result[0].output
    counts = stored(app)
    assert counts["articles"] == COPIES and counts["spans"] >= COPIES
    # one statement per table (users, articles, sentences, labels, spans, relations, gold ..., audit), not per row:
    # SQLite inserted a row per statement when asked to keep RETURNING in the rows' order
    assert inserts < 30, inserts
    with app.app_context():
        s = db.session
        # every span and relation is on its own article, at its own offsets, linking its own article's spans
        for article_id, external_id, text in s.execute(select(Article.id, Article.external_id, Article.text).where(
                Article.external_id.like("copy-%"))):
            spans = s.execute(select(Span.id, Span.uid, Span.start, Span.end).where(Span.article_id == article_id)).all()
            assert sorted((uid, start, end) for _, uid, start, end in spans) == sorted(
                (x["id"], x["start"], x["end"]) for block in exported["annotations"] for x in block.get("spans", []))
            own = {row.id for row in spans}
            for from_id, to_id in s.execute(select(Relation.from_span_id, Relation.to_span_id).where(Relation.article_id == article_id)):
                assert {from_id, to_id} <= own, external_id
            bounds = s.execute(select(Sentence.start, Sentence.end).where(Sentence.article_id == article_id).order_by(Sentence.index)).all()
            assert [tuple(b) for b in bounds] == [(x["start"], x["end"]) for x in exported["sentences"]]
            assert all(text[start:end] for start, end in bounds)
