"""import-annotations --match-by text: one person's work from two doccano projects onto the same articles (issue 18)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, ArticleLabel, Relation, Span, User

from .test_import_foreign import FOREIGN, STANCE, project_with_groups, spans_by_article_id

FERRY = "Ferry fares frozen until spring\n\n🙂 “We heard the islanders,” said Marta Reis, the ferry company’s director."
LIBRARY = "Library hours extended\r\nThe library will open on Sundays, the council said."
MARKET = "Market moves to the square\n\nStalls will open at 7 a.m., traders said."


def utf16(text: str, surface: str) -> tuple[int, int]:
    """doccano's offsets of `surface`: UTF-16 code units."""
    start = text.index(surface)
    return len(text[:start].encode("utf-16-le")) // 2, len(text[: start + len(surface)].encode("utf-16-le")) // 2


def entity(entity_id: int, label: str, text: str, surface: str) -> dict[str, Any]:
    start, end = utf16(text, surface)
    return {"id": entity_id, "label": label, "start_offset": start, "end_offset": end}


SEQ = [  # a sequence-labelling project with relations: spans, no classes
    {"id": 101, "text": FERRY, "entities": [entity(1, "QUOTE", FERRY, "“We heard the islanders,”"), entity(2, "CUE", FERRY, "said"),
                                             entity(3, "SOURCE", FERRY, "Marta Reis")],
     "relations": [{"id": 1, "from_id": 1, "to_id": 3, "type": "attributed_to"}], "Comments": []},
    {"id": 102, "text": LIBRARY, "entities": [entity(4, "SOURCE", LIBRARY, "the council"), entity(5, "CUE", LIBRARY, "said")],
     "relations": [], "Comments": []},
]
CLASSES = [  # a document-classification project over the same texts and one more: classes, no spans
    {"id": 201, "text": FERRY, "label": ["support"], "Comments": []},
    {"id": 202, "text": LIBRARY, "label": ["neutral"], "Comments": []},
    {"id": 203, "text": MARKET, "label": ["neutral"], "Comments": []},
]


def write(path: Path, records: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def run(runner, *args: str, code: int = 0) -> str:
    result = runner.invoke(args=["import-annotations", "p", *args])
    assert result.exit_code == code, result.output
    return result.output


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def rui_spans(app) -> list[tuple[str, str, str]]:
    """rui's spans as (article external id, label, covered text)."""
    with app.app_context():
        rows = db.session.execute(
            select(Article.external_id, Span.label, Article.text, Span.start, Span.end)
            .join(Span, Span.article_id == Article.id).join(User, Span.user_id == User.id).where(User.name == "rui")
        ).all()
    return sorted((article, label, text[start:end]) for article, label, text, start, end in rows)


EXPECTED = [("101", "CUE", "said"), ("101", "QUOTE", "“We heard the islanders,”"), ("101", "SOURCE", "Marta Reis"),
            ("102", "CUE", "said"), ("102", "SOURCE", "the council")]


def test_two_projects_merge_onto_the_same_articles_by_text(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    seq, classes = write(tmp_path / "seq.jsonl", SEQ), write(tmp_path / "classes.jsonl", CLASSES)
    run(runner, seq, "--format", "doccano", "--as", "rui")
    output = run(runner, classes, "--format", "doccano", "--as", "rui", "--match-by", "text")
    assert f"{classes}: matched by text: 2 existing articles, 1 new, 0 refused" in output
    assert "skipped for rui: 3 document class 'label': the schema has no article label groups" in output
    assert count(app, Article) == 3 and rui_spans(app) == EXPECTED and count(app, Relation) == 1
    for mode in ("skip", "replace"):  # the classes file carries no spans: neither drops them
        run(runner, classes, "--format", "doccano", "--as", "rui", "--match-by", "text", "--on-duplicate", mode)
        assert count(app, Article) == 3 and rui_spans(app) == EXPECTED and count(app, Relation) == 1


def test_two_projects_merge_spans_and_document_classes_as_article_labels(app, runner, tmp_path):
    """With a stance group the classes become rui's article labels on the articles that have his spans; skip and
    replace touch only the article labels (the classes file carries no spans)."""
    project_with_groups(runner, tmp_path, STANCE)
    seq, classes = write(tmp_path / "seq.jsonl", SEQ), write(tmp_path / "classes.jsonl", CLASSES)
    run(runner, seq, "--format", "doccano", "--as", "rui")
    output = run(runner, classes, "--format", "doccano", "--as", "rui", "--match-by", "text")
    assert "rui: 0 labels, 0 spans, 0 relations, 3 article labels" in output and "document class" not in output
    for mode in ("skip", "replace"):
        run(runner, classes, "--format", "doccano", "--as", "rui", "--match-by", "text", "--on-duplicate", mode)
        assert count(app, Article) == 3 and rui_spans(app) == EXPECTED and count(app, ArticleLabel) == 3
    with app.app_context():
        stances = dict(db.session.execute(select(Article.external_id, ArticleLabel.values).join(ArticleLabel, ArticleLabel.article_id == Article.id)).all())
    assert stances == {"101": ["support"], "102": ["neutral"], "203": ["neutral"]}


def test_by_id_the_same_texts_stay_separate_articles(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    run(runner, write(tmp_path / "seq.jsonl", SEQ), "--format", "doccano", "--as", "rui")
    run(runner, write(tmp_path / "classes.jsonl", CLASSES), "--format", "doccano", "--as", "rui")
    assert count(app, Article) == 5  # --match-by id (the default) goes by doccano's ids, which differ between projects


def test_one_persons_sentence_labels_and_spans_from_two_files_are_both_kept(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    ours = {"id": "ferry", "text": FERRY, "annotations": [{"annotator": "rui", "labels": [{"sentence": 0, "label": "NFS"}, {"sentence": 1, "label": "CFS"}]}]}
    run(runner, write(tmp_path / "labels.jsonl", [ours]))
    seq = write(tmp_path / "seq.jsonl", SEQ[:1])
    output = run(runner, seq, "--format", "doccano", "--as", "rui", "--match-by", "text")  # her labels are no duplicate of her spans
    assert f"{seq}: matched by text: 1 existing article, 0 new, 0 refused" in output
    assert count(app, Annotation) == 2 and [s[1:] for s in rui_spans(app)] == [s[1:] for s in EXPECTED[:3]]
    moved = [{**SEQ[0], "entities": SEQ[0]["entities"][:2], "relations": []}]  # she took the source back in doccano
    run(runner, write(tmp_path / "moved.jsonl", moved), "--format", "doccano", "--as", "rui", "--match-by", "text", "--on-duplicate", "replace")
    assert count(app, Annotation) == 2 and [s[2] for s in rui_spans(app)] == ["said", "“We heard the islanders,”"] and count(app, Relation) == 0
    output = run(runner, seq, "--format", "doccano", "--as", "rui", "--match-by", "text", "--on-duplicate", "skip")
    assert "rui: 0 labels, 0 spans, 0 relations; 1 article skipped" in output and count(app, Annotation) == 2 and count(app, Span) == 2


def test_a_text_several_articles_share_is_refused_with_its_line(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    run(runner, write(tmp_path / "twins.jsonl", [{"id": "x", "text": FERRY}, {"id": "y", "text": FERRY}]))
    classes = write(tmp_path / "classes.jsonl", [CLASSES[2], CLASSES[0], CLASSES[2]])
    output = run(runner, classes, "--format", "doccano", "--as", "rui", "--match-by", "text")
    assert f"{classes}:2: the text matches 2 articles ('x', 'y'): not imported" in output
    assert f"{classes}:3: the same text as line 1 of this file: not imported" in output
    assert f"{classes}: matched by text: 0 existing articles, 1 new, 2 refused" in output
    assert count(app, Article) == 3
    seq = write(tmp_path / "seq.jsonl", SEQ[:1])
    output = run(runner, seq, "--format", "doccano", "--as", "rui", "--match-by", "text", "--strict", code=1)
    assert "--strict: 1 file had skipped items" in output and count(app, Span) == 0


def test_a_new_text_under_an_id_another_text_has_is_refused(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    run(runner, write(tmp_path / "other.jsonl", [{"id": "203", "text": FERRY}]))
    classes = write(tmp_path / "classes.jsonl", CLASSES)
    output = run(runner, classes, "--format", "doccano", "--as", "rui", "--match-by", "text", code=1)
    assert f"{classes}:3: no article has this text, and its id '203' names an article with another text" in output
    assert count(app, Article) == 1  # nothing of the file


def test_real_doccano_exports_of_three_projects_merge(app, runner):
    runner.invoke(args=["projects", "create", "p"])
    run(runner, str(FOREIGN / "doccano_seq_rel.jsonl"), "--format", "doccano", "--as", "amira")
    before = spans_by_article_id(app)
    output = run(runner, str(FOREIGN / "doccano_classes.jsonl"), "--format", "doccano", "--as", "amira", "--match-by", "text")
    assert "matched by text: 3 existing articles, 0 new, 0 refused" in output and count(app, Article) == 3
    intent = str(FOREIGN / "doccano_intent.jsonl")  # spans again: a real duplicate
    output = run(runner, intent, "--format", "doccano", "--as", "amira", "--match-by", "text", code=1)
    assert f"{intent}:1: annotator 'amira' already has annotations on article '7'" in output
    output = run(runner, intent, "--format", "doccano", "--as", "amira", "--match-by", "text", "--on-duplicate", "skip")
    assert "amira: 0 labels, 0 spans, 0 relations; 3 articles skipped" in output
    assert spans_by_article_id(app) == before and count(app, Article) == 3


def test_match_by_is_for_annotations(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    output = run(runner, write(tmp_path / "seq.jsonl", SEQ), "--format", "doccano", "--as", "bot", "--as-suggestions", "--match-by", "text", code=1)
    assert "--match-by is for annotations" in output
