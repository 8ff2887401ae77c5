"""One article's automatic gold without NumPy (a rater's save recomputes its article while it holds the write turn)
gives exactly what the batch path gives with NumPy: the labels, spans and links the rule wants, on random articles
(labels the schema no longer lists, spans across sentences and between them, human gold, links); and a save that
recomputes its article loads no NumPy."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.domain.agreement.loaders import ProjectSpans, SentenceRows
from annotator.domain.gold import one_article
from annotator.domain.gold.auto_spans import _votes, wanted_gold
from annotator.domain.gold.inputs import _labels
from annotator.domain.gold.refresh import _wanted_labels
from annotator.domain.project_head import ProjectHead

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = 41
USERS = (3, 7, 12, 20)  # user ids, not dense: the columns are made from them
LABELS = ("CFS", "UFS", "NFS", "ZZ OLD", "AA OLD")  # the last two not in the schema: codes after it, sorted
SCHEMA = {"sentence_labels": [{"name": "CFS"}, {"name": "UFS"}, {"name": "NFS"}], "span_labels": [{"name": "QUOTE"}, {"name": "SOURCE"}]}


@st.composite
def articles(draw):
    """Sentences (ids out of order, gaps between some), labels, spans (inside, across, between sentences), links, human gold."""
    n = draw(st.integers(1, 6))
    bounds, at = [], 0
    for _ in range(n):
        at += draw(st.sampled_from([0, 0, 1, 3]))  # a gap before the sentence now and then
        length = draw(st.integers(2, 12))
        bounds.append((at, at + length))
        at += length
    ids = draw(st.permutations([100 + 7 * k for k in range(n)]))
    sentences = [(ids[k], *bounds[k]) for k in range(n)]
    labels = [(sid, user, draw(st.sampled_from(LABELS))) for sid, _, _ in sentences for user in USERS if draw(st.integers(0, 3))]
    offsets = st.integers(0, at + 2)
    spans = []
    for k in range(draw(st.integers(0, 12))):
        if spans and draw(st.booleans()):  # another annotator marks one of the spans already there: agreement happens
            _, _, _, label, start, end = draw(st.sampled_from(spans))
        else:
            start = draw(offsets)
            label, end = draw(st.sampled_from(("QUOTE", "SOURCE"))), start + draw(st.integers(1, 14))
        spans.append((500 + k, ARTICLE, draw(st.sampled_from(USERS + (99,))), label, start, end))  # 99 labelled nothing
    relations = []
    for _ in range(draw(st.integers(0, 8))):
        if len(spans) >= 2:
            a, b = draw(st.sampled_from(spans)), draw(st.sampled_from(spans))
            relations.append((ARTICLE, draw(st.sampled_from((a[2], b[2]))), "attributed_to", a[0], b[0]))
    human = draw(st.sets(st.sampled_from([sid for sid, _, _ in sentences])))
    return draw(st.permutations(sentences)), labels, spans, relations, human  # (the rows come in any order)


@settings(max_examples=300 if os.environ.get("ANNOTATOR_FUZZ") == "thorough" else 150, deadline=None)
@given(article=articles(), threshold=st.sampled_from([1.0, 0.66, 2 / 3, 0.5, 0.34]), per_article=st.integers(0, 4))
def test_one_article_without_numpy_equals_the_batch_path(article, threshold, per_article):
    sentences, labels, spans, relations, human = article
    head = ProjectHead(1, "p", 1, SCHEMA, threshold, per_article)
    # the batch path: NumPy arrays as inputs.py builds them (sentences in the article's order)
    ordered = sorted(sentences, key=lambda s: s[1])
    columns = list(zip(*ordered, strict=True))
    rows = SentenceRows(np.array(columns[0], dtype=np.int64), np.full(len(ordered), ARTICLE, dtype=np.int64),
                        np.arange(len(ordered), dtype=np.int64), np.array(columns[1], dtype=np.int64), np.array(columns[2], dtype=np.int64))
    matrix = _labels(head, [(sid, ARTICLE, user, label, f"user{user}") for sid, user, label in labels])
    data = ProjectSpans(spans, relations)
    batch_labels = _wanted_labels(head, matrix, human)
    batch_spans, batch_links = wanted_gold(_votes(matrix, rows, data, human), relations, head.min_raters)
    # one article, as its save reads it (rows in any order)
    shuffled = random.Random(len(labels)).sample(labels, len(labels))
    inputs = one_article.ArticleInputs(ARTICLE, sentences, shuffled, spans, relations)
    assert one_article.wanted_labels(head, inputs, human) == batch_labels
    votes = one_article.votes(inputs, human)
    assert wanted_gold(votes, relations, head.min_raters) == (batch_spans, batch_links)


SCRIPT = r"""
import sys, tempfile
from annotator import create_app
from annotator.db import db
from annotator.db.migrating import upgrade_schema
from annotator.db.models import GoldSpan
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, labelschema, projects
from annotator.domain.annotations import apply_changes
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from sqlalchemy import select

app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tempfile.mkdtemp()}/one.sqlite3", "SECRET_KEY": "test"})
with app.app_context():
    upgrade_schema()
    s = db.session
    project = projects.create_project(s, "P", labelschema.preset("claims"), annotators_per_article=2)
    articles.store_articles(s, project, [ArticleRecord("a", "A", "He said it rains. She said it pours.")], "test")
    users = [accounts.create_user(s, name, "annotator", None) for name in ("ann", "ben")]
    for user in users:
        assignment.assign_to_user(s, project.id, user, ["a"])
    s.commit()
    from annotator.db.models import Article
    article_id = s.scalar(select(Article.id))
    for k, user in enumerate(users):
        with transaction(s):
            apply_changes(s, user.id, article_id, [
                {"op": "put_label", "sentence_index": 0, "label": "CFS"},
                {"op": "create_span", "id": f"q{k:031d}", "label": "QUOTE", "start": 8, "end": 16},
            ])
    assert s.scalar(select(GoldSpan.label)) == "QUOTE"  # the second save recomputed the article
    print("numpy" in sys.modules)
"""


def test_a_save_that_recomputes_its_article_loads_no_numpy():
    """NumPy's import (0.2 s on the busy machine) was paid inside the first such save of every worker, holding the
    write turn; and for one article its arrays cost more than the rule."""
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
