"""The dataset export: lossless article records, sentence records for training, splits, filters, web download."""
from __future__ import annotations

import itertools
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Article, Assignment, GoldLabel, GoldRelation, GoldSpan, Project, Sentence, Span, Suggestion
from annotator.db.transactions import begin_write, transaction
from annotator.domain import accounts, labelschema, projects, suggestions
from annotator.domain.annotations import create_relation, create_span, put_article_label, put_label, write
from annotator.domain.dataset import articles, export
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.suggestions import Proposal

from .conftest import Browser, add_user

# Emoji (one of them with a skin-tone modifier would also do), combining accents
# (e + U+0308, e + U+0301), CRLF line ends and curly quotes.
TEXT = (
    "Bridge repairs 🌉 will cost more\r\n"
    "“Repairs will cost $41.5m 💸 and take 18 months.” "
    "That was the estimate of Dr. Zoe\u0308 Okafor, the council’s engineer.\r\n"
    "Cafe\u0301 owners said they’re worried 😟.\r\n"
)
QUOTE = "Repairs will cost $41.5m 💸 and take 18 months."
SOURCE = "Dr. Zoe\u0308 Okafor"
ANNOTATORS = ("alice", "bob", "carol")
LABELS = {  # sentence index -> each annotator's label
    0: ("CFS", "CFS", "UFS"),
    1: ("CFS", "CFS", "CFS"),
    2: ("UFS", "NFS", "UFS"),
    3: ("NFS", "NFS", "NFS"),
}
GOLD = {0: ("CFS", "majority", None, None), 1: ("CFS", "unanimous", None, None), 2: ("UFS", "adjudicated", "rita", "a description, not a claim"), 3: ("NFS", "unanimous", None, None)}
SCHEMAS = {unit: export.schema(unit) for unit in export.UNITS}
MANUAL = {"origin": "manual", "suggester": None, "suggester_version": None}
ATTRIBUTION = {"origin": "suggested", "suggester": "attribution", "suggester_version": "1.0"}


def span_of(text: str, part: str, after: int = 0) -> tuple[int, int]:
    start = text.index(part, after)
    return start, start + len(part)


# Article-level labels (issue 18): a schema with a stance (one value) and topics (several), and who said what.
ARTICLE_GROUPS = [
    {"name": "stance", "values": ["support", "oppose", "neutral"]},
    {"name": "topics", "values": ["economy", "local-government", "culture"], "multiple": True},
]
ARTICLE_LABELS = {"alice": {"stance": ["oppose"], "topics": ["economy", "local-government"]},
                  "bob": {"stance": ["oppose"], "topics": ["economy"]},
                  "carol": {"stance": ["support"]}}


def schema_with_article_labels() -> dict[str, Any]:
    schema = labelschema.preset("claims")
    schema["article_labels"] = [dict(group) for group in ARTICLE_GROUPS]
    return schema


def build_project(app, name: str = "news", extra_articles: int = 0, article_labels: bool = False) -> dict[str, Any]:
    """The round-trip article annotated by three annotators (through annotations.py) with gold; plus plain articles.

    With `article_labels`, the schema has article label groups and the annotators answer them (ARTICLE_LABELS)."""
    with app.app_context():
        session = db.session
        begin_write(session)
        schema = schema_with_article_labels() if article_labels else labelschema.preset("claims")
        project = projects.create_project(session, name, schema, annotators_per_article=3)
        project.majority_threshold = 0.66  # two of three make majority gold, as GOLD says
        users = {}
        for user in (*ANNOTATORS, "rita"):
            users[user] = accounts.find_user(session, user) or accounts.create_user(
                session, user, "reviewer" if user == "rita" else "annotator", "correct horse"
            )
        records = [ArticleRecord("art-1", "Bridge repairs", TEXT, {"source": "test", "n": 1})]
        records += [ArticleRecord(f"plain-{i:03d}", f"Plain {i}", f"Plain article {i}. It has two sentences.", {}) for i in range(extra_articles)]
        articles.store_articles(session, project, records, "test")
        projects.add_members(session, project.id, list(users.values()))  # the annotators and rita, the project's reviewer
        article = session.scalar(select(Article).where(Article.project_id == project.id, Article.external_id == "art-1"))
        for user in ANNOTATORS:
            session.add(Assignment(user_id=users[user].id, article_id=article.id))
        session.commit()
        ids = {user: users[user].id for user in users}
        article_id, project_id = article.id, project.id
        sentences = [(s.start, s.end) for s in article.sentences]

    quote, source = span_of(TEXT, QUOTE), span_of(TEXT, SOURCE)
    assert len(sentences) == 4
    assert sentences[1][0] <= quote[0] < quote[1] <= sentences[1][1]  # the quote in one sentence ...
    assert sentences[2][0] <= source[0] < source[1] <= sentences[2][1]  # ... its source in the next
    with app.app_context():
        session = db.session
        for index, labels in LABELS.items():
            for user, label in zip(ANNOTATORS, labels, strict=True):
                write(session, lambda u=ids[user], i=index, x=label: put_label(session, u, article_id, i, x, seconds=1.5 + i))
        for user in ("alice", "bob"):
            write(session, lambda u=user: create_span(session, ids[u], article_id, "QUOTE", *quote, uid=f"{u}-quote-1"))
            write(session, lambda u=user: create_span(session, ids[u], article_id, "SOURCE", *source, uid=f"{u}-source-1"))
            write(session, lambda u=user: create_relation(session, ids[u], article_id, "attributed_to", f"{u}-quote-1", f"{u}-source-1", uid=f"{u}-rel-1"))
        # carol: a quote that runs over the sentence boundary, and a cue.
        across = (quote[0], TEXT.index("estimate") + len("estimate"))
        write(session, lambda: create_span(session, ids["carol"], article_id, "QUOTE", *across, uid="carol-quote-x"))
        write(session, lambda: create_span(session, ids["carol"], article_id, "CUE", *span_of(TEXT, "said"), uid="carol-cue-1"))
        answered = [(user, group, values) for user, groups in ARTICLE_LABELS.items() for group, values in groups.items()] if article_labels else []
        for user, group, values in answered:
            write(session, lambda u=ids[user], g=group, v=values: put_article_label(session, u, article_id, g, v))
        begin_write(session)
        sentence_ids = dict(session.execute(select(Sentence.index, Sentence.id).where(Sentence.article_id == article_id)).all())
        for index, (label, provenance, reviewer, reason) in GOLD.items():
            row = session.scalar(select(GoldLabel).where(GoldLabel.sentence_id == sentence_ids[index]))
            if reviewer is None:  # automatic gold: the label writes made it (issue 16), exactly as GOLD says
                assert row is not None and (row.label, row.provenance) == (label, provenance), index
                continue
            if row is None:
                row = GoldLabel(sentence_id=sentence_ids[index])
                session.add(row)
            row.label, row.provenance, row.reviewer_id, row.reason = label, provenance, ids[reviewer], reason
        gold_quote = GoldSpan(uid="gold-quote-1", article_id=article_id, label="QUOTE", start=quote[0], end=quote[1], provenance="adjudicated", reviewer_id=ids["rita"])
        gold_source = GoldSpan(uid="gold-source-1", article_id=article_id, label="SOURCE", start=source[0], end=source[1], provenance="adjudicated", reviewer_id=ids["rita"])
        session.add_all([gold_quote, gold_source])
        session.flush()
        session.add(GoldRelation(uid="gold-rel-1", article_id=article_id, type="attributed_to", from_span_id=gold_quote.id,
                                 to_span_id=gold_source.id, provenance="adjudicated", reviewer_id=ids["rita"]))
        session.commit()
    return {"project_id": project_id, "article_id": article_id, "users": ids, "sentences": sentences}


def add_suggestions(app, info: dict[str, Any]) -> dict[str, str]:
    """Two suggesters propose for art-1, and carol accepts some: suggestions, and annotations with origin "suggested".

    'attribution' proposed a CUE in version 0.9, then (1.0) a QUOTE, its SOURCE, a link and the same CUE,
    which keeps 0.9 (an unchanged suggestion keeps its id and version); 'claims' (version 3) proposes two
    labels. carol accepts the link (its QUOTE and SOURCE come with it) and the label for sentence 3, the
    label she had (NFS): her label stays, now an accepted suggestion. Returns the suggestion ids by (kind, label).
    """
    article_id, carol = info["article_id"], info["users"]["carol"]
    quote, source, cue = span_of(TEXT, QUOTE), span_of(TEXT, SOURCE), span_of(TEXT, "said")
    runs = [
        Proposal("attribution", "0.9", spans=[("c", "CUE", *cue, 0.7)]),
        Proposal("attribution", "1.0", spans=[("q", "QUOTE", *quote, 0.9), ("s", "SOURCE", *source, 0.8), ("c", "CUE", *cue, 0.75)],
                 relations=[("attributed_to", "q", "s", 0.85)]),
        Proposal("claims", "3", labels=[(3, "NFS", 0.75), (0, "CFS", 0.625)]),
    ]
    with app.app_context():
        session = db.session
        schema = session.get(Project, info["project_id"]).label_schema
        text, sentence_ids, _ = suggestions.article_sentences(session, article_id)
        for proposal in runs:
            with transaction(session):
                rows = suggestions.rows_for(proposal, article_id, len(text), schema, sentence_ids)
                suggestions.store(session, article_id, proposal.suggester, rows)
        ids = {(kind, label): uid for kind, label, uid in session.execute(
            select(Suggestion.kind, Suggestion.label, Suggestion.uid).where(Suggestion.article_id == article_id))}
        write(session, lambda: suggestions.accept(session, carol, article_id, [ids[("relation", "attributed_to")], ids[("label", "NFS")]]))
    return {f"{kind}:{label}": uid for (kind, label), uid in ids.items()}


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def validate(records: list[dict[str, Any]], unit: str) -> list[dict[str, Any]]:
    validator = jsonschema.Draft202012Validator(SCHEMAS[unit])
    for record in records:
        validator.validate(record)
    return records


def run_export(runner, tmp_path: Path, *args: str, name: str = "out.jsonl") -> list[dict[str, Any]]:
    path = tmp_path / name
    result = runner.invoke(args=["export", *args, "-o", str(path)])
    assert result.exit_code == 0, result.output
    unit = args[args.index("--unit") + 1] if "--unit" in args else "sentence"
    return validate(read_jsonl(path), unit)


def check_offsets(record: dict[str, Any]) -> None:
    text = record["text"]
    spans = [s for a in record["annotations"] for s in a["spans"]] + record["gold"]["spans"]
    for span in spans:
        assert text[span["start"] : span["end"]] == span["text"]


# ---------------------------------------------------------------- article unit


def test_article_export_is_lossless_and_valid(app, runner, tmp_path):
    build_project(app)
    (record,) = run_export(runner, tmp_path, "news", "--unit", "article")
    assert record["id"] == "art-1" and record["text"] == TEXT and record["meta"] == {"source": "test", "n": 1}
    assert record["title"] == "Bridge repairs"
    assert [s["index"] for s in record["sentences"]] == [0, 1, 2, 3]
    check_offsets(record)
    by_name = {a["annotator"]: a for a in record["annotations"]}
    assert list(by_name) == ["alice", "bob", "carol"]
    alice = by_name["alice"]
    assert [(x["sentence"], x["label"]) for x in alice["labels"]] == [(i, LABELS[i][0]) for i in range(4)]
    assert alice["labels"][2]["seconds"] == 3.5 and alice["labels"][0]["guidelines_version"] == 1
    assert all(x["updated_at"].endswith("Z") for x in alice["labels"])
    assert {s["id"]: s["text"] for s in alice["spans"]} == {"alice-quote-1": QUOTE, "alice-source-1": SOURCE}
    assert alice["relations"] == [{"id": "alice-rel-1", "type": "attributed_to", "from": "alice-quote-1", "to": "alice-source-1", **MANUAL}]
    assert [s["label"] for s in by_name["carol"]["spans"]] == ["QUOTE", "CUE"]
    gold = record["gold"]
    assert [(g["sentence"], g["label"], g["provenance"], g["reviewer"]) for g in gold["labels"]] == [
        (i, label, provenance, reviewer) for i, (label, provenance, reviewer, _) in GOLD.items()
    ]
    assert gold["labels"][2]["reason"] == "a description, not a claim"
    assert [(s["id"], s["provenance"], s["reviewer"]) for s in gold["spans"]] == [("gold-quote-1", "adjudicated", "rita"), ("gold-source-1", "adjudicated", "rita")]
    assert gold["relations"] == [{"id": "gold-rel-1", "type": "attributed_to", "from": "gold-quote-1", "to": "gold-source-1", "provenance": "adjudicated", "reviewer": "rita"}]


def test_article_export_carries_origins_and_the_articles_suggestions(app, runner, tmp_path):
    info = build_project(app)
    ids = add_suggestions(app, info)
    (record,) = run_export(runner, tmp_path, "news", "--unit", "article")
    check_offsets(record)
    by_name = {a["annotator"]: a for a in record["annotations"]}
    # Hand-made items say so; carol's accepted ones name the suggester and the version that proposed them.
    for name in ("alice", "bob"):
        assert all({k: x[k] for k in MANUAL} == MANUAL for part in ("labels", "spans", "relations") for x in by_name[name][part])
    carol = by_name["carol"]
    quote, source = span_of(TEXT, QUOTE), span_of(TEXT, SOURCE)
    accepted = {(s["label"], s["start"], s["end"]): {k: s[k] for k in MANUAL} for s in carol["spans"]}
    assert accepted == {("QUOTE", *quote): ATTRIBUTION, ("SOURCE", *source): ATTRIBUTION,
                        ("QUOTE", quote[0], TEXT.index("estimate") + len("estimate")): MANUAL, ("CUE", *span_of(TEXT, "said")): MANUAL}
    (link,) = carol["relations"]
    assert {k: link[k] for k in MANUAL} == ATTRIBUTION
    assert [(x["sentence"], x["label"], x["origin"], x["suggester"], x["suggester_version"]) for x in carol["labels"]] == [
        (0, "UFS", "manual", None, None), (1, "CFS", "manual", None, None), (2, "UFS", "manual", None, None), (3, "NFS", "suggested", "claims", "3")]
    # Gold keeps its provenance and has no origin.
    assert not any("origin" in x for part in record["gold"].values() for x in part)
    # The article's suggestions: nobody's annotation, every item naming its suggester and version, in content order;
    # two suggesters, so no single one at the top.
    cue = span_of(TEXT, "said")
    assert record["suggestions"] == {
        "suggester": None,
        "suggester_version": None,
        "labels": [
            {"sentence": 0, "label": "CFS", "score": 0.625, "suggester": "claims", "suggester_version": "3"},
            {"sentence": 3, "label": "NFS", "score": 0.75, "suggester": "claims", "suggester_version": "3"},
        ],
        "spans": [
            {"id": ids["span:QUOTE"], "label": "QUOTE", "start": quote[0], "end": quote[1], "text": QUOTE, "score": 0.9,
             "suggester": "attribution", "suggester_version": "1.0"},
            {"id": ids["span:SOURCE"], "label": "SOURCE", "start": source[0], "end": source[1], "text": SOURCE, "score": 0.8,
             "suggester": "attribution", "suggester_version": "1.0"},
            {"id": ids["span:CUE"], "label": "CUE", "start": cue[0], "end": cue[1], "text": "said", "score": 0.7,
             "suggester": "attribution", "suggester_version": "0.9"},
        ],
        "relations": [
            {"id": ids["relation:attributed_to"], "type": "attributed_to", "from": ids["span:QUOTE"], "to": ids["span:SOURCE"],
             "score": 0.85, "suggester": "attribution", "suggester_version": "1.0"},
        ],
    }


def test_suggestions_of_one_suggester_name_it_at_the_top_and_none_give_empty_lists(app, runner, tmp_path):
    info = build_project(app, extra_articles=1)
    with app.app_context():
        session = db.session
        schema = session.get(Project, info["project_id"]).label_schema
        text, sentence_ids, _ = suggestions.article_sentences(session, info["article_id"])
        with transaction(session):
            proposal = Proposal("claims", "3", labels=[(1, "CFS", 0.5)])
            suggestions.store(session, info["article_id"], "claims", suggestions.rows_for(proposal, info["article_id"], len(text), schema, sentence_ids))
    article, plain = run_export(runner, tmp_path, "news", "--unit", "article")
    assert (article["suggestions"]["suggester"], article["suggestions"]["suggester_version"]) == ("claims", "3")
    assert plain["suggestions"] == {"suggester": None, "suggester_version": None, "labels": [], "spans": [], "relations": []}


def test_sentence_export_carries_origins(app, runner, tmp_path):
    info = build_project(app)
    add_suggestions(app, info)
    with app.app_context():  # dave only marks a span: his entry has no label, so no label origin either
        session = db.session
        dave = accounts.create_user(session, "dave", "annotator", "correct horse")
        projects.add_members(session, info["project_id"], [dave])
        session.add(Assignment(user_id=dave.id, article_id=info["article_id"]))
        session.commit()
        dave_id = dave.id
        write(session, lambda: create_span(session, dave_id, info["article_id"], "CUE", *span_of(TEXT, "said"), uid="dave-cue-1"))
    records = run_export(runner, tmp_path, "news")
    entries = [{a["annotator"]: a for a in r["annotations"]} for r in records]
    carol_one, carol_two = entries[1]["carol"], entries[2]["carol"]
    assert {k: carol_one[k] for k in MANUAL} == MANUAL  # her label on sentence 1 is her own
    accepted_quote = next(s for s in carol_one["spans"] if s["clipped"] is False)
    assert {k: accepted_quote[k] for k in MANUAL} == ATTRIBUTION
    assert [{k: s[k] for k in MANUAL} for s in carol_two["spans"] if s["label"] == "SOURCE"] == [ATTRIBUTION]
    assert carol_one["relations"] == carol_two["relations"] and {k: carol_one["relations"][0][k] for k in MANUAL} == ATTRIBUTION
    assert all({k: s[k] for k in MANUAL} == MANUAL for s in carol_one["spans"] if s["clipped"])  # the quote she drew by hand
    assert (entries[3]["carol"]["origin"], entries[3]["carol"]["suggester"], entries[3]["carol"]["suggester_version"]) == ("suggested", "claims", "3")
    dave_entry = entries[3]["dave"]
    assert dave_entry["label"] is None and {k: dave_entry[k] for k in MANUAL} == {"origin": None, "suggester": None, "suggester_version": None}
    assert {k: dave_entry["spans"][0][k] for k in MANUAL} == MANUAL
    assert all("origin" not in x for r in records for x in r["spans"] + r["relations"])  # gold: provenance, not origin


def test_the_api_and_the_export_spell_labels_spans_and_relations_alike(app, browser, runner, tmp_path):
    """One serializer (domain/records.py): what the API answers for a label, span or relation is what the export says.

    Before, the API cut timestamps to milliseconds and rounded seconds to 3 decimals, so the same label
    read 1.5 in the API and 1.5004 in the export, its time ...:05.123Z against ...:05.123456Z.
    """
    info = build_project(app)
    alice, article_id = info["users"]["alice"], info["article_id"]
    with app.app_context():
        session = db.session
        saved = write(session, lambda: put_label(session, alice, article_id, 0, "UFS", seconds=0.0004))
    assert saved["seconds"] == 1.5 + 0.0004 and saved["version"] == 2  # the stored sum, not rounded
    assert saved["updated_at"].endswith("Z") and "+" not in saved["updated_at"]
    browser.login("alice", "correct horse")
    document = browser.get(f"/api/articles/{article_id}").get_json()["annotations"]
    (record,) = run_export(runner, tmp_path, "news", "--unit", "article")
    exported = next(a for a in record["annotations"] if a["annotator"] == "alice")
    # The API's own: a label's version; everything both carry, where each item came from (origin) too, is spelled alike.
    assert [{k: v for k, v in label.items() if k != "version"} for label in document["labels"]] == exported["labels"]
    assert document["labels"][0] == {**exported["labels"][0], "version": 2} and exported["labels"][0]["seconds"] == 1.5004
    assert exported["labels"][0]["origin"] == "manual"
    assert {**{k: v for k, v in saved.items() if k != "version"}, **MANUAL} == exported["labels"][0]
    assert sorted(document["spans"], key=lambda s: s["id"]) == sorted(exported["spans"], key=lambda s: s["id"])
    assert document["relations"] == exported["relations"]
    # And for accepted suggestions: carol's labels, spans and link say "suggested" by whom, alike in both.
    add_suggestions(app, info)
    carol = Browser(app.test_client())
    carol.login("carol", "correct horse")
    document = carol.get(f"/api/articles/{article_id}").get_json()["annotations"]
    (record,) = run_export(runner, tmp_path, "news", "--unit", "article", name="again.jsonl")
    exported = next(a for a in record["annotations"] if a["annotator"] == "carol")
    assert [{k: v for k, v in label.items() if k != "version"} for label in document["labels"]] == exported["labels"]
    assert sorted(document["spans"], key=lambda s: s["id"]) == sorted(exported["spans"], key=lambda s: s["id"])
    assert document["relations"] == exported["relations"] and exported["relations"][0]["origin"] == "suggested"


@pytest.mark.parametrize("article_labels", [False, True], ids=["sentence-level", "with-article-labels"])
def test_round_trip_gives_the_same_records(app, runner, tmp_path, article_labels):
    info = build_project(app, extra_articles=3, article_labels=article_labels)
    add_suggestions(app, info)  # accepted suggestions (origins) and the article's suggestions survive too
    first = tmp_path / "first.jsonl"
    assert runner.invoke(args=["export", "news", "--unit", "article", "-o", str(first)]).exit_code == 0
    # The copy has the same majority rule, so the automatic gold it recomputes is the gold it imported.
    settings = ["--majority", "0.66"]
    if article_labels:  # the same schema and annotators per article: the article labels' gold is recomputed alike
        (tmp_path / "schema.json").write_text(json.dumps(schema_with_article_labels()), encoding="utf-8")
        settings += ["--schema", str(tmp_path / "schema.json"), "--annotators-per-article", "3"]
    assert runner.invoke(args=["projects", "create", "copy", *settings]).exit_code == 0
    result = runner.invoke(args=["import-annotations", "copy", str(first)])
    assert result.exit_code == 0, result.output
    assert "4 new and 0 existing articles; 12 labels, 8 spans, 3 relations" + (", 5 article labels;" if article_labels else ";") in result.output
    assert "attribution (a prediction, not an annotator): 4 suggestions" in result.output
    second = tmp_path / "second.jsonl"
    assert runner.invoke(args=["export", "copy", "--unit", "article", "-o", str(second)]).exit_code == 0
    # Nothing is ignored: ids, span/relation uids, every timestamp, origins and suggestions survive.
    assert second.read_bytes() == first.read_bytes()
    assert '"origin":"suggested"' in first.read_text(encoding="utf-8") and read_jsonl(first)[0]["suggestions"]["spans"]
    validate(read_jsonl(second), "article")
    for unit_file in ("s1.jsonl", "s2.jsonl"):
        project = "news" if unit_file == "s1.jsonl" else "copy"
        assert runner.invoke(args=["export", project, "-o", str(tmp_path / unit_file)]).exit_code == 0
    assert (tmp_path / "s1.jsonl").read_bytes() == (tmp_path / "s2.jsonl").read_bytes()
    # And once more: importing the re-export into a third project is still identical.
    runner.invoke(args=["projects", "create", "third", *settings])
    assert runner.invoke(args=["import-annotations", "third", str(second)]).exit_code == 0
    third = tmp_path / "third.jsonl"
    runner.invoke(args=["export", "third", "--unit", "article", "-o", str(third)])
    assert third.read_bytes() == first.read_bytes()


def test_article_labels_in_the_article_unit_per_annotator_and_gold(app, runner, tmp_path):
    """Each annotator's answers as {group: value or [values]}, the gold by the sentences' majority rule; never on sentences."""
    build_project(app, article_labels=True)
    (record,) = run_export(runner, tmp_path, "news", "--unit", "article")
    by_name = {a["annotator"]: a["article_labels"] for a in record["annotations"]}
    assert by_name == {"alice": {"stance": "oppose", "topics": ["economy", "local-government"]},
                       "bob": {"stance": "oppose", "topics": ["economy"]},
                       "carol": {"stance": "support"}}
    # stance: two of three (majority 0.66); topics: two answers that differ, so no gold
    assert record["gold"]["article_labels"] == {"stance": {"value": "oppose", "provenance": "majority"}}
    sentences = run_export(runner, tmp_path, "news", name="sentences.jsonl")
    assert "article_labels" not in json.dumps(sentences)  # never copied onto sentences
    (only_carol,) = run_export(runner, tmp_path, "news", "--unit", "article", "--annotator", "carol", name="carol.jsonl")
    assert [a["article_labels"] for a in only_carol["annotations"]] == [{"stance": "support"}]


def test_a_project_without_article_label_groups_exports_as_before(app, runner, tmp_path):
    build_project(app)
    (record,) = run_export(runner, tmp_path, "news", "--unit", "article")
    assert all("article_labels" not in a for a in record["annotations"]) and "article_labels" not in record["gold"]


# ---------------------------------------------------------------- sentence unit


def test_sentence_export_for_training(app, runner, tmp_path):
    info = build_project(app)
    records = run_export(runner, tmp_path, "news")
    assert [r["id"] for r in records] == ["art-1:0", "art-1:1", "art-1:2", "art-1:3"]
    for record, (start, end) in zip(records, info["sentences"], strict=True):
        assert (record["start"], record["end"]) == (start, end) and record["text"] == TEXT[start:end]
        for span in record["spans"] + [s for a in record["annotations"] for s in a["spans"]]:
            assert record["text"][span["start"] : span["end"]] == span["text"]
            assert TEXT[span["article_start"] : span["article_end"]] == span["text"]
            assert span["article_start"] - record["start"] == span["start"] and span["article_end"] - record["start"] == span["end"]
    one, two = records[1], records[2]
    assert (one["label"], one["label_source"], one["reviewer"]) == ("CFS", "unanimous", None)
    assert (two["label"], two["label_source"], two["reviewer"]) == ("UFS", "adjudicated", "rita")
    # The quote is in sentence 1, its source in sentence 2: the relation names both ends' sentences, in both.
    expected = {"id": "gold-rel-1", "type": "attributed_to", "from": "gold-quote-1", "to": "gold-source-1",
                "from_sentence": 1, "to_sentence": 2, "provenance": "adjudicated", "reviewer": "rita"}
    assert one["relations"] == [expected] and two["relations"] == [expected]
    assert [s["id"] for s in one["spans"]] == ["gold-quote-1"] and [s["id"] for s in two["spans"]] == ["gold-source-1"]
    quote_start = TEXT.index(QUOTE)
    assert one["spans"][0]["start"] == quote_start - one["start"] and one["spans"][0]["article_start"] == quote_start
    annotations = {a["annotator"]: a for a in one["annotations"]}
    assert list(annotations) == list(ANNOTATORS)
    assert annotations["bob"]["label"] == "CFS" and annotations["bob"]["seconds"] == 2.5 and annotations["bob"]["guidelines_version"] == 1
    assert annotations["bob"]["relations"][0]["to_sentence"] == 2
    # carol's quote runs into sentence 2: each sentence has its piece, with the piece's offsets in the
    # sentence and in the article, and the whole span's offsets; the id ties the pieces together.
    carol_one = annotations["carol"]["spans"][0]
    carol_two = {a["annotator"]: a for a in two["annotations"]}["carol"]["spans"][0]
    assert carol_one["id"] == carol_two["id"] == "carol-quote-x"
    assert carol_one["end"] == len(one["text"]) and carol_two["start"] == 0 and carol_two["text"] == "That was the estimate"
    whole = (quote_start, TEXT.index("estimate") + len("estimate"))
    assert (carol_one["article_start"], carol_one["article_end"]) == (quote_start, one["end"])
    assert (carol_two["article_start"], carol_two["article_end"]) == (two["start"], whole[1])
    for piece in (carol_one, carol_two):
        assert TEXT[piece["article_start"] : piece["article_end"]] == piece["text"]
        assert (piece["span_start"], piece["span_end"]) == whole and piece["clipped"] is True
    # A span inside one sentence is not clipped: its piece is the whole span.
    (bob_quote,) = [s for s in annotations["bob"]["spans"] if s["id"] == "bob-quote-1"]
    assert (bob_quote["article_start"], bob_quote["article_end"]) == (bob_quote["span_start"], bob_quote["span_end"]) == span_of(TEXT, QUOTE)
    assert bob_quote["clipped"] is False


def test_pandas_reads_the_sentence_export(app, runner, tmp_path):
    pandas = pytest.importorskip("pandas")
    info = build_project(app, extra_articles=2)
    add_suggestions(app, info)
    run_export(runner, tmp_path, "news")
    frame = pandas.read_json(tmp_path / "out.jsonl", lines=True, dtype=False)
    assert len(frame) == 8
    assert [a["origin"] for a in frame["annotations"][3]] == ["manual", "manual", "suggested"]
    assert list(frame["label"][:4]) == ["CFS", "CFS", "UFS", "NFS"]
    assert frame["text"][0] == "Bridge repairs 🌉 will cost more"


def test_hugging_face_datasets_loads_the_sentence_export(app, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # a local file: nothing to fetch
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    info = build_project(app, extra_articles=2)
    add_suggestions(app, info)  # origins: strings on some items, null suggesters on most
    run_export(runner, tmp_path, "news")
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "out.jsonl"), split="train", cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == 8
    assert loaded[1]["label"] == "CFS" and loaded[1]["relations"][0]["to_sentence"] == 2
    assert loaded[0]["text"] == "Bridge repairs 🌉 will cost more"
    carol = next(a for a in loaded[3]["annotations"] if a["annotator"] == "carol")
    assert (carol["origin"], carol["suggester"], carol["suggester_version"]) == ("suggested", "claims", "3")


# ---------------------------------------------------------------- filters


def test_filters(app, runner, tmp_path):
    build_project(app, extra_articles=2)
    everything = run_export(runner, tmp_path, "news", name="all.jsonl")
    assert len(everything) == 8
    gold = run_export(runner, tmp_path, "news", "--gold-only", name="gold.jsonl")
    assert [r["id"] for r in gold] == ["art-1:0", "art-1:1", "art-1:2", "art-1:3"]
    cfs = run_export(runner, tmp_path, "news", "--labels", "CFS", name="cfs.jsonl")
    assert [r["id"] for r in cfs] == ["art-1:0", "art-1:1"]
    ufs_nfs = run_export(runner, tmp_path, "news", "--labels", "UFS,NFS", name="un.jsonl")
    assert [r["id"] for r in ufs_nfs] == ["art-1:2", "art-1:3"]
    carol = run_export(runner, tmp_path, "news", "--annotator", "carol", name="carol.jsonl")
    assert len(carol) == 4 and all([a["annotator"] for a in r["annotations"]] == ["carol"] for r in carol)
    pair = run_export(runner, tmp_path, "news", "--unit", "article", "--annotator", "alice", "--annotator", "bob", name="pair.jsonl")
    assert [r["id"] for r in pair] == ["art-1"] and [a["annotator"] for a in pair[0]["annotations"]] == ["alice", "bob"]
    articles_gold = run_export(runner, tmp_path, "news", "--unit", "article", "--gold-only", name="ag.jsonl")
    assert [r["id"] for r in articles_gold] == ["art-1"]
    for args, message in [
        (["--labels", "XYZ"], "unknown label XYZ"),
        (["--labels", "CFS,,UFS"], "comma-separated"),
        (["--annotator", "nobody"], "no annotator named 'nobody' in this project"),
    ]:
        result = runner.invoke(args=["export", "news", *args])
        assert result.exit_code == 1 and message in result.output


@pytest.mark.parametrize("labels", ["CFS\n", "CF\x1bS", "CFS,\x01UFS", "C\u2028FS", "\u202eCFS"])
def test_labels_holding_a_control_character_are_refused_in_one_escaped_line(app, runner, labels):
    """`--labels 'CFS\\n'` exported CFS (exit 0), and a control character inside a name reached the terminal raw in
    'unknown label(s) CF<ESC>S', an escape sequence of the caller's choosing. Both are one escaped line now, exit 1."""
    build_project(app)
    result = runner.invoke(args=["export", "news", "--labels", labels])
    assert result.exit_code == 1, result.output
    line = result.output.strip()
    assert "\n" not in line and line.isprintable() and "control character" in line, line
    assert ascii(labels) in line


# ---------------------------------------------------------------- splits


def test_split_by_article_is_reproducible(app, runner, tmp_path):
    build_project(app, extra_articles=60)

    def split(seed: str, prefix: str) -> dict[str, bytes]:
        result = runner.invoke(args=["export", "news", "--split", "train=0.8,dev=0.1,test=0.1", "--seed", seed, "-o", str(tmp_path / prefix)])
        assert result.exit_code == 0, result.output
        return {name: (tmp_path / f"{prefix}.{name}.jsonl").read_bytes() for name in ("train", "dev", "test")}

    first = split("13", "a")
    ids = {name: {json.loads(line)["article_id"] for line in data.decode().splitlines()} for name, data in first.items()}
    for data in first.values():
        validate([json.loads(line) for line in data.decode().splitlines()], "sentence")
    assert not (ids["train"] & ids["dev"]) and not (ids["train"] & ids["test"]) and not (ids["dev"] & ids["test"])
    assert len(ids["train"] | ids["dev"] | ids["test"]) == 61
    assert len(ids["train"]) > len(ids["dev"]) and len(ids["train"]) > len(ids["test"])
    assert split("13", "b") == first  # same seed: byte-identical files
    assert split("14", "c") != first
    # A folder as -o, and the article unit.
    result = runner.invoke(args=["export", "news", "--unit", "article", "--split", "train=0.5,test=0.5", "-o", str(tmp_path / "dir") + "/"])
    assert result.exit_code == 0, result.output
    train = validate(read_jsonl(tmp_path / "dir" / "train.jsonl"), "article")
    test = validate(read_jsonl(tmp_path / "dir" / "test.jsonl"), "article")
    assert len(train) + len(test) == 61 and not ({r["id"] for r in train} & {r["id"] for r in test})
    assert {r["id"] for r in train} == {i for i in ids["train"] | ids["dev"] | ids["test"] if export.split_of(i, [("train", 0.5), ("test", 0.5)], 13) == "train"}


def test_split_warns_when_a_split_is_empty(app, runner, tmp_path):
    """3 articles at 0.8/0.1/0.1 (seed 13) all go to train: one warning line on stderr names dev and test,
    the files are still written (empty) and the exit code is 0; no warning when every split got records."""
    build_project(app, extra_articles=2)
    ids = ["art-1", "plain-000", "plain-001"]
    splits = export.parse_split("train=0.8,dev=0.1,test=0.1")
    assert {export.split_of(i, splits, 13) for i in ids} == {"train"}
    result = runner.invoke(args=["export", "news", "--split", "train=0.8,dev=0.1,test=0.1", "--seed", "13", "-o", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: empty splits dev, test: "), warnings
    assert (tmp_path / "x.dev.jsonl").read_bytes() == b"" == (tmp_path / "x.test.jsonl").read_bytes()
    assert len(read_jsonl(tmp_path / "x.train.jsonl")) == 8
    result = runner.invoke(args=["export", "news", "--jobs", "2", "--split", "train=0.8,dev=0.1,test=0.1", "-o", str(tmp_path / "p")])
    assert result.exit_code == 0 and "warning: empty splits dev, test: " in result.stderr, result.output  # forked workers too
    assert [export.split_of(i, [("a", 0.5), ("b", 0.5)], 13) for i in ids] == ["a", "a", "b"]
    result = runner.invoke(args=["export", "news", "--unit", "article", "--split", "a=0.5,b=0.5", "--seed", "13", "-o", str(tmp_path / "y")])
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output
    # Filters can empty a split too: only art-1 has gold, and it went to a.
    result = runner.invoke(args=["export", "news", "--gold-only", "--split", "a=0.5,b=0.5", "--seed", "13", "-o", str(tmp_path / "z")])
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert result.exit_code == 0 and len(warnings) == 1 and warnings[0].startswith("warning: empty split b: "), result.stderr


def test_folders_that_only_look_like_an_exports_are_left_alone(tmp_path):
    """A folder .export-²-x (isdigit, but not for int()) or .export-<20 digits>-x (too big for kill()) crashed the next --jobs export."""
    from annotator.cli.dataset import remove_abandoned_folders

    odd = [tmp_path / ".export-\u00b2-x", tmp_path / ".export-99999999999999999999-x", tmp_path / f".export-{os.getpid()}-x"]
    for folder in odd:
        folder.mkdir()
    assert remove_abandoned_folders(tmp_path) == 0
    assert all(folder.is_dir() for folder in odd)


def test_parallel_export_is_byte_identical(app, runner, tmp_path):
    """Forked workers, one per article range, give exactly what one process gives (and the database still works after)."""
    info = build_project(app, extra_articles=40)
    for unit in export.UNITS:
        outputs = {}
        for jobs in ("1", "3"):
            path = tmp_path / f"{unit}.{jobs}.jsonl"
            result = runner.invoke(args=["export", "news", "--unit", unit, "--jobs", jobs, "-o", str(path)])
            assert result.exit_code == 0, result.output
            outputs[jobs] = path.read_bytes()
        assert outputs["1"] == outputs["3"] and len(validate([json.loads(x) for x in outputs["3"].splitlines()], unit)) > 40
        for jobs in ("1", "3"):
            result = runner.invoke(args=["export", "news", "--unit", unit, "--jobs", jobs, "--split", "a=0.3,b=0.7", "-o", str(tmp_path / f"s{jobs}")])
            assert result.exit_code == 0, result.output
        for name in ("a", "b"):
            assert (tmp_path / f"s1.{name}.jsonl").read_bytes() == (tmp_path / f"s3.{name}.jsonl").read_bytes()
    assert not list(tmp_path.glob(".export-*")) and not list(tmp_path.glob("*.part"))
    with app.app_context():
        ranges = export.article_ranges(db.session, info["project_id"], 3)
    assert len(ranges) == 3 and ranges[0][0] == 0 and ranges[-1][1] is None
    assert ranges[0][1] == ranges[1][0] and ranges[1][1] == ranges[2][0]  # contiguous, no article in two ranges
    assert runner.invoke(args=["export", "news", "--unit", "article", "--jobs", "2"]).exit_code == 0


@pytest.mark.parametrize(
    "spec, message",
    [
        ("train=0.8,dev=0.1", "must sum to 1"),
        ("train=0.8,dev=0.3,test=-0.1", "must be positive"),
        ("train=1.0,dev=0", "must be positive"),
        ("train=0.5,train=0.5", "named twice"),
        ("train=a,dev=0.5", "is not a number"),
        ("train", "expected NAME=PROPORTION"),
        ("train=nan,dev=1", "must be positive"),
    ],
)
def test_bad_split_specs(app, runner, tmp_path, spec, message):
    build_project(app)
    result = runner.invoke(args=["export", "news", "--split", spec, "-o", str(tmp_path / "x")])
    assert result.exit_code == 1 and message in result.output
    assert list(tmp_path.glob("x*")) == []


def test_split_proportions_tolerate_float_rounding():
    assert export.parse_split("a=0.1,b=0.2,c=0.7") == [("a", 0.1), ("b", 0.2), ("c", 0.7)]
    assert [name for name, _ in export.parse_split("a=0.3333333333,b=0.3333333333,c=0.3333333334")] == ["a", "b", "c"]
    with pytest.raises(export.ExportError):
        export.parse_split("a=0.5,b=0.4999999")


def test_split_needs_output(app, runner):
    build_project(app)
    result = runner.invoke(args=["export", "news", "--split", "train=0.5,test=0.5"])
    assert result.exit_code == 1 and "give -o" in result.output


# ---------------------------------------------------------------- schema, stdout, web


def test_schema_command_prints_the_shipped_schemas(runner):
    for unit in export.UNITS:
        result = runner.invoke(args=["export", "--schema", unit])
        assert result.exit_code == 0
        printed = json.loads(result.output)
        assert printed == export.schema(unit)
        jsonschema.Draft202012Validator.check_schema(printed)
        assert printed["additionalProperties"] is False


def test_schema_catches_drift():
    record = {"id": "a:0", "article_id": "a", "sentence_index": 0, "text": "x", "start": 0, "end": 1, "label": None,
              "label_source": None, "reviewer": None, "spans": [], "relations": [], "annotations": []}
    validate([record], "sentence")
    with pytest.raises(jsonschema.ValidationError):
        validate([{**record, "lable": "CFS"}], "sentence")
    with pytest.raises(jsonschema.ValidationError):
        validate([{**record, "label_source": "guessed"}], "sentence")


@pytest.mark.parametrize("origin, valid", [
    ({"origin": "manual", "suggester": None, "suggester_version": None}, True),
    ({"origin": "suggested", "suggester": "attribution", "suggester_version": "1.0"}, True),
    ({"origin": "guessed", "suggester": None, "suggester_version": None}, False),  # not in the enum
    ({"origin": "suggested", "suggester": None, "suggester_version": None}, False),  # suggested by nobody
    ({"origin": "manual", "suggester": "attribution", "suggester_version": "1.0"}, False),  # manual names no suggester
    ({"suggester": None, "suggester_version": None}, False),  # origin is required
])
def test_schemas_describe_origins(origin, valid):
    span = {"id": "s1", "label": "QUOTE", "start": 0, "end": 1, "text": "x"}
    relation = {"id": "r1", "type": "attributed_to", "from": "s1", "to": "s2"}
    label = {"sentence": 0, "label": "CFS", "seconds": 1.0, "guidelines_version": 1, "updated_at": "2026-11-24T10:00:00Z", "needs_review": False}
    empty = {"suggester": None, "suggester_version": None, "labels": [], "spans": [], "relations": []}
    article = {"id": "a", "title": "", "text": "x", "meta": {}, "sentences": [{"index": 0, "start": 0, "end": 1}],
               "annotations": [{"annotator": "ann", "labels": [{**label, **origin}], "spans": [{**span, **origin}],
                                "relations": [{**relation, **origin}]}],
               "gold": {"labels": [], "spans": [], "relations": []}, "suggestions": empty}
    piece = {**span, "article_start": 0, "article_end": 1, "span_start": 0, "span_end": 1, "clipped": False}
    entry = {"annotator": "ann", "label": "CFS", "seconds": 1.0, "guidelines_version": 1, "updated_at": "2026-11-24T10:00:00Z",
             "needs_review": False, **origin, "spans": [{**piece, **origin}],
             "relations": [{**relation, "from_sentence": 0, "to_sentence": 0, **origin}]}
    sentence = {"id": "a:0", "article_id": "a", "sentence_index": 0, "text": "x", "start": 0, "end": 1, "label": None,
                "label_source": None, "reviewer": None, "spans": [], "relations": [], "annotations": [entry]}
    cases = []
    for part in ("labels", "spans", "relations"):  # each kind of item on its own, the others manual
        one = json.loads(json.dumps(article))
        block = one["annotations"][0]
        for other in {"labels", "spans", "relations"} - {part}:
            block[other] = [{**x, **MANUAL} for x in block[other]]
        cases.append((one, "article"))
    for part in ("entry", "spans", "relations"):
        one = json.loads(json.dumps(sentence))
        entry = one["annotations"][0]
        for other in {"entry", "spans", "relations"} - {part}:
            if other == "entry":
                entry.update(MANUAL)
            else:
                entry[other] = [{**x, **MANUAL} for x in entry[other]]
        cases.append((one, "sentence"))
    for record, unit in cases:
        if valid:
            validate([record], unit)
        else:
            with pytest.raises(jsonschema.ValidationError):
                validate([record], unit)


def test_schemas_describe_the_suggestions_object():
    article = {"id": "a", "title": "", "text": "xy", "meta": {}, "sentences": [{"index": 0, "start": 0, "end": 2}], "annotations": [],
               "gold": {"labels": [], "spans": [], "relations": []}}
    whose = {"score": 0.5, "suggester": "attribution", "suggester_version": "1.0"}
    suggested = {"suggester": "attribution", "suggester_version": "1.0",
                 "labels": [{"sentence": 0, "label": "CFS", **whose}],
                 "spans": [{"id": "s1", "label": "QUOTE", "start": 0, "end": 1, "text": "x", **whose},
                           {"id": "s2", "label": "SOURCE", "start": 1, "end": 2, "text": "y", **whose}],
                 "relations": [{"id": "r1", "type": "attributed_to", "from": "s1", "to": "s2", **whose}]}
    validate([{**article, "suggestions": suggested}], "article")
    validate([{**article, "suggestions": {**suggested, "suggester": None, "suggester_version": None}}], "article")  # several suggesters
    for bad in (
        article,  # the suggestions object is required
        {**article, "suggestions": {**suggested, "labels": [{"sentence": 0, "label": "CFS", "score": 1.5, "suggester": "a", "suggester_version": "1"}]}},
        {**article, "suggestions": {**suggested, "spans": [{"id": "s1", "label": "QUOTE", "start": 0, "end": 1, "text": "x", "score": 0.5}]}},
        {**article, "suggestions": {**suggested, "relations": [{**suggested["relations"][0], "origin": "manual"}]}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate([bad], "article")


def test_export_to_stdout_and_unknown_project(app, runner):
    build_project(app)
    result = runner.invoke(args=["export", "news", "--unit", "article"])
    assert result.exit_code == 0
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    validate([json.loads(line) for line in lines], "article")
    result = runner.invoke(args=["export", "nope"])
    assert result.exit_code == 1 and "no project named 'nope'" in result.output


def test_web_download_for_reviewers_and_admins(app, browser, tmp_path):
    info = build_project(app)
    add_user(app, "boss", "admin")
    url = f"/projects/{info['project_id']}/export.jsonl"
    response = browser.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    browser.login("alice", "correct horse")
    assert browser.get(url).status_code == 403
    for user in ("rita", "boss"):
        browser = Browser(app.test_client())
        browser.login(user, "correct horse")
        response = browser.get(url + "?unit=article")
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.is_streamed and response.mimetype == "application/jsonl"
        assert 'filename="news.article.jsonl"' in response.headers["Content-Disposition"]
        (record,) = validate([json.loads(x) for x in response.get_data(as_text=True).splitlines()], "article")
        assert record["text"] == TEXT
    records = validate([json.loads(x) for x in browser.get(url + "?gold_only=1&labels=CFS").get_data(as_text=True).splitlines()], "sentence")
    assert [r["id"] for r in records] == ["art-1:0", "art-1:1"]
    for query, message in [
        ("?unit=token", "unit must be one of"),
        ("?gold_only=maybe", "gold_only must be 1 or 0"),
        ("?labels=XYZ", "unknown label XYZ"),
        ("?annotator=nobody", "no annotator named 'nobody' in this project"),
        ("?format=csv", "unknown parameter format"),
    ]:
        response = browser.get(url + query)
        assert response.status_code == 400 and message in response.get_json()["error"], query
    assert browser.get(f"/projects/{info['project_id'] + 999}/export.jsonl").status_code == 404


def test_the_annotator_filter_says_nothing_about_users_outside_the_project(app, browser):
    """Found attacking the app: ?annotator=NAME answered "no user named" only for names that do not exist anywhere,
    so a reviewer could learn which user names exist in other projects. A name outside this project (no membership,
    no label, no span) now gets the same answer as a name nobody has."""
    info = build_project(app)
    add_user(app, "zed")  # an annotator of no project
    browser.login("rita", "correct horse")
    url = f"/projects/{info['project_id']}/export.jsonl?annotator="
    answers = {name: browser.get(url + name) for name in ("zed", "nobody")}
    for name, response in answers.items():
        assert response.status_code == 400, name
        assert response.get_json()["error"] == f"no annotator named '{name}' in this project"
    assert browser.get(url + "alice").status_code == 200  # a member who labelled


def test_web_download_names_say_unit_and_filters(app, browser, runner):
    """Each unit and filter gives its own file name, so downloads do not overwrite one another."""
    info = build_project(app)
    browser.login("rita", "correct horse")
    url = f"/projects/{info['project_id']}/export.jsonl"
    expected = {
        "": "news.sentence.jsonl",
        "?unit=sentence&gold_only=0": "news.sentence.jsonl",
        "?unit=article": "news.article.jsonl",
        "?gold_only=1": "news.sentence.gold.jsonl",
        "?unit=article&gold_only=yes": "news.article.gold.jsonl",
        "?labels=CFS,UFS": "news.sentence.labels-CFS-UFS.jsonl",
        "?annotator=alice&annotator=bob": "news.sentence.by-alice-bob.jsonl",
        "?unit=article&gold_only=1&labels=CFS&annotator=carol": "news.article.gold.labels-CFS.by-carol.jsonl",
    }
    for query, name in expected.items():
        response = browser.get(url + query)
        assert response.status_code == 200, query
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"', query
        response.close()
    # A name with letters beyond ASCII: an ASCII fallback and the real name (RFC 6266), never a path.
    assert runner.invoke(args=["projects", "create", "Zoë’s news/2026"]).exit_code == 0
    assert runner.invoke(args=["projects", "members", "Zoë’s news/2026", "--add", "rita"]).exit_code == 0  # reviewers open their projects
    with app.app_context():
        project_id = db.session.scalar(select(Project.id).where(Project.name == "Zoë’s news/2026"))
    response = browser.get(f"/projects/{project_id}/export.jsonl?gold_only=1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Zoe-s-news-2026.sentence.gold.jsonl\"; filename*=UTF-8''Zo%C3%AB-s-news-2026.sentence.gold.jsonl"
    )


def test_export_streams_in_batches(app):
    """Records come batch by batch: with a batch of 2 articles, 5 articles take 3 batches."""
    info = build_project(app, extra_articles=4)
    with app.app_context():
        seen: list[int] = []
        records = list(export.iter_records(db.session, info["project_id"], "article", batch_size=2, progress=seen.append))
    assert seen == [2, 2, 1] and len(records) == 5
    assert [r["id"] for r in records] == ["art-1", "plain-000", "plain-001", "plain-002", "plain-003"]


def test_span_between_sentences_names_no_sentence(app, runner, tmp_path):
    """A span over only the line break between two sentences belongs to none; a relation to it says null."""
    info = build_project(app)
    gap = (info["sentences"][0][1], info["sentences"][1][0])
    assert TEXT[gap[0] : gap[1]] == "\r\n"
    with app.app_context():
        user, article = info["users"]["carol"], info["article_id"]
        write(db.session, lambda: create_span(db.session, user, article, "SOURCE", *gap, uid="carol-gap-1"))
        write(db.session, lambda: create_relation(db.session, user, article, "attributed_to", "carol-quote-x", "carol-gap-1", uid="carol-rel-gap"))
    records = run_export(runner, tmp_path, "news")
    spans = {s["id"] for r in records for a in r["annotations"] for s in a["spans"]}
    assert "carol-gap-1" not in spans and "carol-quote-x" in spans
    rels = [rel for r in records for a in r["annotations"] for rel in a["relations"] if rel["id"] == "carol-rel-gap"]
    assert len(rels) == 2 and all(rel["from_sentence"] == 1 and rel["to_sentence"] is None for rel in rels)  # in both sentences the quote spans
    (article_record,) = run_export(runner, tmp_path, "news", "--unit", "article", name="a.jsonl")
    check_offsets(article_record)  # the article unit keeps it, text and all


def test_export_brings_automatic_gold_up_to_date(app, runner, tmp_path):
    """Labels written after the last refresh change automatic gold in the export (no reviewer visit needed); adjudicated gold stays."""
    ids = build_project(app)
    with app.app_context():
        session = db.session
        for user in ANNOTATORS:  # sentence 2 was adjudicated UFS; now all say NFS: the reviewer's word stands
            write(session, lambda u=user: put_label(session, ids["users"][u], ids["article_id"], 2, "NFS"))
    records = run_export(runner, tmp_path, "news")
    assert [(r["label"], r["label_source"]) for r in records] == [("CFS", "majority"), ("CFS", "unanimous"), ("UFS", "adjudicated"), ("NFS", "unanimous")]
    with app.app_context():
        session = db.session
        write(session, lambda: put_label(session, ids["users"]["alice"], ids["article_id"], 3, "CFS"))
    records = run_export(runner, tmp_path, "news", name="again.jsonl")
    assert [(r["label"], r["label_source"]) for r in records][3] == ("NFS", "majority")  # NFS, NFS, CFS: 2/3 >= 0.66


# ---------------------------------------------------------------- offsets of random spans, both units

FUZZ = settings(
    max_examples=400 if os.environ.get("ANNOTATOR_FUZZ") == "thorough" else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Pieces of news-like text: sentence ends of several kinds, CRLF and blank lines, emoji (two UTF-16
# units), combining accents, curly quotes, an abbreviation; joined at random they make articles of
# a few sentences with whitespace of several kinds between them.
_PIECES = (
    "The ferry was late again. ", "“Nobody told us!” ", "a commuter shouted. ", "Tolls rose 7.5% ", "in March.\r\n",
    "Ticket prices 🚢 doubled. ", "Mayor Zoe\u0308 Brandt ", "said: “We will look at it.” ", "Cafe\u0301 owners worry.\n\n",
    "Why? ", "Dr. Ito disagreed ", "🙂", "\n", "Service resumes Monday.",
)


@st.composite
def _article_and_spans(draw):
    text = "".join(draw(st.lists(st.sampled_from(_PIECES), min_size=2, max_size=9)))
    n = len(text)
    bounds = st.integers(0, n - 1).flatmap(lambda a: st.tuples(st.just(a), st.integers(a + 1, n)))
    spans = draw(st.lists(st.tuples(st.sampled_from(["alice", "bob", "gold"]), st.sampled_from(["QUOTE", "SOURCE", "CUE"]), bounds), max_size=12))
    # an annotator never has the same span twice (a unique index says so); gold may
    unique = {(who, label, a, b): None for who, label, (a, b) in spans if who != "gold"}
    return text, [*unique, *((who, label, a, b) for who, label, (a, b) in spans if who == "gold")]


def test_every_offset_identity_holds_for_random_spans_in_both_units(app):
    """For random spans (many across sentence boundaries, some over whitespace only): in the sentence unit
    every piece satisfies row_text[start:end] == article_text[article_start:article_end] == its text, and
    article_text[span_start:span_end] is the whole span; the pieces of a span are exactly its overlaps with
    the sentences; in the article unit text[start:end] == text."""
    with app.app_context():
        session = db.session
        begin_write(session)
        project = projects.create_project(session, "fuzz", labelschema.preset("claims"))
        users = {name: accounts.create_user(session, name, "annotator", "correct horse").id for name in ("alice", "bob")}
        session.commit()
        project_id = project.id
    counter = itertools.count()

    @FUZZ
    @given(case=_article_and_spans())
    def check(case):
        text, spans = case
        k = next(counter)
        with app.app_context():
            session = db.session
            begin_write(session)
            project = session.get(Project, project_id)
            articles.store_articles(session, project, [ArticleRecord(f"fuzz-{k}", "Fuzz", text, {})], "test")
            article = session.scalar(select(Article).where(Article.project_id == project_id, Article.external_id == f"fuzz-{k}"))
            assert article.text == text
            sentences = [(s.index, s.start, s.end) for s in article.sentences]
            whole: dict[str, tuple[int, int]] = {}
            for i, (who, label, a, b) in enumerate(spans):
                uid = f"{who}-{i}"
                whole[uid] = (a, b)
                if who == "gold":
                    session.add(GoldSpan(uid=uid, article_id=article.id, label=label, start=a, end=b, provenance="adjudicated"))
                else:
                    session.add(Span(uid=uid, article_id=article.id, user_id=users[who], label=label, start=a, end=b))
            session.commit()
            only_this = (article.id - 1, article.id)
            (record,) = validate(list(export.iter_records(session, project_id, "article", id_range=only_this)), "article")
            rows = validate(list(export.iter_records(session, project_id, "sentence", id_range=only_this)), "sentence")
            session.rollback()

        check_offsets(record)
        assert sorted(s["id"] for a in record["annotations"] for s in a["spans"]) == sorted(u for u in whole if not u.startswith("gold"))
        assert sorted(s["id"] for s in record["gold"]["spans"]) == sorted(u for u in whole if u.startswith("gold"))
        pieces: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for row in rows:
            assert text[row["start"] : row["end"]] == row["text"]
            for span in row["spans"] + [s for a in row["annotations"] for s in a["spans"]]:
                assert row["text"][span["start"] : span["end"]] == span["text"]
                assert text[span["article_start"] : span["article_end"]] == span["text"]
                assert (span["article_start"] - row["start"], span["article_end"] - row["start"]) == (span["start"], span["end"])
                assert (span["span_start"], span["span_end"]) == whole[span["id"]]
                assert text[span["span_start"] : span["span_end"]] == text[slice(*whole[span["id"]])]
                assert span["clipped"] == ((span["article_start"], span["article_end"]) != whole[span["id"]])
                pieces[span["id"]].append((span["article_start"], span["article_end"]))
        for uid, (a, b) in whole.items():
            expected = [(max(a, s), min(b, e)) for _, s, e in sentences if s < b and a < e]
            assert pieces.get(uid, []) == expected, (uid, text, sentences)

    check()
