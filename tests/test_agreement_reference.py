"""The project's figures (domain.agreement, from the database) on small hand-built cases, checked against the
reference libraries directly: krippendorff (alpha, alpha per label, per article, without an annotator),
scikit-learn (Cohen's kappa per pair and against gold), statsmodels (Fleiss' kappa). The cases have missing
labels, an annotator who labelled one sentence only, and articles of different sizes."""
from __future__ import annotations

import math

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from annotator.db import db
from annotator.domain import agreement

from .test_project_agreement import LABELS, seed

# item i is a sentence of article GROUPS[i]; dan labelled one sentence only
RATINGS = [
    {"ann": "CFS", "ben": "CFS", "cat": "UFS"},
    {"ann": "NFS", "ben": "NFS", "cat": "NFS"},
    {"ann": "UFS", "ben": "CFS"},
    {"ann": "NFS", "cat": "NFS", "dan": "CFS"},
    {"ben": "NFS", "cat": "UFS"},
    {"ann": "CFS"},
    {"ann": "CFS", "ben": "CFS", "cat": "CFS"},
    {"ann": "NFS", "ben": "UFS", "cat": "NFS"},
    {"ann": "UFS", "ben": "UFS"},
    {"ben": "NFS", "cat": "NFS"},
    {"ann": "NFS", "ben": "NFS", "cat": "CFS"},
    {"cat": "UFS"},
]
GROUPS = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
NAMES = ["ann", "ben", "cat", "dan"]


def reliability(items: list[dict[str, str]], names: list[str], code=None) -> np.ndarray:
    """krippendorff's layout: one row per annotator, one column per item, NaN where missing."""
    code = code or (lambda label: LABELS.index(label))
    return np.array([[code(it[n]) if n in it else np.nan for it in items] for n in names], dtype=float)


def ref_alpha(items, names=NAMES, code=None) -> float | None:
    data = reliability(items, names, code)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = set(data[:, pairable][~np.isnan(data[:, pairable])].tolist())
    if len(values) < 2:
        return None
    return krippendorff.alpha(reliability_data=data[:, pairable], level_of_measurement="nominal")


def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, abs_tol=tol)


def test_label_pair_and_annotator_figures_equal_the_reference_libraries(app):
    seeded = seed(app, RATINGS, GROUPS, annotators_per_article=3)
    with app.app_context():
        s = agreement.summary(db.session, seeded.project_id)
    assert s["annotators"] == NAMES and s["n_items"] == 12 and s["n_pairable"] == 10
    assert close(s["overall"]["krippendorff_alpha"]["value"], ref_alpha(RATINGS))
    # per label: that label against the rest
    for row in s["per_label"]:
        label = row["label"]
        assert close(row["alpha"]["value"], ref_alpha(RATINGS, code=lambda x, label=label: float(x == label))), label
    # Fleiss' kappa over the sentences labelled by exactly three
    three = [it for it in RATINGS if len(it) == 3]
    table, _ = aggregate_raters(np.array([[LABELS.index(v) for v in it.values()] for it in three]), n_cat=3)
    assert s["fleiss_n_raters"] == 3 and close(s["overall"]["fleiss_kappa"]["value"], sm_fleiss_kappa(table, method="fleiss"))
    # Cohen's kappa of every pair on the sentences both labelled (dan shares one sentence with ann and with cat)
    for pair in s["cohen_kappa"]["pairs"]:
        shared = [it for it in RATINGS if pair["a"] in it and pair["b"] in it]
        assert pair["n_items_used"] == len(shared), pair
        a, b = [it[pair["a"]] for it in shared], [it[pair["b"]] for it in shared]
        if len(set(a) | set(b)) < 2:
            assert pair["value"] is None and pair["reason"], pair
            continue
        # fewer than 10 shared sentences: no figure, but p_o and p_e, which give it, stay
        assert pair["value"] is None and pair["reason"].endswith("too few for a figure"), pair
        p_o, p_e = pair["details"]["p_o"], pair["details"]["p_e"]
        assert close((p_o - p_e) / (1 - p_e), cohen_kappa_score(a, b, labels=LABELS)), pair
    # per annotator: alpha without them; dan's one sentence
    for row in s["annotator_figures"]:
        others = [n for n in NAMES if n != row["annotator"]]
        assert close(row["alpha_without"]["value"], ref_alpha([{k: v for k, v in it.items() if k != row["annotator"]} for it in RATINGS], others))
    dan = next(r for r in s["annotator_figures"] if r["annotator"] == "dan")
    assert dan["n_items"] == 1 and dan["n_items_shared"] == 1
    assert dan["pair_agreement"] == {"value": 0.0, "n_pairs": 2, "n_agreeing_pairs": 0, "reason": None}


def test_article_figures_equal_the_reference_libraries(app):
    seeded = seed(app, RATINGS, GROUPS, annotators_per_article=3)
    with app.app_context():
        rows = {r["external_id"]: r for r in agreement.articles(db.session, seeded.project_id)}
    for a in range(3):
        items = [it for it, g in zip(RATINGS, GROUPS, strict=True) if g == a]
        row = rows[f"a{a}"]
        assert close(row["krippendorff_alpha"]["value"], ref_alpha(items)), a
        pairable = [it for it in items if len(it) >= 2]
        shares = [sum(x == y for i, x in enumerate(it.values()) for y in list(it.values())[i + 1:]) / math.comb(len(it), 2) for it in pairable]
        assert close(row["percent_agreement"]["value"], sum(shares) / len(shares)), a
        assert row["n_items"] == len(items) and row["n_pairable"] == len(pairable)
        assert row["n_annotators"] == len({n for it in items for n in it})


def test_spans_are_compared_on_the_sentences_both_annotators_labelled(app):
    """ben has labelled only the first of article 0's four sentences (he is still at it); ann marked a quote and its
    source in its third sentence. Span F1 compared the pair on whole articles "both worked on", so ann's quote counted
    as one ben missed: QUOTE F1 6/7 instead of 1, while the disagreement queue (sentences two or more labelled) shows
    no dispute there. Now a pair's spans count where they touch a sentence both labelled (a quote across sentences
    5-6 of article 1 counts once, whole), or anywhere in the article when one of them labelled none of it (spans-only
    work, such as cat's)."""
    from .test_project_agreement import add_spans

    ratings = [{"ann": "CFS", "ben": "CFS"}, {"ann": "NFS"}, {"ann": "CFS"}, {"ann": "NFS"},
               {"ann": "CFS", "ben": "CFS"}, {"ann": "UFS", "ben": "UFS"}]
    seeded = seed(app, ratings, [0, 0, 0, 0, 1, 1], extra_users=("cat",))
    (q0, _), (s4, _), (s5, _) = seeded.offsets[2], seeded.offsets[4], seeded.offsets[5]
    across = (s4 + 2, s5 + 8)  # a quote from sentence 5 into sentence 6 (item 4 into item 5)
    add_spans(app, seeded, [
        ("ann", 0, "QUOTE", q0 + 2, q0 + 10), ("ann", 0, "SOURCE", q0, q0 + 1),  # 0, 1: where ben has not been yet
        ("ann", 1, "QUOTE", *across), ("ann", 1, "SOURCE", s4, s4 + 8),  # 2, 3
        ("ben", 1, "QUOTE", *across), ("ben", 1, "SOURCE", s4, s4 + 5),  # 4, 5: his source overlaps ann's, not exactly
        ("cat", 1, "QUOTE", *across),  # 6: cat marked spans, labelled nothing
    ], [("attributed_to", 0, 1), ("attributed_to", 2, 3), ("attributed_to", 4, 5)])
    with app.app_context():
        s = agreement.summary(db.session, seeded.project_id)
        queue = agreement.disagreements(db.session, seeded.project_id)
    assert not [r for r in queue if r["article_id"] == seeded.articles[0]]
    quote = s["spans"]["pooled"]["QUOTE"]["exact"]
    assert (quote["tp"], quote["fp"], quote["fn"], quote["f1"]) == (3, 0, 0, 1.0)
    pair = next(p for p in s["spans"]["pairs"] if (p["a"], p["b"]) == ("ann", "ben"))
    source = pair["per_label"]["SOURCE"]
    assert (source["exact"]["tp"], source["exact"]["fp"], source["exact"]["fn"]) == (0, 1, 1)
    assert (source["overlap"]["tp"], source["overlap"]["fp"], source["overlap"]["fn"]) == (1, 0, 0)
    rel = next(p for p in s["relations"]["pairs"] if (p["a"], p["b"]) == ("ann", "ben"))["per_type"]["attributed_to"]
    assert rel["f1"]["n_a"] == 1 and rel["f1"]["n_b"] == 1
    assert rel["attribution"]["n_quotes_a"] == 1 and rel["attribution"]["n_considered"] == 1 and rel["attribution"]["value"] == 1.0
    # cat against ann: article 1 whole (cat labelled none of it): the quote matches, ann's source is unmatched
    cat = next(p for p in s["spans"]["pairs"] if (p["a"], p["b"]) == ("ann", "cat"))
    assert cat["n_shared_articles"] == 1 and cat["per_label"]["QUOTE"]["exact"]["tp"] == 1
    assert (cat["per_label"]["SOURCE"]["exact"]["fp"], cat["per_label"]["SOURCE"]["exact"]["fn"]) == (1, 0)


def test_mean_kappa_weighs_each_pair_by_the_sentences_it_shares(app):
    """dan labelled one sentence, which ann labelled too, differently: their kappa is 0 (p_o = p_e = 0) from one
    sentence, and ann's mean Cohen's kappa averaged it equally with her kappas over 6 and 7 shared sentences
    (0.325 instead of 0.459). Each pair's kappa now weighs as the sentences the pair shares."""
    seeded = seed(app, RATINGS, GROUPS, annotators_per_article=3)
    with app.app_context():
        s = agreement.summary(db.session, seeded.project_id)
    ann = next(r for r in s["annotator_figures"] if r["annotator"] == "ann")
    shared = {other: [it for it in RATINGS if "ann" in it and other in it] for other in ("ben", "cat", "dan")}
    kappas = {other: cohen_kappa_score([it["ann"] for it in items], [it[other] for it in items], labels=LABELS) for other, items in shared.items()}
    assert {k: len(v) for k, v in shared.items()} == {"ben": 7, "cat": 6, "dan": 1} and kappas["dan"] == 0
    expected = sum(kappas[o] * len(shared[o]) for o in shared) / 14
    assert close(ann["mean_kappa"]["value"], expected) and ann["mean_kappa"]["n_sentences"] == 14
    assert ann["mean_kappa"]["n_pairs"] == 3 and ann["mean_kappa"]["n_defined"] == 3
