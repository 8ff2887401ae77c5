"""`import-annotations --as-suggestions --as NAME`: another tool's predictions become suggestions, never annotations."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, GoldSpan, Relation, Span, Suggestion, SuggestionDecision, User
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, projects, suggestions
from annotator.stats import attribution

TEXT = "Port fees to rise\n\u201cWe have no choice,\u201d said Ana Ruiz, the harbour master.\nShips will pay more from May.\n"
QUOTE = (TEXT.index("We have"), TEXT.index(",\u201d"))
SOURCE = (TEXT.index("Ana Ruiz"), TEXT.index("Ana Ruiz") + len("Ana Ruiz"))
CUE = (TEXT.index("said"), TEXT.index("said") + 4)


def write_jsonl(path: Path, records: list[Any]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def prediction(scores: bool = True, external_id: str = "port", text: str = TEXT) -> dict[str, Any]:
    """One article of another tool's predictions in the article format (scores where the tool gives them)."""
    score = (lambda x: {"score": x}) if scores else (lambda x: {})
    return {
        "id": external_id, "text": text,
        "annotations": [{
            "annotator": "model",
            "labels": [{"sentence": 2, "label": "CFS", **score(0.75)}],
            "spans": [{"id": "q", "label": "QUOTE", "start": QUOTE[0], "end": QUOTE[1], **score(0.9)},
                      {"id": "s", "label": "SOURCE", "start": SOURCE[0], "end": SOURCE[1]},
                      {"id": "c", "label": "CUE", "start": CUE[0], "end": CUE[1], **score(0.5)}],
            "relations": [{"id": "r", "type": "attributed_to", "from": "q", "to": "s", **score(0.8)}],
        }],
    }


def rows(app) -> list[tuple]:
    with app.app_context():
        return sorted(db.session.execute(
            select(Article.external_id, Suggestion.suggester, Suggestion.version, Suggestion.kind, Suggestion.label,
                   Suggestion.start, Suggestion.end, Suggestion.score).join(Article, Article.id == Suggestion.article_id)
        ).all(), key=repr)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def news(runner, tmp_path):
    assert runner.invoke(args=["projects", "create", "News"]).exit_code == 0
    path = write_jsonl(tmp_path / "articles.jsonl", [{"id": "port", "text": TEXT}])
    assert runner.invoke(args=["import", "News", path]).exit_code == 0
    return runner


def test_predictions_become_suggestions_with_their_scores_and_never_annotations(app, news, tmp_path):
    users = count(app, User)
    path = write_jsonl(tmp_path / "pred.jsonl", [prediction()])
    result = news.invoke(args=["import-annotations", "News", path, "--as-suggestions", "--as", "quote-model", "--suggester-version", "v2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("imported into News as suggestions of quote-model/v2: 0 new and 1 existing article; "
                                     "5 suggestions, 5 new; 0 files rejected")
    assert {(kind, label, start, end, score) for _, name, version, kind, label, start, end, score in rows(app)} == {
        ("label", "CFS", None, None, 0.75), ("span", "QUOTE", *QUOTE, 0.9), ("span", "SOURCE", *SOURCE, 1.0),
        ("span", "CUE", *CUE, 0.5), ("relation", "attributed_to", None, None, 0.8)}
    assert {(name, version) for _, name, version, *_ in rows(app)} == {("quote-model", "v2")}
    assert count(app, Annotation) == count(app, Span) == count(app, Relation) == 0 and count(app, User) == users  # nobody's work
    # the built-in suggester's run leaves another suggester's suggestions alone
    assert news.invoke(args=["suggest", "run", "News"]).exit_code == 0
    assert {name for _, name, *_ in rows(app)} == {"quote-model", attribution.NAME}
    assert len([r for r in rows(app) if r[1] == "quote-model"]) == 5


def test_an_annotator_accepts_an_imported_suggestion_as_their_own_with_its_origin(app, news, tmp_path):
    path = write_jsonl(tmp_path / "pred.jsonl", [prediction(scores=False)])
    assert news.invoke(args=["import-annotations", "News", path, "--as-suggestions", "--as", "quote-model"]).exit_code == 0
    assert {score for *_, score in rows(app)} == {1.0}  # no score in the file: 1
    with app.app_context():
        s = db.session
        with transaction(s):
            ann = accounts.create_user(s, "ann")
            assignment.assign_to_user(s, projects.get_project(s, "News").id, ann, ["port"])
        article = s.scalar(select(Article.id).where(Article.external_id == "port"))
        link = s.scalar(select(Suggestion.uid).where(Suggestion.kind == "relation"))
        with transaction(s):
            suggestions.accept(s, ann.id, article, [link])
        spans = s.execute(select(Span.label, Span.origin, Span.suggester, Span.suggester_version).order_by(Span.label)).all()
    assert spans == [("QUOTE", "suggested", "quote-model", "imported"), ("SOURCE", "suggested", "quote-model", "imported")]


def test_importing_again_replaces_the_suggesters_suggestions_and_keeps_decisions_on_unchanged_ones(app, news, tmp_path):
    path = write_jsonl(tmp_path / "pred.jsonl", [prediction()])
    assert news.invoke(args=["import-annotations", "News", path, "--as-suggestions", "--as", "m"]).exit_code == 0
    with app.app_context():
        s = db.session
        with transaction(s):
            ann = accounts.create_user(s, "ann")
            assignment.assign_to_user(s, projects.get_project(s, "News").id, ann, ["port"])
        article = s.scalar(select(Article.id).where(Article.external_id == "port"))
        cue = s.scalar(select(Suggestion.uid).where(Suggestion.label == "CUE"))
        with transaction(s):
            suggestions.reject(s, ann.id, article, [cue])
    fewer = prediction()
    block = fewer["annotations"][0]
    block["spans"], block["relations"], block["labels"] = [x for x in block["spans"] if x["id"] == "c"], [], []
    result = news.invoke(args=["import-annotations", "News", write_jsonl(tmp_path / "fewer.jsonl", [fewer]), "--as-suggestions", "--as", "m"])
    assert result.exit_code == 0, result.output
    assert [(kind, label) for _, _, _, kind, label, *_ in rows(app)] == [("span", "CUE")]
    assert count(app, SuggestionDecision) == 1  # the unchanged cue kept ann's rejection


def test_a_missing_article_is_created_and_gold_and_every_block_become_suggestions(app, news, tmp_path):
    other = "Bridge reopens\nThe bridge reopened on Monday.\n"
    record = {"id": "bridge", "text": other, "sentences": [{"start": 0, "end": 14}, {"start": 15, "end": len(other) - 1}],
              "annotations": [{"annotator": "a", "labels": [{"sentence": 1, "label": "UFS", "score": 0.6}]},
                              {"annotator": "b", "labels": [{"sentence": 1, "label": "CFS"}]}],
              "gold": {"labels": [{"sentence": 0, "label": "NFS", "score": 0.3}]}}
    result = news.invoke(args=["import-annotations", "News", write_jsonl(tmp_path / "p.jsonl", [record]), "--as-suggestions", "--as", "m"])
    assert result.exit_code == 0, result.output
    assert "1 new and 0 existing article; 3 suggestions, 3 new" in result.output
    with app.app_context():
        from annotator.db.models import Sentence

        bounds = db.session.execute(select(Sentence.start, Sentence.end).join(Article).where(Article.external_id == "bridge")
                                    .order_by(Sentence.index)).all()
        labelled = db.session.execute(select(Sentence.index, Suggestion.label, Suggestion.score).join(Sentence, Sentence.id == Suggestion.sentence_id)
                                      .order_by(Sentence.index, Suggestion.label)).all()
    assert bounds == [(0, 14), (15, len(other) - 1)]  # the file's sentences
    assert labelled == [(0, "NFS", 0.3), (1, "CFS", 1.0), (1, "UFS", 0.6)]
    assert count(app, GoldSpan) == count(app, Annotation) == 0


def test_doccano_predictions_as_suggestions(app, news, tmp_path):
    line = {"id": "port", "text": TEXT, "entities": [{"id": 1, "label": "QUOTE", "start_offset": QUOTE[0], "end_offset": QUOTE[1]},
                                                     {"id": 2, "label": "SOURCE", "start_offset": SOURCE[0], "end_offset": SOURCE[1]}],
            "relations": [{"id": 9, "from_id": 1, "to_id": 2, "type": "attributed_to"}]}
    path = write_jsonl(tmp_path / "doccano.jsonl", [line])
    result = news.invoke(args=["import-annotations", "News", path, "--format", "doccano", "--as-suggestions", "--as", "doccano-model"])
    assert result.exit_code == 0, result.output
    assert {(kind, label, score) for _, name, _, kind, label, _, _, score in rows(app)} == {
        ("span", "QUOTE", 1.0), ("span", "SOURCE", 1.0), ("relation", "attributed_to", 1.0)}
    assert count(app, Span) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r["annotations"][0]["spans"][0].update(score=1.5), "p.jsonl:2: annotations[0].spans[0].score must be a number from 0 to 1"),
        (lambda r: r["annotations"][0]["relations"][0].update(score="high"), "p.jsonl:2: annotations[0].relations[0].score must be a number from 0 to 1"),
        (lambda r: r["annotations"][0]["spans"][0].update(label="NAME"), "p.jsonl:2: annotations[0].spans[0]: unknown span label 'NAME'"),
        (lambda r: r.update(text=TEXT + "More."), "p.jsonl:2: article 'port' exists in project 'News' with a different text (SHA-256 differs)"),
        (lambda r: r["annotations"][0]["labels"][0].update(sentence=7), "p.jsonl:2: label for sentence index 7, but the article has 3 sentences, index 0 to 2"),
    ],
)
def test_a_bad_line_rejects_its_whole_file(app, news, tmp_path, monkeypatch, change, message):
    from annotator.domain.dataset import import_suggestions

    monkeypatch.setattr(import_suggestions, "CHUNK", 1)  # the good first line is stored before the bad one is read
    good = prediction(external_id="first", text="First story\n\u201cYes,\u201d he said.\n")
    good["annotations"][0] = {"annotator": "model", "labels": [{"sentence": 0, "label": "NFS"}]}
    bad = prediction()
    change(bad)
    path = write_jsonl(tmp_path / "p.jsonl", [good, bad])
    result = news.invoke(args=["import-annotations", "News", path, "--as-suggestions", "--as", "m"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{tmp_path}/{message}") and len(result.stderr.splitlines()) == 1
    assert rows(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Article)) == 1  # the first line's new article went too


@pytest.mark.parametrize(
    "args, message",
    [
        (["--as-suggestions"], "Error: --as-suggestions needs --as NAME: the suggester the suggestions are named after"),
        (["--as-suggestions", "--as", attribution.NAME], f"Error: --as: {attribution.NAME!r} is the name of a suggester that runs here"),
        (["--as-suggestions", "--as", "a/b"], "Error: --as: a suggester name must be 1-80 letters, digits, '_', '.', '@' or '-' (got 'a/b')"),
        (["--as-suggestions", "--as", "m", "--suggester-version", ""], "Error: --suggester-version: a suggester version must be 1-64 printable characters"),
        (["--as-suggestions", "--as", "m", "--on-duplicate", "skip"], "Error: --on-duplicate is for annotations: importing suggestions again"),
        (["--suggester-version", "v1"], "Error: --suggester-version goes with --as-suggestions"),
    ],
)
def test_option_errors_are_one_line(app, news, tmp_path, args, message):
    path = write_jsonl(tmp_path / "pred.jsonl", [prediction()])
    result = news.invoke(args=["import-annotations", "News", path, *args])
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(message), result.output
    assert rows(app) == []


def label_studio_task(prediction_score=0.8, region_score=0.95) -> dict[str, Any]:
    """A task with a person's annotation and a model's prediction (Label Studio's export shape)."""
    def region(rid, label, start, end, **extra):
        return {"id": rid, "type": "labels", "from_name": "label", "to_name": "text",
                "value": {"start": start, "end": end, "text": TEXT[start:end], "labels": [label]}, **extra}
    return {
        "id": 41, "data": {"id": "port", "text": TEXT},
        "annotations": [{"id": 1, "result": [region("h1", "QUOTE", *QUOTE)]}],
        "predictions": [{"model_version": "quotes-2", "score": prediction_score, "result": [
            region("p1", "QUOTE", *QUOTE, score=region_score),
            region("p2", "SOURCE", *SOURCE),
            {"type": "relation", "from_id": "p1", "to_id": "p2", "direction": "right", "labels": ["attributed_to"]},
            {"type": "choices", "from_name": "claim", "to_name": "text", "value": {"choices": ["NFS"]}},
        ]}],
    }






FOREIGN = Path(__file__).parent / "data" / "foreign"


def test_label_studio_predictions_become_the_named_suggesters_with_model_version_and_score(app, runner):
    """The real snapshot export: task 1's full prediction (rules-v1, score 0.87) is what --as-suggestions loads."""
    assert runner.invoke(args=["projects", "create", "q"]).exit_code == 0
    path = str(FOREIGN / "ls_snapshot.json")
    result = runner.invoke(args=["import-annotations", "q", path, "--format", "label-studio", "--as-suggestions", "--as", "ls-model"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        got = db.session.execute(select(Article.external_id, Suggestion.suggester, Suggestion.version, Suggestion.kind, Suggestion.label,
                                        Suggestion.score, Article.text, Suggestion.start, Suggestion.end)
                                 .join(Article, Suggestion.article_id == Article.id)).all()
    assert {(r.external_id, r.suggester, r.version, r.score) for r in got} == {("1", "ls-model", "rules-v1", 0.87)}
    assert sorted((r.label, r.text[r.start:r.end]) for r in got if r.kind == "span") == [
        ("CUE", "said"), ("QUOTE", "“We cannot keep the quays open on last year’s budget,”"), ("SOURCE", "Marta Quintero")]
    assert [r.label for r in got if r.kind == "relation"] == ["attributed_to"]
    # the people's annotations in the same file are neither suggestions nor annotations here, and the summary says so
    assert count(app, Span) == count(app, Annotation) == 0
    assert "6 annotations by people left out" in result.stderr, result.stderr
    assert "skipped for rules-v1: 1 document class 'stance'" in result.stderr, result.stderr


def test_label_studio_prediction_scores_per_result_and_an_explicit_version(app, news, tmp_path):
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([label_studio_task()]), encoding="utf-8")
    args = ["import-annotations", "News", str(path), "--format", "label-studio", "--as-suggestions", "--as", "quotes"]
    assert news.invoke(args=args).exit_code == 0
    # the result's own score, else its prediction's; the prediction's model version
    assert {(kind, label, version, score) for _, _, version, kind, label, _, _, score in rows(app)} == {
        ("span", "QUOTE", "quotes-2", 0.95), ("span", "SOURCE", "quotes-2", 0.8), ("relation", "attributed_to", "quotes-2", 0.8)}
    fixed = [*args[:-1], "fixed", "--suggester-version", "v9"]  # an explicit version wins
    assert news.invoke(args=fixed).exit_code == 0
    assert {(name, version) for _, name, version, *_ in rows(app)} == {("quotes", "quotes-2"), ("fixed", "v9")}
    assert count(app, Span) == 0
    # read as annotations, the same file gives the person's annotation and the prediction as the model's suggestions
    result = news.invoke(args=["import-annotations", "News", str(path), "--format", "label-studio", "--as", "reader"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(Span.label, Span.start)).all() == [("QUOTE", QUOTE[0])]
    assert {(name, version) for _, name, version, *_ in rows(app)} == {("quotes", "quotes-2"), ("fixed", "v9"), ("quotes-2", "quotes-2")}


def test_label_studio_prediction_without_scores_and_a_model_version_too_long(app, news, tmp_path):
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([label_studio_task(prediction_score=None, region_score=None)]), encoding="utf-8")
    args = ["import-annotations", "News", str(path), "--format", "label-studio", "--as-suggestions", "--as", "quotes"]
    assert news.invoke(args=args).exit_code == 0
    assert {score for *_, score in rows(app)} == {1.0}
    before = rows(app)
    task = label_studio_task()
    task["predictions"][0]["model_version"] = "v" * 65  # the version column holds 64
    path.write_text(json.dumps([task]), encoding="utf-8")
    result = news.invoke(args=args)
    assert result.exit_code == 1 and result.stderr.strip() == (
        f"{path}:1: task 1 (id 41), predictions[0].model_version must be at most 64 printable characters (got {'v' * 65!r})")
    assert rows(app) == before


def test_a_file_without_full_predictions_gives_its_annotations_as_suggestions(app, news, tmp_path):
    task = label_studio_task()
    task["predictions"] = [3]  # Label Studio's default export: ids only
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    result = news.invoke(args=["import-annotations", "News", str(path), "--format", "label-studio", "--as-suggestions", "--as", "quotes"])
    assert result.exit_code == 0, result.output
    assert "1 prediction(s) are ids only" in result.stderr
    assert {(name, version, kind, label) for _, name, version, kind, label, *_ in rows(app)} == {("quotes", "imported", "span", "QUOTE")}
