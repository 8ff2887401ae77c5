"""Project agreement from the database: the same numbers as annotator.stats.agreement on the same data
built by hand, the revision-keyed cache (shared by workers, invalidated by writes), undefined
cases with their reasons, per article figures and the disagreement rows."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from sqlalchemy import event, func, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Annotation, Article, Assignment, CacheEntry, GoldLabel, Project, Relation, Sentence, Span, User
from annotator.db.transactions import begin_write
from annotator.domain import agreement, labelschema, project_head, projects
from annotator.domain.agreement import cache, loaders
from annotator.stats import agreement as ag

from .conftest import make_app

CLAIMS = labelschema.preset("claims")
LABELS = labelschema.names(CLAIMS, "sentence_labels")  # CFS, UFS, NFS


# ----------------------------------------------------------------- building projects by hand
@dataclass
class Seeded:
    project_id: int
    users: dict[str, int]
    articles: list[int]
    sentences: list[int]  # one per item, in item order
    offsets: list[tuple[int, int]]  # article offsets of each item's sentence
    texts: dict[int, str] = field(default_factory=dict)


def seed(
    app,
    ratings: list[dict[str, str]],
    groups: list[int] | None = None,
    *,
    seconds: dict[str, list[float]] | None = None,
    name: str = "news",
    annotators_per_article: int = 2,
    majority_threshold: float = 1.0,
    extra_users: tuple[str, ...] = (),
    assign: bool = False,
) -> Seeded:
    """A project whose item i is sentence i of article groups[i], labelled as ratings[i] says."""
    groups = groups if groups is not None else [0] * len(ratings)
    names = sorted({a for r in ratings for a in r} | set(extra_users))
    with app.app_context():
        project = projects.create_project(db.session, name, CLAIMS, annotators_per_article)
        project.majority_threshold = majority_threshold
        users = {}
        for n in names:
            user = db.session.scalar(select(User).where(User.name == n))
            if user is None:
                user = User(name=n, role="annotator")
                db.session.add(user)
                db.session.flush()
            users[n] = user.id
        n_articles = max(groups) + 1 if groups else 0
        items_of = {a: [i for i, g in enumerate(groups) if g == a] for a in range(n_articles)}
        articles, sentence_ids, offsets, texts = [], [None] * len(ratings), [None] * len(ratings), {}
        for a in range(n_articles):
            parts, pos, spans = [], 0, []
            for k, _item in enumerate(items_of[a]):
                sentence = f"Sentence {k} of article {a} says “something” here. "
                spans.append((pos, pos + len(sentence) - 1))
                parts.append(sentence)
                pos += len(sentence)
            text = "".join(parts) or "Empty."
            article = Article(project_id=project.id, external_id=f"a{a}", title=f"Article {a}", text=text, meta={}, sha256="0" * 64)
            db.session.add(article)
            db.session.flush()
            articles.append(article.id)
            texts[article.id] = text
            for k, item in enumerate(items_of[a]):
                s = Sentence(article_id=article.id, index=k, start=spans[k][0], end=spans[k][1])
                db.session.add(s)
                db.session.flush()
                sentence_ids[item], offsets[item] = s.id, spans[k]
            if assign:
                for n in names:
                    db.session.add(Assignment(user_id=users[n], article_id=article.id))
        for i, item in enumerate(ratings):
            for n, label in item.items():
                secs = seconds[n][i] if seconds else 1.0
                db.session.add(Annotation(user_id=users[n], sentence_id=sentence_ids[i], label=label, seconds=secs, guidelines_version=1))
        db.session.commit()
        return Seeded(project.id, users, articles, sentence_ids, offsets, texts)


def add_spans(app, seeded: Seeded, spans: list[tuple[str, int, str, int, int]], links: list[tuple[str, int, int]] = ()) -> list[int]:
    """spans: (annotator, article no, label, start, end); links: (type, from span no, to span no), same annotator."""
    with app.app_context():
        ids = []
        for who, art, label, start, end in spans:
            s = Span(article_id=seeded.articles[art], user_id=seeded.users[who], label=label, start=start, end=end)
            db.session.add(s)
            db.session.flush()
            ids.append(s.id)
        for rtype, f, t in links:
            span = db.session.get(Span, ids[f])
            db.session.add(Relation(article_id=span.article_id, user_id=span.user_id, type=rtype, from_span_id=ids[f], to_span_id=ids[t]))
        db.session.execute(Project.__table__.update().where(Project.id == seeded.project_id).values(revision=Project.revision + 1))
        db.session.commit()
        return ids


def random_ratings(n: int, annotators: list[str], missing: float, seed_: int = 7) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed_)
    truth = rng.choice(3, size=n, p=[0.2, 0.3, 0.5])
    out = []
    for i in range(n):
        item = {}
        for a in annotators:
            if rng.random() < missing:
                continue
            item[a] = LABELS[truth[i] if rng.random() < 0.7 else rng.integers(0, 3)]
        out.append(item or {annotators[0]: LABELS[truth[i]]})  # items are the sentences with a label
    return out


def close(a, b, tol=1e-12):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=0, abs_tol=tol)


# ----------------------------------------------------------------- label figures equal agreement.py
def test_label_figures_equal_agreement_module(app):
    names = ["ann", "ben", "cat"]
    ratings = random_ratings(120, names, missing=0.15)
    groups = [i // 6 for i in range(120)]
    seeded = seed(app, ratings, groups, annotators_per_article=3)
    expected = ag.label_report(
        ag.LabelMatrix.from_ratings(ratings, annotators=names, categories=LABELS), n_raters=3, groups=groups, n_boot=project_head.N_BOOT, seed=project_head.SEED
    )
    with app.app_context():
        got = agreement.summary(db.session, seeded.project_id)
    assert got["n_items"] == 120 and got["annotators"] == names and got["categories"] == LABELS
    assert got["fleiss_n_raters"] == 3
    for key in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha"):
        mine, ref = got["overall"][key], getattr(expected, key)
        assert ref.value is not None and close(mine["value"], ref.value), key
        assert mine["ci"] is not None and all(close(x, y) for x, y in zip(mine["ci"], ref.ci, strict=True)), key
        assert mine["n_items_used"] == ref.n_items_used and mine["n_left_out"] == ref.n_left_out
        assert mine["ci_info"]["n_groups"] == 20 and mine["explanation"]
    for row in got["per_label"]:
        ref = expected.alpha_per_label[row["label"]]
        assert close(row["alpha"]["value"], ref.value) and all(close(x, y) for x, y in zip(row["alpha"]["ci"], ref.ci, strict=True))
        assert row["n_ratings"] == sum(1 for r in ratings for v in r.values() if v == row["label"])
    for pair in got["cohen_kappa"]["pairs"]:
        ref = ag.cohen_kappa(ratings, pair["a"], pair["b"])
        assert close(pair["value"], ref.value) and pair["n_items_used"] == ref.n_items_used
    matrix = got["cohen_kappa"]["matrix"]
    assert matrix[0][0] is None and close(matrix[0][1], ag.cohen_kappa(ratings, "ann", "ben").value) and matrix[0][1] == matrix[1][0]


def test_fleiss_uses_annotators_per_article_not_all_annotators(app):
    # five annotators, two per sentence: Fleiss over sentences with exactly 2 labels
    ratings = [{"a": "CFS", "b": "CFS"}, {"c": "UFS", "d": "NFS"}, {"e": "NFS", "a": "NFS"}, {"b": "CFS", "c": "UFS"}, {"d": "UFS"}]
    seeded = seed(app, ratings, [0, 0, 1, 1, 1], annotators_per_article=2)
    with app.app_context():
        got = agreement.summary(db.session, seeded.project_id)
    ref = ag.fleiss_kappa(ratings, n_raters=2)
    assert got["fleiss_n_raters"] == 2 and close(got["overall"]["fleiss_kappa"]["value"], ref.value)
    assert got["overall"]["fleiss_kappa"]["n_left_out"] == 1  # the sentence with one label


def test_annotator_figures(app):
    ratings = [
        {"ann": "CFS", "ben": "CFS", "cat": "NFS"},
        {"ann": "UFS", "ben": "UFS", "cat": "UFS"},
        {"ann": "NFS", "ben": "CFS"},
        {"ann": "NFS", "cat": "NFS"},
        {"ben": "UFS", "cat": "NFS"},
        {"ann": "CFS"},
    ]
    seconds = {"ann": [3, 5, 7, 9, 0, 11], "ben": [2, 2, 4, 0, 8, 0], "cat": [1, 1, 0, 1, 30, 0]}
    seeded = seed(app, ratings, [0, 0, 0, 1, 1, 1], seconds=seconds, annotators_per_article=2)
    with app.app_context():
        reviewer = User(name="rita", role="reviewer")
        db.session.add(reviewer)
        db.session.flush()
        # human gold on item 4 (only ben and cat disagree there) and item 2
        db.session.add(GoldLabel(sentence_id=seeded.sentences[4], label="NFS", provenance="adjudicated", reviewer_id=reviewer.id))
        db.session.add(GoldLabel(sentence_id=seeded.sentences[2], label="CFS", provenance="imported"))
        db.session.commit()
        rows = {r["annotator"]: r for r in agreement.summary(db.session, seeded.project_id)["annotator_figures"]}
    ann = rows["ann"]
    assert ann["n_items"] == 5 and ann["median_seconds"] == 7.0
    assert rows["cat"]["median_seconds"] == 1.0 and rows["ben"]["n_items"] == 4
    # ann's pairs with others: item0 (ben agree, cat not), item1 (2 agree), item2 (ben not), item3 (cat agree)
    assert ann["pair_agreement"] == {"value": 4 / 6, "n_pairs": 6, "n_agreeing_pairs": 4, "reason": None}
    # three sentences with ben and three with cat: too few for a mean kappa (its weighing: test_agreement_reference)
    assert ann["mean_kappa"] == {"value": None, "n_pairs": 2, "n_defined": 2, "n_sentences": 6,
                                 "reason": "6 shared sentences: fewer than 10, too few for a figure"}
    without = ag.krippendorff_alpha([{k: v for k, v in r.items() if k != "ann"} for r in ratings])
    assert close(ann["alpha_without"]["value"], without.value)
    assert close(ann["alpha_without"]["delta"], ag.krippendorff_alpha(ratings).value - without.value)
    # gold: unanimous items 1 (UFS) and 3 (NFS) by the rule, item2 imported CFS, item4 adjudicated NFS
    assert ann["gold"]["n"] == 3 and ann["gold"]["n_agree"] == 2  # items 1 and 3 agree, item2 NFS vs CFS
    assert rows["cat"]["gold"]["n"] == 3 and rows["cat"]["gold"]["n_agree"] == 3  # items 1, 3, 4
    assert rows["ben"]["adjudicated"] == {**rows["ben"]["adjudicated"], "n": 2, "n_agree": 1}  # item2 CFS yes, item4 UFS no
    assert rows["ann"]["adjudicated"]["n"] == 1 and rows["ann"]["adjudicated"]["n_agree"] == 0


def test_gold_figures_follow_majority_setting_without_a_write(app):
    ratings = [{"a": "CFS", "b": "CFS", "c": "UFS"}, {"a": "NFS", "b": "NFS", "c": "NFS"}]
    seeded = seed(app, ratings, annotators_per_article=3)
    with app.app_context():
        before = agreement.summary(db.session, seeded.project_id)
        assert before["gold"] == {"unanimous": 1, "majority": 0, "adjudicated": 0, "imported": 0}
        project = db.session.get(Project, seeded.project_id)
        begin_write(db.session)
        projects.update_project(db.session, project, majority_threshold=0.6)
        db.session.commit()
        revision = project.revision
        after = agreement.summary(db.session, seeded.project_id)
    assert after["project"]["revision"] == revision == before["project"]["revision"]  # no annotation write
    assert after["gold"]["majority"] == 1  # the settings fingerprint is part of the key


# ----------------------------------------------------------------- one query, integer columns
def test_labels_come_from_one_query(app):
    seeded = seed(app, random_ratings(30, ["x", "y"], 0.1), [i // 10 for i in range(30)])
    statements = []
    with app.app_context():
        head = agreement.project_head(db.session, seeded.project_id)

        @event.listens_for(db.engine, "before_cursor_execute")
        def record(conn, cursor, statement, *args):  # noqa: ANN001
            statements.append(statement)

        try:
            labels = loaders.load_labels(db.session, head)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    touching = [s for s in statements if "annotations" in s]
    assert len(touching) == 1 and "JOIN sentences" in touching[0] and "JOIN articles" in touching[0]
    assert labels.codes.dtype.kind == "i" and labels.codes.shape == (30, 2)
    assert list(labels.sentence_ids) == sorted(seeded.sentences)


def test_packed_and_plain_row_reading_agree(app, monkeypatch):
    seeded = seed(app, random_ratings(50, ["x", "y", "z"], 0.2), [i // 10 for i in range(50)],
                  seconds={n: [i * 1.5 for i in range(50)] for n in ("x", "y", "z")})
    with app.app_context():
        head = agreement.project_head(db.session, seeded.project_id)
        packed = loaders.load_labels(db.session, head)
        monkeypatch.setattr(loaders, "_fetch_packed", lambda *a, **k: None)  # as if an id did not fit the packing
        plain = loaders.load_labels(db.session, head)
    for attr in ("sentence_ids", "article_ids", "user_ids", "codes"):
        assert np.array_equal(getattr(packed, attr), getattr(plain, attr)), attr
    assert np.array_equal(packed.seconds, plain.seconds, equal_nan=True) and np.nanmax(packed.seconds) == 73.5
    assert packed.names == plain.names == ["x", "y", "z"]


def test_unknown_stored_label_becomes_an_extra_category(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "UFS"}])
    with app.app_context():
        db.session.execute(Annotation.__table__.update().where(Annotation.sentence_id == seeded.sentences[1]).values(label="OLD"))
        db.session.commit()
        labels = loaders.load_labels(db.session, agreement.project_head(db.session, seeded.project_id))
    assert labels.matrix.categories == LABELS + ["OLD"]
    assert labels.codes[1].tolist() == [3, 3]


# ----------------------------------------------------------------- the cache
def _entries(app, project_id):
    with app.app_context():
        return db.session.execute(select(CacheEntry.key, CacheEntry.revision).where(CacheEntry.project_id == project_id)).all()


def test_cache_hit_then_invalidated_by_a_label_write(app, monkeypatch):
    ratings = [{"ann": "CFS", "ben": "UFS"}, {"ann": "NFS", "ben": "NFS"}, {"ann": "UFS", "ben": "UFS"}]
    seeded = seed(app, ratings, [0, 0, 1], assign=True)
    with app.app_context():
        first = agreement.summary(db.session, seeded.project_id)
        revision = first["project"]["revision"]
    assert [r for _, r in _entries(app, seeded.project_id)] == [revision]

    real = cache.compute_summary
    calls = []
    monkeypatch.setattr(cache, "compute_summary", lambda *a, **k: calls.append(1) or real(*a, **k))
    with app.app_context():
        assert agreement.summary(db.session, seeded.project_id) == first
    assert calls == []  # served from cache_entries

    # a label written through the real write path bumps the revision in the same transaction
    with app.app_context():
        annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["ben"], seeded.articles[0], 0, "CFS"))
        assert db.session.scalar(select(Project.revision).where(Project.id == seeded.project_id)) == revision + 1
        second = agreement.summary(db.session, seeded.project_id)
    assert calls == [1]
    assert second["project"]["revision"] == revision + 1
    assert second["overall"]["percent_agreement"]["value"] == 1.0 != first["overall"]["percent_agreement"]["value"]
    assert [r for _, r in _entries(app, seeded.project_id)] == [revision + 1]  # the stale entry is gone


def test_cache_is_shared_by_workers_and_invalidated_across_them(database_uri, monkeypatch):
    # two app instances on one database stand for two gunicorn workers (or hosts)
    worker_a, worker_b = make_app(database_uri), make_app(database_uri, create=False)
    try:
        seeded = seed(worker_a, [{"ann": "CFS", "ben": "UFS"}, {"ann": "NFS", "ben": "NFS"}], assign=True)
        with worker_a.app_context():
            a1 = agreement.summary(db.session, seeded.project_id)
        real = cache.compute_summary
        calls = []
        monkeypatch.setattr(cache, "compute_summary", lambda *a, **k: calls.append(1) or real(*a, **k))
        with worker_b.app_context():
            assert agreement.summary(db.session, seeded.project_id) == a1  # B reads what A computed
            annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["ann"], seeded.articles[0], 0, "UFS"))
        assert calls == []
        with worker_a.app_context():
            a2 = agreement.summary(db.session, seeded.project_id)  # A sees B's write through the revision
        assert calls == [1] and a2["overall"]["percent_agreement"]["value"] == 1.0
    finally:
        for app in (worker_a, worker_b):
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_figures_are_served_when_the_cache_cannot_be_written(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "NFS"}])

    def busy(*_a, **_k):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(cache, "_insert_ignoring_conflict", busy)
    with app.app_context():
        got = agreement.summary(db.session, seeded.project_id)
    assert got["overall"]["percent_agreement"]["value"] == 0.5
    assert _entries(app, seeded.project_id) == []


def test_use_cache_false_computes_and_stores_nothing(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}])
    with app.app_context():
        agreement.summary(db.session, seeded.project_id, use_cache=False)
    assert _entries(app, seeded.project_id) == []


# ----------------------------------------------------------------- undefined cases
def test_undefined_cases_have_reasons(app):
    one_label = seed(app, [{"a": "NFS", "b": "NFS"}, {"a": "NFS", "b": "NFS"}], [0, 1], name="one label")
    apart = seed(app, [{"c": "CFS"}, {"d": "UFS"}], [0, 1], name="apart")
    with app.app_context():
        empty = projects.create_project(db.session, "empty", CLAIMS)
        db.session.commit()
        s1 = agreement.summary(db.session, one_label.project_id)
        s2 = agreement.summary(db.session, apart.project_id)
        s3 = agreement.summary(db.session, empty.id)
    alpha = s1["overall"]["krippendorff_alpha"]
    assert alpha["value"] is None and "only one category" in alpha["reason"] and alpha["ci"] is None
    assert s1["overall"]["percent_agreement"]["value"] == 1.0
    assert s2["overall"]["krippendorff_alpha"]["value"] is None and "two or more" in s2["overall"]["krippendorff_alpha"]["reason"]
    assert "share no item" in s2["cohen_kappa"]["pairs"][0]["reason"]
    assert s2["spans"]["pairs"][0]["reason"] == "these annotators share no article"
    assert s3["n_items"] == 0 and s3["overall"]["gwet_ac1"]["reason"] == "no items" and s3["annotator_figures"] == []
    for row in s2["annotator_figures"]:
        assert row["pair_agreement"]["value"] is None and row["pair_agreement"]["reason"]
        assert row["gold"]["value"] is None and row["gold"]["reason"]


def test_unknown_project(app):
    with app.app_context():
        with pytest.raises(agreement.ProjectNotFound):
            agreement.summary(db.session, 999)
        with pytest.raises(agreement.ProjectNotFound):
            agreement.project_head(db.session, 2**40)


# ----------------------------------------------------------------- spans and relations
def test_span_and_relation_figures_equal_agreement_module(app):
    ratings = [{"ann": "CFS", "ben": "CFS", "cat": "UFS"}] * 2 + [{"ann": "NFS", "ben": "NFS"}] * 2 + [{"cat": "UFS"}]
    seeded = seed(app, ratings, [0, 0, 1, 1, 2])
    spans = [
        ("ann", 0, "QUOTE", 0, 10), ("ann", 0, "SOURCE", 12, 20), ("ann", 1, "QUOTE", 5, 9),
        ("ben", 0, "QUOTE", 0, 10), ("ben", 0, "SOURCE", 13, 20), ("ben", 1, "QUOTE", 6, 9), ("ben", 1, "CUE", 1, 3),
        ("cat", 0, "QUOTE", 2, 8), ("cat", 2, "QUOTE", 0, 4),
    ]
    links = [("attributed_to", 0, 1), ("attributed_to", 3, 4)]
    add_spans(app, seeded, spans, links)
    with app.app_context():
        got = agreement.summary(db.session, seeded.project_id)
    art = seeded.articles
    as_tuples = {who: [(art[a], lab, s, e) for w, a, lab, s, e in spans if w == who] for who in ("ann", "ben", "cat")}
    pairs = {(p["a"], p["b"]): p for p in got["spans"]["pairs"]}
    # ann and ben share articles 0 and 1; cat shares only article 0 with them (article 2 is cat's alone)
    assert pairs[("ann", "ben")]["n_shared_articles"] == 2 and pairs[("ann", "cat")]["n_shared_articles"] == 1
    for mode in ("exact", "overlap"):
        ref = ag.span_f1_per_label(as_tuples["ann"], as_tuples["ben"], mode, labels=["QUOTE", "SOURCE", "CUE"])
        for label, res in ref.items():
            assert pairs[("ann", "ben")]["per_label"][label][mode] == res.to_dict()
        cat_shared = [s for s in as_tuples["cat"] if s[0] == art[0]]
        ann_shared = [s for s in as_tuples["ann"] if s[0] == art[0]]
        ref_cat = ag.span_f1(ann_shared, cat_shared, mode)
        assert pairs[("ann", "cat")]["overall"][mode] == ref_cat.to_dict()
    assert pairs[("ann", "ben")]["per_label"]["QUOTE"]["exact"]["tp"] == 1
    assert pairs[("ann", "ben")]["per_label"]["QUOTE"]["overlap"]["tp"] == 2
    pooled = got["spans"]["pooled"]["QUOTE"]["overlap"]
    assert pooled["tp"] == sum(pairs[p]["per_label"]["QUOTE"]["overlap"]["tp"] for p in pairs)
    rel = {(p["a"], p["b"]): p for p in got["relations"]["pairs"]}[("ann", "ben")]["per_type"]["attributed_to"]
    ra = [((art[0], "QUOTE", 0, 10), (art[0], "SOURCE", 12, 20))]
    rb = [((art[0], "QUOTE", 0, 10), (art[0], "SOURCE", 13, 20))]
    assert rel["f1"] == ag.relation_f1(ra, rb).to_dict() and rel["f1"]["f1"] == 1.0
    ref_attr = ag.attribution_agreement(
        ra, rb,
        quotes_a=[s for s in as_tuples["ann"] if s[1] == "QUOTE"], quotes_b=[s for s in as_tuples["ben"] if s[1] == "QUOTE"],
        sources_a=[s for s in as_tuples["ann"] if s[1] == "SOURCE"], sources_b=[s for s in as_tuples["ben"] if s[1] == "SOURCE"],
    )
    assert rel["attribution"] == ref_attr.to_dict() and rel["attribution"]["n_quotes_matched"] == 2
    assert got["relations"]["pooled"]["attributed_to"]["f1"]["tp"] == 1


def test_links_nobody_made_are_undefined_for_want_of_links_not_of_spans(app):
    """Two annotators marked quotes and sources but linked none: the pooled link F1 is undefined because nobody made a
    link (the agreement page said "neither annotator marked any span" beside the spans it counted)."""
    seeded = seed(app, [{"ann": "CFS", "ben": "CFS"}] * 2, [0, 0])
    add_spans(app, seeded, [("ann", 0, "QUOTE", 0, 10), ("ann", 0, "SOURCE", 12, 20), ("ben", 0, "QUOTE", 0, 10)], [])
    with app.app_context():
        got = agreement.summary(db.session, seeded.project_id)
    pooled = got["relations"]["pooled"]["attributed_to"]["f1"]
    assert pooled["f1"] is None
    assert pooled["reason"] == "neither annotator marked any relation"
    pair = got["relations"]["pairs"][0]["per_type"]["attributed_to"]["f1"]
    assert pair["reason"] == pooled["reason"]


# ----------------------------------------------------------------- per article
def test_article_figures_equal_agreement_module(app):
    names = ["p", "q", "r"]
    ratings = random_ratings(60, names, 0.2, seed_=3)
    groups = [i // 12 for i in range(60)]
    ratings[:12] = [{"p": "NFS", "q": "NFS"}] * 12  # article 0: one label only -> alpha undefined
    seeded = seed(app, ratings, groups)
    with app.app_context():
        rows = {r["external_id"]: r for r in agreement.articles(db.session, seeded.project_id)}
    for a in range(5):
        items = [r for r, g in zip(ratings, groups, strict=True) if g == a]
        row = rows[f"a{a}"]
        ref_alpha, ref_pa = ag.krippendorff_alpha(items), ag.percent_agreement(items)
        assert close(row["krippendorff_alpha"]["value"], ref_alpha.value, 1e-9), a
        assert close(row["percent_agreement"]["value"], ref_pa.value, 1e-9), a
        assert row["n_items"] == 12 == row["n_sentences"]
    assert rows["a0"]["krippendorff_alpha"]["value"] is None and "only one label" in rows["a0"]["krippendorff_alpha"]["reason"]
    assert rows["a0"]["n_annotators"] == 2 and rows["a1"]["n_annotators"] == 3


# ----------------------------------------------------------------- disagreements
def test_disagreement_rows_order_and_span_link_disputes(app):
    ratings = [
        {"ann": "CFS", "ben": "CFS"},  # 0: agree on label, but spans differ
        {"ann": "CFS", "ben": "NFS"},  # 1: label disagreement
        {"ann": "UFS", "ben": "UFS"},  # 2: full agreement (same spans and link)
        {"ann": "UFS", "ben": "UFS", "cat": "NFS"},  # 3: 1/3 of pairs agree
        {"ann": "NFS"},  # 4: one annotator: never disputed
    ]
    seeded = seed(app, ratings, [0, 0, 0, 0, 0], extra_users=())
    (s0, _), (s2, _), (s4, _) = seeded.offsets[0], seeded.offsets[2], seeded.offsets[4]
    add_spans(
        app, seeded,
        [("ann", 0, "QUOTE", s0, s0 + 5), ("ben", 0, "QUOTE", s0, s0 + 6),
         ("ann", 0, "QUOTE", s2, s2 + 5), ("ann", 0, "SOURCE", s2 + 7, s2 + 9),
         ("ben", 0, "QUOTE", s2, s2 + 5), ("ben", 0, "SOURCE", s2 + 7, s2 + 9),
         ("ann", 0, "QUOTE", s4, s4 + 3)],
        [("attributed_to", 2, 3), ("attributed_to", 4, 5)],
    )
    with app.app_context():
        rows = agreement.disagreements(db.session, seeded.project_id)
    order = [seeded.sentences.index(r["sentence_id"]) for r in rows]
    assert order == [1, 3, 0]
    by_item = {seeded.sentences.index(r["sentence_id"]): r for r in rows}
    assert by_item[1]["label_agreement"] == 0.0 and by_item[1]["labels"] == {"CFS": 1, "NFS": 1}
    assert close(by_item[3]["label_agreement"], 1 / 3)
    assert by_item[0]["label_agreement"] == 1.0 and by_item[0]["span_disputes"] == 2 and by_item[0]["link_disputes"] == 0
    assert by_item[0]["index"] == 0 and by_item[3]["n_annotators"] == 3


def test_disagreement_rows_count_a_link_only_difference(app):
    ratings = [{"ann": "UFS", "ben": "UFS"}]
    seeded = seed(app, ratings)
    s, _ = seeded.offsets[0]
    add_spans(
        app, seeded,
        [("ann", 0, "QUOTE", s, s + 5), ("ann", 0, "SOURCE", s + 7, s + 9), ("ben", 0, "QUOTE", s, s + 5), ("ben", 0, "SOURCE", s + 7, s + 9)],
        [("attributed_to", 0, 1)],
    )
    with app.app_context():
        rows = agreement.disagreements(db.session, seeded.project_id)
    assert len(rows) == 1 and rows[0]["span_disputes"] == 0 and rows[0]["link_disputes"] == 1


def test_summary_counts_sentences_without_labels(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {}])
    with app.app_context():
        got = agreement.summary(db.session, seeded.project_id)
        n = db.session.scalar(select(func.count(Sentence.id)))
    assert got["n_sentences"] == n == 2 and got["n_items"] == 1


# ----------------------------------------------------------------- the command
def test_cli_agreement_table_json_and_by(app, runner):
    import json

    names = ["ann", "ben", "cat"]
    seed(app, random_ratings(40, names, 0.1), [i // 4 for i in range(40)], name="Daily news", annotators_per_article=3)
    result = runner.invoke(args=["agreement", "Daily news"])
    assert result.exit_code == 0, result.output
    assert "Krippendorff's alpha" in result.output and "95% CI" in result.output and "Cohen's kappa per annotator pair" in result.output
    with app.app_context():
        expected = agreement.summary(db.session, projects.get_project(db.session, "Daily news").id)
    alpha = expected["overall"]["krippendorff_alpha"]
    assert f"{alpha['value']:.3f}" in result.output and f"[{alpha['ci'][0]:.3f}, {alpha['ci'][1]:.3f}]" in result.output

    doc = json.loads(runner.invoke(args=["agreement", "Daily news", "--json"]).output)
    assert doc["overall"]["krippendorff_alpha"] == alpha and doc["overall"]["fleiss_kappa"]["n_left_out"] >= 0
    assert doc["overall"]["gwet_ac1"]["ci_info"]["n_resamples"] == 1000 and doc["cohen_kappa"]["pairs"][0]["per_pair"]

    by_label = runner.invoke(args=["agreement", "Daily news", "--by", "label"])
    assert by_label.exit_code == 0 and "Alpha (1 vs rest)" in by_label.output and "CFS" in by_label.output
    by_annotator = runner.invoke(args=["agreement", "Daily news", "--by", "annotator"])
    assert by_annotator.exit_code == 0 and "Median s" in by_annotator.output and "cat" in by_annotator.output
    by_article = runner.invoke(args=["agreement", str(expected["project"]["id"]), "--by", "article", "--json"])
    articles = json.loads(by_article.output)["articles"]
    assert len(articles) == 10 and all("krippendorff_alpha" in a for a in articles)
    text = runner.invoke(args=["agreement", "Daily news", "--by", "article"]).output
    assert "a9" in text and "Why undefined" in text
    assert "95% intervals: percentile bootstrap over 10 articles, 1000 resamples, seed 13." in result.output


def test_cli_agreement_gives_no_interval_from_four_articles_and_says_why(app, runner):
    """The README's demo has four articles: its kappa 0.578 came with 0.558 - 0.588, resampling four articles. The
    table shows no interval and one line why; --json has the reason for each figure and in the bootstrap block."""
    import json

    names = ["ann", "ben"]
    seed(app, random_ratings(32, names, 0.0), [i // 8 for i in range(32)], name="Four")
    result = runner.invoke(args=["agreement", "Four", "--by", "label"])
    assert result.exit_code == 0, result.output
    reason = ("only 4 articles have a sentence labelled by two or more annotators: an interval needs at least 10 such articles, "
              "as a bootstrap over fewer gives one narrower than the uncertainty")
    assert f"No 95% intervals: {reason}." in result.output and "percentile bootstrap over" not in result.output
    assert "[" not in result.output  # no interval anywhere, the per-label table's included
    doc = json.loads(runner.invoke(args=["agreement", "Four", "--json"]).output)
    assert doc["bootstrap"] == {"n_resamples": 1000, "seed": 13, "confidence": 0.95, "unit": "article", "n_articles": 4,
                                "n_informative": 4, "min_articles": 10, "reason": reason}
    for key in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha"):
        r = doc["overall"][key]
        own = reason.replace("two or more", "exactly 2") if key == "fleiss_kappa" else reason  # its sentences: those with 2 labels
        assert r["value"] is not None and r["ci"] is None and r["ci_info"]["reason"] == own
    pair = doc["cohen_kappa"]["pairs"][0]
    assert pair["ci"] is None and pair["ci_info"]["reason"] == reason.replace("labelled by two or more annotators", "both annotators labelled")


def test_cli_agreement_says_why_fleiss_kappa_alone_has_no_interval(app, runner):
    """Ten articles labelled by ann and ben, two of them by cat too: the project's three annotators per article make
    Fleiss' kappa take the sentences with three labels, in two articles: no interval for it alone, and a line why."""
    ratings = [{"ann": "CFS" if i % 3 else "NFS", "ben": "CFS" if i % 4 else "NFS"} for i in range(40)]
    for i in range(8):
        ratings[i]["cat"] = ratings[i]["ann"]
    seed(app, ratings, [i // 4 for i in range(40)], name="Cat", annotators_per_article=3)
    output = runner.invoke(args=["agreement", "Cat"]).output
    assert "95% intervals: percentile bootstrap over 10 articles" in output
    assert ("  Fleiss' kappa (3 per sentence): no interval: only 2 articles have a sentence labelled by exactly 3 annotators: "
            "an interval needs at least 10 such articles") in output
    assert output.count("no interval") == 1


def test_cli_agreement_says_after_how_many_saves_not_revision(app, runner):
    seeded = seed(app, [{"ann": "CFS", "ben": "NFS"}, {"ann": "NFS", "ben": "NFS"}], name="Harbour")
    with app.app_context():
        db.session.execute(Project.__table__.update().where(Project.id == seeded.project_id).values(revision=56))
        db.session.commit()
    first = runner.invoke(args=["agreement", "Harbour"]).output.splitlines()[0]
    assert "revision" not in first and "after 56 saves" in first, first


def test_cli_agreement_unknown_project_is_one_line(runner):
    result = runner.invoke(args=["agreement", "No such project"])
    assert result.exit_code != 0
    assert "no project named 'No such project'" in result.output and result.output.strip().count("\n") == 0
    assert runner.invoke(args=["agreement", "x", "--by", "week"]).exit_code != 0


def test_span_sentence_rows_match_a_plain_loop():
    rng = np.random.default_rng(5)
    ids, arts, idx, starts, ends = [], [], [], [], []
    for a in (3, 7, 9):  # articles with consecutive sentences and gaps between them
        pos = 0
        for i in range(6):
            pos += int(rng.integers(0, 3))
            length = int(rng.integers(1, 12))
            ids.append(len(ids) + 1); arts.append(a); idx.append(i); starts.append(pos); ends.append(pos + length)
            pos += length
    sentences = loaders.SentenceRows(*(np.array(x, dtype=np.int64) for x in (ids, arts, idx, starts, ends)))
    span_arts = rng.choice([3, 7, 9, 4], size=300)
    span_starts = rng.integers(0, 60, size=300)
    span_ends = span_starts + rng.integers(1, 25, size=300)
    k, rows = loaders.span_sentence_rows(sentences, span_arts, span_starts, span_ends)
    got = sorted(zip(k.tolist(), rows.tolist(), strict=True))
    expected = sorted(
        (j, r) for j in range(300) for r in range(len(ids))
        if arts[r] == span_arts[j] and starts[r] < span_ends[j] and ends[r] > span_starts[j]
    )
    assert got == expected and len(expected) > 100
    whole_article = loaders.span_sentence_rows(sentences, np.array([7]), np.array([0]), np.array([1000]))[1]
    assert whole_article.tolist() == [r for r in range(len(ids)) if arts[r] == 7]


def test_a_span_across_sentences_is_one_dispute_and_one_span(app):
    """A quote running from sentence 0 into sentence 1 that only ann marked is one disputed span, in the
    sentence it starts in, not one in each; span agreement compares it once, as a whole span."""
    ratings = [{"ann": "CFS", "ben": "CFS"}, {"ann": "CFS", "ben": "CFS"}, {"ann": "NFS", "ben": "NFS"}]
    seeded = seed(app, ratings)
    (s0, e0), (s1, e1), (s2, _) = seeded.offsets
    across = (s0 + 9, s1 + 8)
    add_spans(app, seeded, [
        ("ann", 0, "QUOTE", *across), ("ann", 0, "SOURCE", s2, s2 + 8),  # ann links the crossing quote to a source
        ("ben", 0, "QUOTE", *across),  # ben marks the same quote, with no link
        ("ben", 0, "CUE", s0 + 2, s1 + 3),  # ben's cue also crosses: marked by ben only
    ], [("attributed_to", 0, 1)])
    with app.app_context():
        rows = agreement.disagreements(db.session, seeded.project_id)
        summary = agreement.summary(db.session, seeded.project_id)
    by_item = {seeded.sentences.index(r["sentence_id"]): r for r in rows}
    assert sorted(by_item) == [0, 2]  # sentence 1 is not disputed: both crossing spans start in sentence 0
    assert by_item[0]["span_disputes"] == 1 and by_item[0]["link_disputes"] == 1  # ben's cue; ann's link
    assert by_item[2]["span_disputes"] == 1 and by_item[2]["link_disputes"] == 0  # ann's source
    (pair,) = summary["spans"]["pairs"]
    quote = pair["per_label"]["QUOTE"]["exact"]
    assert (quote["tp"], quote["fp"], quote["fn"]) == (1, 0, 0)
    assert pair["per_label"]["CUE"]["exact"]["fn"] + pair["per_label"]["CUE"]["exact"]["fp"] == 1
    assert summary["spans"]["n_spans"] == 4


def test_articles_imported_after_the_figures_were_cached_are_counted(app):
    """Found walking the app: after uploading more articles the agreement page kept the old
    sentence count ("20 of 231 sentences labelled") until someone saved a label; an import makes new figures."""
    from annotator.db.models import Project
    from annotator.domain.dataset.articles import store_articles
    from annotator.domain.dataset.ingest import ArticleRecord

    seeded = seed(app, [{"ann": "CFS", "ben": "NFS"}, {"ann": "NFS", "ben": "NFS"}], name="Harbour")
    with app.app_context():
        before = agreement.summary(db.session, seeded.project_id)
        project = db.session.get(Project, seeded.project_id)
        store_articles(db.session, project, [ArticleRecord("late", "Late", "Ferries ran late. Nobody knew why.")], "late.txt")
        db.session.commit()
        after = agreement.summary(db.session, seeded.project_id)
        assert after["n_sentences"] == before["n_sentences"] + 2
        # a big file goes through staged chunks, published in one last transaction: that one makes new figures too
        from annotator.domain.dataset.articles import import_records

        project = db.session.get(Project, seeded.project_id)
        big = [ArticleRecord(f"big{i}", "", f"Story {i} ran. It ended.") for i in range(3)]
        import_records(db.session, project, big, "big.jsonl", chunk_articles=1)
        assert db.session.scalar(select(func.count()).select_from(Article).where(Article.external_id.like("big%"), Article.staged_import.is_not(None))) == 3  # staged, then published
        assert agreement.summary(db.session, seeded.project_id)["n_sentences"] == after["n_sentences"] + 6
