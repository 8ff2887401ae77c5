"""Suggestions scored against a reference: the figures, cross-checked with scikit-learn, and over the database."""
from __future__ import annotations

import random

import pytest
from sklearn.metrics import accuracy_score, f1_score
from sqlalchemy import select

import annotator.domain.annotations as ops
from annotator.db import db
from annotator.db.models import Article
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, projects, suggesters, suggestion_quality
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.stats.evaluation import Annotations, evaluate, label_scores


def test_label_scores_match_scikit_learn_on_random_labels():
    rng = random.Random(7)
    for _ in range(50):
        n = rng.randint(1, 40)
        classes = ["CFS", "UFS", "NFS"][: rng.randint(1, 3)]
        ref = {i: rng.choice(classes) for i in range(n)}
        pred = {i: rng.choice(classes) for i in range(n) if rng.random() < 0.9}
        got = label_scores(pred, ref)
        both = sorted(set(pred) & set(ref))
        if not both:
            assert got["n"] == 0 and got["macro_f1"] is None
            continue
        y_true, y_pred = [ref[i] for i in both], [pred[i] for i in both]
        assert got["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
        assert got["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", labels=sorted(set(y_true) | set(y_pred)), zero_division=0))


def test_span_and_link_figures_use_one_to_one_matching():
    quote, source = ("a", "QUOTE", 10, 40), ("a", "SOURCE", 0, 5)
    reference = Annotations(spans=[quote, source], links=[(quote, source)])
    near_quote = ("a", "QUOTE", 11, 40)  # off by one: right by overlap, wrong exactly
    twice = ("a", "QUOTE", 12, 30)  # a second overlapping guess cannot match the same quote again
    predicted = Annotations(spans=[near_quote, twice, source], links=[(near_quote, source)])
    got = evaluate(predicted, reference)
    assert got["spans"]["QUOTE"]["exact"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 2, "fn": 1}
    assert got["spans"]["QUOTE"]["overlap"]["tp"] == 1 and got["spans"]["QUOTE"]["overlap"]["fp"] == 1
    assert got["spans"]["QUOTE"]["overlap"]["precision"] == 0.5 and got["spans"]["QUOTE"]["overlap"]["recall"] == 1.0
    assert got["spans"]["SOURCE"]["exact"]["f1"] == 1.0
    assert got["links"]["f1"] == 1.0


TEXT = (
    "Ferry tickets will cost more from June.\n"
    "\u201cThe old prices did not cover fuel,\u201d said Tomas Berg, who runs the line.\n"
    "Passengers were not asked."
)


def test_measured_against_an_annotator_on_the_articles_they_worked_on(app):
    with app.app_context():
        s = db.session
        with transaction(s):
            ann = accounts.create_user(s, "ann")
            project = projects.create_project(s, "P")
            articles.store_articles(s, project, [ArticleRecord("a", "T", TEXT), ArticleRecord("b", "T", TEXT)], "test")
            assignment.assign_to_user(s, project.id, ann, ["a", "b"])
        with transaction(s):
            suggesters.run(s, project.id)
        article = s.scalar(select(Article.id).where(Article.external_id == "a"))
        quote = TEXT.index("The old")
        ops.write(s, lambda: ops.create_span(s, ann.id, article, "QUOTE", quote, TEXT.index(",\u201d"), "q-000001"))
        source = TEXT.index("Tomas")
        ops.write(s, lambda: ops.create_span(s, ann.id, article, "SOURCE", source, source + len("Tomas Berg"), "s-000001"))
        ops.write(s, lambda: ops.create_relation(s, ann.id, article, "attributed_to", "q-000001", "s-000001", "r-000001"))
        got = suggestion_quality.measure(s, project.id, suggestion_quality.annotator(s, project.id, ann.id))
    assert got["articles"] == 1  # article b has suggestions but no reference: not scored
    assert got["spans"]["QUOTE"]["exact"]["f1"] == 1.0 and got["spans"]["SOURCE"]["exact"]["f1"] == 1.0
    assert got["spans"]["CUE"]["exact"] == {"precision": 0.0, "recall": None, "f1": 0.0, "tp": 0, "fp": 1, "fn": 0}
    assert got["links"]["f1"] == 1.0
