"""Imports insert with a few executemany statements, whatever the file's size, and every id lands on its own row."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import event, select

from annotator.db import db
from annotator.db.models import Article, Relation, Sentence, Span

from .test_import_annotations import exported, stored, write_jsonl  # noqa: F401  (exported: a fixture)

COPIES = 40


def _statements_while(app, run: Any, which: Callable[[str], bool] = lambda _statement: True) -> int:
    """How many statements (`which` of them: all by default) reach the database while `run()` runs (an executemany is one)."""
    with app.app_context():
        engine = db.engine
    seen = [0]

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        seen[0] += which(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen[0]


def _inserts_while(app, run: Any) -> int:
    """How many INSERT statements reach the database while `run()` runs."""
    return _statements_while(app, run, lambda statement: statement.lstrip().upper().startswith("INSERT"))


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


# ---------------------------------------------------------------- onto stored articles: queries per chunk, not per line

STORED_TEXT = "The toll rose by {n} percent. Drivers were angry. The mayor said it was needed. Critics disagreed."
STORED_ANNOTATORS = ("ann", "ben")


def _annotated(n: int, gold: bool) -> list[dict[str, Any]]:
    """n stored articles' annotations by two annotators (labels and a quote each), with gold when asked."""
    records = []
    for i in range(n):
        record: dict[str, Any] = {"id": f"s-{i}", "text": STORED_TEXT.format(n=i), "annotations": [
            {"annotator": who, "labels": [{"sentence": s, "label": ("CFS", "UFS")[(s + k) % 2]} for s in range(4)],
             "spans": [{"id": f"{who}-q", "label": "QUOTE", "start": 0, "end": 8 + k}]}
            for k, who in enumerate(STORED_ANNOTATORS)]}
        if gold:
            record["gold"] = {"labels": [{"sentence": 0, "label": "CFS", "provenance": "adjudicated", "reviewer": "rev"}]}
        records.append(record)
    return records


def _import_counts(app, runner, tmp_path: Path, n: int) -> dict[str, int]:
    """Statements of import-annotations onto n stored articles: first time, again with replace, again with skip."""
    project = f"stored{n}"
    assert runner.invoke(args=["projects", "create", project]).exit_code == 0
    plain = write_jsonl(tmp_path / f"plain{n}.jsonl", [{"id": f"s-{i}", "text": STORED_TEXT.format(n=i)} for i in range(n)])
    assert runner.invoke(args=["import", project, plain]).exit_code == 0
    path = write_jsonl(tmp_path / f"annotated{n}.jsonl", _annotated(n, gold=True))
    counts = {}
    for on_duplicate in ("error", "replace", "skip"):
        result: list[Any] = []
        args = ["import-annotations", project, path, "--on-duplicate", on_duplicate]
        counts[on_duplicate] = _statements_while(app, lambda args=args, result=result: result.append(runner.invoke(args=args)))
        assert result[0].exit_code == 0, result[0].output
        assert "0 new and" in result[0].output and f"{n} existing {'article' if n == 1 else 'articles'}" in result[0].output, result[0].output
    counts_stored = stored(app, project)
    assert counts_stored["articles"] == n and counts_stored["labels"] == n * 4 * 2 and counts_stored["spans"] == n * 2
    assert counts_stored["gold"] >= n
    return counts


def test_import_annotations_onto_stored_articles_reads_per_chunk_not_per_line(app, runner, tmp_path):
    """An import onto stored articles checked each line with its own queries (about 9 per article and annotator):
    13,500 for 1,500 articles. Its statements now do not grow with the file's lines (within one chunk)."""
    for name, role in (("ann", "annotator"), ("ben", "annotator"), ("rev", "reviewer")):  # the first import would create them
        assert runner.invoke(args=["users", "create", name, "--role", role, "--password-stdin"], input="a long password 1\n").exit_code == 0
    few, many = _import_counts(app, runner, tmp_path, 10), _import_counts(app, runner, tmp_path, 40)
    assert many == few, (few, many)


def test_read_per_chunk_the_first_bad_line_is_named_and_a_bad_file_replaces_nothing(app, runner, tmp_path):
    """Lines are now checked against the database a chunk at a time, after each is read on its own: a line refused
    against the database (line 2: another text) is still named before a later line refused on its own (line 3), and
    a file whose last line is bad leaves what its first lines would have replaced as it was."""
    assert runner.invoke(args=["projects", "create", "order"]).exit_code == 0
    records = _annotated(3, gold=False)
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"id": r["id"], "text": r["text"]} for r in records])
    assert runner.invoke(args=["import", "order", plain]).exit_code == 0
    first = write_jsonl(tmp_path / "first.jsonl", records)
    assert runner.invoke(args=["import-annotations", "order", first]).exit_code == 0
    before = stored(app, "order")

    bad = copy.deepcopy(records)
    bad[1]["text"] += " More."  # refused against the stored article
    bad[2]["annotations"][0]["labels"][0]["label"] = "MAYBE"  # refused on its own
    path = write_jsonl(tmp_path / "bad.jsonl", bad)
    result = runner.invoke(args=["import-annotations", "order", path, "--on-duplicate", "replace"])
    assert result.exit_code != 0
    assert f"{path}:2: article 's-1' exists in project 'order' with a different text (SHA-256 differs)" in result.output, result.output
    assert f"{path}:3" not in result.output

    only_last = copy.deepcopy(records)
    for record in only_last:  # what replace would change, were the file stored
        for block in record["annotations"]:
            block["labels"] = block["labels"][:1]
    only_last[2]["annotations"][0]["labels"][0]["label"] = "MAYBE"
    path = write_jsonl(tmp_path / "last.jsonl", only_last)
    result = runner.invoke(args=["import-annotations", "order", path, "--on-duplicate", "replace"])
    assert result.exit_code != 0 and f"{path}:3: annotations[0].labels[0]: unknown sentence label 'MAYBE'" in result.output, result.output
    assert stored(app, "order") == before
