"""Training the claim suggester on a project's labels (gold first, else a strict majority), stored as JSON, run as a suggester."""
from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from sqlalchemy import func, select

import annotator.domain.annotations as ops
from annotator.db import db
from annotator.db.models import Article, Sentence, SuggesterModel, Suggestion
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, claim_training, projects, suggesters
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.stats import claims
from tests.claims_data import articles as synthetic_articles


def _project_with_labels(app, n_articles: int) -> dict:
    rows = synthetic_articles(random.Random(3), n_articles)
    by_article: dict[str, list[tuple[str, str]]] = {}
    for key, sentence, label in rows:
        by_article.setdefault(key, []).append((sentence, label))
    with app.app_context():
        s = db.session
        with transaction(s):
            ann, bob = accounts.create_user(s, "ann"), accounts.create_user(s, "bob")
            project = projects.create_project(s, "P")
            records = [ArticleRecord(key, key, "\n".join(x for x, _ in sents)) for key, sents in by_article.items()]
            articles.store_articles(s, project, records, "test")
            for user in (ann, bob):
                assignment.assign_to_user(s, project.id, user, list(by_article))
        ids = dict(s.execute(select(Article.external_id, Article.id)).all())
        # one template sentence a line, and a line break ends a sentence: the app's sentences are the templates
        assert s.scalar(select(func.count()).select_from(Sentence)) == len(rows)
        # each annotator's labels of an article as one batch, as the page sends them: the same labels and gold as one
        # save a label, for a seventh of the CPU time (the training is what these tests are about)
        for key, sents in by_article.items():
            changes = [{"op": "put_label", "sentence_index": index, "label": label} for index, (_, label) in enumerate(sents)]
            for user in (ann, bob):
                ops.write(s, lambda a=ids[key], u=user.id, c=changes: ops.apply_changes(s, u, a, c))
        return {"project": project.id, "ann": ann.id, "bob": bob.id, "ids": ids, "by_article": by_article}


def test_training_labels_are_gold_else_a_strict_majority():
    assert claim_training._majority(Counter({"CFS": 2, "NFS": 1})) == "CFS"
    assert claim_training._majority(Counter({"CFS": 1, "NFS": 1})) is None  # a tie teaches nothing
    assert claim_training._majority(Counter({"CFS": 1})) == "CFS"
    assert claim_training._majority(Counter()) is None


def test_a_young_project_is_refused_with_what_is_missing(app):
    world = _project_with_labels(app, 4)
    with app.app_context():
        with pytest.raises(claims.NotEnoughLabels, match="labelled sentences"):
            with transaction(db.session):
                claim_training.train(db.session, world["project"])
        assert db.session.scalar(select(func.count()).select_from(SuggesterModel)) == 0


def test_a_trained_model_is_stored_as_json_and_suggests_labels(app):
    world = _project_with_labels(app, 40)
    with app.app_context():
        s = db.session
        with transaction(s):
            stored = claim_training.train(s, world["project"], folds=4)
        summary = claim_training.summary(stored)
        assert summary["sentences"] >= 100 and summary["macro_f1"] > summary["baseline"]["macro_f1"] + 0.2
        json.dumps(stored.document)  # plain JSON, nothing else
        row, model = claim_training.latest(s, world["project"])
        assert row.version == model.version == stored.version
        with transaction(s):
            counts = suggesters.run(s, world["project"])
        labels = s.scalar(select(func.count()).select_from(Suggestion).where(Suggestion.kind == "label", Suggestion.suggester == claims.NAME))
        assert labels > 0 and counts["articles"] == 40
        # the same labels train the same model: one row, fresh figures
        with transaction(s):
            claim_training.train(s, world["project"], folds=4)
        assert s.scalar(select(func.count()).select_from(SuggesterModel)) == 1
