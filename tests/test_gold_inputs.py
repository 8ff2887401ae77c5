"""What the gold refresh reads for a list of articles (prebuilt statements: every span save of a rater recomputes its
article) is what the whole-project loaders read for a range (issue 17's one-article refresh), on SQLite and PostgreSQL;
a one-article refresh reads in three statements after the project head and builds none; and a batch where several
automatic gold labels change updates them all."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.sql import coercions

from annotator.db import db
from annotator.db.models import Annotation, Article, GoldLabel, GoldSpan, Sentence, StagedImport
from annotator.db.transactions import begin_write, transaction
from annotator.domain.gold import adjudicate, incremental, refresh_auto_gold
from annotator.domain.gold.inputs import BatchInputs, auto_gold_spans, read_batch
from annotator.domain.project_head import project_head

from .test_project_agreement import add_spans, seed

ANN = ("ann", "ben", "cat")


def _project(app):
    """Three articles (and another project's between them): labels, one the schema does not list, spans, links,
    automatic and human gold, and a staged article of the project inside the range (neither way may read it)."""
    ratings = [{"ann": "CFS", "ben": "CFS", "cat": "CFS"}, {"ann": "UFS", "ben": "UFS"}, {"ann": "NFS", "ben": "CFS", "cat": "NFS"},
               {"ann": "CFS", "ben": "CFS", "cat": "CFS"}, {"ann": "UFS", "cat": "UFS"}, {"ben": "NFS"}, {"ann": "CFS", "ben": "CFS"}]
    seeded = seed(app, ratings, [0, 0, 0, 1, 1, 2, 2], annotators_per_article=2, majority_threshold=0.6)
    other = seed(app, [{"ann": "CFS", "ben": "CFS"}], name="other")
    first, second = seeded.offsets[0], seeded.offsets[3]
    spans = [(who, 0, "QUOTE", first[0], first[0] + 8) for who in ANN] + [(who, 0, "SOURCE", first[0] + 10, first[0] + 14) for who in ANN]
    spans += [(who, 1, "QUOTE", second[0], second[0] + 6) for who in ("ann", "cat")] + [("ben", 1, "QUOTE", second[0] + 1, second[0] + 6)]
    add_spans(app, seeded, spans, [("attributed_to", k, k + 3) for k in range(3)])  # each annotator's quote to their source
    with app.app_context():
        session = db.session
        with transaction(session):
            refresh_auto_gold(session, seeded.project_id)
        with transaction(session):
            adjudicate(session, seeded.users["ann"], seeded.sentences[5], "NFS", reason="mine")
        begin_write(session)
        old = session.get(Annotation, session.scalar(select(Annotation.id).where(Annotation.sentence_id == seeded.sentences[4])))
        old.label = "OLD LABEL"  # labels the schema no longer lists: extra categories, after the schema's, sorted
        session.execute(update(Annotation).where(Annotation.sentence_id == seeded.sentences[6], Annotation.user_id == seeded.users["ben"])
                        .values(label="ANOTHER OLD ONE"))
        session.add(GoldSpan(article_id=seeded.articles[2], label="QUOTE", start=0, end=4, provenance="imported"))
        staged = StagedImport(project_id=seeded.project_id, file="big.jsonl", owner="elsewhere:1")
        session.add(staged)
        session.flush()
        hidden = Article(project_id=seeded.project_id, external_id="staged", title="Staged", text="Hidden. Text.", meta={}, sha256="0" * 64,
                         staged_import=staged.id)
        session.add(hidden)
        session.flush()
        sentence = Sentence(article_id=hidden.id, index=0, start=0, end=7)
        session.add(sentence)
        session.flush()
        for who in ("ann", "ben"):
            session.add(Annotation(user_id=seeded.users[who], sentence_id=sentence.id, label="CFS", seconds=1.0, guidelines_version=1))
        session.commit()
        ids = [*seeded.articles, hidden.id]
    assert min(ids) < other.articles[0] < max(ids)  # another project's article inside the range
    return seeded, other, ids


def _same(listed: BatchInputs, ranged: BatchInputs) -> None:
    a, b = listed.labels, ranged.labels
    assert a.matrix.categories == b.matrix.categories
    assert a.matrix.annotators == b.matrix.annotators
    assert np.array_equal(a.matrix.codes, b.matrix.codes) and a.matrix.codes.dtype == b.matrix.codes.dtype
    for name in ("sentence_ids", "article_ids", "user_ids"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert getattr(a, name).dtype == getattr(b, name).dtype, name
    for name in ("ids", "article_ids", "index", "starts", "ends"):
        assert np.array_equal(getattr(listed.sentences, name), getattr(ranged.sentences, name)), name
    assert sorted(listed.gold_labels) == sorted(ranged.gold_labels)
    assert sorted(listed.spans.spans) == sorted(ranged.spans.spans)
    assert sorted(listed.spans.relations) == sorted(ranged.spans.relations)
    assert sorted(listed.gold_spans) == sorted(ranged.gold_spans)
    assert sorted(listed.gold_relations) == sorted(ranged.gold_relations)


def test_a_list_of_articles_reads_what_the_range_reads(app):
    seeded, other, ids = _project(app)
    with app.app_context():
        session = db.session
        head = project_head(session, seeded.project_id)
        every = list(range(min(ids + other.articles), max(ids + other.articles) + 1))
        listed, ranged = read_batch(session, head, every), read_batch(session, head, (every[0], every[-1]))
        _same(listed, ranged)
        assert len(listed.gold_spans) == 3 and len(listed.gold_relations) == 1 and len(listed.spans.relations) == 3  # (not vacuous)
        assert listed.labels.matrix.categories == ["CFS", "UFS", "NFS", "ANOTHER OLD ONE", "OLD LABEL"]
        assert {g[3] for g in listed.gold_labels} == {"unanimous", "majority", "adjudicated"}
        assert set(listed.labels.article_ids.tolist()) == set(seeded.articles)  # neither the staged article nor the other project
        assert auto_gold_spans(session, head, every) == auto_gold_spans(session, head, (every[0], every[-1]))
        for article_id in seeded.articles:  # one article at a time, as a save reads it
            _same(read_batch(session, head, [article_id]), read_batch(session, head, (article_id, article_id)))
        _same(read_batch(session, head, []), read_batch(session, head, (0, -1)))  # nothing


def test_a_one_article_refresh_reads_in_one_statement_and_builds_none(app, database_uri):
    seeded, _other, _ids = _project(app)
    with app.app_context():
        session = db.session
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
        built = []
        real = coercions.expect
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(coercions, "expect", lambda *args, **kw: built.append(args[0]) or real(*args, **kw))
            for _ in range(2):  # the second time: nothing is built on first use any more
                begin_write(session)
                built.clear()
                statements.clear()
                assert incremental.article_changed(session, seeded.project_id, seeded.articles[0]).changed == 0
                session.commit()
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        locks = 1 if database_uri.startswith("postgresql") else 0  # the article's advisory lock
        assert len(reads) == locks + 1 + 1, reads  # the project head, then everything of the article in one statement
        assert built == []  # every statement prebuilt: no SQL expression made per call


def test_several_automatic_labels_changing_in_one_batch_are_all_updated(app):
    seeded, _other, _ids = _project(app)
    with app.app_context():
        session = db.session
        auto = [seeded.sentences[0], seeded.sentences[1]]  # unanimous CFS, unanimous UFS
        for path in ("article", "project"):
            with transaction(session):
                session.execute(update(GoldLabel).where(GoldLabel.sentence_id.in_(auto)).values(label="NFS"))
            with transaction(session):
                if path == "article":
                    result = incremental.article_changed(session, seeded.project_id, seeded.articles[0])
                else:
                    result = refresh_auto_gold(session, seeded.project_id)
            assert result.labels_updated == 2, path
            stored = dict(session.execute(select(GoldLabel.sentence_id, GoldLabel.label).where(GoldLabel.sentence_id.in_(auto))).all())
            assert stored == {auto[0]: "CFS", auto[1]: "UFS"}, path
