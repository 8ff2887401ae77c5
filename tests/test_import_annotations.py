"""import-annotations: the article format back in (checked like the API, nothing stored from a bad file), Label Studio, doccano."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, AuditEntry, GoldLabel, Project, Relation, Sentence, Span, Suggestion, User
from annotator.domain.dataset.foreign.regions import utf16_to_code_points

from .test_export import QUOTE, SOURCE, TEXT, add_suggestions, build_project, read_jsonl, validate


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def write_jsonl(path: Path, records: list[Any]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


@pytest.fixture
def exported(app, runner, tmp_path) -> dict[str, Any]:
    """The round-trip article exported from project 'news', and an empty project 'copy'."""
    build_project(app)
    path = tmp_path / "news.jsonl"
    assert runner.invoke(args=["export", "news", "--unit", "article", "-o", str(path)]).exit_code == 0
    # Same majority rule as 'news': automatic gold is a function of the labels and the rule.
    assert runner.invoke(args=["projects", "create", "copy", "--majority", "0.66"]).exit_code == 0
    (record,) = read_jsonl(path)
    return record


def stored(app, project: str = "copy") -> dict[str, int]:
    with app.app_context():
        project_id = db.session.scalar(select(Project.id).where(Project.name == project))
    articles = select(Article.id).where(Article.project_id == project_id)
    return {
        "articles": count(app, Article, Article.project_id == project_id),
        "labels": count(app, Annotation, Annotation.sentence_id.in_(select(Sentence.id).where(Sentence.article_id.in_(articles)))),
        "spans": count(app, Span, Span.article_id.in_(articles)),
        "gold": count(app, GoldLabel, GoldLabel.sentence_id.in_(select(Sentence.id).where(Sentence.article_id.in_(articles)))),
        "users": count(app, User),
    }


def export_of(runner, tmp_path: Path, project: str, name: str) -> list[dict[str, Any]]:
    path = tmp_path / name
    result = runner.invoke(args=["export", project, "--unit", "article", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return validate(read_jsonl(path), "article")


# ---------------------------------------------------------------- bad lines


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation: set record[a][b]... (dotted, list indexes as numbers) to value."""

    def mutate(record: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = record
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def _swap_relation(record: dict[str, Any]) -> None:
    rel = record["annotations"][0]["relations"][0]
    rel["from"], rel["to"] = rel["to"], rel["from"]


def _repeat_annotator(record: dict[str, Any]) -> None:
    record["annotations"].append(copy.deepcopy(record["annotations"][0]))


def _repeat_span(record: dict[str, Any]) -> None:
    """One annotator's same span under a second id: the database's unique index would refuse it."""
    spans = record["annotations"][0]["spans"]
    spans.append({**spans[0], "id": "alice-again-1"})


BAD = [
    (_set("annotations.0.labels.0.label", "MAYBE"), "annotations[0].labels[0]: unknown sentence label 'MAYBE'"),
    (_set("annotations.0.labels.0.sentence", 99), "label for sentence index 99, but the article has 4 sentences, index 0 to 3"),  # index: the 0-based data field
    (_set("annotations.0.labels.1.sentence", 0), "sentence 1 (index 0) is labelled twice"),  # 1-based for people, with the data's index
    (_set("annotations.0.labels.0.seconds", -1), "annotations[0].labels[0].seconds must be a number from 0 to 1,000,000,000"),
    # stored, it made every agreement figure of the project a 500 on PostgreSQL (its milliseconds past a bigint)
    (_set("annotations.0.labels.0.seconds", 1e300), "annotations[0].labels[0].seconds must be a number from 0 to 1,000,000,000"),
    (_set("annotations.0.labels.0.seconds", 10**30), "annotations[0].labels[0].seconds must be a number from 0 to 1,000,000,000"),
    (_set("annotations.0.labels.0.updated_at", "yesterday"), "updated_at must be an ISO 8601 time"),
    # past an INTEGER column: a traceback on SQLite (10**30), "database error: integer out of range" on PostgreSQL
    # (2**31, which SQLite stored)
    (_set("annotations.0.labels.0.guidelines_version", 10**30), "annotations[0].labels[0].guidelines_version must be 1 to 2147483647"),
    (_set("annotations.0.labels.0.guidelines_version", 2**31), "annotations[0].labels[0].guidelines_version must be 1 to 2147483647"),
    (_set("annotations.0.labels.0.guidelines_version", 0), "annotations[0].labels[0].guidelines_version must be 1 to 2147483647"),
    (_set("annotations.0.spans.0.end", 10_000), "span offsets must satisfy 0 <= start < end <= 187"),
    (_set("annotations.0.spans.0.label", "PERSON"), "unknown span label 'PERSON'"),
    (_set("annotations.0.spans.0.text", "Repairs will cost $41.5m"), "does not match text["),
    (_set("annotations.0.spans.0.start", "12"), "start must be an integer, not a string"),
    (_set("annotations.0.relations.0.to", "nope"), "'to' names span 'nope', which is not a span of annotator 'alice'"),
    (_set("annotations.0.relations.0.to", "bob-source-1"), "not a span of annotator 'alice'"),
    (_set("annotations.0.relations.0.type", "quotes"), "unknown relation type 'quotes'"),
    (_swap_relation, "relation 'attributed_to' cannot start at a SOURCE span"),
    (_set("annotations.1.spans.0.id", "alice-quote-1"), "span id 'alice-quote-1' is already used by annotator 'alice'"),
    (_set("annotations.0.annotator", "bad name"), "annotations[0].annotator: user name must be"),
    (_repeat_annotator, "annotator 'alice' appears twice"),
    (_repeat_span, "as annotations[0].spans[0]; keep one"),
    (_set("sentences.1.start", 0), "sentences[1] starts at 0, before the previous sentence ends"),
    (_set("sentences.3.end", 10**6), "sentences[3]: offsets must satisfy 0 <= start < end <= 187"),
    (_set("sentences.2.index", 7), "sentences[2].index must be 2"),
    (_set("gold.labels.0.provenance", "guessed"), "gold.labels[0].provenance must be one of"),
    # the adjudication page's limit: a longer reason stored came back in its form, which then refused every save
    (_set("gold.labels.0.reason", "x" * 5001), "gold.labels[0].reason is longer than 5000 characters"),
    (_set("gold.relations.0.from", "alice-quote-1"), "not a span of gold in this article"),
    (_set("gold.spans.0.end", 0), "span offsets must satisfy"),
    (_set("colour", "red"), "unknown key colour"),
    (_set("text", ""), "empty text"),
    # PostgreSQL refuses a NUL in text (a crash there), SQLite stored it: refused as 'annotator import' refuses it
    (_set("title", "Rates\x00"), "title contains a NUL character"),
    (_set("meta.desk", "a\x00b"), "meta.desk contains a NUL character"),
    (_set("annotations.0.labels.0.updated_at", "2026-01-01T00:00:00\x00"), "annotations[0].labels[0].updated_at contains a NUL"),
    # a time that is in range where it was written but not in UTC (year 1 at +14:00, year 9999 at -14:00): a traceback
    (_set("annotations.0.labels.0.updated_at", "0001-01-01T00:00:00+14:00"), "annotations[0].labels[0].updated_at is out of range"),
    (_set("gold.labels.0.updated_at", "9999-12-31T23:00:00-14:00"), "gold.labels[0].updated_at is out of range"),
    # an id that `annotator assign --articles-from` (one id a line) could not name
    (_set("id", "two\nlines"), r"id 'two\nlines' holds a line break or control character (U+000A at 3)"),
]


@pytest.mark.parametrize("mutate, reason", BAD, ids=[reason[:40] for _, reason in BAD])
def test_bad_line_names_file_and_line_and_stores_nothing(app, runner, tmp_path, exported, mutate, reason):
    good = copy.deepcopy(exported)
    good["id"] = "first"
    bad = copy.deepcopy(exported)
    mutate(bad)
    path = write_jsonl(tmp_path / "in.jsonl", [good, bad])
    before = stored(app)
    result = runner.invoke(args=["import-annotations", "copy", path])
    assert result.exit_code == 1
    assert f"{path}:2: " in result.output and reason in result.output, result.output
    assert "1 file rejected" in result.output
    assert stored(app) == before  # not even line 1, nor its users


@pytest.fixture
def exported_with_suggestions(app, runner, tmp_path) -> dict[str, Any]:
    """The round-trip article with suggestions, carol (annotations[2]) having accepted some, and an empty project 'copy'."""
    add_suggestions(app, build_project(app))
    path = tmp_path / "news.jsonl"
    assert runner.invoke(args=["export", "news", "--unit", "article", "-o", str(path)]).exit_code == 0
    assert runner.invoke(args=["projects", "create", "copy", "--majority", "0.66"]).exit_code == 0
    (record,) = read_jsonl(path)
    assert record["annotations"][2]["annotator"] == "carol" and record["annotations"][2]["relations"][0]["origin"] == "suggested"
    return record


def _second_suggested_span(record: dict[str, Any]) -> None:
    record["suggestions"]["spans"].append(dict(record["suggestions"]["spans"][0]))


BAD_ORIGINS = [
    (_set("annotations.0.labels.0.origin", "guessed"), "annotations[0].labels[0].origin must be one of manual, suggested (got 'guessed')"),
    (_set("annotations.0.spans.0.suggester", "attribution"), "annotations[0].spans[0]: a manual item names no suggester"),
    (_set("annotations.2.relations.0.suggester", None), "annotations[2].relations[0].suggester must be a string, not null"),
    (_set("annotations.2.relations.0.suggester_version", "v" * 65), "suggester_version must be at most 64 characters"),
    (_set("gold.spans.0.origin", "manual"), "gold.spans[0]: unknown key origin"),  # gold has provenance, not origin
    (_set("suggestions.labels.0.sentence", 9), "suggestions: label 'CFS' for sentence index 9, but the article has 4 sentences"),
    (_set("suggestions.labels.0.label", "MAYBE"), "suggestions.labels[0]: unknown sentence label 'MAYBE'"),
    (_set("suggestions.spans.0.score", 1.5), "suggestions.spans[0].score must be a number from 0 to 1"),
    (_set("suggestions.spans.0.end", 10_000), "suggestions.spans[0]: span offsets must satisfy"),
    (_set("suggestions.spans.0.text", "nope"), "suggestions.spans[0]: text 'nope' does not match"),
    (_second_suggested_span, "appears twice"),
    (_set("suggestions.relations.0.to", "nope"), "suggestions.relations[0]: 'to' names span 'nope', which is not a suggested span of 'attribution'"),
    (_set("suggestions.relations.0.suggester", "other"), "which is not a suggested span of 'other'"),
    (_set("suggestions.spans.1.suggester", ""), "suggestions.spans[1].suggester must be 1 to 100 characters"),
    (_set("suggestions.colour", "red"), "suggestions: unknown key colour"),
]


@pytest.mark.parametrize("mutate, reason", BAD_ORIGINS, ids=[reason[:40] for _, reason in BAD_ORIGINS])
def test_bad_origins_and_suggestions_name_the_line_and_store_nothing(app, runner, tmp_path, exported_with_suggestions, mutate, reason):
    good = copy.deepcopy(exported_with_suggestions)
    good["id"] = "first"
    bad = copy.deepcopy(exported_with_suggestions)
    mutate(bad)
    path = write_jsonl(tmp_path / "in.jsonl", [good, bad])
    before = stored(app), count(app, Suggestion)
    result = runner.invoke(args=["import-annotations", "copy", path])
    assert result.exit_code == 1
    assert f"{path}:2: " in result.output and reason in result.output, result.output
    assert (stored(app), count(app, Suggestion)) == before


def test_import_keeps_origins_and_the_articles_suggestions(app, runner, tmp_path, exported_with_suggestions):
    path = write_jsonl(tmp_path / "in.jsonl", [exported_with_suggestions])
    result = runner.invoke(args=["import-annotations", "copy", path])
    assert result.exit_code == 0, result.output
    assert "claims (a prediction, not an annotator): 2 suggestions" in result.output
    with app.app_context():
        session = db.session
        carol = session.scalar(select(User.id).where(User.name == "carol"))
        copy_articles = select(Article.id).join(Project).where(Project.name == "copy")
        suggested = session.execute(select(Span.label, Span.origin, Span.suggester, Span.suggester_version).where(
            Span.user_id == carol, Span.article_id.in_(copy_articles)).order_by(Span.start, Span.end)).all()
        label = session.execute(select(Annotation.label, Annotation.origin, Annotation.suggester, Annotation.suggester_version).join(Sentence).where(
            Annotation.user_id == carol, Sentence.article_id.in_(copy_articles), Sentence.index == 3)).one()
        relation = session.execute(select(Relation.origin, Relation.suggester, Relation.suggester_version).where(
            Relation.user_id == carol, Relation.article_id.in_(copy_articles))).one()
        kept = session.execute(select(Suggestion.kind, Suggestion.suggester, Suggestion.version, Suggestion.score).where(
            Suggestion.article_id.in_(copy_articles)).order_by(Suggestion.kind, Suggestion.score)).all()
    assert [tuple(row) for row in suggested] == [
        ("QUOTE", "suggested", "attribution", "1.0"), ("QUOTE", "manual", None, None), ("SOURCE", "suggested", "attribution", "1.0"),
        ("CUE", "manual", None, None)]
    assert tuple(label) == ("NFS", "suggested", "claims", "3") and tuple(relation) == ("suggested", "attribution", "1.0")
    assert [tuple(row) for row in kept] == [
        ("label", "claims", "3", 0.625), ("label", "claims", "3", 0.75), ("relation", "attribution", "1.0", 0.85),
        ("span", "attribution", "0.9", 0.7), ("span", "attribution", "1.0", 0.8), ("span", "attribution", "1.0", 0.9)]


def test_items_without_origin_are_manual(app, runner, tmp_path, exported):
    """A file from before origins (or from elsewhere) says nothing about them: its items are hand-made."""
    record = copy.deepcopy(exported)
    for block in record["annotations"]:
        for part in ("labels", "spans", "relations"):
            for item in block[part]:
                for key in ("origin", "suggester", "suggester_version"):
                    item.pop(key, None)
    record.pop("suggestions", None)
    assert runner.invoke(args=["import-annotations", "copy", write_jsonl(tmp_path / "old.jsonl", [record])]).exit_code == 0
    with app.app_context():
        origins = {row[0] for model in (Annotation, Span, Relation) for row in db.session.execute(select(model.origin))}
    assert origins == {"manual"}
    (again,) = export_of(runner, tmp_path, "copy", "again.jsonl")
    assert again == exported  # the same record as the export it came from


def test_invalid_json_and_duplicate_ids(app, runner, tmp_path, exported):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(exported, ensure_ascii=False) + "\n\n{\"id\": \n", encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "copy", str(path)])
    assert result.exit_code == 1 and f"{path}:3: invalid JSON" in result.output
    twice = write_jsonl(tmp_path / "twice.jsonl", [exported, exported])
    result = runner.invoke(args=["import-annotations", "copy", twice])
    assert result.exit_code == 1 and f"{twice}:2: article 'art-1' appears twice in the file (first on line 1)" in result.output
    assert stored(app)["articles"] == 0


def test_existing_article_must_have_the_same_text_and_sentences(app, runner, tmp_path, exported):
    changed = copy.deepcopy(exported)
    changed["text"] = TEXT.replace("\r\n", "\n")  # same words, other line ends: not the same article
    changed["annotations"], changed["gold"], changed["sentences"] = [], {"labels": [], "spans": [], "relations": []}, None
    path = write_jsonl(tmp_path / "changed.jsonl", [changed])
    result = runner.invoke(args=["import-annotations", "news", path])
    assert result.exit_code == 1 and f"{path}:1: article 'art-1' exists in project 'news' with a different text (SHA-256 differs)" in result.output
    resegmented = copy.deepcopy(exported)
    resegmented["annotations"], resegmented["gold"] = [], None
    resegmented["sentences"] = [{"index": 0, "start": 0, "end": 31}, {"index": 1, "start": 33, "end": 185}]
    path = write_jsonl(tmp_path / "reseg.jsonl", [resegmented])
    result = runner.invoke(args=["import-annotations", "news", path])
    assert result.exit_code == 1 and "the sentences differ from the stored segmentation of article 'art-1'" in result.output


def test_other_files_still_import_when_one_is_bad(app, runner, tmp_path, exported):
    bad = copy.deepcopy(exported)
    bad["annotations"][0]["labels"][0]["label"] = "MAYBE"
    bad_path = write_jsonl(tmp_path / "bad.jsonl", [bad])
    good_path = write_jsonl(tmp_path / "good.jsonl", [exported])
    result = runner.invoke(args=["import-annotations", "copy", bad_path, good_path])
    assert result.exit_code == 1 and "1 file rejected" in result.output
    assert stored(app)["labels"] == 12


# ---------------------------------------------------------------- what an import creates


def test_creates_articles_and_inactive_users_without_password(app, runner, tmp_path, exported):
    record = copy.deepcopy(exported)
    record["id"] = "new-1"
    for block, name in zip(record["annotations"], ("xena", "yuri", "zoe"), strict=True):
        block["annotator"] = name
    for label in record["gold"]["labels"]:
        label["reviewer"] = label["reviewer"] and "ruth"
    record["gold"]["spans"][0]["reviewer"] = "ruth"
    # Sentences of its own (not what segment() would give): used as given.
    record["sentences"] = [{"index": 0, "start": 0, "end": 31}, {"index": 1, "start": 33, "end": 81}, {"index": 2, "start": 82, "end": 147}, {"index": 3, "start": 149, "end": 160}]
    path = write_jsonl(tmp_path / "new.jsonl", [record])
    result = runner.invoke(args=["import-annotations", "copy", path])
    assert result.exit_code == 0, result.output
    assert "4 new users" in result.output
    with app.app_context():
        users = {u.name: u for u in db.session.scalars(select(User).where(User.name.in_(["xena", "yuri", "zoe", "ruth"])))}
        assert sorted(users) == ["ruth", "xena", "yuri", "zoe"]
        assert all(not u.active and u.password_hash is None for u in users.values())
        assert users["ruth"].role == "reviewer" and users["xena"].role == "annotator"
        article = db.session.scalar(select(Article).where(Article.external_id == "new-1"))
        assert [(s.start, s.end) for s in article.sentences][-1] == (149, 160)
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "import")).all()
    assert len(entries) == 1 and entries[0].entity == "article" and entries[0].entity_id == "new-1"
    assert entries[0].after["annotators"] == ["xena", "yuri", "zoe"] and entries[0].after["labels"] == 12 and entries[0].after["created"] is True
    (again,) = export_of(runner, tmp_path, "copy", "copy.jsonl")
    assert again["annotations"] == record["annotations"] and again["gold"] == record["gold"]


def test_users_an_import_creates_are_in_the_account_trail_as_the_clis_doing(app, runner, tmp_path, exported):
    """As `annotator users create` leaves them: one "create" entry each, no actor (the command line), via cli; an
    annotator or reviewer who exists already gets none."""
    record = copy.deepcopy(exported)
    record["id"] = "new-2"
    record["annotations"][0]["annotator"] = "xena"  # new; the other two blocks keep names the project has
    record["gold"]["spans"][0]["reviewer"] = "ruth"
    path = write_jsonl(tmp_path / "new.jsonl", [record])
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "user"))
    result = runner.invoke(args=["import-annotations", "copy", path])
    assert result.exit_code == 0 and "2 new users" in result.output, result.output
    with app.app_context():
        ids = dict(db.session.execute(select(User.name, User.id).where(User.name.in_(["xena", "ruth"]))).all())
        trail = db.session.execute(
            select(AuditEntry.entity_id, AuditEntry.user_id, AuditEntry.action, AuditEntry.before, AuditEntry.after)
            .where(AuditEntry.entity == "user").order_by(AuditEntry.id).offset(before)
        ).all()
    assert sorted(trail) == sorted(
        (str(ids[name]), None, "create", None, {"role": role, "active": False, "password": None, "via": "cli"})
        for name, role in (("xena", "annotator"), ("ruth", "reviewer"))
    )
    history = runner.invoke(args=["users", "history", "ruth"])
    assert history.output.rstrip("\n").split("\t")[1:] == ["the server (cli)", "create", "created as reviewer, no password, inactive (cli)"]
    assert runner.invoke(args=["import-annotations", "copy", path, "--on-duplicate", "skip"]).exit_code == 0
    with app.app_context():  # nobody new the second time: nothing more in the trail
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "user")) == before + 2


def test_missing_sentences_are_segmented(app, runner, tmp_path, exported):
    record = copy.deepcopy(exported)
    del record["sentences"]
    path = write_jsonl(tmp_path / "in.jsonl", [record])
    assert runner.invoke(args=["import-annotations", "copy", path]).exit_code == 0
    (again,) = export_of(runner, tmp_path, "copy", "copy.jsonl")
    assert again == exported


def test_on_duplicate_error_skip_replace(app, runner, tmp_path, exported):
    path = write_jsonl(tmp_path / "in.jsonl", [exported])
    assert runner.invoke(args=["import-annotations", "copy", path]).exit_code == 0
    after_first = stored(app)
    result = runner.invoke(args=["import-annotations", "copy", path])
    assert result.exit_code == 1
    assert f"{path}:1: annotator 'alice' already has annotations on article 'art-1' (use --on-duplicate skip or replace)" in result.output
    result = runner.invoke(args=["import-annotations", "copy", path, "--on-duplicate", "skip"])
    assert result.exit_code == 0 and "4 skipped" in result.output
    assert stored(app) == after_first
    changed = copy.deepcopy(exported)
    changed["annotations"][0]["labels"][0]["label"] = "NFS"
    del changed["annotations"][0]["spans"][1]  # alice's source, and so her relation
    changed["annotations"][0]["relations"] = []
    # alice now says NFS: sentence 0 (NFS, CFS, UFS) has no majority left, so its automatic gold goes.
    changed["gold"]["labels"] = [g for g in changed["gold"]["labels"] if g["sentence"] != 0]
    changed_path = write_jsonl(tmp_path / "changed.jsonl", [changed])
    result = runner.invoke(args=["import-annotations", "copy", changed_path, "--on-duplicate", "replace"])
    assert result.exit_code == 0 and "4 replaced" in result.output, result.output
    (again,) = export_of(runner, tmp_path, "copy", "copy.jsonl")
    assert again == changed
    assert stored(app)["spans"] == after_first["spans"] - 1
    assert count(app, Relation) == 3  # news: 2, copy: bob's only


# ---------------------------------------------------------------- Label Studio


def utf16(text: str, start: int, end: int) -> tuple[int, int]:
    """Code points -> JavaScript string offsets."""
    return len(text[:start].encode("utf-16-le")) // 2, len(text[:end].encode("utf-16-le")) // 2


def ls_region(region_id: str, label: str, start: int, end: int, text: str | None) -> dict[str, Any]:
    value: dict[str, Any] = {"start": start, "end": end, "labels": [label]}
    if text is not None:
        value["text"] = text
    return {"id": region_id, "from_name": "label", "to_name": "text", "type": "labels", "value": value}


def ls_task(task_id: int, text: str, results: list[dict[str, Any]], **data: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "data": {"text": text, **data},
        "annotations": [{"id": 1, "was_cancelled": True, "result": []}, {"id": 2, "was_cancelled": False, "result": results}],
        "predictions": [],
    }


def test_label_studio_utf16_and_code_point_offsets(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "ls"])
    quote, source = (TEXT.index(QUOTE), TEXT.index(QUOTE) + len(QUOTE)), (TEXT.index(SOURCE), TEXT.index(SOURCE) + len(SOURCE))
    assert utf16(TEXT, *quote) != quote  # the emoji before it count twice in JavaScript
    tasks = [
        ls_task(1, TEXT, [  # as Label Studio's browser code stores them: UTF-16 offsets
            ls_region("q1", "QUOTE", *utf16(TEXT, *quote), QUOTE),
            ls_region("s1", "SOURCE", *utf16(TEXT, *source), SOURCE),
            {"type": "relation", "from_id": "q1", "to_id": "s1", "direction": "right", "labels": ["attributed_to"]},
            {"id": "c1", "type": "choices", "from_name": "claim", "to_name": "text", "value": {"choices": ["CFS"]}},
        ], id="ls-utf16"),
        ls_task(2, TEXT, [  # hand-made pre-annotations in code points; the relation drawn right-to-left, with no type
            ls_region("q1", "QUOTE", *quote, QUOTE),
            ls_region("s1", "SOURCE", *source, SOURCE),
            {"type": "relation", "from_id": "s1", "to_id": "q1", "direction": "left", "labels": []},
        ]),
    ]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False, indent=2), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "ls", str(path), "--format", "label-studio", "--as", "ls-model"])
    assert result.exit_code == 0, result.output
    records = {r["id"]: r for r in export_of(runner, tmp_path, "ls", "ls.jsonl")}
    assert sorted(records) == ["2", "ls-utf16"]
    for record in records.values():
        (block,) = record["annotations"]
        assert block["annotator"] == "ls-model"
        assert [(s["label"], s["start"], s["end"], s["text"]) for s in block["spans"]] == [("QUOTE", *quote, QUOTE), ("SOURCE", *source, SOURCE)]
        assert [(r["type"], r["from"], r["to"]) for r in block["relations"]] == [("attributed_to", block["spans"][0]["id"], block["spans"][1]["id"])]
    assert records["ls-utf16"]["annotations"][0]["labels"] == []  # a task-level choice is a document class, not copied onto every sentence
    assert "skipped for ls-model: 1 document class 'claim': the schema has no article label group 'claim'" in result.output
    assert records["ls-utf16"]["meta"] == {"label_studio_id": 1}
    with app.app_context():
        user = db.session.scalar(select(User).where(User.name == "ls-model"))
        assert not user.active and user.password_hash is None
    # Same file again: ids are stable, so replace leaves exactly one copy.
    result = runner.invoke(args=["import-annotations", "ls", str(path), "--format", "label-studio", "--as", "ls-model", "--on-duplicate", "replace"])
    assert result.exit_code == 0, result.output
    again = export_of(runner, tmp_path, "ls", "ls2.jsonl")
    assert [[s["id"] for s in r["annotations"][0]["spans"]] for r in again] == [[s["id"] for s in r["annotations"][0]["spans"]] for r in records.values()]
    assert count(app, Span) == 4 and count(app, Relation) == 2


def test_label_studio_offsets_without_text_need_a_reading(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "ls"])
    quote = (TEXT.index(QUOTE), TEXT.index(QUOTE) + len(QUOTE))
    tasks = [ls_task(1, "No emoji here. Plain text.", [ls_region("a", "QUOTE", 0, 8, None)]), ls_task(2, TEXT, [ls_region("q", "QUOTE", *utf16(TEXT, *quote), None)])]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks, indent=1), encoding="utf-8")
    base = ["import-annotations", "ls", str(path), "--format", "label-studio", "--as", "bot"]
    result = runner.invoke(args=base)
    line = json.dumps(tasks, indent=1).splitlines().index(" {", 2) + 1  # where the second task starts
    assert result.exit_code == 1 and f"{path}:{line}: task 2 (id 2), annotations[1].result[0]: offsets" in result.output and "--offsets utf16" in result.output
    assert count(app, Article) == 0
    result = runner.invoke(args=[*base, "--offsets", "utf16"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        spans = db.session.execute(select(Article.text, Span.start, Span.end).join(Article, Span.article_id == Article.id).where(Article.external_id == "2")).all()
    assert [text[s:e] for text, s, e in spans] == [QUOTE]


@pytest.mark.parametrize(
    "result, reason",
    [
        (ls_region("q", "QUOTE", 0, 5, "Wrong"), "text 'Wrong' matches neither UTF-16 nor code-point offsets 0-5"),
        (ls_region("q", "PERSON", 0, 6, "Bridge"), "unknown span label 'PERSON'"),
        ({"type": "relation", "from_id": "x", "to_id": "y"}, "from_id 'x' names no labelled region"),
        ({"type": "rating", "value": {"rating": 3}}, "result type 'rating' is not imported"),
        ({"type": "choices", "value": {"choices": ["CFS", "UFS"]}}, "exactly one sentence label"),
    ],
)
def test_label_studio_bad_results(app, runner, tmp_path, result, reason):
    runner.invoke(args=["projects", "create", "ls"])
    path = tmp_path / "ls.jsonl"
    path.write_text(json.dumps(ls_task(1, TEXT, [])) + "\n" + json.dumps(ls_task(2, TEXT, [result]), ensure_ascii=False) + "\n", encoding="utf-8")
    outcome = runner.invoke(args=["import-annotations", "ls", str(path), "--format", "label-studio", "--as", "bot"])
    assert outcome.exit_code == 1 and f"{path}:2: " in outcome.output and reason in outcome.output, outcome.output
    assert count(app, Article) == 0 and count(app, User) == 0


# ---------------------------------------------------------------- doccano


def test_doccano_spans_labels_and_relations_with_emoji(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "dc"])
    quote, source = (TEXT.index(QUOTE), TEXT.index(QUOTE) + len(QUOTE)), (TEXT.index(SOURCE), TEXT.index(SOURCE) + len(SOURCE))
    lines = [
        {"id": 7, "text": TEXT, "label": [[*quote, "QUOTE"], [*source, "SOURCE"], "UFS"], "source": "wire"},
        {"id": 8, "text": TEXT, "entities": [{"id": 1, "label": "QUOTE", "start_offset": quote[0], "end_offset": quote[1]},
                                            {"id": 2, "label": "SOURCE", "start_offset": source[0], "end_offset": source[1]}],
         "relations": [{"id": 3, "from_id": 1, "to_id": 2, "type": "attributed_to"}]},
    ]
    path = write_jsonl(tmp_path / "dc.jsonl", lines)
    result = runner.invoke(args=["import-annotations", "dc", path, "--format", "doccano", "--as", "doccano-team", "--offsets", "code-points"])
    assert result.exit_code == 0, result.output
    records = {r["id"]: r for r in export_of(runner, tmp_path, "dc", "dc.jsonl")}
    for record in records.values():
        spans = record["annotations"][0]["spans"]
        assert [(s["label"], s["text"]) for s in spans] == [("QUOTE", QUOTE), ("SOURCE", SOURCE)]
    assert records["7"]["meta"] == {"source": "wire"}
    assert records["7"]["annotations"][0]["labels"] == []  # a bare label name is a document class, not copied onto every sentence
    assert "skipped for doccano-team: 1 document class 'label': the schema has no article label groups" in result.output
    assert len(records["8"]["annotations"][0]["relations"]) == 1


def test_doccano_utf16_offsets_and_errors(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "dc"])
    quote = (TEXT.index(QUOTE), TEXT.index(QUOTE) + len(QUOTE))
    path = write_jsonl(tmp_path / "dc.jsonl", [{"id": "a", "text": TEXT, "label": [[*utf16(TEXT, *quote), "QUOTE"]]}])
    result = runner.invoke(args=["import-annotations", "dc", path, "--format", "doccano", "--as", "bot", "--offsets", "utf16"])
    assert result.exit_code == 0, result.output
    (record,) = export_of(runner, tmp_path, "dc", "dc.jsonl")
    assert record["annotations"][0]["spans"][0]["text"] == QUOTE
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "b", "text": "Plain."}, {"id": "c", "text": TEXT, "label": [[0, 999, "QUOTE"]]}])
    result = runner.invoke(args=["import-annotations", "dc", bad, "--format", "doccano", "--as", "bot"])
    assert result.exit_code == 1 and f"{bad}:2: label[0]: end 999 is past the text's end" in result.output
    assert count(app, Article) == 1
    result = runner.invoke(args=["import-annotations", "dc", bad, "--format", "doccano"])
    assert result.exit_code == 1 and "needs --as NAME" in result.output


def test_utf16_table():
    text = "a😀b"
    assert utf16_to_code_points(text) == [0, 1, -1, 2, 3]


# ---------------------------------------------------------------- racing the annotators' own saves (PostgreSQL)


@pytest.mark.parametrize("on_duplicate", ["error", "replace"])
def test_an_import_waits_for_a_save_in_flight_on_its_article_instead_of_failing_or_doubling(app, on_duplicate):
    """PostgreSQL: an import checked an annotator's stored work on an article without locking it, so their label save
    in flight was not seen; the import's INSERT then met the save's row on the unique index and failed with an
    IntegrityError (a traceback from `annotator import-annotations`, after the check had said all was well; with
    `replace`, the label it had just deleted was back). The import locks each stored article FOR UPDATE first, as a
    delete or a segmentation correction does, so it waits for the save and then judges it: a duplicate (`error`),
    or replaced by the file's label (`replace`). SQLite's BEGIN IMMEDIATE already puts one after the other."""
    import threading

    from annotator.db.transactions import transaction
    from annotator.domain.annotations import put_label
    from annotator.domain.dataset import import_annotations
    from annotator.domain.dataset.ingest import IngestError

    from .races import one_annotator, postgres_only, take_turns

    postgres_only(app)
    text = "Prices rose again. The baker was worried."
    project_id, user_id, article_id = one_annotator(app, text)
    record = {"id": "a", "text": text, "annotations": [{"annotator": "ann", "labels": [{"sentence": 0, "label": "UFS"}]}]}
    holding, go, outcome, errors = threading.Event(), threading.Event(), {}, []

    def save() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    put_label(db.session, user_id, article_id, 0, "CFS")
                    holding.set()
                    go.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(("save", exc))
            holding.set()

    def load() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    project = db.session.get(Project, project_id)
                    outcome["import"] = import_annotations.import_records(db.session, project, [(1, record)], "ann.jsonl", on_duplicate)
        except IngestError as exc:
            outcome["import"] = str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(("import", exc))

    take_turns(app, save, holding, go, load, "the import should wait for the save on its article")
    assert errors == []
    with app.app_context():
        labels = db.session.scalars(select(Annotation.label)).all()
    if on_duplicate == "error":
        assert outcome["import"].startswith("ann.jsonl:1: annotator 'ann' already has annotations on article 'a'"), outcome
        assert labels == ["CFS"]  # the save's label, and nothing of the file
    else:
        assert labels == ["UFS"]  # the file's label replaced the one saved first


def test_an_article_another_import_stores_meanwhile_rejects_the_file_with_one_line(app, runner, tmp_path):
    """PostgreSQL: two imports of one new article at once (an upload and `annotator import-annotations`): the second
    found no article, inserted its own, met the first's on the unique index and ended in an IntegrityError traceback,
    the files after it never read. Now that file is rejected with one line, and the others go on."""
    import threading

    from annotator.db.transactions import transaction
    from annotator.domain import projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    from .races import postgres_only, take_turns

    postgres_only(app)
    text = "Prices rose again. The baker was worried."
    with app.app_context():
        project = projects.create_project(db.session, "race")
        db.session.commit()
        project_id = project.id
    labels = [{"sentence": 0, "label": "CFS"}]
    first = write_jsonl(tmp_path / "first.jsonl", [{"id": "a", "text": text, "annotations": [{"annotator": "ann", "labels": labels}]}])
    second = write_jsonl(tmp_path / "second.jsonl", [{"id": "b", "text": text, "annotations": [{"annotator": "ann", "labels": labels}]}])
    holding, go, outcome, errors = threading.Event(), threading.Event(), {}, []

    def upload() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    articles.store_articles(db.session, db.session.get(Project, project_id), [ArticleRecord("a", "T", text)], "upload")
                    holding.set()
                    go.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(("upload", exc))
            holding.set()

    def load() -> None:
        outcome["import"] = runner.invoke(args=["import-annotations", "race", first, second])

    take_turns(app, upload, holding, go, load, "the import's article should wait for the upload's")
    assert errors == []
    result = outcome["import"]
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, (result.output, result.exception)
    assert f"{first}: another import stored some of the same articles or users meanwhile" in result.output, result.output
    assert "1 file rejected" in result.output
    assert count(app, Article) == 2 and count(app, Annotation) == 1  # the upload's a, and b with ann's label from the second file


def test_an_unknown_key_names_the_missing_key_it_is_near():
    """`annotatons` was refused as unknown alone; a misspelt key is named with the key it stands for, if that one is absent."""
    from annotator.domain.dataset.import_annotations.values import Bad, an_object

    allowed = {"id", "text", "annotations", "gold"}
    with pytest.raises(Bad, match=r"^a record: unknown key annotatons \(did you mean 'annotations'\?\)$"):
        an_object({"id": "a", "text": "x", "annotatons": []}, "a record", allowed)
    with pytest.raises(Bad, match=r"^a record: unknown key txt$"):  # 'text' is there: 'txt' is something else
        an_object({"id": "a", "text": "x", "txt": "y"}, "a record", allowed)
