"""Automation bias on the agreement page: per annotator, what came from suggestions, what they did with
the suggestions, and agreement on suggested and on manual work apart; every expected figure below is
worked out by hand from the small project the test builds."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from annotator.db import db
from annotator.db.models import Annotation, CacheEntry, Project, Relation, Span, Suggestion, SuggestionDecision, User
from annotator.domain import agreement
from annotator.domain.agreement import origin_figures

from .conftest import add_member, add_user
from .test_project_agreement import Seeded, seed

PASSWORD = "correct horse"
ORIGIN = {"origin": "suggested", "suggester": "rules", "suggester_version": "1"}

# One article of six sentences ("Sentence k of article 0 says “something” here."), ann and ben both assigned.
#        ann             ben
# s0     CFS suggested   CFS
# s1     UFS suggested   UFS
# s2     NFS suggested   CFS
# s3     -               NFS     (ann rejected the suggestion CFS)
# s4     CFS manual      CFS
# s5     UFS manual      NFS     (a suggestion NFS ann left undecided)
RATINGS = [
    {"ann": "CFS", "ben": "CFS"},
    {"ann": "UFS", "ben": "UFS"},
    {"ann": "NFS", "ben": "CFS"},
    {"ben": "NFS"},
    {"ann": "CFS", "ben": "CFS"},
    {"ann": "UFS", "ben": "NFS"},
]


def _quote(seeded: Seeded, k: int) -> tuple[int, int]:
    """Offsets of the word inside the quotation marks of sentence k."""
    start, end = seeded.offsets[k]
    at = seeded.texts[seeded.articles[0]].index("something", start, end)
    return at, at + len("something")


def _name(seeded: Seeded, k: int, width: int) -> tuple[int, int]:
    """The first `width` characters of sentence k ("Sentence")."""
    start = seeded.offsets[k][0]
    return start, start + width


def build(app) -> Seeded:
    """The table above, plus spans: ann accepted a QUOTE and a SOURCE in s0 and their link, marked a QUOTE in s4 by hand;
    ben marked by hand the same QUOTE in s0, a shorter SOURCE there, a QUOTE in s4 that does not overlap ann's, and one in s5."""
    seeded = seed(app, RATINGS, [0] * 6, assign=True)
    ann, ben, article = seeded.users["ann"], seeded.users["ben"], seeded.articles[0]
    with app.app_context():
        s = db.session
        s.execute(update(Annotation).where(Annotation.user_id == ann, Annotation.sentence_id.in_(seeded.sentences[:3])).values(**ORIGIN))

        def span(user: int, label: str, offsets: tuple[int, int], **origin: str) -> Span:
            row = Span(article_id=article, user_id=user, label=label, start=offsets[0], end=offsets[1], **origin)
            s.add(row)
            s.flush()
            return row

        quote, source = span(ann, "QUOTE", _quote(seeded, 0), **ORIGIN), span(ann, "SOURCE", _name(seeded, 0, 8), **ORIGIN)
        s.add(Relation(article_id=article, user_id=ann, type="attributed_to", from_span_id=quote.id, to_span_id=source.id, **ORIGIN))
        span(ann, "QUOTE", _quote(seeded, 4))
        span(ben, "QUOTE", _quote(seeded, 0))
        span(ben, "SOURCE", _name(seeded, 0, 4))
        span(ben, "QUOTE", _name(seeded, 4, 8))
        span(ben, "QUOTE", _quote(seeded, 5))

        def suggestion(uid: str, kind: str, label: str, **where: object) -> int:
            row = Suggestion(uid=uid, article_id=article, suggester="rules", version="1", kind=kind, label=label, score=0.9, **where)
            s.add(row)
            s.flush()
            return row.id

        labels = {k: suggestion(f"l{k}", "label", lab, sentence_id=seeded.sentences[k]) for k, lab in ((0, "CFS"), (1, "UFS"), (2, "NFS"), (3, "CFS"), (5, "NFS"))}
        q = suggestion("q0", "span", "QUOTE", start=_quote(seeded, 0)[0], end=_quote(seeded, 0)[1])
        src = suggestion("s0", "span", "SOURCE", start=_name(seeded, 0, 8)[0], end=_name(seeded, 0, 8)[1])
        link = suggestion("r0", "relation", "attributed_to", from_uid="q0", to_uid="s0")
        decided = [(labels[0], "accepted"), (labels[1], "accepted"), (labels[2], "accepted"), (labels[3], "rejected"),
                   (q, "accepted"), (src, "accepted"), (link, "accepted")]
        s.add_all(SuggestionDecision(suggestion_id=i, user_id=ann, decision=d) for i, d in decided)
        s.execute(update(Project).where(Project.id == seeded.project_id).values(revision=Project.revision + 1))
        s.commit()
    return seeded


def figures_of(app, seeded: Seeded, min_n: int) -> dict[str, dict]:
    with app.app_context():
        head = agreement.project_head(db.session, seeded.project_id)
        doc = origin_figures.compute_origin_figures(db.session, head, min_n=min_n)
    assert doc is not None
    return {r["annotator"]: r for r in doc["annotators"]}


# ----------------------------------------------------------------- the figures, by hand
def test_shares_and_decisions_per_annotator(app):
    rows = figures_of(app, build(app), min_n=1)
    ann, ben = rows["ann"], rows["ben"]
    assert ann["labels"] == {"n": 5, "n_suggested": 3, "n_manual": 2, "share_suggested": pytest.approx(0.6)}
    assert ann["spans"] == {"n": 3, "n_suggested": 2, "n_manual": 1, "share_suggested": pytest.approx(2 / 3)}
    assert ann["relations"]["share_suggested"] == 1.0
    # 3 labels, 2 spans and 1 link accepted, 1 label rejected; the label suggestion on s5 left undecided
    d = ann["decisions"]
    assert (d["accepted"], d["rejected"], d["decided"], d["undecided"]) == (6, 1, 7, 1)
    assert d["acceptance_rate"] == pytest.approx(6 / 7)
    assert d["per_kind"] == {"label": {"accepted": 3, "rejected": 1}, "span": {"accepted": 2, "rejected": 0},
                             "relation": {"accepted": 1, "rejected": 0}}
    # ben did everything by hand and decided nothing: all 8 suggestions of the article he is assigned are undecided
    assert ben["labels"]["share_suggested"] == 0.0 and ben["spans"]["share_suggested"] == 0.0
    assert ben["relations"] == {"n": 0, "n_suggested": 0, "n_manual": 0, "share_suggested": None}
    assert ben["decisions"]["acceptance_rate"] is None and ben["decisions"]["undecided"] == 8


def test_label_agreement_on_suggested_and_manual_labels_apart(app):
    rows = figures_of(app, build(app), min_n=1)
    ann, ben = rows["ann"]["label_agreement"], rows["ben"]["label_agreement"]
    # ann's suggested labels s0, s1, s2: ben agrees on s0 and s1; her manual ones s4, s5: ben agrees on s4
    assert ann["suggested"] == {"value": pytest.approx(2 / 3), "n_sentences": 3, "n_pairs": 3, "n_agreeing_pairs": 2, "reason": None}
    assert ann["manual"] == {"value": pytest.approx(0.5), "n_sentences": 2, "n_pairs": 2, "n_agreeing_pairs": 1, "reason": None}
    # ben: no suggested label; his manual ones shared with ann are s0, s1, s2, s4, s5 (s3 he labelled alone), 3 agree
    assert ben["suggested"]["value"] is None and ben["suggested"]["n_sentences"] == 0 and ben["suggested"]["reason"]
    assert ben["manual"]["value"] == pytest.approx(0.6) and ben["manual"]["n_sentences"] == 5


def test_span_f1_on_suggested_and_manual_spans_apart(app):
    rows = figures_of(app, build(app), min_n=1)
    ann, ben = rows["ann"]["span_f1"], rows["ben"]["span_f1"]
    # suggested side = s0: ann's QUOTE and SOURCE against ben's same QUOTE and shorter SOURCE
    assert ann["suggested"]["n_spans"] == 2 and ann["suggested"]["n_sentences"] == 1
    assert ann["suggested"]["exact"] == {"f1": pytest.approx(0.5), "tp": 1, "fp": 1, "fn": 1}
    assert ann["suggested"]["overlap"] == {"f1": pytest.approx(1.0), "tp": 2, "fp": 0, "fn": 0}
    # manual side = s4: ann's QUOTE does not touch ben's
    assert ann["manual"]["overlap"] == {"f1": 0.0, "tp": 0, "fp": 1, "fn": 1} and ann["manual"]["n_spans"] == 1
    # ben: manual side = s0, s4, s5 (his 4 spans against ann's 3 there); no suggested side
    assert ben["manual"]["exact"] == {"f1": pytest.approx(2 / 7), "tp": 1, "fp": 3, "fn": 2}
    assert ben["manual"]["overlap"] == {"f1": pytest.approx(4 / 7), "tp": 2, "fp": 2, "fn": 1}
    assert ben["suggested"]["n_spans"] == 0 and ben["suggested"]["overlap"]["f1"] is None and ben["suggested"]["reason"]


def test_spans_are_compared_on_the_sentences_both_labelled_as_in_the_span_figures(app):
    """Left open by the last session: the span figures compare a pair on the sentences both labelled (a span ahead of
    where the other has got to is not missed), the suggestion figures still on whole articles. ann accepted the same
    QUOTE ben marked in s0 and one in s4, which ben, who labelled s0 to s2 only, has not reached: her suggested side
    was F1 2/3 (the s4 quote counted as one ben missed), where the span figures say 1. Now both say 1."""
    ratings = [{"ann": "CFS", "ben": "CFS"}, {"ann": "UFS", "ben": "UFS"}, {"ann": "NFS", "ben": "NFS"},
               {"ann": "NFS"}, {"ann": "CFS"}, {"ann": "UFS"}]
    seeded = seed(app, ratings, [0] * 6, assign=True)
    ann, ben, article = seeded.users["ann"], seeded.users["ben"], seeded.articles[0]
    with app.app_context():
        for user, k, origin in ((ann, 0, ORIGIN), (ann, 4, ORIGIN), (ben, 0, {})):
            start, end = _quote(seeded, k)
            db.session.add(Span(article_id=article, user_id=user, label="QUOTE", start=start, end=end, **origin))
        db.session.execute(update(Project).where(Project.id == seeded.project_id).values(revision=Project.revision + 1))
        db.session.commit()
        pooled = agreement.summary(db.session, seeded.project_id)["spans"]["pooled"]["QUOTE"]
    assert pooled["exact"]["f1"] == pytest.approx(1.0) and pooled["exact"]["fp"] + pooled["exact"]["fn"] == 0
    side = figures_of(app, seeded, min_n=1)["ann"]["span_f1"]["suggested"]
    assert side["n_sentences"] == 2 and side["n_spans"] == 1  # the s4 quote: nobody to compare it with yet
    assert side["exact"] == {"f1": pytest.approx(1.0), "tp": 1, "fp": 0, "fn": 0} and side["reason"] is None


def test_too_few_sentences_or_spans_give_counts_and_no_figure(app):
    rows = figures_of(app, build(app), min_n=origin_figures.MIN_N)
    ann = rows["ann"]
    assert origin_figures.MIN_N == 10
    side = ann["label_agreement"]["suggested"]
    assert side["value"] is None and side["n_sentences"] == 3 and side["n_agreeing_pairs"] == 2
    assert side["reason"] == "3 sentences: fewer than 10, too few for a figure"
    spans = ann["span_f1"]["suggested"]
    assert spans["overlap"]["f1"] is None and spans["overlap"]["tp"] == 2 and spans["reason"] == "2 spans: fewer than 10, too few for a figure"


def test_a_project_without_suggestions_has_no_such_figures(app):
    seeded = seed(app, RATINGS, [0] * 6)
    with app.app_context():
        assert agreement.suggestions(db.session, seeded.project_id) is None
        # one label that came from a suggestion (imported with its origin, say) is enough to show them
        db.session.execute(update(Annotation).where(Annotation.sentence_id == seeded.sentences[0], Annotation.user_id == seeded.users["ann"])
                           .values(**ORIGIN))
        db.session.execute(update(Project).where(Project.id == seeded.project_id).values(revision=Project.revision + 1))
        db.session.commit()
        doc = agreement.suggestions(db.session, seeded.project_id)
    assert doc is not None and doc["n_suggestions"] == 0
    assert {r["annotator"]: r["labels"]["n_suggested"] for r in doc["annotators"]} == {"ann": 1, "ben": 0}


# ----------------------------------------------------------------- cached, and invalidated by decisions too
def test_cached_per_revision_and_moved_on_by_a_rejection(app):
    seeded = build(app)
    with app.app_context():
        s = db.session
        first = agreement.suggestions(s, seeded.project_id)
        assert agreement.suggestions(s, seeded.project_id)["computed_at"] == first["computed_at"]
        key = CacheEntry.key.like(f"agreement:suggestions:{seeded.project_id}:%")
        assert s.scalar(select(func.count()).select_from(CacheEntry).where(key)) == 1
        # ben rejects the s5 label suggestion: no annotation changes, so no revision bump, but the figures must move
        revision = s.scalar(select(Project.revision).where(Project.id == seeded.project_id))
        s5 = s.scalar(select(Suggestion.id).where(Suggestion.uid == "l5"))
        s.add(SuggestionDecision(suggestion_id=s5, user_id=seeded.users["ben"], decision="rejected"))
        s.commit()
        after = agreement.suggestions(s, seeded.project_id)
        assert s.scalar(select(Project.revision).where(Project.id == seeded.project_id)) == revision
        assert s.scalar(select(func.count()).select_from(CacheEntry).where(key)) == 1  # the old entry went
    ben = next(r for r in after["annotators"] if r["annotator"] == "ben")
    assert (ben["decisions"]["rejected"], ben["decisions"]["undecided"]) == (1, 7)


# ----------------------------------------------------------------- the command line
def test_agreement_json_has_the_suggestions_key_only_with_suggestions(app, runner):
    plain = seed(app, RATINGS, [0] * 6, name="blind")
    assisted = build(app)
    result = runner.invoke(args=["agreement", str(plain.project_id), "--json"])
    assert result.exit_code == 0, result.output
    assert "suggestions" not in json.loads(result.output)
    result = runner.invoke(args=["agreement", str(assisted.project_id), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)["suggestions"]
    ann = next(r for r in doc["annotators"] if r["annotator"] == "ann")
    assert ann["decisions"]["accepted"] == 6 and ann["labels"]["n_suggested"] == 3
    result = runner.invoke(args=["agreement", str(assisted.project_id), "--by", "annotator"])
    assert result.exit_code == 0, result.output
    assert "Span F1 overlap: suggested" in result.output and "6/7" in result.output


# ----------------------------------------------------------------- the page
def _login(app, name: str, role: str, project_id: int):
    from .conftest import Browser

    add_user(app, name, role, PASSWORD)
    add_member(app, project_id, name)
    browser = Browser(app.test_client())
    assert browser.login(name, PASSWORD).status_code == 302
    return browser


def test_the_reviewer_sees_the_figures_escaped(app):
    seeded = build(app)
    with app.app_context():  # a user whose name is markup (written past the accounts' check) rejected one suggestion: shown as text
        eve = User(name="<script>eve</script>", role="annotator")
        db.session.add(eve)
        db.session.flush()
        db.session.add(SuggestionDecision(suggestion_id=db.session.scalar(select(Suggestion.id).where(Suggestion.uid == "l5")),
                                          user_id=eve.id, decision="rejected"))
        db.session.commit()
    browser = _login(app, "rita", "reviewer", seeded.project_id)
    page = browser.get(f"/review/{seeded.project_id}/agreement")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="suggestions"' in html and 'id="suggestion-shares"' in html
    row = html[html.index('<tr data-annotator="ann">', html.index('id="suggestion-shares"')):]
    row = row[:row.index("</tr>")]
    assert "3 of 5" in row and "60.0&nbsp;%" in row and "85.7&nbsp;%" in row  # labels from suggestions, acceptance 6/7
    assert "fewer than 10 sentences (labels) or spans" in html  # the threshold, said on the page
    cells = html[html.index('id="suggestion-agreement"'):]
    assert "— <span class=\"muted\">n = 3</span>" in cells  # ann's 3 suggested labels: too few for a figure
    assert "<script>eve" not in html and "&lt;script&gt;eve&lt;/script&gt;" in html


def test_no_section_without_suggestions_and_none_for_an_annotator(app):
    plain = seed(app, RATINGS, [0] * 6, name="blind")
    browser = _login(app, "rita", "reviewer", plain.project_id)
    html = browser.get(f"/review/{plain.project_id}/agreement").get_data(as_text=True)
    assert 'id="agreement-summary"' in html and 'id="suggestions"' not in html and "Suggestions:" not in html
    assisted = build(app)
    annotator = _login(app, "alice", "annotator", assisted.project_id)
    response = annotator.get(f"/review/{assisted.project_id}/agreement")
    assert response.status_code == 403
    assert "suggestion-shares" not in response.get_data(as_text=True)
