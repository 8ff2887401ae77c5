"""annotator export --format label-studio|doccano|citron, and each read back by import-annotations (issue 18, "Out again").

The source project holds two annotators' sentence labels, spans and attributed_to links (and a suggester's
suggestions) on an article with curly quotes, an emoji, a combining accent and a CRLF; each export is
imported into a fresh project and the annotations compared: annotator, label, offsets, text, relations.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Annotation, Article, Project, Relation, Sentence, Span, Suggestion, User
from annotator.db.transactions import transaction
from annotator.domain import suggestions

# Ferry: headline ended by CRLF, a ship emoji (beyond U+FFFF) before the first quote, curly quotes, and
# "Zoë" spelled with U+0308 COMBINING DIAERESIS.
FERRY = ("Ferry fares frozen for winter\r\nThe island council froze ferry fares on Tuesday. \U0001F6A2 \u201cWe will not ask "
         "families to pay more this year,\u201d said Zoe\u0308 Ndiaye, who chairs the transport board. Operators called the "
         "freeze \u201ca gift we cannot afford.\u201d")
HARBOUR = "Harbour dredging starts\n\nDredging of the north basin starts in May, the port said. Nobody objected \U0001F642."


def _span(text: str, uid: str, label: str, piece: str, after: int = 0) -> dict:
    start = text.index(piece, after)
    return {"id": uid, "label": label, "start": start, "end": start + len(piece), "text": piece}


def source_records() -> list[dict]:
    """Two articles in this tool's article format: alice and bob on the ferry, alice alone on the harbour."""
    q1 = "\u201cWe will not ask families to pay more this year,\u201d"
    q2 = "\u201ca gift we cannot afford.\u201d"
    alice = {
        "annotator": "alice",
        "labels": [{"sentence": 0, "label": "NFS", "seconds": 3.5}, {"sentence": 1, "label": "CFS", "seconds": 2.0}],
        "spans": [_span(FERRY, "a-q1", "QUOTE", q1), _span(FERRY, "a-c1", "CUE", "said"),
                  _span(FERRY, "a-s1", "SOURCE", "Zoe\u0308 Ndiaye"), _span(FERRY, "a-s2", "SOURCE", "Operators"),
                  _span(FERRY, "a-c2", "CUE", "called"), _span(FERRY, "a-q2", "QUOTE", q2)],
        "relations": [{"id": "a-r1", "type": "attributed_to", "from": "a-q1", "to": "a-s1"},
                      {"id": "a-r2", "type": "attributed_to", "from": "a-q2", "to": "a-s2"}],
    }
    bob = {
        "annotator": "bob",
        "labels": [{"sentence": 1, "label": "UFS", "seconds": 4.0}],
        "spans": [_span(FERRY, "b-q1", "QUOTE", q1[1:-2]), _span(FERRY, "b-c1", "CUE", "said"),
                  _span(FERRY, "b-s1", "SOURCE", "Zoe\u0308 Ndiaye, who chairs the transport board")],
        "relations": [{"id": "b-r1", "type": "attributed_to", "from": "b-q1", "to": "b-s1"}],
    }
    harbour = {
        "annotator": "alice",
        "labels": [{"sentence": 1, "label": "UFS", "seconds": 1.0}],
        "spans": [_span(HARBOUR, "h-s", "SOURCE", "the port"), _span(HARBOUR, "h-c", "CUE", "said"),
                  _span(HARBOUR, "h-q", "QUOTE", "Dredging of the north basin starts in May")],
        "relations": [{"id": "h-r", "type": "attributed_to", "from": "h-q", "to": "h-s"}],
    }
    return [
        {"id": "ferry-fares", "title": "Ferry fares frozen for winter", "text": FERRY, "meta": {"desk": "islands", "batch": 3},
         "annotations": [alice, bob]},
        {"id": "harbour-dredging", "title": "Harbour dredging starts", "text": HARBOUR, "meta": {}, "annotations": [harbour]},
    ]


def build_source(app, runner, tmp_path: Path) -> None:
    """Project p with the source records and a suggester's span, link and label suggestions on the ferry article."""
    assert runner.invoke(args=["projects", "create", "p"]).exit_code == 0
    path = tmp_path / "source.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in source_records()), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context(), transaction(db.session):
        project = db.session.scalar(select(Project).where(Project.name == "p"))
        article = db.session.scalar(select(Article).where(Article.project_id == project.id, Article.external_id == "ferry-fares"))
        sentence_ids = list(db.session.scalars(select(Sentence.id).where(Sentence.article_id == article.id).order_by(Sentence.index)))
        q = _span(FERRY, "", "QUOTE", "\u201cWe will not ask families to pay more this year,\u201d")
        s = _span(FERRY, "", "SOURCE", "Zoe\u0308 Ndiaye")
        proposal = suggestions.Proposal(
            "quotes-model", "2", [(1, "CFS", 0.7)],
            [("q", "QUOTE", q["start"], q["end"], 0.9), ("s", "SOURCE", s["start"], s["end"], 0.6)],
            [("attributed_to", "q", "s", 0.5)],
        )
        rows = suggestions.rows_for(proposal, article.id, len(FERRY), project.label_schema, sentence_ids)
        suggestions.store_many(db.session, "quotes-model", {article.id: rows})


def snapshot(app, project: str) -> dict[str, list]:
    """What a project holds, without ids: labels, spans (with their text), relations (by their ends), suggestions, articles."""
    with app.app_context():
        pid = db.session.scalar(select(Project.id).where(Project.name == project))
        articles = {a.id: a for a in db.session.scalars(select(Article).where(Article.project_id == pid))}
        labels = db.session.execute(
            select(User.name, Sentence.article_id, Sentence.index, Annotation.label)
            .join(Annotation, Annotation.user_id == User.id).join(Sentence, Sentence.id == Annotation.sentence_id)
        ).all()
        spans = {s.id: s for s in db.session.scalars(select(Span).where(Span.article_id.in_(articles)))}
        names = dict(db.session.execute(select(User.id, User.name)).all())
        relations = db.session.scalars(select(Relation).where(Relation.article_id.in_(articles))).all()
        suggested = db.session.scalars(select(Suggestion).where(Suggestion.article_id.in_(articles))).all()

        def where(span: Span) -> tuple:
            text = articles[span.article_id].text
            return (span.label, span.start, span.end, text[span.start:span.end])

        by_uid = {(g.article_id, g.uid): g for g in suggested}
        return {
            "articles": sorted((a.external_id, a.title, a.text, a.meta) for a in articles.values()),
            "labels": sorted((name, articles[aid].external_id, index, label) for name, aid, index, label in labels if aid in articles),
            "spans": sorted((names[s.user_id], articles[s.article_id].external_id, *where(s)) for s in spans.values()),
            "relations": sorted(
                (names[r.user_id], articles[r.article_id].external_id, r.type, where(spans[r.from_span_id]), where(spans[r.to_span_id]))
                for r in relations
            ),
            "suggestions": sorted(
                (g.suggester, articles[g.article_id].external_id, g.kind, g.label, g.start, g.end, g.score,
                 (by_uid[g.article_id, g.from_uid].start, by_uid[g.article_id, g.to_uid].start) if g.kind == "relation" else None)
                for g in suggested
            ),
        }


def export(runner, *args: str):
    result = runner.invoke(args=["export", "p", *args])
    assert result.exit_code == 0, result.output
    return result


def import_into_q(runner, *args: str) -> str:
    runner.invoke(args=["projects", "create", "q"])
    result = runner.invoke(args=["import-annotations", "q", *args])
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------- Label Studio


def test_label_studio_round_trip_keeps_annotators_labels_spans_relations_and_predictions(app, runner, tmp_path):
    build_source(app, runner, tmp_path)
    out, users = tmp_path / "ls.json", tmp_path / "users.json"
    result = export(runner, "--format", "label-studio", "-o", str(out), "--users-out", str(users))
    assert "exported 2 articles, 2 tasks (label-studio)" in result.output
    tasks = json.loads(out.read_text(encoding="utf-8"))
    ferry = tasks[0]
    assert ferry["data"] == {"id": "ferry-fares", "title": "Ferry fares frozen for winter", "text": FERRY}
    assert ferry["meta"] == {"desk": "islands", "batch": 3}
    assert len(ferry["annotations"]) == 2 and len(tasks[1]["annotations"]) == 1
    ids = json.loads(users.read_text(encoding="utf-8"))
    assert sorted(ids.values()) == ["alice", "bob"]
    alice = ferry["annotations"][[ids[str(a["completed_by"])] for a in ferry["annotations"]].index("alice")]
    assert alice["lead_time"] == 5.5 and alice["was_cancelled"] is False
    for item in alice["result"]:  # code-point offsets, with the covered text
        if item["type"] in ("labels", "choices"):
            assert FERRY[item["value"]["start"]:item["value"]["end"]] == item["value"]["text"]
    kinds = sorted(item["type"] for item in alice["result"])
    assert kinds == ["choices"] * 2 + ["labels"] * 6 + ["relation"] * 2
    [prediction] = ferry["predictions"]
    assert prediction["model_version"] == "quotes-model"
    assert sorted(item.get("score") for item in prediction["result"]) == [0.5, 0.6, 0.7, 0.9]

    output = import_into_q(runner, str(out), "--format", "label-studio", "--users", str(users), "--offsets", "code-points")
    assert "skipped for quotes-model: 1 sentence-label prediction(s)" in output
    before, after = snapshot(app, "p"), snapshot(app, "q")
    assert [len(before[part]) for part in ("articles", "labels", "spans", "relations", "suggestions")] == [2, 4, 12, 4, 4]
    for part in ("articles", "labels", "spans", "relations"):
        assert after[part] == before[part], part
    assert after["suggestions"] == [s for s in before["suggestions"] if s[2] != "label"]  # each item's own score


def _origins(app, project: str) -> list[tuple]:
    """Every annotator's label, span and relation with its origin, suggester and version (by label and offsets)."""
    with app.app_context():
        pid = db.session.scalar(select(Project.id).where(Project.name == project))
        aids = select(Article.id).where(Article.project_id == pid)
        spans = {s.id: s for s in db.session.scalars(select(Span).where(Span.article_id.in_(aids)))}
        labels = db.session.scalars(select(Annotation).join(Sentence).where(Sentence.article_id.in_(aids))).all()
        relations = db.session.scalars(select(Relation).where(Relation.article_id.in_(aids))).all()
        return sorted(
            [("label", a.label, a.origin, a.suggester, a.suggester_version) for a in labels]
            + [("span", s.label, s.start, s.origin, s.suggester, s.suggester_version) for s in spans.values()]
            + [("relation", r.type, spans[r.from_span_id].start, r.origin, r.suggester, r.suggester_version) for r in relations],
            key=repr,
        )


def test_label_studio_round_trip_keeps_where_each_item_came_from(app, runner, tmp_path):
    """An accepted suggestion goes out as Label Studio's origin "prediction" (suggester and version in the result's meta)
    and comes back suggested, by the same suggester and version; manual items stay manual."""
    records = source_records()
    alice = records[0]["annotations"][0]
    came = {"origin": "suggested", "suggester": "quotes-model", "suggester_version": "2"}
    alice["labels"][1].update(came)
    alice["spans"][0].update(came)
    alice["spans"][2].update(came)
    alice["relations"][0].update(came)
    assert runner.invoke(args=["projects", "create", "p"]).exit_code == 0
    path = tmp_path / "source.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert runner.invoke(args=["import-annotations", "p", str(path)]).exit_code == 0
    out, users = tmp_path / "ls.json", tmp_path / "users.json"
    export(runner, "--format", "label-studio", "-o", str(out), "--users-out", str(users))
    results = [item for a in json.loads(out.read_text(encoding="utf-8"))[0]["annotations"] for item in a["result"]]
    assert sorted(item["origin"] for item in results) == ["manual"] * 11 + ["prediction"] * 4
    assert all(item["meta"] == {"suggester": "quotes-model", "suggester_version": "2"} for item in results if item["origin"] == "prediction")

    import_into_q(runner, str(out), "--format", "label-studio", "--users", str(users), "--offsets", "code-points")
    before, after = _origins(app, "p"), _origins(app, "q")
    assert sum(item[-3:] == ("suggested", "quotes-model", "2") for item in before) == 4
    assert after == before


LS_TEXT = "Nobody objected, said the port."


def _ls_results() -> list[dict]:
    """A region accepted from a prediction unchanged, one a person changed, and a link between them as predicted."""
    return [
        {"id": "r1", "from_name": "label", "to_name": "text", "type": "labels", "origin": "prediction",
         "value": {"start": 0, "end": 15, "text": "Nobody objected", "labels": ["QUOTE"]}},
        {"id": "r2", "from_name": "label", "to_name": "text", "type": "labels", "origin": "prediction-changed",
         "meta": {"text": ["a note"]}, "value": {"start": 22, "end": 30, "text": "the port", "labels": ["SOURCE"]}},
        {"from_id": "r1", "to_id": "r2", "type": "relation", "direction": "right", "labels": ["attributed_to"], "origin": "prediction"},
    ]


@pytest.mark.parametrize(("annotation", "predictions", "suggester"), [
    ({"parent_prediction": 7, "prediction": {}}, [{"id": 7, "model_version": "ner-v3", "result": []}], ("ner-v3", "ner-v3")),
    ({"parent_prediction": None, "prediction": {"id": 7, "model_version": "ner-v3"}}, [], ("ner-v3", "ner-v3")),
    ({"parent_prediction": None, "prediction": {}}, [], ("label-studio", "")),  # no model named: as its predictions are
    ({"parent_prediction": [7], "prediction": {}}, [{"id": {"x": 1}, "result": []}], ("label-studio", "")),  # odd ids: no 500
])
def test_label_studio_predictions_accepted_there_import_as_suggested(app, runner, tmp_path, annotation, predictions, suggester):
    """A result Label Studio marks origin "prediction" is a model's region a person accepted unchanged: it imported
    as the person's manual work (agreement on manual work counted the model). It is suggested now, by the prediction's
    model_version (the annotation's parent_prediction, or its own prediction object), as the task's predictions
    become suggestions of that name; "prediction-changed" (a person changed it) stays manual."""
    assert runner.invoke(args=["projects", "create", "q"]).exit_code == 0
    task = {"id": 1, "data": {"text": LS_TEXT}, "predictions": predictions,
            "annotations": [{"completed_by": 1, "result": _ls_results(), **annotation}]}
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "q", str(path), "--format", "label-studio"])
    assert result.exit_code == 0, result.output
    assert _origins(app, "q") == sorted([
        ("span", "QUOTE", 0, "suggested", *suggester), ("span", "SOURCE", 22, "manual", None, None),
        ("relation", "attributed_to", 0, "suggested", *suggester)], key=repr)


def test_label_studio_a_bad_model_version_is_refused_only_where_an_accepted_prediction_needs_it(app, runner, tmp_path):
    assert runner.invoke(args=["projects", "create", "q"]).exit_code == 0
    path = tmp_path / "ls.json"
    annotation = {"completed_by": 1, "prediction": {"model_version": "v" * 65}}
    manual = [dict(_ls_results()[1], origin="manual")]
    path.write_text(json.dumps([{"id": 1, "data": {"text": LS_TEXT}, "annotations": [{**annotation, "result": manual}]}]), encoding="utf-8")
    assert runner.invoke(args=["import-annotations", "q", str(path), "--format", "label-studio"]).exit_code == 0
    path.write_text(json.dumps([{"id": 2, "data": {"text": LS_TEXT + " "}, "annotations": [{**annotation, "result": _ls_results()}]}]),
                    encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "q", str(path), "--format", "label-studio"])
    assert result.exit_code == 1 and "task 1 (id 2), annotations[0].prediction.model_version must be at most 64" in result.output


def test_label_studio_drafts_are_counted_as_skipped_not_dropped_unsaid(app, runner, tmp_path):
    """A task's drafts (work saved in Label Studio but never submitted) were dropped without a word: they are
    skipped and said, per person, and --strict fails on them."""
    assert runner.invoke(args=["projects", "create", "q"]).exit_code == 0
    task = {"id": 1, "data": {"text": LS_TEXT},
            "annotations": [{"completed_by": 1, "result": _ls_results()[:1]}],
            "drafts": [{"id": 3, "user": 2, "result": _ls_results(), "was_postponed": False},
                       {"id": 4, "user": 1, "result": []}]}  # an empty draft holds nothing to lose
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "q", str(path), "--format", "label-studio"])
    assert result.exit_code == 0, result.output
    assert "skipped for ls-user-2: 1 draft (saved in Label Studio, never submitted)" in result.output
    assert "ls-user-1: 1" not in result.output.split("skipped for", 1)[-1]
    strict = runner.invoke(args=["import-annotations", "q", str(path), "--format", "label-studio", "--on-duplicate", "skip", "--strict"])
    assert strict.exit_code == 1


def test_label_studio_ground_truth_is_said_to_be_no_gold(app, runner, tmp_path):
    """An annotation Label Studio marks ground_truth is imported as its author's, and the import says the mark is not
    gold here (it was dropped unsaid)."""
    assert runner.invoke(args=["projects", "create", "q"]).exit_code == 0
    task = {"id": 1, "data": {"text": LS_TEXT}, "annotations": [{"completed_by": 1, "ground_truth": True, "result": _ls_results()[1:2]}]}
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "q", str(path), "--format", "label-studio", "--strict"])
    assert result.exit_code == 0, result.output
    assert "1 annotation(s) marked ground_truth in Label Studio" in result.output
    assert len(_origins(app, "q")) == 1


def test_label_studio_without_users_map_names_annotators_by_id(app, runner, tmp_path):
    build_source(app, runner, tmp_path)
    out = tmp_path / "ls.json"
    export(runner, "--format", "label-studio", "-o", str(out))
    import_into_q(runner, str(out), "--format", "label-studio")
    with app.app_context():
        ids = dict(db.session.execute(select(User.name, User.id)).all())
    assert {row[0] for row in snapshot(app, "q")["spans"]} == {f"ls-user-{ids['alice']}", f"ls-user-{ids['bob']}"}


# ---------------------------------------------------------------- doccano


@pytest.mark.parametrize("offsets", ["utf16", "code-points"])
def test_doccano_round_trip_per_person(app, runner, tmp_path, offsets):
    build_source(app, runner, tmp_path)
    files = {}
    for name in ("alice", "bob"):
        files[name] = tmp_path / f"{name}.jsonl"
        extra = ["--offsets", offsets] if offsets != "utf16" else []
        result = export(runner, "--format", "doccano", "--annotator", name, "-o", str(files[name]), *extra)
        assert "sentence label(s): doccano's sequence labelling has no place for them" in result.output
    lines = [json.loads(line) for line in files["alice"].read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["ferry-fares", "harbour-dredging"]
    assert lines[0]["desk"] == "islands" and lines[0]["title"] == "Ferry fares frozen for winter"
    quote = next(e for e in lines[0]["entities"] if e["label"] == "QUOTE")
    code_point = FERRY.index("\u201cWe will")
    assert quote["start_offset"] == code_point + (1 if offsets == "utf16" else 0)  # the ship counts 2 UTF-16 units
    assert {r["type"] for r in lines[0]["relations"]} == {"attributed_to"}

    runner.invoke(args=["projects", "create", "q"])
    for name in ("alice", "bob"):
        result = runner.invoke(args=["import-annotations", "q", str(files[name]), "--format", "doccano", "--as", name,
                                     "--offsets", offsets])
        assert result.exit_code == 0, result.output
    before, after = snapshot(app, "p"), snapshot(app, "q")
    for part in ("articles", "spans", "relations"):
        assert after[part] == before[part], part
    assert after["labels"] == []  # not in the format (reported above)


def test_doccano_folder_has_a_file_per_person_as_doccanos_export(app, runner, tmp_path):
    build_source(app, runner, tmp_path)
    folder = tmp_path / "doccano"
    result = export(runner, "--format", "doccano", "-o", f"{folder}/")
    assert f"exported 2 articles, 3 lines (doccano) to {folder}" in result.output
    assert sorted(path.name for path in folder.iterdir()) == ["alice.jsonl", "bob.jsonl"]
    runner.invoke(args=["projects", "create", "q"])
    for name in ("alice", "bob"):
        result = runner.invoke(args=["import-annotations", "q", str(folder / f"{name}.jsonl"), "--format", "doccano", "--as", name])
        assert result.exit_code == 0, result.output
    before, after = snapshot(app, "p"), snapshot(app, "q")
    for part in ("articles", "spans", "relations"):
        assert after[part] == before[part], part


def test_doccano_needs_one_annotator(app, runner, tmp_path):
    build_source(app, runner, tmp_path)
    result = runner.invoke(args=["export", "p", "--format", "doccano"])
    assert result.exit_code == 1 and "give one --annotator NAME" in result.output


# ---------------------------------------------------------------- Citron


def test_citron_round_trip(app, runner, tmp_path):
    build_source(app, runner, tmp_path)
    out = tmp_path / "citron.jsonl"
    result = export(runner, "--format", "citron", "-o", str(out))
    assert "exported 2 articles, 3 documents (citron)" in result.output
    assert "not in the citron format: alice: 3 sentence label(s): Citron has no place for them" in result.output
    documents = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(d["id"], d["annotator"]) for d in documents] == [("ferry-fares", "alice"), ("ferry-fares", "bob"), ("harbour-dredging", "alice")]
    def piece(text: str) -> dict:
        return {"start": FERRY.index(text), "end": FERRY.index(text) + len(text), "text": text}

    assert documents[0]["quotes"][0] == {
        "cue": piece("said"),
        "sources": [piece("Zoe\u0308 Ndiaye")],
        "contents": [piece("\u201cWe will not ask families to pay more this year,\u201d")],
    }
    assert [q["cue"]["text"] for q in documents[0]["quotes"]] == ["said", "called"]
    for document in documents:
        for quote in document["quotes"]:
            for span in [quote["cue"], *quote["sources"], *quote["contents"]]:
                assert document["text"][span["start"]:span["end"]] == span["text"]

    import_into_q(runner, str(out), "--format", "citron")
    before, after = snapshot(app, "p"), snapshot(app, "q")
    for part in ("articles", "spans", "relations"):
        assert after[part] == before[part], part


def test_citron_folder_has_a_file_per_document_as_citrons_trainer_reads(app, runner, tmp_path):
    build_source(app, runner, tmp_path)
    folder = tmp_path / "citron"
    result = export(runner, "--format", "citron", "-o", f"{folder}/")
    assert f"to {folder}" in result.output
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["ferry-fares.alice.json", "ferry-fares.bob.json", "harbour-dredging.alice.json"]
    document = json.loads((folder / "ferry-fares.bob.json").read_text(encoding="utf-8"))
    assert document["text"] == FERRY and [len(q["contents"]) for q in document["quotes"]] == [1]
    import_into_q(runner, *(str(folder / name) for name in names), "--format", "citron")
    before, after = snapshot(app, "p"), snapshot(app, "q")
    for part in ("articles", "spans", "relations"):
        assert after[part] == before[part], part


def test_citron_leaves_out_what_it_cannot_hold_and_says_so(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    record = {"id": "a", "title": "", "text": HARBOUR, "meta": {}, "annotations": [{
        "annotator": "alice", "labels": [],
        "spans": [_span(HARBOUR, "s", "SOURCE", "the port"), _span(HARBOUR, "c", "CUE", "said"),
                  _span(HARBOUR, "q", "QUOTE", "Dredging of the north basin starts in May")],
        "relations": []}]}
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert runner.invoke(args=["import-annotations", "p", str(path)]).exit_code == 0
    result = export(runner, "--format", "citron")
    assert "not in the citron format: alice: 1 SOURCE span(s) no QUOTE is attributed to" in result.output
    document = json.loads(result.stdout.splitlines()[0])
    said = HARBOUR.index("said")
    assert document["quotes"] == [{"cue": {"start": said, "end": said + 4, "text": "said"}, "sources": [],
                                   "contents": [{"start": 25, "end": 66, "text": "Dredging of the north basin starts in May"}]}]


def test_citron_reader_one_document_file_needs_as_and_checks_offsets(app, runner, tmp_path):
    runner.invoke(args=["projects", "create", "p"])
    doc = {"text": FERRY, "quotes": [{"cue": {"start": FERRY.index("said"), "end": FERRY.index("said") + 4, "text": "said"},
                                      "sources": [], "contents": []}]}
    path = tmp_path / "story.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", "citron"])
    assert result.exit_code == 1 and f"{path}:1: the document names no annotator: say --as NAME" in result.output
    doc["quotes"][0]["cue"]["end"] += 1
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path), "--format", "citron", "--as", "carol"])
    assert result.exit_code == 1 and "quotes[0].cue: text 'said' does not match start-end 132-137" in result.output
    with app.app_context():
        assert db.session.scalars(select(Article.id)).all() == []  # nothing half-stored
    doc["quotes"][0]["cue"]["end"] -= 1
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    assert runner.invoke(args=["import-annotations", "p", str(path), "--format", "citron", "--as", "carol"]).exit_code == 0
    assert [row[0] for row in snapshot(app, "p")["articles"]] == ["story-1"]
    assert [row[:3] for row in snapshot(app, "p")["spans"]] == [("carol", "story-1", "CUE")]


# ---------------------------------------------------------------- options and empty projects


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "excel"], "Invalid value for '--format': 'excel' is not one of 'jsonl', 'label-studio', 'doccano', 'citron'."),
        (["--format", "label-studio", "--gold-only"], "--gold-only is for --format jsonl: the label-studio format carries each annotator's work"),
        (["--format", "citron", "--unit", "article"], "--unit is for --format jsonl"),
        (["--format", "label-studio", "--split", "train=0.5,test=0.5", "-o", "x"], "--split is for --format jsonl"),
        (["--format", "citron", "--offsets", "code-points"], "--offsets goes with --format doccano"),
        (["--format", "doccano", "--annotator", "alice", "--users-out", "u.json"], "--users-out goes with --format label-studio"),
        (["--users-out", "u.json"], "--users-out goes with --format label-studio"),
    ],
)
def test_options_that_do_not_fit_the_format_get_one_line(app, runner, args, message):
    runner.invoke(args=["projects", "create", "p"])
    result = runner.invoke(args=["export", "p", *args])
    assert result.exit_code != 0 and message in result.output, result.output
    assert len(result.output.strip().splitlines()[-1]) < 200


@pytest.mark.parametrize("fmt, expected", [("label-studio", "[]\n"), ("citron", ""), ("doccano", "")])
def test_an_empty_project_gives_a_valid_empty_file(app, runner, tmp_path, fmt, expected):
    runner.invoke(args=["projects", "create", "p"])
    args = ["--annotator", "alice"] if fmt == "doccano" else []
    if fmt == "doccano":  # the annotator must be one of the project's people
        from tests.conftest import add_user

        add_user(app, "alice")
        runner.invoke(args=["projects", "members", "p", "--add", "alice"])
    out = tmp_path / "empty.out"
    export(runner, "--format", fmt, "-o", str(out), *args)
    assert out.read_text(encoding="utf-8") == expected
    if fmt == "label-studio":
        assert json.loads(expected) == []


def build_with_article_labels(runner, tmp_path: Path, groups: list[dict] | None = None, labels: list[dict] | None = None) -> None:
    """Projects p and q with article label groups (a stance, several topics); p holds the source records, alice and bob
    with article labels on the ferry article."""
    from annotator.domain import labelschema

    schema = labelschema.preset("claims")
    schema["article_labels"] = groups or [{"name": "stance", "values": ["support", "oppose", "neutral"]},
                                          {"name": "topics", "values": ["economy", "transport", "culture"], "multiple": True}]
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema), encoding="utf-8")
    for name in ("p", "q"):
        assert runner.invoke(args=["projects", "create", name, "--schema", str(schema_file)]).exit_code == 0
    records = source_records()
    chosen = labels or [{"stance": "oppose", "topics": ["economy", "transport"]}, {"stance": "support"}]
    for entry, answer in zip(records[0]["annotations"], chosen, strict=True):
        entry["article_labels"] = answer
    path = tmp_path / "source.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "p", str(path)])
    assert result.exit_code == 0, result.output


def article_labels(app, project: str) -> list[tuple]:
    """(annotator, article, group, values) of every article label in the project."""
    from annotator.db.models import ArticleLabel

    with app.app_context():
        pid = db.session.scalar(select(Project.id).where(Project.name == project))
        return sorted(tuple(row) for row in db.session.execute(
            select(User.name, Article.external_id, ArticleLabel.group, ArticleLabel.values)
            .join(ArticleLabel, ArticleLabel.user_id == User.id).join(Article, Article.id == ArticleLabel.article_id)
            .where(Article.project_id == pid)
        ))


SOURCE_ARTICLE_LABELS = [
    ("alice", "ferry-fares", "stance", ["oppose"]), ("alice", "ferry-fares", "topics", ["economy", "transport"]),
    ("bob", "ferry-fares", "stance", ["support"])]


def test_label_studio_round_trip_keeps_article_labels(app, runner, tmp_path):
    """Article labels (one value and several) go out as document-level choices and come back as the same article labels."""
    build_with_article_labels(runner, tmp_path)
    out, users = tmp_path / "ls.json", tmp_path / "users.json"
    export(runner, "--format", "label-studio", "-o", str(out), "--users-out", str(users))
    tasks = json.loads(out.read_text(encoding="utf-8"))
    documents = [item for a in tasks[0]["annotations"] for item in a["result"] if item["type"] == "choices" and "start" not in item["value"]]
    assert sorted((d["from_name"], d["value"]["choices"]) for d in documents) == [
        ("stance", ["oppose"]), ("stance", ["support"]), ("topics", ["economy", "transport"])]
    result = runner.invoke(args=["import-annotations", "q", str(out), "--format", "label-studio", "--users", str(users), "--offsets", "code-points"])
    assert result.exit_code == 0, result.output
    assert article_labels(app, "q") == article_labels(app, "p") == SOURCE_ARTICLE_LABELS
    assert snapshot(app, "q")["spans"] == snapshot(app, "p")["spans"]


@pytest.mark.parametrize("offsets", ["utf16", "code-points"])
def test_doccano_round_trip_keeps_article_labels_as_cats(app, runner, tmp_path, offsets):
    """Each person's article labels go out as doccano's categories (`cats`, beside the entities) and come back into the
    groups that hold them, with the same spans and relations at the same offsets."""
    build_with_article_labels(runner, tmp_path)
    folder = tmp_path / "doccano"
    export(runner, "--format", "doccano", "-o", f"{folder}/", "--offsets", offsets)
    lines = {name: [json.loads(line) for line in (folder / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
             for name in ("alice", "bob")}
    assert [(line["id"], line["cats"]) for line in lines["alice"]] == [("ferry-fares", ["oppose", "economy", "transport"]),
                                                                       ("harbour-dredging", [])]
    assert [(line["id"], line["cats"]) for line in lines["bob"]] == [("ferry-fares", ["support"])]
    for name in ("alice", "bob"):
        result = runner.invoke(args=["import-annotations", "q", str(folder / f"{name}.jsonl"), "--format", "doccano", "--as", name,
                                     "--offsets", offsets])
        assert result.exit_code == 0, result.output
    assert article_labels(app, "q") == article_labels(app, "p") == SOURCE_ARTICLE_LABELS
    before, after = snapshot(app, "p"), snapshot(app, "q")
    for part in ("articles", "spans", "relations"):
        assert after[part] == before[part], part


def test_doccano_leaves_out_a_value_several_groups_share_and_says_so(app, runner, tmp_path):
    """doccano's categories have no groups: a value two groups allow would not come back; it is reported, the rest still goes."""
    groups = [{"name": "stance", "values": ["support", "oppose", "neutral"]}, {"name": "tone", "values": ["angry", "neutral"]}]
    build_with_article_labels(runner, tmp_path, groups, [{"stance": "neutral", "tone": "angry"}, {"stance": "oppose"}])
    out = tmp_path / "alice.jsonl"
    result = export(runner, "--format", "doccano", "--annotator", "alice", "-o", str(out))
    assert "alice: 1 article label value(s) that several groups share: doccano's categories have no groups" in result.output
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["cats"] == ["angry"]
    result = runner.invoke(args=["import-annotations", "q", str(out), "--format", "doccano", "--as", "alice"])
    assert result.exit_code == 0, result.output
    assert article_labels(app, "q") == [("alice", "ferry-fares", "tone", ["angry"])]


def test_citron_round_trip_keeps_article_labels(app, runner, tmp_path):
    """Citron has no document labels: each document carries its annotator's `article_labels` beside id and meta (Citron
    ignores them), and the reader takes them back, never as meta."""
    build_with_article_labels(runner, tmp_path)
    out = tmp_path / "citron.jsonl"
    export(runner, "--format", "citron", "-o", str(out))
    documents = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(d["annotator"], d["article_labels"]) for d in documents] == [
        ("alice", {"stance": "oppose", "topics": ["economy", "transport"]}), ("bob", {"stance": "support"}), ("alice", {})]
    import_into_q(runner, str(out), "--format", "citron")
    assert article_labels(app, "q") == article_labels(app, "p") == SOURCE_ARTICLE_LABELS
    before, after = snapshot(app, "p"), snapshot(app, "q")
    for part in ("articles", "spans", "relations"):
        assert after[part] == before[part], part


def test_citron_article_labels_into_a_project_without_groups_are_skipped_and_said(app, runner, tmp_path):
    build_with_article_labels(runner, tmp_path)
    out = tmp_path / "citron.jsonl"
    export(runner, "--format", "citron", "-o", str(out))
    assert runner.invoke(args=["projects", "create", "plain"]).exit_code == 0
    result = runner.invoke(args=["import-annotations", "plain", str(out), "--format", "citron"])
    assert result.exit_code == 0, result.output
    assert "skipped for alice: 2 article label(s): the schema has no article label groups" in result.output
    assert snapshot(app, "plain")["articles"] == snapshot(app, "p")["articles"]  # no article_labels key in the meta


def test_citron_errors_name_the_documents_line_and_its_own_fields(app, runner, tmp_path):
    """A Citron file has no `annotations[1]`: what the schema refuses in its second document is named by that document's
    line and its own fields (article_labels, quotes[0].contents[0]), and nothing of the file is stored."""
    build_with_article_labels(runner, tmp_path)
    text = "The mayor said \u201cfares stay\u201d."
    quote = {"cue": {"start": 10, "end": 14, "text": "said"}, "sources": [{"start": 4, "end": 9, "text": "mayor"}],
             "contents": [{"start": 15, "end": 27, "text": "\u201cfares stay\u201d"}]}
    alice = {"id": "a1", "annotator": "alice", "text": text, "quotes": [quote], "article_labels": {"stance": "oppose"}}
    path = tmp_path / "c.jsonl"
    for bob, reason in [
        ({"article_labels": {"stance": "maybe"}}, "article_labels: article label group 'stance' has no value 'maybe'"),
        ({"article_labels": {"stance": ["oppose", "oppose"]}}, "article_labels.'stance' must be a value or a list of distinct values"),
        ({"article_labels": ["oppose"]}, "article_labels must be an object"),
        ({"annotator": "alice"}, "article 'a1' has a document by 'alice' on line 1 already"),
    ]:
        path.write_text(json.dumps(alice) + "\n" + json.dumps({**alice, "annotator": "bob", **bob}) + "\n", encoding="utf-8")
        result = runner.invoke(args=["import-annotations", "q", str(path), "--format", "citron"])
        assert f"{path}:2: {reason}" in result.output, result.output
        assert "annotations[" not in result.output
    schema = tmp_path / "no_spans.json"
    schema.write_text(json.dumps({"sentence_labels": [{"name": "CFS"}], "span_labels": [], "relation_types": []}), encoding="utf-8")
    assert runner.invoke(args=["projects", "create", "nospans", "--schema", str(schema)]).exit_code == 0, "schema"
    path.write_text(json.dumps({**alice, "article_labels": {}}) + "\n" + json.dumps({**alice, "annotator": "bob", "article_labels": {}}) + "\n",
                    encoding="utf-8")
    result = runner.invoke(args=["import-annotations", "nospans", str(path), "--format", "citron"])
    assert f"{path}:1: quotes[0].cue: " in result.output, result.output
    assert snapshot(app, "q")["articles"] == [] and snapshot(app, "nospans")["articles"] == []
