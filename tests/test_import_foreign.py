"""import-annotations with real Label Studio 1.23.2 and doccano 1.8.4 exports (tests/data/foreign/README.md)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, ArticleLabel, Relation, Span, Suggestion, User

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


def spans_by_article_id(app) -> dict[str, list[tuple[str, str, str]]]:
    """user name -> sorted (the article's meta article_id, label, covered text)."""
    with app.app_context():
        rows = db.session.execute(
            select(User.name, Article.meta, Span.label, Article.text, Span.start, Span.end)
            .join(Span, Span.user_id == User.id).join(Article, Span.article_id == Article.id)
        ).all()
    out: dict[str, list[tuple[str, str, str]]] = {}
    for name, meta, label, text, start, end in rows:
        out.setdefault(name, []).append((meta["article_id"], label, text[start:end]))
    return {k: sorted(v) for k, v in out.items()}


def ls_spans(file: str, user_id: int, key: str = "") -> list[tuple[str, str, str]]:
    """The peer's spans: (task id, label, value.text) of one Label Studio user's non-cancelled annotations."""
    out = []
    for task in json.loads((FOREIGN / file).read_text(encoding="utf-8")):
        for a in task["annotations"]:
            who = a["completed_by"]["id"] if isinstance(a["completed_by"], dict) else a["completed_by"]
            if who == user_id and not a["was_cancelled"]:
                article = task["data"][key] if key else str(task["id"])
                out += [(article, r["value"]["labels"][0], r["value"]["text"]) for r in a["result"] if r["type"] == "labels"]
    return sorted(out)


def test_document_classes_are_skipped_and_counted_not_copied(app, runner):
    runner.invoke(args=["projects", "create", "p"])
    output = imported(runner, str(FOREIGN / "doccano_classes.jsonl"), "--format", "doccano", "--as", "amira")
    assert "skipped for amira: 3 document class 'label': the schema has no article label groups" in output
    with app.app_context():
        assert db.session.scalar(select(Article.id).limit(1)) is not None
        assert db.session.scalars(select(Annotation.id)).all() == []


def test_label_studio_every_annotation_under_its_own_annotator(app, runner):
    runner.invoke(args=["projects", "create", "p"])
    output = imported(runner, str(FOREIGN / "ls_json.json"), "--format", "label-studio", "--users", str(FOREIGN / "ls_users.json"))
    spans = spans_by_user(app)
    assert sorted(spans) == ["amira", "tomas"]  # lena's only annotation was cancelled
    assert spans["amira"] == ls_spans("ls_json.json", 1) and len(spans["amira"]) == 17
    assert spans["tomas"] == ls_spans("ls_json.json", 2) and len(spans["tomas"]) == 14
    assert "skipped for lena: 1 cancelled annotation" in output
    assert "new annotators: amira, tomas" in output
    with app.app_context():
        users = {u.name: u for u in db.session.scalars(select(User))}
        assert users["amira"].role == "annotator" and not users["amira"].active and "lena" not in users
        meta = db.session.scalar(select(Article.meta).where(Article.external_id == "1"))
    assert meta == {"article_id": "harbour-fees", "section": "economy", "batch": "pilot-1", "desk": "city"}


def test_label_studio_unmapped_users_and_annotations_without_completed_by(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    imported(runner, str(FOREIGN / "ls_snapshot.json"), "--format", "label-studio")  # completed_by objects, no --users
    spans = spans_by_user(app)
    assert sorted(spans) == ["ls-user-1", "ls-user-2"]
    assert spans["ls-user-1"] == ls_spans("ls_snapshot.json", 1)
    tasks = json.loads((FOREIGN / "ls_json.json").read_text(encoding="utf-8"))
    for task in tasks:
        task["data"]["id"] = f"anon-{task['id']}"
        task["annotations"] = [{k: v for k, v in a.items() if k != "completed_by"} for a in task["annotations"] if a["completed_by"] == 1]
    path = tmp_path / "anon.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", "label-studio"])
    assert result.exit_code == 1 and f"{path}:1: task 1 (id 1), annotations[0] has no completed_by: say --as NAME" in result.output, result.output
    imported(runner, str(path), "--format", "label-studio", "--as", "legacy")
    assert len(spans_by_user(app)["legacy"]) == 17


@pytest.mark.parametrize(("completed_by", "message"), [
    ("x" * 500, "completed_by is 500 characters long ('xxxxxxxxxxxxxxxxxxxx'…): too long for a Label Studio user id or "
                "e-mail that makes a user name (at most 72): map it to one with --users"),
    ("two words", "completed_by 'two words' is not a Label Studio user id (digits) or an e-mail, and makes no user name: "
                  "map it to one with --users"),
    ("9" * 5000, "completed_by is 5000 characters long ('99999999999999999999'…): too long for a Label Studio user id "
                 "or e-mail that makes a user name (at most 72): map it to one with --users"),  # int() fails past 4,300 digits
    (True, "completed_by must be a Label Studio user id or e-mail, not true"),
    ([1], "completed_by must be a Label Studio user id or e-mail, not [1]"),
])
@pytest.mark.parametrize("default", [[], ["--as", "legacy"]])
def test_label_studio_completed_by_that_names_nobody_says_what_is_wrong(app, runner, tmp_path, completed_by, message, default):
    """A completed_by of 500 characters was answered "has no completed_by" (and with --as, silently taken for that
    annotator): the reader took only a number or a user object, and anything else for nothing. A text is read as
    JSON_MIN's annotator is (mapped by --users, digits an id, else ls-user-TEXT), and one that names nobody, or a value
    of another kind, is refused saying what is wrong with it, --as or not."""
    runner.invoke(args=["projects", "create", "p"])
    tasks = json.loads((FOREIGN / "ls_json.json").read_text(encoding="utf-8"))
    tasks[0]["annotations"][0]["completed_by"] = completed_by
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", "label-studio", *default])
    assert result.exit_code == 1, result.output
    assert f"{path}:1: task 1 (id 1), annotations[0]: {message}\n" in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Article.id))) == 0


def test_label_studio_completed_by_as_text_is_an_id_or_an_e_mail(app, runner, tmp_path):
    """completed_by as text, as JSON_MIN's annotator: an e-mail --users maps, digits a user id, else ls-user-TEXT."""
    runner.invoke(args=["projects", "create", "p"])
    tasks = json.loads((FOREIGN / "ls_json.json").read_text(encoding="utf-8"))
    for task in tasks:
        for a in task["annotations"]:
            a["completed_by"] = {1: "ann@example.org", 2: "cat.lee", 3: "3"}[a["completed_by"]]
    path = tmp_path / "text.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"ann@example.org": "ann"}), encoding="utf-8")
    imported(runner, str(path), "--format", "label-studio", "--users", str(users))
    assert sorted(spans_by_user(app)) == ["ann", "ls-user-cat.lee"]  # (user 3's one annotation was cancelled)


@pytest.mark.parametrize("stem, relations", [("doccano_seq_rel", 6 + 5), ("doccano_intent", 0)])  # entities as objects with relations; as lists
def test_doccano_utf16_offsets_land_on_the_peer_spans(app, runner, stem, relations):
    runner.invoke(args=["projects", "create", "p"])
    for suffix, name in (("", "amira"), ("_tomas", "tomas")):
        imported(runner, str(FOREIGN / f"{stem}{suffix}.jsonl"), "--format", "doccano", "--as", name)
    spans = spans_by_article_id(app)
    # 11 of amira's 17 spans and 8 of tomas's 14 follow an emoji: read as code points they would be a character late
    assert spans["amira"] == ls_spans("ls_json.json", 1, "article_id") and len(spans["amira"]) == 17
    assert spans["tomas"] == ls_spans("ls_json.json", 2, "article_id") and len(spans["tomas"]) == 14
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Relation)) == relations


def test_doccano_code_points_override(app, runner):
    runner.invoke(args=["projects", "create", "p"])
    path = str(FOREIGN / "doccano_seq_rel.jsonl")
    result = runner.invoke(args=["import-annotations", "p", path, "--format", "doccano", "--as", "amira", "--offsets", "code-points"])
    # read as code points the harbour-fees quote at the end runs one past the text (the emoji counted 2)
    assert result.exit_code == 1 and f"{path}:1: entities[5]: end_offset 273 is past the text's end (272)" in result.output


def test_summary_per_annotator_and_strict(app, runner):
    runner.invoke(args=["projects", "create", "p"])
    args = ["import-annotations", "p", str(FOREIGN / "ls_json.json"), "--format", "label-studio", "--users", str(FOREIGN / "ls_users.json")]
    result = runner.invoke(args=[*args, "--strict"])
    assert result.exit_code == 1 and "--strict: 1 file had skipped items" in result.output, result.output
    for line in (
        "amira: 0 labels, 17 spans, 6 relations",
        "tomas: 0 labels, 14 spans, 5 relations",
        "skipped for amira: 3 document class 'stance': the schema has no article label group 'stance'",
        "skipped for tomas: 3 document class 'stance': the schema has no article label group 'stance'",
        "skipped for lena: 1 cancelled annotation",
    ):
        assert line in result.output, result.output
    assert len(spans_by_user(app)["amira"]) == 17  # --strict reports, it does not undo the import
    result = runner.invoke(args=[*args, "--on-duplicate", "skip"])
    assert result.exit_code == 0 and "amira: 0 labels, 0 spans, 0 relations; 3 articles skipped: already annotated" in result.output
    result = runner.invoke(args=["import-annotations", "p", str(FOREIGN / "doccano_seq_rel.jsonl"), "--format", "doccano", "--as", "amira", "--strict"])
    assert result.exit_code == 0 and "amira: 0 labels, 17 spans, 6 relations" in result.output, result.output


def test_label_studio_predictions_become_suggestions(app, runner):
    runner.invoke(args=["projects", "create", "p"])
    users = str(FOREIGN / "ls_users.json")
    output = imported(runner, str(FOREIGN / "ls_json.json"), "--format", "label-studio", "--users", users)
    assert "skipped for predictions: 1 prediction(s) are ids only: export with the snapshot API to include them" in output
    runner.invoke(args=["projects", "create", "q"])
    result = runner.invoke(args=["import-annotations", "q", str(FOREIGN / "ls_snapshot.json"), "--format", "label-studio", "--users", users])
    assert result.exit_code == 0 and "rules-v1 (a prediction, not an annotator): 4 suggestions" in result.output, result.output
    with app.app_context():
        rows = db.session.execute(select(Suggestion.suggester, Suggestion.kind, Suggestion.label, Suggestion.score, Article.text,
                                         Suggestion.start, Suggestion.end).join(Article, Suggestion.article_id == Article.id)).all()
        assert "rules-v1" not in {u.name for u in db.session.scalars(select(User))}  # never a human annotator
    assert {(r.suggester, r.score) for r in rows} == {("rules-v1", 0.87)}
    assert sorted((r.label, r.text[r.start:r.end]) for r in rows if r.kind == "span") == [
        ("CUE", "said"), ("QUOTE", "“We cannot keep the quays open on last year’s budget,”"), ("SOURCE", "Marta Quintero")]
    assert [r.label for r in rows if r.kind == "relation"] == ["attributed_to"]


def test_label_studio_snapshot_people_become_annotators_and_the_prediction_a_suggestion(app, runner):
    """Issue 18: one plain import of the snapshot gives each person's annotations and the model's prediction as a suggestion."""
    runner.invoke(args=["projects", "create", "p"])
    imported(runner, str(FOREIGN / "ls_snapshot.json"), "--format", "label-studio", "--users", str(FOREIGN / "ls_users.json"))
    spans = spans_by_user(app)
    assert set(spans) == {"amira", "tomas"}  # lena's annotation was cancelled; the model is no annotator
    assert spans["amira"] == ls_spans("ls_snapshot.json", 1) and spans["tomas"] == ls_spans("ls_snapshot.json", 2)
    with app.app_context():
        rows = db.session.execute(select(Article.external_id, Suggestion.suggester, Suggestion.version, Suggestion.score, Suggestion.kind)
                                  .join(Article, Suggestion.article_id == Article.id)).all()
        assert db.session.scalar(select(func.count()).select_from(Relation)) == 6 + 5
    assert sorted(rows) == sorted([("1", "rules-v1", "rules-v1", 0.87, kind) for kind in ("span", "span", "span", "relation")])


@pytest.mark.parametrize(
    "file, fmt, line, message",
    [
        ("ls.csv", "label-studio", 1, "this is a Label Studio CSV export: CSV is not imported (its labels are JSON inside cells); export JSON"),
        ("ls_json_min.json", "label-studio", 2, "this looks like a Label Studio JSON_MIN record: use --format label-studio-min"),
        ("ls_json.json", "doccano", 1, "this looks like a Label Studio task: use --format label-studio"),
        ("doccano_seq_rel.jsonl", "label-studio", 1, "this looks like a doccano record: use --format doccano --as NAME"),
        ("doccano_intent.jsonl", "article", 1, "this looks like a doccano record: use --format doccano --as NAME"),
    ],
)
def test_wrong_format_or_unsupported_export_gets_one_line(app, runner, file, fmt, line, message):
    runner.invoke(args=["projects", "create", "p"])
    path = str(FOREIGN / file)
    args = ["import-annotations", "p", path, "--format", fmt] + (["--as", "amira"] if fmt == "doccano" else [])
    result = runner.invoke(args=args)
    assert result.exit_code == 1 and f"{path}:{line}: {message}" in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Article)) == 0


# ----------------------------------------------------------------- document classes as article labels (issue 18)
STANCE = {"name": "stance", "values": ["support", "oppose", "neutral"]}
TOPICS = {"name": "topics", "values": ["economy", "transport", "local-government", "culture"], "multiple": True}
# Who gave which stance and topics (tests/data/foreign/README.md, "Who did what"), by the articles' own article_id
STANCES = {("amira", "harbour-fees"): ["neutral"], ("amira", "library-sundays"): ["oppose"], ("amira", "tram-trial"): ["support"],
           ("tomas", "harbour-fees"): ["oppose"], ("tomas", "library-sundays"): ["oppose"], ("tomas", "tram-trial"): ["neutral"]}
TOPIC_SETS = {("amira", "harbour-fees"): ["economy"], ("amira", "library-sundays"): ["culture", "local-government"],
              ("amira", "tram-trial"): ["transport"], ("tomas", "harbour-fees"): ["economy", "local-government"],
              ("tomas", "library-sundays"): ["local-government"], ("tomas", "tram-trial"): ["economy", "transport"]}


def project_with_groups(runner, tmp_path, *groups: dict) -> None:
    schema = {"sentence_labels": [{"name": "CFS"}, {"name": "UFS"}],
              "span_labels": [{"name": "QUOTE", "key": "q"}, {"name": "SOURCE", "key": "s"}, {"name": "CUE", "key": "c"}],
              "relation_types": [{"name": "attributed_to", "key": "l", "from": ["QUOTE"], "to": ["SOURCE"]}],
              "article_labels": list(groups)}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    result = runner.invoke(args=["projects", "create", "p", "--schema", str(path)])
    assert result.exit_code == 0, result.output


def article_labels_by_user(app, key: str = "article_id") -> dict[tuple[str, str], dict[str, list[str]]]:
    """(user name, the article's meta article_id) -> {group: values}."""
    with app.app_context():
        rows = db.session.execute(
            select(User.name, Article.meta, ArticleLabel.group, ArticleLabel.values)
            .join(ArticleLabel, ArticleLabel.user_id == User.id).join(Article, Article.id == ArticleLabel.article_id)
        ).all()
        assert db.session.scalars(select(Annotation.id)).all() == []  # never copied onto sentences
    out: dict[tuple[str, str], dict[str, list[str]]] = {}
    for name, meta, group, values in rows:
        out.setdefault((name, meta[key]), {})[group] = values
    return out


def test_label_studio_document_choice_becomes_one_article_label_per_annotator(app, runner, tmp_path):
    project_with_groups(runner, tmp_path, STANCE)
    args = ["import-annotations", "p", str(FOREIGN / "ls_json.json"), "--format", "label-studio", "--users", str(FOREIGN / "ls_users.json")]
    result = runner.invoke(args=[*args, "--strict"])  # lena's cancelled annotation is still skipped
    assert "amira: 0 labels, 17 spans, 6 relations, 3 article labels" in result.output, result.output
    assert "document class" not in result.output
    assert {key: groups["stance"] for key, groups in article_labels_by_user(app).items()} == STANCES


def test_label_studio_multiple_choice_imports_where_the_group_is_multiple(app, runner, tmp_path):
    project_with_groups(runner, tmp_path, TOPICS)
    imported(runner, str(FOREIGN / "ls_multichoice.json"), "--format", "label-studio", "--users", str(FOREIGN / "ls_users.json"))
    assert {key: groups["topics"] for key, groups in article_labels_by_user(app).items()} == TOPIC_SETS


def test_label_studio_multiple_choice_is_refused_where_the_group_takes_one(app, runner, tmp_path):
    project_with_groups(runner, tmp_path, {**TOPICS, "multiple": False})
    path = str(FOREIGN / "ls_multichoice.json")
    result = runner.invoke(args=["import-annotations", "p", path, "--format", "label-studio", "--users", str(FOREIGN / "ls_users.json")])
    assert result.exit_code == 1, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith(path)]
    # task 4 (harbour-fees): tomas's topics are economy + local-government; the index is that result's in his annotation
    tasks = json.loads((FOREIGN / "ls_multichoice.json").read_text(encoding="utf-8"))
    k, tomas = next((k, a) for k, a in enumerate(tasks[0]["annotations"])
                    if (a["completed_by"]["id"] if isinstance(a["completed_by"], dict) else a["completed_by"]) == 2)
    index = next(i for i, r in enumerate(tomas["result"]) if r["type"] == "choices")
    assert (f"task 1 (id {tasks[0]['id']}), annotations[{k}].result[{index}]: 2 choices in 'topics' (economy, local-government), "
            "but the schema's article label group 'topics' takes one value") in line, line
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ArticleLabel)) == 0


def test_label_studio_choice_outside_the_group_is_refused(app, runner, tmp_path):
    project_with_groups(runner, tmp_path, {"name": "stance", "values": ["support", "oppose"]})
    path = str(FOREIGN / "ls_json.json")
    result = runner.invoke(args=["import-annotations", "p", path, "--format", "label-studio", "--users", str(FOREIGN / "ls_users.json")])
    assert result.exit_code == 1 and "article label group 'stance' has no value 'neutral' (allowed: support, oppose)" in result.output, result.output


@pytest.mark.parametrize("stem", ["doccano_classes", "doccano_intent"])  # label: ["neutral"]; cats: ["neutral"] beside list-form spans
def test_doccano_document_classes_become_article_labels(app, runner, tmp_path, stem):
    project_with_groups(runner, tmp_path, STANCE)
    for suffix, name in (("", "amira"), ("_tomas", "tomas")):
        output = imported(runner, str(FOREIGN / f"{stem}{suffix}.jsonl"), "--format", "doccano", "--as", name)
        assert "article labels" in output and "document class" not in output
    assert {key: groups["stance"] for key, groups in article_labels_by_user(app).items()} == STANCES


def test_doccano_class_in_no_group_is_refused(app, runner, tmp_path):
    project_with_groups(runner, tmp_path, TOPICS)
    path = str(FOREIGN / "doccano_classes.jsonl")
    result = runner.invoke(args=["import-annotations", "p", path, "--format", "doccano", "--as", "amira"])
    assert result.exit_code == 1 and f"{path}:1: label: document class 'neutral' is in no article label group of the schema" in result.output, result.output


@pytest.mark.parametrize("bad, reason", [
    ({"cats": ["economy"] * 100_000}, "cats: document class 'economy' appears more than once"),
    ({"cats": ["economy"], "label": ["economy"]}, "cats: document class 'economy' appears more than once"),
    ({"label": ["culture", "culture"]}, "label: document class 'culture' appears more than once"),
    ({"cats": None}, "'cats' must be a list of label names, or an object of label names to 1 or 0 (leave it out for none)"),
    ({"cats": {"economy": 0.7}}, "cats: document class 'economy' is 0.7, a score: give 1 or true (the class applies) or 0 or false (it does not), "
                                 "as spaCy's training data does"),
    ({"cats": {"economy": "yes"}}, "cats: document class 'economy' is \"yes\", not a number: give 1 or true (the class applies) or 0 or false "
                                   "(it does not), as spaCy's training data does"),
    ({"cats": {"economy": None}}, "cats: document class 'economy' is null, not a number: give 1 or true (the class applies) or 0 or false "
                                  "(it does not), as spaCy's training data does"),
    ({"cats": {"economy": 1}, "label": ["economy"]}, "cats: document class 'economy' appears more than once"),
    ({"cats": {"economy": 1, "sport": 1}}, "cats: document class 'sport' is in no article label group of the schema"),
])
def test_doccano_cats_null_or_a_value_twice_is_refused_and_nothing_stored(app, runner, tmp_path, bad, reason):
    """The API refuses a value twice in an answer, and doccano never writes `cats: null` (with --on-duplicate replace it
    cleared the stored answer): both are one line naming the file and line, and nothing of the file is stored."""
    project_with_groups(runner, tmp_path, TOPICS)
    path = tmp_path / "d.jsonl"
    good = {"id": "a1", "text": "Fares stay frozen.", "cats": ["transport"]}
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    imported(runner, str(path), "--format", "doccano", "--as", "amira")
    path.write_text(json.dumps({**good, "id": "a2"}) + "\n" + json.dumps({**good, "cats": [], **bad}) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", "doccano", "--as", "amira", "--on-duplicate", "replace"])
    assert result.exit_code == 1
    (line,) = [x for x in result.output.splitlines() if x.startswith(str(path))]
    assert line == f"{path}:2: {reason}", line
    assert answers(app) == (["a1"], [("a1", ["transport"])])  # a2 not stored, a1's answer kept
    path.write_text(json.dumps({**good, "cats": []}) + "\n", encoding="utf-8")  # an empty list is an answer of none
    imported(runner, str(path), "--format", "doccano", "--as", "amira", "--on-duplicate", "replace")
    assert answers(app) == (["a1"], [])


@pytest.mark.parametrize("cats, stored", [
    ({"economy": 1.0, "transport": 0.0, "culture": True, "local-government": False}, [("a1", ["culture", "economy"])]),
    ({"economy": 1, "sport": 0}, [("a1", ["economy"])]),  # a class at 0 is one the document is not: stored nowhere, whatever its name
    ({"economy": 0, "transport": 0.0}, []),  # none applies: an answer of none, as `cats: []`
    ({}, []),
])
def test_doccano_cats_as_an_object_of_scores_is_read_as_spacy_writes_it(app, runner, tmp_path, cats, stored):
    """spaCy's form of `cats` ({"LABEL": 1.0, "OTHER": 0.0}, which converters from doccano to spaCy write) gives the classes at
    1 or true; those at 0 or false are not given. With --on-duplicate replace an object with none at 1 clears the answer."""
    project_with_groups(runner, tmp_path, TOPICS)
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "a1", "text": "Fares stay frozen.", "cats": ["transport"]}) + "\n", encoding="utf-8")
    imported(runner, str(path), "--format", "doccano", "--as", "amira")
    path.write_text(json.dumps({"id": "a1", "text": "Fares stay frozen.", "cats": cats}) + "\n", encoding="utf-8")
    imported(runner, str(path), "--format", "doccano", "--as", "amira", "--on-duplicate", "replace")
    assert answers(app) == (["a1"], stored)


def test_doccano_cats_object_for_a_one_value_group(app, runner, tmp_path):
    """spaCy's exclusive textcat form (one class at 1, the others at 0) is one value of a group that takes one."""
    project_with_groups(runner, tmp_path, STANCE)
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "a1", "text": "Fares stay frozen.", "cats": {"support": 0.0, "oppose": 1.0, "neutral": 0.0}}) + "\n",
                    encoding="utf-8")
    imported(runner, str(path), "--format", "doccano", "--as", "amira")
    assert answers(app) == (["a1"], [("a1", ["oppose"])])
    path.write_text(json.dumps({"id": "a1", "text": "Fares stay frozen.", "cats": {"support": 1, "oppose": 1}}) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", "doccano", "--as", "amira", "--on-duplicate", "replace"])
    assert result.exit_code == 1 and f"{path}:1: 2 document classes (oppose, support) for article label group 'stance', which takes one" in result.output
    assert answers(app) == (["a1"], [("a1", ["oppose"])])


def answers(app) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The articles' external ids, and (external id, values) of every stored article label."""
    with app.app_context():
        articles = sorted(db.session.scalars(select(Article.external_id)))
        rows = db.session.execute(select(Article.external_id, ArticleLabel.values).join(ArticleLabel, ArticleLabel.article_id == Article.id))
        return articles, sorted((external_id, values) for external_id, values in rows)


def test_agreement_counts_a_document_class_once_per_article(app, runner, tmp_path):
    """The stance row: 3 articles (not their sentences), alpha as the krippendorff package computes it on articles x annotators."""
    import krippendorff
    import numpy as np

    from annotator.domain import agreement

    project_with_groups(runner, tmp_path, STANCE)
    imported(runner, str(FOREIGN / "ls_json.json"), "--format", "label-studio", "--users", str(FOREIGN / "ls_users.json"))
    with app.app_context():
        project_id = db.session.scalar(select(Article.project_id).limit(1))
        (row,) = agreement.summary(db.session, project_id)["article_labels"]
    assert (row["group"], row["n_articles"], row["n_answers"], row["n_pairable"]) == ("stance", 3, 6, 3)
    code = {"neutral": 0, "oppose": 1, "support": 2}
    articles = ["harbour-fees", "library-sundays", "tram-trial"]
    data = np.array([[code[STANCES[(who, a)][0]] for a in articles] for who in ("amira", "tomas")], dtype=float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert row["krippendorff_alpha"]["value"] == pytest.approx(expected)
    assert row["percent_agreement"]["value"] == pytest.approx(1 / 3)  # they agree on library-sundays only
    output = runner.invoke(args=["agreement", "p"]).output
    assert "Article labels (an item is an article" in output and "stance" in output, output


def test_doccano_cats_with_a_class_given_twice_in_the_object_is_refused_by_name(app, runner, tmp_path):
    """{"economy": 1, "economy": 0} says two things of one class: Python's json keeps the last one without a word."""
    project_with_groups(runner, tmp_path, TOPICS)
    path = tmp_path / "d.jsonl"
    good = json.dumps({"id": "a1", "text": "Fares stay frozen.", "cats": ["transport"]})
    path.write_text(good + '\n{"id": "a2", "text": "Fares stay frozen.", "cats": {"economy": 1, "economy": 0}}\n', encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", "doccano", "--as", "amira"])
    assert result.exit_code == 1
    (line,) = [x for x in result.output.splitlines() if x.startswith(str(path))]
    assert line.startswith(f"{path}:2: ") and 'the key "economy" is given twice in one object' in line, line
    assert answers(app) == ([], [])  # nothing of the file stored


@pytest.mark.parametrize("fmt, record", [
    ("doccano", {"id": "two\nlines", "text": "Fares stay frozen.", "label": []}),
    ("label-studio-min", {"id": "two\nlines", "text": "Fares stay frozen.", "annotator": 1}),
])
def test_a_foreign_article_id_with_a_line_break_is_refused_with_file_and_line(app, runner, tmp_path, fmt, record):
    """Label Studio, doccano and Citron records become article-format records: their ids meet the same check."""
    project_with_groups(runner, tmp_path, TOPICS)
    path = tmp_path / ("d.jsonl" if fmt == "doccano" else "d.json")
    text = json.dumps({**record, "id": "fine"}) + "\n" + json.dumps(record) + "\n"
    path.write_text(text if fmt == "doccano" else "[" + text.strip().replace("\n", ", ") + "]", encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", fmt, "--as", "amira"])
    assert result.exit_code == 1 and "id 'two\\nlines' holds a line break" in result.output, result.output
    assert f"{path}:" in result.output


@pytest.mark.parametrize("fmt, body, line", [
    ("article", '{"id": "d1", "text": "One."}\n{"id": "d2", "txt": "Two."}\n',
     ":2: missing 'text' (the line has 'id', 'txt': did you mean 'text'?)"),
    ("doccano", '{"id": "d1", "text": "One.", "label": []}\n{"id": "d2", "txt": "Two.", "label": []}\n',
     ":2: missing 'text' (the line has 'id', 'txt', 'label': did you mean 'text'?)"),
    ("citron", '{"text": "One.", "quotes": []}\n{"txt": "Two.", "quotes": []}\n',
     ":2: expected a Citron document: a JSON object with 'text' and 'quotes' (the document has 'txt', 'quotes': did you mean 'text'?)"),
    ("label-studio", '[{"id": 1, "data": {"text": "One."}}, {"id": 2, "data": {"txt": "Two."}}]',
     "task 2 (id 2), the task's data has no 'text' string (the data has 'txt': did you mean 'text'?)"),
    ("label-studio-min", '[{"id": 1, "text": "One."}, {"id": 2, "txt": "Two."}]',
     "task 2 (id 2), the record has no 'text' string (the record has 'id', 'txt': did you mean 'text'?)"),
])
def test_a_misspelt_text_key_names_the_line_keys_and_the_near_one(app, runner, tmp_path, fmt, body, line):
    """Was a bare "missing 'text'", which sent a user hunting for a typo in a line they believed had the key."""
    assert runner.invoke(args=["projects", "create", "p"]).exit_code == 0
    path = tmp_path / f"f.{'json' if fmt.startswith('label-studio') else 'jsonl'}"
    path.write_text(body, encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", fmt, *(["--as", "amira"] if fmt != "article" else [])])
    assert result.exit_code == 1
    (error,) = [x for x in result.output.splitlines() if x.startswith(f"{path}:")]
    assert error.endswith(line), error
