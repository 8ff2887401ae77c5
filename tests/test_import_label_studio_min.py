"""Label Studio's JSON_MIN export, wrong --format mix-ups, and errors named in Label Studio's terms (issue 18)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, ArticleLabel, Relation, Span, User

from .test_import_foreign import FOREIGN, STANCES, imported, ls_spans, project_with_groups, spans_by_user

HANDMADE = FOREIGN / "ls_json_min_handmade.json"


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def spans_with_offsets(app, project: str) -> dict[str, list[tuple[str, str, int, int, str]]]:
    """user name -> sorted (article external id, label, start, end, text[start:end]) in one project."""
    with app.app_context():
        rows = db.session.execute(
            select(User.name, Article.external_id, Span.label, Span.start, Span.end, Article.text)
            .join(Span, Span.user_id == User.id).join(Article, Span.article_id == Article.id)
            .where(Article.project.has(name=project))
        ).all()
    out: dict[str, list[tuple[str, str, int, int, str]]] = {}
    for name, article, label, start, end, text in rows:
        out.setdefault(name, []).append((article, label, start, end, text[start:end]))
    return {k: sorted(v) for k, v in out.items()}


# ---------------------------------------------------------------- JSON_MIN


def test_json_min_real_export_lands_as_the_json_export_does(app, runner):
    users = str(FOREIGN / "ls_users.json")
    runner.invoke(args=["projects", "create", "p"])
    output = imported(runner, str(FOREIGN / "ls_json_min.json"), "--format", "label-studio-min", "--users", users)
    spans = spans_by_user(app)
    assert spans["amira"] == ls_spans("ls_json.json", 1) and len(spans["amira"]) == 17
    assert spans["tomas"] == ls_spans("ls_json.json", 2) and len(spans["tomas"]) == 14
    assert "JSON_MIN carries no relations, predictions or cancelled annotations" in output
    assert "skipped for amira: 3 document class 'stance': the schema has no article label group 'stance'" in output
    assert count(app, Relation) == 0 and count(app, Article) == 3
    runner.invoke(args=["projects", "create", "q"])
    result = runner.invoke(args=["import-annotations", "q", str(FOREIGN / "ls_json.json"), "--format", "label-studio", "--users", users])
    assert result.exit_code == 0, result.output
    same = spans_with_offsets(app, "q")
    assert spans_with_offsets(app, "p") == {name: same[name] for name in ("amira", "tomas")}  # same articles, same offsets
    with app.app_context():
        meta = db.session.scalar(select(Article.meta).where(Article.external_id == "1", Article.project.has(name="p")))
    assert meta == {"article_id": "harbour-fees", "section": "economy"}


def test_json_min_hand_made_email_annotator_and_a_task_nobody_annotated(app, runner, tmp_path):
    records = json.loads(HANDMADE.read_text(encoding="utf-8"))
    runner.invoke(args=["projects", "create", "p"])
    output = imported(runner, str(HANDMADE), "--format", "label-studio-min")
    assert "new annotators: ls-user-rui@example.org, ls-user-7" in output
    spans = spans_with_offsets(app, "p")
    for record in records[:2]:
        who = "ls-user-rui@example.org" if record["annotator"] == "rui@example.org" else "ls-user-7"
        assert sorted(s[4] for s in spans[who]) == sorted(v["text"] for v in record["label"])
    assert all(text == record_text for text, record_text in ((s[4], records[0]["text"][s[2]:s[3]]) for s in spans["ls-user-7"]))
    with app.app_context():
        texts = dict(db.session.execute(select(Article.external_id, Article.text)).all())
    assert texts == {"41": records[0]["text"], "42": records[2]["text"]} and "\r\n" in texts["41"]
    runner.invoke(args=["projects", "create", "q"])
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"rui@example.org": "rui", "7": "sofia"}), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "q", str(HANDMADE), "--format", "label-studio-min", "--users", str(users)])
    assert result.exit_code == 0 and "rui: 0 labels, 3 spans" in result.output and "sofia: 0 labels, 6 spans" in result.output, result.output


def _write(path: Path, records: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    return str(path)


def _line_of(path: str, k: int) -> int:
    """The line where the k-th element (0-based) of a JSON array written by _write starts."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if line == "  {"]
    return starts[k]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r["label"][0].update(end=999), "task 1 (id 41), annotation 12: label[0]: end 999 is past the text's end (195 characters, 196 UTF-16 units)"),
        (lambda r: r["label"][1].update(labels=["PERSON"]), "task 1 (id 41), annotation 12: label[1]: unknown span label 'PERSON'"),
        (lambda r: r["label"][2].update(text="Ines"), "task 1 (id 41), annotation 12: label[2]: text 'Ines' matches neither"),
        (lambda r: r.update(annotator=None), "task 1 (id 41), annotation 12 has no annotator: say --as NAME"),
    ],
)
def test_json_min_errors_name_the_task_and_the_annotation(app, runner, tmp_path, change, message):
    records = json.loads(HANDMADE.read_text(encoding="utf-8"))
    change(records[0])
    path = _write(tmp_path / "min.json", records)
    runner.invoke(args=["projects", "create", "p"])
    result = runner.invoke(args=["import-annotations", "p", path, "--format", "label-studio-min"])
    assert result.exit_code == 1 and f"{path}:{_line_of(path, 0)}: {message}" in result.output, result.output
    assert count(app, Article) == 0


def test_json_min_annotator_digits_are_ascii_ones(app, runner, tmp_path):
    """An annotator "²" was a ValueError traceback, and "٣" (Arabic-Indic three) landed as Label Studio user 3."""
    records = json.loads(HANDMADE.read_text(encoding="utf-8"))[:1]
    runner.invoke(args=["projects", "create", "p"])
    for who in ("\u0663", "\u00b2"):
        path = _write(tmp_path / "min.json", [{**records[0], "annotator": who}])
        result = runner.invoke(args=["import-annotations", "p", path, "--format", "label-studio-min", "--on-duplicate", "skip"])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == 1, result.output
        assert f"annotator {who!r} is not a Label Studio user id (digits) or an e-mail, and makes no user name: map it to one with --users" in result.output
    assert count(app, User) == 0 and count(app, Article) == 0


def test_json_min_task_records_must_be_together(app, runner, tmp_path):
    records = json.loads(HANDMADE.read_text(encoding="utf-8"))
    path = _write(tmp_path / "min.json", [records[0], records[2], records[1]])
    runner.invoke(args=["projects", "create", "p"])
    result = runner.invoke(args=["import-annotations", "p", path, "--format", "label-studio-min"])
    assert result.exit_code == 1, result.output
    assert f"{path}:{_line_of(path, 2)}: task id 41 appears again (first on line {_line_of(path, 0)})" in result.output


# ---------------------------------------------------------------- the wrong --format


ARTICLE = {"id": "a1", "text": "One sentence here.", "annotations": [{"annotator": "rui", "labels": [], "spans": [], "relations": []}]}
LS_TASK = "this looks like a Label Studio task: use --format label-studio"
LS_MIN = "this looks like a Label Studio JSON_MIN record: use --format label-studio-min"
DOCCANO = "this looks like a doccano record: use --format doccano --as NAME"
OURS = "this looks like this tool's article format: use --format article"
CSV = "this is a Label Studio CSV export: CSV is not imported (its labels are JSON inside cells); export JSON"


@pytest.mark.parametrize(
    "file, fmt, line, message",
    [
        ("ls_json.json", "label-studio-min", 1, LS_TASK),
        ("ls_json.json", "doccano", 1, LS_TASK),
        ("ls_json.json", "article", 1, LS_TASK),
        ("ls_json_min.json", "label-studio", 2, LS_MIN),
        ("ls_json_min.json", "doccano", 2, LS_MIN),
        ("ls_json_min.json", "article", 2, LS_MIN),
        ("doccano_seq_rel.jsonl", "label-studio", 1, DOCCANO),
        ("doccano_intent.jsonl", "label-studio-min", 1, DOCCANO),
        ("doccano_classes.jsonl", "article", 1, DOCCANO),
        ("article.jsonl", "label-studio", 1, OURS),
        ("article.jsonl", "label-studio-min", 1, OURS),
        ("article.jsonl", "doccano", 1, OURS),
        ("ls.csv", "label-studio", 1, CSV),
        ("ls.csv", "label-studio-min", 1, CSV),
        ("ls.csv", "doccano", 1, CSV),
        ("ls.csv", "article", 1, CSV),
    ],
)
def test_each_format_mix_up_gets_one_line_naming_the_right_format(app, runner, tmp_path, file, fmt, line, message):
    if file == "article.jsonl":
        path = tmp_path / file
        path.write_text(json.dumps(ARTICLE) + "\n", encoding="utf-8")
    else:
        path = FOREIGN / file
    runner.invoke(args=["projects", "create", "p"])
    args = ["import-annotations", "p", str(path), "--format", fmt] + (["--as", "amira"] if fmt == "doccano" else [])
    result = runner.invoke(args=args)
    assert result.exit_code == 1 and f"{path}:{line}: {message}" in result.output, result.output
    assert len([x for x in result.output.splitlines() if str(path) in x]) == 1  # one line
    assert count(app, Article) == 0


# ---------------------------------------------------------------- Label Studio's JSON: errors in its terms


TEXT = "Bridge closed. “It is unsafe,” said Ana Lima, the engineer 🙂. Traffic moved west."


def region(region_id: str, label: str, surface: str, **change: Any) -> dict[str, Any]:
    start = TEXT.index(surface)
    value = {"start": start, "end": start + len(surface), "text": surface, "labels": [label], **change}
    return {"id": region_id, "from_name": "label", "to_name": "text", "type": "labels", "value": value}


def task(task_id: int, results: list[dict[str, Any]], predictions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": task_id,
        "data": {"text": TEXT},
        "annotations": [{"id": 1, "completed_by": 1, "was_cancelled": True, "result": []},
                        {"id": 2, "completed_by": 2, "was_cancelled": False, "result": results}],
        "predictions": predictions or [],
    }


QUOTE, SOURCE = region("q", "QUOTE", "“It is unsafe,”"), region("s", "SOURCE", "Ana Lima")


@pytest.mark.parametrize(
    "results, predictions, message",
    [
        ([QUOTE, region("x", "CUE", "said", end=999)], None, "task 2 (id 17), annotations[1].result[1]: value.end 999 is past the text's end (81 characters, 82 UTF-16 units)"),
        ([QUOTE, SOURCE, region("x", "PERSON", "said")], None, "task 2 (id 17), annotations[1].result[2]: unknown span label 'PERSON'"),
        ([QUOTE, SOURCE, {"type": "relation", "from_id": "s", "to_id": "q", "labels": ["attributed_to"]}], None,
         "task 2 (id 17), annotations[1].result[2]: "),
        ([QUOTE, {"type": "relation", "from_id": "q", "to_id": "nope"}], None, "task 2 (id 17), annotations[1].result[1]: to_id 'nope' names no"),
        ([QUOTE], [{"model_version": "m1", "score": 0.5, "result": [QUOTE, SOURCE, region("x", "CUE", "said", start=-1)]}],
         "task 2 (id 17), predictions[0].result[2]: value.start -1 is negative"),
    ],
)
def test_label_studio_errors_name_task_annotation_and_result(app, runner, tmp_path, results, predictions, message):
    path = _write(tmp_path / "ls.json", [task(16, [SOURCE]), task(17, results, predictions)])
    runner.invoke(args=["projects", "create", "p"])
    result = runner.invoke(args=["import-annotations", "p", path, "--format", "label-studio"])
    assert result.exit_code == 1 and f"{path}:{_line_of(path, 1)}: {message}" in result.output, result.output
    assert count(app, Article) == 0 and count(app, Annotation) == 0


def test_json_min_document_choices_become_article_labels(app, runner, tmp_path):
    """The stance, written in JSON_MIN as the choice's name, lands as each annotator's article label, as from the JSON export."""
    project_with_groups(runner, tmp_path, {"name": "stance", "values": ["support", "oppose", "neutral"]})
    output = imported(runner, str(FOREIGN / "ls_json_min.json"), "--format", "label-studio-min", "--users", str(FOREIGN / "ls_users.json"))
    assert "document class" not in output
    with app.app_context():
        rows = db.session.execute(
            select(User.name, Article.meta, ArticleLabel.values)
            .join(ArticleLabel, ArticleLabel.user_id == User.id).join(Article, Article.id == ArticleLabel.article_id)
        ).all()
    assert {(name, meta["article_id"]): values for name, meta, values in rows} == STANCES
