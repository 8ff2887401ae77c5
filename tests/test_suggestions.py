"""Suggestions over the real database: stored per article, decided per annotator, accepted as the annotator's own."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, AuditEntry, Relation, Span, Suggestion, SuggestionDecision
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, projects, suggesters, suggestions
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.suggestions import Proposal, SuggestionError

# Our own text: a quote-first attribution, a source-first one, and a sentence with no speech.
TEXT = (
    "Harbour fees will rise next spring.\n"
    "\u201cWe cannot keep the cranes running on last year\u2019s budget,\u201d said Mira Okafor, the port\u2019s director.\n"
    "The council voted 7 to 2."
)


@pytest.fixture
def world(app):
    with app.app_context():
        s = db.session
        with transaction(s):
            ann, bob = (accounts.create_user(s, n) for n in ("ann", "bob"))
            project = projects.create_project(s, "P")
            articles.store_articles(s, project, [ArticleRecord("a", "T", TEXT)], "test")
            for user in (ann, bob):
                assignment.assign_to_user(s, project.id, user, ["a"])
        article = s.scalar(select(Article.id))
        with transaction(s):
            counts = suggesters.run(s, project.id)
        return {"ann": ann.id, "bob": bob.id, "article": article, "project": project.id, "counts": counts}


def _pending(user_id: int, article_id: int) -> dict:
    text, ids, _ = suggestions.article_sentences(db.session, article_id)
    return suggestions.pending(db.session, user_id, article_id, text, {sid: i for i, sid in enumerate(ids)})


def test_the_attribution_rules_suggest_the_quote_its_source_and_cue(app, world):
    with app.app_context():
        got = _pending(world["ann"], world["article"])
    by_label = {s["label"]: s["text"] for s in got["spans"]}
    assert by_label == {"QUOTE": "We cannot keep the cranes running on last year\u2019s budget", "SOURCE": "Mira Okafor", "CUE": "said"}
    for span in got["spans"]:
        assert TEXT[span["start"]:span["end"]] == span["text"]
    quote = next(s["id"] for s in got["spans"] if s["label"] == "QUOTE")
    source = next(s["id"] for s in got["spans"] if s["label"] == "SOURCE")
    assert [(r["type"], r["from"], r["to"]) for r in got["relations"]] == [("attributed_to", quote, source)]
    assert world["counts"] == {"articles": 1, "suggestions": 4, "new": 4}


def test_accepting_a_link_makes_it_and_its_spans_the_annotators_own_with_origin(app, world):
    ann, bob, article = world["ann"], world["bob"], world["article"]
    with app.app_context():
        s = db.session
        link = _pending(ann, article)["relations"][0]
        with transaction(s):
            created = suggestions.accept(s, ann, article, [link["id"]])
        assert sorted(x["label"] for x in created["spans"]) == ["QUOTE", "SOURCE"] and len(created["relations"]) == 1
        rows = s.execute(select(Span.label, Span.origin, Span.suggester, Span.suggester_version).where(Span.user_id == ann)).all()
        assert sorted(rows) == [("QUOTE", "suggested", "annotator-attribution-rules", "1"), ("SOURCE", "suggested", "annotator-attribution-rules", "1")]
        assert s.execute(select(Relation.origin).where(Relation.user_id == ann)).scalars().all() == ["suggested"]
        # the audit trail records the creations as for hand-made annotations
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.user_id == ann, AuditEntry.action == "create")) == 3
        # ann's pending list lost what she accepted; the CUE is still there
        assert [x["label"] for x in _pending(ann, article)["spans"]] == ["CUE"] and _pending(ann, article)["relations"] == []
        # bob sees every suggestion still, and owns nothing
        assert len(_pending(bob, article)["spans"]) == 3
        assert s.scalar(select(func.count()).select_from(Span).where(Span.user_id == bob)) == 0


def test_rejecting_a_span_takes_its_links_and_is_kept_per_annotator(app, world):
    ann, bob, article = world["ann"], world["bob"], world["article"]
    with app.app_context():
        s = db.session
        quote = next(x for x in _pending(ann, article)["spans"] if x["label"] == "QUOTE")
        with transaction(s):
            suggestions.reject(s, ann, article, [quote["id"]])
        assert sorted(x["label"] for x in _pending(ann, article)["spans"]) == ["CUE", "SOURCE"]
        assert _pending(ann, article)["relations"] == []
        decisions = s.execute(select(SuggestionDecision.user_id, SuggestionDecision.decision)).all()
        assert sorted(decisions) == [(ann, "rejected"), (ann, "rejected")]  # the quote and its link
        assert len(_pending(bob, article)["relations"]) == 1


def test_a_rerun_keeps_decisions_and_drops_what_is_no_longer_proposed(app, world):
    ann, article, project = world["ann"], world["article"], world["project"]
    with app.app_context():
        s = db.session
        cue = next(x for x in _pending(ann, article)["spans"] if x["label"] == "CUE")
        with transaction(s):
            suggestions.reject(s, ann, article, [cue["id"]])
        with transaction(s):
            again = suggesters.run(s, project)
        assert again["new"] == 0 and s.scalar(select(func.count()).select_from(SuggestionDecision)) == 1

        class OnlyTheSource:
            name, version = "annotator-attribution-rules", "2"

            def propose(self, text, sentences):
                start = text.index("Mira")
                return Proposal(self.name, self.version, spans=[("s", "SOURCE", start, start + len("Mira Okafor"), 0.9)])

        with transaction(s):
            suggesters.run(s, project, suggesters=[OnlyTheSource()])
        assert s.scalar(select(func.count()).select_from(Suggestion)) == 1
        assert s.scalar(select(func.count()).select_from(SuggestionDecision)) == 0  # the rejected CUE is gone with its decision


def test_accepting_a_span_marked_by_hand_reuses_it(app, world):
    import annotator.domain.annotations as ops

    ann, article = world["ann"], world["article"]
    with app.app_context():
        s = db.session
        source = next(x for x in _pending(ann, article)["spans"] if x["label"] == "SOURCE")
        ops.write(s, lambda: ops.create_span(s, ann, article, "SOURCE", source["start"], source["end"], "mine-0001"))
        assert all(x["label"] != "SOURCE" for x in _pending(ann, article)["spans"])  # already hers: not shown
        with transaction(s):
            suggestions.accept(s, ann, article, [source["id"]])
        rows = s.execute(select(Span.uid, Span.origin).where(Span.user_id == ann)).all()
        assert rows == [("mine-0001", "manual")]


def test_labels_outside_the_schema_and_spans_outside_the_text_are_not_stored(app, world):
    with app.app_context():
        s = db.session
        schema = projects.get_project(s, "P").label_schema
        proposal = Proposal("x", "1", labels=[(0, "CFS", 0.8), (0, "NOPE", 0.9), (99, "CFS", 0.9)],
                            spans=[("a", "QUOTE", 0, 5, 2.0), ("b", "WHO", 0, 5, 0.5), ("c", "CUE", 5, 5000, 0.5)],
                            relations=[("attributed_to", "a", "b", 0.5)])
        rows = suggestions.rows_for(proposal, world["article"], len(TEXT), schema, [1, 2, 3])
        assert sorted((r["kind"], r["label"]) for r in rows) == [("label", "CFS"), ("span", "QUOTE")]
        assert next(r for r in rows if r["kind"] == "span")["score"] == 1.0


def test_a_label_suggestion_replaces_the_annotators_label_and_says_so(app, world):
    import annotator.domain.annotations as ops

    ann, article = world["ann"], world["article"]
    with app.app_context():
        s = db.session
        _, ids, _ = suggestions.article_sentences(s, article)
        schema = projects.get_project(s, "P").label_schema
        with transaction(s):
            suggestions.store(s, article, "claims", suggestions.rows_for(Proposal("claims", "v1", labels=[(2, "CFS", 0.7)]), article, len(TEXT), schema, ids))
        ops.write(s, lambda: ops.put_label(s, ann, article, 2, "NFS"))
        label = next(x for x in _pending(ann, article)["labels"])
        assert label["sentence"] == 2 and label["label"] == "CFS"
        with transaction(s):
            suggestions.accept(s, ann, article, [label["id"]])
        row = s.execute(select(Annotation.label, Annotation.origin, Annotation.suggester_version).where(Annotation.user_id == ann)).one()
        assert tuple(row) == ("CFS", "suggested", "v1")


@pytest.mark.parametrize("ids, status", [([], 422), (["not a uid!"], 422), ([5], 422), (["a" * 32], 404)])
def test_bad_ids_are_refused_with_a_status(app, world, ids, status):
    with app.app_context():
        s = db.session
        with pytest.raises(SuggestionError) as info:
            with transaction(s):
                suggestions.accept(s, world["ann"], world["article"], ids)
        assert info.value.status == status
        assert s.scalar(select(func.count()).select_from(SuggestionDecision)) == 0


def test_a_hand_edit_makes_an_accepted_suggestion_manual_again(app, world):
    """Relabelled or moved by the annotator (or a label changed), it is their own decision now: origin manual, no suggester.
    The same label set again, or a patch that changes nothing, keeps the origin."""
    import annotator.domain.annotations as ops

    ann, article = world["ann"], world["article"]
    with app.app_context():
        s = db.session
        _, ids, _ = suggestions.article_sentences(s, article)
        schema = projects.get_project(s, "P").label_schema
        with transaction(s):
            suggestions.store(s, article, "claims", suggestions.rows_for(Proposal("claims", "v1", labels=[(1, "CFS", 0.7)]), article, len(TEXT), schema, ids))
        pending = _pending(ann, article)
        quote = next(x for x in pending["spans"] if x["label"] == "QUOTE")
        with transaction(s):
            created = suggestions.accept(s, ann, article, [r["id"] for r in pending["relations"]] + [x["id"] for x in pending["labels"]])
        mine = {x["label"]: x["id"] for x in created["spans"]}

        def origins():
            spans = s.execute(select(Span.label, Span.origin, Span.suggester, Span.suggester_version).where(Span.user_id == ann)).all()
            label = s.execute(select(Annotation.origin, Annotation.suggester, Annotation.suggester_version).where(Annotation.user_id == ann)).one()
            link = s.execute(select(Relation.origin).where(Relation.user_id == ann)).scalar()
            return {**{row[0]: tuple(row[1:]) for row in spans}, "label": tuple(label), "link": link}

        rules = ("suggested", "annotator-attribution-rules", "1")
        assert origins() == {"QUOTE": rules, "SOURCE": rules, "label": ("suggested", "claims", "v1"), "link": "suggested"}
        ops.write(s, lambda: ops.put_label(s, ann, article, 1, "CFS"))
        ops.write(s, lambda: ops.update_span(s, ann, article, mine["QUOTE"], "QUOTE", quote["start"], quote["end"]))
        assert origins()["label"] == ("suggested", "claims", "v1") and origins()["QUOTE"] == rules  # no change: still theirs
        ops.write(s, lambda: ops.put_label(s, ann, article, 1, "UFS"))
        ops.write(s, lambda: ops.update_span(s, ann, article, mine["QUOTE"], end=quote["end"] - 1))
        now = origins()
        assert now["label"] == now["QUOTE"] == ("manual", None, None)
        assert now["SOURCE"] == rules and now["link"] == "suggested"  # what was not touched keeps its origin
        ops.write(s, lambda: ops.update_span(s, ann, article, mine["SOURCE"], label="SOURCE"))
        assert origins()["SOURCE"] == rules  # relabelled to the label it has: no change
        ops.write(s, lambda: ops.delete_relation(s, ann, article, created["relations"][0]["id"]))
        ops.write(s, lambda: ops.update_span(s, ann, article, mine["SOURCE"], label="CUE"))
        assert origins()["CUE"] == ("manual", None, None)
