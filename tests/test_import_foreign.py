"""import-annotations with real Label Studio 1.23.2 and doccano 1.8.4 exports (tests/data/foreign/README.md)."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Annotation, Article, Span, User

FOREIGN = Path(__file__).parent / "data" / "foreign"


def imported(runner, *args: str) -> str:
    result = runner.invoke(args=["import-annotations", "p", *args])
    assert result.exit_code == 0, result.output
    return result.output


def spans_by_user(app) -> dict[str, list[tuple[str, str, str]]]:
    """user name -> sorted (article external id, label, covered text)."""
    with app.app_context():
        rows = db.session.execute(
            select(User.name, Article.external_id, Span.label, Article.text, Span.start, Span.end)
            .join(Span, Span.user_id == User.id).join(Article, Span.article_id == Article.id)
        ).all()
    out: dict[str, list[tuple[str, str, str]]] = {}
    for name, article, label, text, start, end in rows:
        out.setdefault(name, []).append((article, label, text[start:end]))
    return {k: sorted(v) for k, v in out.items()}


def ls_spans(file: str, user_id: int) -> list[tuple[str, str, str]]:
    """The peer's spans: (task id, label, value.text) of one Label Studio user's non-cancelled annotations."""
    out = []
    for task in json.loads((FOREIGN / file).read_text(encoding="utf-8")):
        for a in task["annotations"]:
            who = a["completed_by"]["id"] if isinstance(a["completed_by"], dict) else a["completed_by"]
            if who == user_id and not a["was_cancelled"]:
                out += [(str(task["id"]), r["value"]["labels"][0], r["value"]["text"]) for r in a["result"] if r["type"] == "labels"]
    return sorted(out)


def test_document_classes_are_skipped_and_counted_not_copied(app, runner):
    runner.invoke(args=["projects", "create", "p"])
    output = imported(runner, str(FOREIGN / "doccano_classes.jsonl"), "--format", "doccano", "--as", "amira")
    assert "skipped for amira: 3 document class 'label': the schema has no article-level labels" in output
    with app.app_context():
        assert db.session.scalar(select(Article.id).limit(1)) is not None
        assert db.session.scalars(select(Annotation.id)).all() == []
