"""Gold: automatic (unanimous / majority) gold and its refresh, adjudication that automatic gold
never overwrites, gold spans and links, and the audit trail of every gold change."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import AuditEntry, GoldLabel, GoldRelation, GoldSpan, Project, Span, User
from annotator.db.transactions import begin_write
from annotator.domain import gold
from annotator.stats import gold as gold_rule

from .test_project_agreement import add_spans, seed


def gold_labels(app, seeded):
    with app.app_context():
        rows = db.session.execute(select(GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance, GoldLabel.reviewer_id, GoldLabel.reason)).all()
    item = {sid: i for i, sid in enumerate(seeded.sentences)}
    return {item[r[0]]: tuple(r[1:]) for r in rows}


def audit(app, entity=None):
    with app.app_context():
        query = select(AuditEntry.entity, AuditEntry.action, AuditEntry.entity_id, AuditEntry.user_id, AuditEntry.before, AuditEntry.after).order_by(AuditEntry.id)
        if entity:
            query = query.where(AuditEntry.entity == entity)
        return db.session.execute(query).all()


def refresh(app, project_id, batch_articles=gold.REFRESH_BATCH_ARTICLES):
    with app.app_context():
        begin_write(db.session)
        result = gold.refresh_auto_gold(db.session, project_id, batch_articles)
        db.session.commit()
        return result


def make_reviewer(app, name="rita"):
    with app.app_context():
        user = User(name=name, role="reviewer")
        db.session.add(user)
        db.session.commit()
        return user.id


def adjudicate(app, reviewer_id, sentence_id, label, spans=(), relations=(), reason=None):
    with app.app_context():
        begin_write(db.session)
        try:
            out = gold.adjudicate(db.session, reviewer_id, sentence_id, label, spans, relations, reason)
            db.session.commit()
            return out
        except Exception:
            db.session.rollback()
            raise


# ----------------------------------------------------------------- the rule
def test_auto_gold_rule():
    codes = np.array([
        [0, 0, 0],    # unanimous
        [0, 0, 1],    # 2 of 3
        [0, 1, 2],    # no majority
        [1, -1, -1],  # one rater
        [2, 2, -1],   # two raters, unanimous
        [-1, -1, -1],
    ])
    g, p = gold_rule.auto_gold_labels(codes, threshold=1.0, min_raters=2)
    assert g.tolist() == [0, -1, -1, -1, 2, -1] and p.tolist() == [1, 0, 0, 0, 1, 0]
    g, p = gold_rule.auto_gold_labels(codes, threshold=0.66, min_raters=2)
    assert g.tolist() == [0, 0, -1, -1, 2, -1] and p.tolist() == [1, 2, 0, 0, 1, 0]
    g, _ = gold_rule.auto_gold_labels(codes, threshold=0.7, min_raters=2)  # 2/3 < 0.7
    assert g.tolist() == [0, -1, -1, -1, 2, -1]
    g, _ = gold_rule.auto_gold_labels(codes, threshold=2 / 3, min_raters=2)  # exactly 2/3 reaches it
    assert g[1] == 0
    g, _ = gold_rule.auto_gold_labels(codes, threshold=1.0, min_raters=3)  # two raters are not enough
    assert g.tolist() == [0, -1, -1, -1, -1, -1]
    g, _ = gold_rule.auto_gold_labels(np.zeros((0, 2), dtype=int), 1.0, 2)
    assert g.size == 0


# ----------------------------------------------------------------- refresh
def test_refresh_creates_unanimous_and_majority_gold_only_with_enough_annotators(app):
    ratings = [
        {"a": "CFS", "b": "CFS", "c": "CFS"},
        {"a": "UFS", "b": "UFS", "c": "NFS"},
        {"a": "NFS", "b": "UFS", "c": "CFS"},
        {"a": "NFS", "b": "NFS"},  # unanimous but only 2 of the 3 per article
    ]
    seeded = seed(app, ratings, annotators_per_article=3, majority_threshold=0.6)
    result = refresh(app, seeded.project_id)
    assert gold_labels(app, seeded) == {0: ("CFS", "unanimous", None, None), 1: ("UFS", "majority", None, None)}
    assert result.labels_created == 2 and result.changed == 2
    entries = audit(app, "gold_label")
    assert [(e.action, e.user_id) for e in entries] == [("create", None), ("create", None)]
    assert {e.after["provenance"] for e in entries} == {"unanimous", "majority"} and all(e.before is None for e in entries)
    assert refresh(app, seeded.project_id).changed == 0  # idempotent: nothing to do, nothing audited
    assert len(audit(app, "gold_label")) == 2


def test_refresh_removes_stale_and_updates_changed_auto_gold(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "UFS"}], [0, 0], assign=True)
    refresh(app, seeded.project_id)
    assert gold_labels(app, seeded) == {0: ("CFS", "unanimous", None, None), 1: ("UFS", "unanimous", None, None)}
    with app.app_context():
        annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["b"], seeded.articles[0], 0, "NFS"))
        annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["a"], seeded.articles[0], 1, "NFS"))
        annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["b"], seeded.articles[0], 1, "NFS"))
    # each write brought the gold of its sentence up to date (issue 16): no refresh needed, and a refresh finds nothing to do
    assert gold_labels(app, seeded) == {1: ("NFS", "unanimous", None, None)}
    assert refresh(app, seeded.project_id).changed == 0
    entries = audit(app, "gold_label")[2:]
    # write by write: sentence 0 loses its gold; sentence 1 loses it (a and b disagree a moment), then gets NFS
    assert [(e.action, (e.before or {}).get("label"), (e.after or {}).get("label")) for e in entries] == [
        ("delete", "CFS", None), ("delete", "UFS", None), ("create", None, "NFS")]


def test_adjudicated_gold_is_never_overwritten_or_removed(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "NFS"}])
    rita = make_reviewer(app)
    adjudicate(app, rita, seeded.sentences[0], "NFS", reason="the number is a quote of a forecast")
    adjudicate(app, rita, seeded.sentences[1], "UFS")
    refresh(app, seeded.project_id)
    assert gold_labels(app, seeded) == {
        0: ("NFS", "adjudicated", rita, "the number is a quote of a forecast"),
        1: ("UFS", "adjudicated", rita, None),
    }
    # labels change under it: still the reviewer's
    with app.app_context():
        db.session.execute(
            Project.__table__.update().where(Project.id == seeded.project_id).values(majority_threshold=0.51, revision=Project.revision + 1)
        )
        db.session.commit()
    refresh(app, seeded.project_id)
    assert gold_labels(app, seeded)[0] == ("NFS", "adjudicated", rita, "the number is a quote of a forecast")


def test_imported_gold_is_kept_by_refresh(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}])
    with app.app_context():
        db.session.add(GoldLabel(sentence_id=seeded.sentences[0], label="UFS", provenance="imported"))
        db.session.commit()
    assert refresh(app, seeded.project_id).changed == 0
    assert gold_labels(app, seeded) == {0: ("UFS", "imported", None, None)}


def test_ensure_auto_gold_runs_once_per_revision(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "NFS"}], assign=True)
    with app.app_context():
        first = gold.ensure_auto_gold(db.session, seeded.project_id)
        assert first is not None and first.labels_created == 1
        assert gold.ensure_auto_gold(db.session, seeded.project_id) is None  # same revision: one read, no work
        annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["b"], seeded.articles[0], 1, "UFS"))
        again = gold.ensure_auto_gold(db.session, seeded.project_id)
        # the write moved the revision, so the catch-up runs; the write itself already made the gold (issue 16)
        assert again is not None and again.changed == 0
    assert set(gold_labels(app, seeded)) == {0, 1}


def test_ensure_auto_gold_lets_other_writers_in_between_batches(app, database_uri):
    """On SQLite a write transaction holds the whole database: a refresh of a big project in one transaction made
    every annotator's save wait for it. Between batches of articles another connection can write (here: with a
    50 ms busy timeout), and a label saved meanwhile moves the revision, so the next call refreshes again."""
    from sqlalchemy import create_engine, event, text

    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "UFS"}, {"a": "NFS", "b": "NFS"}], [0, 1, 2], assign=True)
    sqlite = database_uri.startswith("sqlite")
    other = create_engine(database_uri, connect_args={"timeout": 0.05} if sqlite else {})
    got_in = []

    def another_writer(_session):
        with other.begin() as conn:  # raises "database is locked" if the refresh still held the write lock
            conn.execute(text("UPDATE users SET active = active"))
        got_in.append(True)

    with app.app_context():
        event.listen(db.session(), "after_commit", another_writer)
        try:
            result = gold.ensure_auto_gold(db.session, seeded.project_id, batch_articles=1)
        finally:
            event.remove(db.session(), "after_commit", another_writer)
        assert result.labels_created == 3
        assert len(got_in) >= 3 + 1  # after each of the three batches, and after the marker
        annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["a"], seeded.articles[0], 0, "NFS"))
        assert set(gold_labels(app, seeded)) == {1, 2}  # a and b no longer agree on sentence 0: the write removed its gold
        again = gold.ensure_auto_gold(db.session, seeded.project_id, batch_articles=1)
        assert again is not None and again.changed == 0  # the revision moved, the gold was already current
        assert gold.ensure_auto_gold(db.session, seeded.project_id) is None
    other.dispose()


# ----------------------------------------------------------------- automatic spans and links
def test_unanimous_spans_and_links_become_gold_others_do_not(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "NFS"}, {"a": "UFS"}])
    (s0, _), (s1, _), (s2, _) = seeded.offsets
    add_spans(
        app, seeded,
        [
            ("a", 0, "QUOTE", s0, s0 + 8), ("a", 0, "SOURCE", s0 + 10, s0 + 14),  # 0 1
            ("b", 0, "QUOTE", s0, s0 + 8), ("b", 0, "SOURCE", s0 + 10, s0 + 14),  # 2 3: identical, linked by both
            ("a", 0, "CUE", s0 + 20, s0 + 24), ("b", 0, "CUE", s0 + 20, s0 + 25),  # 4 5: differ by one character
            ("a", 0, "QUOTE", s1, s1 + 4), ("b", 0, "QUOTE", s1, s1 + 4),  # 6 7: identical, label disputed: still gold
            ("a", 0, "QUOTE", s2, s2 + 4),  # 8: one rater only
            ("a", 0, "QUOTE", s0 + 30, s1 + 2), ("b", 0, "QUOTE", s0 + 30, s1 + 2),  # 9 10: across sentences 0 and 1
        ],
        [("attributed_to", 0, 1), ("attributed_to", 2, 3), ("attributed_to", 6, 1)],
    )
    result = refresh(app, seeded.project_id)
    with app.app_context():
        spans = {(g.label, g.start, g.end): g.provenance for g in db.session.scalars(select(GoldSpan))}
        rels = db.session.scalars(select(GoldRelation)).all()
        rel_keys = {(r.type, r.from_span.start, r.to_span.start, r.provenance) for r in rels}
    assert spans == {
        ("QUOTE", s0, s0 + 8): "unanimous", ("SOURCE", s0 + 10, s0 + 14): "unanimous",
        ("QUOTE", s1, s1 + 4): "unanimous", ("QUOTE", s0 + 30, s1 + 2): "unanimous",
    }
    assert rel_keys == {("attributed_to", s0, s0 + 10, "unanimous")}  # b did not make the second link
    assert (result.spans_created, result.relations_created) == (4, 1)
    assert {e.entity for e in audit(app)} == {"gold_label", "gold_span", "gold_relation"}

    # a reviewer adjudicates sentence 0 without the CUE or the crossing quote: auto spans there are replaced, not re-made
    rita = make_reviewer(app)
    adjudicate(app, rita, seeded.sentences[0], "CFS", spans=[("QUOTE", s0, s0 + 8)],
               relations=[("attributed_to", ("QUOTE", s0, s0 + 8), ("SOURCE", s0 + 10, s0 + 14))], reason="keep the link")
    refresh(app, seeded.project_id)
    with app.app_context():
        spans = {(g.label, g.start, g.end): (g.provenance, g.reviewer_id) for g in db.session.scalars(select(GoldSpan))}
        rels = [(r.from_span.start, r.to_span.start, r.provenance) for r in db.session.scalars(select(GoldRelation))]
    assert spans == {
        ("QUOTE", s0, s0 + 8): ("adjudicated", rita), ("SOURCE", s0 + 10, s0 + 14): ("adjudicated", rita),
        ("QUOTE", s1, s1 + 4): ("unanimous", None),
    }
    assert rels == [(s0, s0 + 10, "adjudicated")]


def test_stale_auto_span_is_removed_with_its_links(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}])
    s0, _ = seeded.offsets[0]
    ids = add_spans(app, seeded, [("a", 0, "QUOTE", s0, s0 + 8), ("a", 0, "SOURCE", s0 + 10, s0 + 14),
                                  ("b", 0, "QUOTE", s0, s0 + 8), ("b", 0, "SOURCE", s0 + 10, s0 + 14)],
                    [("attributed_to", 0, 1), ("attributed_to", 2, 3)])
    refresh(app, seeded.project_id)
    with app.app_context():  # b's quote is now one character longer: no longer unanimous
        db.session.execute(Span.__table__.update().where(Span.id == ids[2]).values(end=s0 + 9))
        db.session.commit()
    result = refresh(app, seeded.project_id)
    assert (result.spans_deleted, result.relations_deleted) == (1, 1)
    deletes = [(e.entity, e.action) for e in audit(app) if e.action == "delete"]
    assert deletes == [("gold_relation", "delete"), ("gold_span", "delete")]
    with app.app_context():
        assert db.session.scalars(select(GoldRelation)).all() == []
        assert [(g.label, g.provenance) for g in db.session.scalars(select(GoldSpan))] == [("SOURCE", "unanimous")]


def test_refresh_article_by_article_gives_the_same_gold_and_stays_in_its_project(app):
    """The refresh goes through a project a batch of articles at a time (ranges of article ids): batches of one
    article must give what one batch gives, and a range that spans another project's articles must not touch them."""
    from annotator.db.models import Article
    from annotator.domain import projects

    ratings = [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "UFS"},  # article 0
               {"a": "NFS", "b": "NFS"},  # article 1: moved to another project below
               {"a": "NFS", "b": "UFS"}, {"a": "CFS", "b": "CFS"},  # article 2
               {"a": "UFS", "b": "UFS"},  # article 3: moved too
               {"a": "CFS", "b": "CFS"}]  # article 4
    seeded = seed(app, ratings, [0, 0, 1, 2, 2, 3, 4])
    with app.app_context():
        other = projects.create_project(db.session, "other", db.session.get(Project, seeded.project_id).label_schema, 2).id
        db.session.execute(Article.__table__.update().where(Article.id.in_([seeded.articles[1], seeded.articles[3]])).values(project_id=other))
        db.session.commit()
    (s0, _), (s3, _), (s6, _) = seeded.offsets[0], seeded.offsets[3], seeded.offsets[6]
    add_spans(app, seeded, [("a", 0, "QUOTE", s0, s0 + 8), ("b", 0, "QUOTE", s0, s0 + 8),
                            ("a", 0, "SOURCE", s0 + 10, s0 + 14), ("b", 0, "SOURCE", s0 + 10, s0 + 14),
                            ("a", 2, "QUOTE", s3, s3 + 5), ("b", 2, "QUOTE", s3, s3 + 6),  # differ: no gold
                            ("a", 4, "CUE", s6, s6 + 3), ("b", 4, "CUE", s6, s6 + 3)],
              [("attributed_to", 0, 2), ("attributed_to", 1, 3)])

    one_by_one = refresh(app, seeded.project_id, batch_articles=1)
    assert gold_labels(app, seeded) == {0: ("CFS", "unanimous", None, None), 1: ("UFS", "unanimous", None, None),
                                        4: ("CFS", "unanimous", None, None), 6: ("CFS", "unanimous", None, None)}
    with app.app_context():
        spans = {(g.article_id, g.label, g.start) for g in db.session.scalars(select(GoldSpan))}
        links = db.session.scalars(select(GoldRelation)).all()
    assert spans == {(seeded.articles[0], "QUOTE", s0), (seeded.articles[0], "SOURCE", s0 + 10), (seeded.articles[4], "CUE", s6)}
    assert len(links) == 1
    assert (one_by_one.labels_created, one_by_one.spans_created, one_by_one.relations_created) == (4, 3, 1)
    assert refresh(app, seeded.project_id, batch_articles=10**6).changed == 0  # one batch: nothing to change
    assert refresh(app, seeded.project_id, batch_articles=2).changed == 0
    assert refresh(app, other).labels_created == 2  # the other project's sentences were left to it


# ----------------------------------------------------------------- adjudication
def test_adjudicate_stores_label_spans_links_with_provenance_and_audit(app):
    seeded = seed(app, [{"a": "CFS", "b": "UFS"}, {"a": "NFS", "b": "NFS"}])
    (s0, e0), (s1, _) = seeded.offsets
    rita = make_reviewer(app)
    with app.app_context():
        revision = db.session.get(Project, seeded.project_id).revision
    out = adjudicate(
        app, rita, seeded.sentences[0], "CFS",
        spans=[("QUOTE", s0, s0 + 8), ("CUE", s0 + 9, s0 + 12)],
        relations=[("attributed_to", ("QUOTE", s0, s0 + 8), ("SOURCE", s1, s1 + 4))],  # the source is in the next sentence
        reason="a figure the public would want checked",
    )
    assert out["changes"] == 5 and out["provenance"] == "adjudicated"
    with app.app_context():
        label = db.session.scalar(select(GoldLabel))
        assert (label.label, label.provenance, label.reviewer_id, label.reason) == ("CFS", "adjudicated", rita, "a figure the public would want checked")
        assert label.updated_at is not None
        spans = {(g.label, g.start, g.end): (g.provenance, g.reviewer_id) for g in db.session.scalars(select(GoldSpan))}
        assert spans == {("QUOTE", s0, s0 + 8): ("adjudicated", rita), ("CUE", s0 + 9, s0 + 12): ("adjudicated", rita),
                         ("SOURCE", s1, s1 + 4): ("adjudicated", rita)}
        (rel,) = db.session.scalars(select(GoldRelation)).all()
        assert (rel.type, rel.from_span.label, rel.to_span.label, rel.provenance, rel.reviewer_id) == ("attributed_to", "QUOTE", "SOURCE", "adjudicated", rita)
        assert db.session.get(Project, seeded.project_id).revision == revision + 1
    entries = audit(app)
    assert [(e.entity, e.action) for e in entries] == [
        ("gold_label", "create"), ("gold_span", "create"), ("gold_span", "create"), ("gold_span", "create"), ("gold_relation", "create")]
    assert all(e.user_id == rita for e in entries)
    assert entries[0].after == {"sentence_id": seeded.sentences[0], "label": "CFS", "provenance": "adjudicated", "reviewer_id": rita,
                                "reason": "a figure the public would want checked"}

    # adjudicate again: drop the CUE and the link, change the label; a second reviewer takes over
    rex = make_reviewer(app, "rex")
    adjudicate(app, rex, seeded.sentences[0], "UFS", spans=[("QUOTE", s0, s0 + 8)])
    with app.app_context():
        label = db.session.scalar(select(GoldLabel))
        assert (label.label, label.reviewer_id, label.reason) == ("UFS", rex, None)
        spans = {(g.label, g.start, g.end): (g.provenance, g.reviewer_id) for g in db.session.scalars(select(GoldSpan))}
        # the source in the other sentence stays (it is not this sentence's span); the link is gone
        assert spans == {("QUOTE", s0, s0 + 8): ("adjudicated", rex), ("SOURCE", s1, s1 + 4): ("adjudicated", rita)}
        assert db.session.scalars(select(GoldRelation)).all() == []
    later = [(e.entity, e.action) for e in audit(app)][5:]
    assert sorted(later) == sorted([("gold_label", "update"), ("gold_relation", "delete"), ("gold_span", "delete"), ("gold_span", "update")])


@pytest.mark.parametrize(
    "label, spans, relations, message",
    [
        ("MAYBE", [], [], "unknown sentence label"),
        ("CFS", [("WHO", 0, 3)], [], "unknown span label"),
        ("CFS", [("QUOTE", 5, 5)], [], "offsets must satisfy"),
        ("CFS", [("QUOTE", 0, 10_000)], [], "offsets must satisfy"),
        ("CFS", [("QUOTE", "0", 3)], [], "offsets must satisfy"),
        ("CFS", [("QUOTE", "far", "away")], [], "does not overlap"),
        ("CFS", [], [("attributed_to", ("SOURCE", 0, 3), ("QUOTE", 4, 8))], "cannot start at a SOURCE"),
        ("CFS", [], [("likes", ("QUOTE", 0, 3), ("SOURCE", 4, 8))], "unknown relation type"),
        ("CFS", [], [("attributed_to", ("QUOTE", 0, 3), ("QUOTE", 0, 3))], "two different spans"),
        ("CFS", [], [("attributed_to", ("QUOTE", "far", "away"), ("SOURCE", "far", "away2"))], "no end in this sentence"),
    ],
)
def test_adjudicate_rejects_bad_input_and_writes_nothing(app, label, spans, relations, message):
    seeded = seed(app, [{"a": "CFS", "b": "UFS"}, {"a": "CFS", "b": "UFS"}])
    (s0, e0), (s1, e1) = seeded.offsets
    fix = {"far": s1 + 1, "away": s1 + 4, "away2": s1 + 8}
    spans = [(lab, fix.get(a, a), fix.get(b, b)) for lab, a, b in spans]
    relations = [(t, (f[0], fix.get(f[1], f[1]), fix.get(f[2], f[2])), (g[0], fix.get(g[1], g[1]), fix.get(g[2], g[2]))) for t, f, g in relations]
    rita = make_reviewer(app)
    with pytest.raises(gold.GoldError, match=message):
        adjudicate(app, rita, seeded.sentences[0], label, spans, relations)
    assert gold_labels(app, seeded) == {} and audit(app) == []


def test_adjudicate_unknown_sentence(app):
    rita = make_reviewer(app)
    with pytest.raises(gold.GoldError) as err:
        adjudicate(app, rita, 12345, "CFS")
    assert err.value.status == 404


def test_form_value_parsers():
    assert gold.parse_span_key("QUOTE:3:10") == ("QUOTE", 3, 10)
    assert gold.parse_link_key("attributed_to|QUOTE:3:10|SOURCE:12:15") == ("attributed_to", ("QUOTE", 3, 10), ("SOURCE", 12, 15))
    assert gold.parse_span_lines("QUOTE 120 164\n\n  SOURCE: 3-9 \nCUE,1,2") == [("QUOTE", 120, 164), ("SOURCE", 3, 9), ("CUE", 1, 2)]
    for bad in ("QUOTE:a:3", "3:4", ""):
        with pytest.raises(gold.GoldError):
            gold.parse_span_key(bad)
    with pytest.raises(gold.GoldError, match="Line 2"):
        gold.parse_span_lines("QUOTE 1 2\nQUOTE one two")
    for other_digits in ("QUOTE \u0661\u0662 \u0663\u0664", "QUOTE 12 \uff13\uff14", "QUOTE 1\u00b2 5"):  # Arabic-Indic, full width, '²'
        with pytest.raises(gold.GoldError, match="Line 1: write the offsets with the digits 0–9"):
            gold.parse_span_lines(other_digits)
    with pytest.raises(gold.GoldError):
        gold.parse_link_key("QUOTE:1:2|SOURCE:3:4")


def test_adjudication_context_lists_every_annotator_side_by_side(app):
    seeded = seed(app, [{"a": "CFS"}, {"a": "CFS", "b": "UFS", "c": "UFS"}, {"b": "NFS"}])
    (s0, _), (s1, _), (s2, _) = seeded.offsets
    add_spans(app, seeded, [("a", 0, "QUOTE", s1, s1 + 6), ("b", 0, "QUOTE", s1, s1 + 6), ("b", 0, "SOURCE", s0, s0 + 4),
                            ("c", 0, "CUE", s2, s2 + 3)], [("attributed_to", 1, 2)])
    with app.app_context():
        ctx = gold.adjudication_context(db.session, seeded.project_id, seeded.sentences[1])
        with pytest.raises(gold.GoldError):
            gold.adjudication_context(db.session, seeded.project_id + 1, seeded.sentences[1])
    assert ctx["sentence"]["index"] == 1 and ctx["context"]["before"].startswith("Sentence 0") and ctx["context"]["after"].startswith("Sentence 2")
    people = {p["name"]: p for p in ctx["annotators"]}
    assert {n: p["label"] for n, p in people.items()} == {"a": "CFS", "b": "UFS", "c": "UFS"}
    assert [s["label"] for s in people["b"]["spans"]] == ["QUOTE"] and people["c"]["spans"] == []
    assert people["b"]["links"][0]["to"]["in_sentence"] is False  # the source is in the sentence before
    (quote,) = ctx["distinct_spans"]
    assert quote["by"] == ["a", "b"] and quote["all"] is False and quote["key"] == f"QUOTE:{s1}:{s1 + 6}"
    assert ctx["distinct_links"][0]["key"] == f"attributed_to|QUOTE:{s1}:{s1 + 6}|SOURCE:{s0}:{s0 + 4}"


def test_the_adjudication_page_reads_gold_links_saved_after_its_gold_spans_without_a_500(app):
    """PostgreSQL (READ COMMITTED): the page read the article's gold spans and then its gold links in two statements;
    a link another reviewer (or an annotator's save, through automatic gold) committed in between, with its new spans,
    named spans the page had not read: KeyError, a 500 on the review page. Such a link is now left out of this page,
    as the annotators' links already were, and shows on the next."""
    from sqlalchemy import create_engine, event, insert

    from .races import postgres_only

    postgres_only(app)
    seeded = seed(app, [{"a": "CFS"}, {"a": "CFS"}])
    (s0, _), (s1, _) = seeded.offsets
    with app.app_context():
        article_id = seeded.articles[0]
        other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        done: list[int] = []

        def link_saved_meanwhile(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
            if "FROM gold_relations" in statement and not done:
                with other.begin() as c:
                    made = [c.execute(insert(GoldSpan).values(article_id=article_id, label=label, start=start, end=end, provenance="adjudicated",
                                                              uid=f"gold-span-{n}").returning(GoldSpan.id)).scalar_one()
                            for n, (label, start, end) in enumerate([("QUOTE", s1, s1 + 6), ("SOURCE", s0, s0 + 4)])]
                    c.execute(insert(GoldRelation).values(article_id=article_id, type="attributed_to", from_span_id=made[0], to_span_id=made[1],
                                                          provenance="adjudicated", uid="gold-link-0"))
                done.append(1)

        event.listen(db.engine, "before_cursor_execute", link_saved_meanwhile)
        try:
            ctx = gold.adjudication_context(db.session, seeded.project_id, seeded.sentences[1])
        finally:
            event.remove(db.engine, "before_cursor_execute", link_saved_meanwhile)
            other.dispose()
        assert done
        assert ctx["gold_links"] == []  # the link is left out of this read: it shows on the next
        later = gold.adjudication_context(db.session, seeded.project_id, seeded.sentences[1])
        assert [link["type"] for link in later["gold_links"]] == ["attributed_to"]
