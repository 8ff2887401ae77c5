"""What counts as an article's work (domain/article_work.py), the one definition a REST delete and an import
update share: each kind of answer and of a person's gold counts, automatic gold does not.

Rows are stored directly, as every path that makes them would leave them (tests/test_rest_api.py makes them
through the API and adjudication and checks the delete and the update that use this).
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import (
    Annotation,
    Article,
    ArticleLabel,
    GoldArticleLabel,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    Project,
    Sentence,
    Span,
    User,
)
from annotator.db.transactions import begin_write, transaction
from annotator.domain import projects
from annotator.domain.article_work import ArticleWork, article_work
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord, IngestError

from .races import deleting, one_annotator, postgres_only, take_turns

TEXT = "The mayor said the rent rose. Tenants disagree."
NONE = ArticleWork(labels=0, spans=0, article_labels=0, gold_article_labels=0, gold_labels=0, gold_spans=0, gold_links=0)


def _gold(s, article_id: int, sentence_id: int, provenance: str, reviewer: int | None) -> None:
    s.add(GoldLabel(sentence_id=sentence_id, label="CFS", provenance=provenance, reviewer_id=reviewer))
    quote = GoldSpan(article_id=article_id, label="QUOTE", start=15, end=28, provenance=provenance, reviewer_id=reviewer)
    source = GoldSpan(article_id=article_id, label="SOURCE", start=0, end=9, provenance=provenance, reviewer_id=reviewer)
    s.add_all([quote, source])
    s.flush()
    s.add(GoldRelation(article_id=article_id, type="attributed_to", from_span_id=quote.id, to_span_id=source.id,
                       provenance=provenance, reviewer_id=reviewer))
    s.flush()


def test_each_kind_of_work_counts_and_automatic_gold_does_not(app):
    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, "work")
        articles.store_articles(s, project, [ArticleRecord(f"a{i}", "T", TEXT) for i in range(3)], "test")
        ids = {a: i for a, i in s.execute(select(Sentence.article_id, Sentence.id).where(Sentence.index == 0))}
        auto, human, answered = sorted(ids)
        user = User(name="ann", role="annotator")
        s.add(user)
        s.flush()
        assert article_work(s, auto) == NONE and not article_work(s, auto)

        _gold(s, auto, ids[auto], "majority", None)  # what the annotators' agreement made: recomputed from them
        assert article_work(s, auto) == NONE and not article_work(s, auto)

        _gold(s, human, ids[human], "imported", None)  # a person's gold, from an import or a reviewer, is work
        assert article_work(s, human) == ArticleWork(0, 0, 0, 0, gold_labels=1, gold_spans=2, gold_links=1)
        s.execute(GoldLabel.__table__.delete().where(GoldLabel.sentence_id == ids[human]))
        s.execute(GoldRelation.__table__.delete().where(GoldRelation.article_id == human))
        s.execute(GoldSpan.__table__.delete().where(GoldSpan.article_id == human, GoldSpan.label == "QUOTE"))
        assert article_work(s, human) == ArticleWork(0, 0, 0, 0, 0, gold_spans=1, gold_links=0)  # a gold span alone
        assert bool(article_work(s, human))

        s.add(Annotation(user_id=user.id, sentence_id=ids[answered], label="CFS", seconds=1.0, guidelines_version=1))
        s.add(Span(article_id=answered, user_id=user.id, label="QUOTE", start=15, end=28))
        s.add(ArticleLabel(article_id=answered, user_id=user.id, group="stance", values=["pro"], guidelines_version=1))
        s.add(GoldArticleLabel(article_id=answered, group="stance", values=["con"], provenance="adjudicated"))
        s.flush()
        work = article_work(s, answered)
        assert work == ArticleWork(labels=1, spans=1, article_labels=1, gold_article_labels=1, gold_labels=0, gold_spans=0, gold_links=0)
        assert work.as_dict() == {"labels": 1, "spans": 1, "article_labels": 1, "gold_article_labels": 1,
                                  "gold_labels": 0, "gold_spans": 0, "gold_links": 0}
        assert article_work(s, auto) == NONE  # nothing of another article is counted
        s.rollback()


# ----------------------------------------------------------------- a save in flight while the article goes
@pytest.mark.parametrize("change", ["delete", "new text"])
def test_a_label_saved_while_the_article_is_deleted_or_its_text_replaced_is_not_lost(app, change):
    """PostgreSQL: an annotator's label not yet committed when a REST delete (or an import update of the text) counts the
    work was destroyed with the article's sentences a moment later (the delete waited on the label's row, then cascaded
    over it): the save had answered 200, the delete saw no work and audited none. SQLite's BEGIN IMMEDIATE already
    puts one after the other."""
    postgres_only(app)
    from annotator.domain import catalog
    from annotator.domain.annotations import put_label
    from annotator.domain.projects import ProjectError

    project_id, user_id, article_id = one_annotator(app, TEXT)
    inserted, go, outcome = threading.Event(), threading.Event(), {}

    def save() -> None:
        with app.app_context():
            with transaction(db.session):
                put_label(db.session, user_id, article_id, 0, "CFS")
                inserted.set()
                go.wait(30)

    def remove() -> None:
        with app.app_context():
            try:
                if change == "delete":
                    with transaction(db.session):
                        catalog.delete_article(db.session, project_id, article_id)
                else:
                    project = db.session.get(Project, project_id)
                    articles.import_records(db.session, project, [ArticleRecord("a", "T", TEXT + " A third sentence.")], "f", "update")
                outcome["result"] = "done"
            except (ProjectError, IngestError) as exc:
                outcome["result"] = str(exc)

    take_turns(app, save, inserted, go, remove, "the delete should wait for the save")
    with app.app_context():
        labels = db.session.scalars(select(Annotation.label).where(Annotation.user_id == user_id)).all()
        text = db.session.scalar(select(Article.text).where(Article.id == article_id))
    assert labels == ["CFS"], f"the saved label was lost ({outcome})"
    assert text == TEXT
    assert "has 1 label and" in outcome["result"] or "already annotated" in outcome["result"], outcome


@pytest.mark.parametrize("second", ["label", "span"])
def test_a_batch_of_answers_and_a_delete_of_its_article_take_turns_not_a_deadlock(app, monkeypatch, second):
    """Found by the attacker: on PostgreSQL a batch labelled sentence 2 (its insert holds that sentence's key), then
    labelled sentence 1 or made a span (the key of sentence 1, or of the article), while a delete of the article
    held the article and sentence 1 FOR UPDATE and waited for sentence 2: a deadlock, which PostgreSQL broke after
    a second by ending the delete (a REST 500). Every answer locks its article's key first now, as a delete
    locks the article first: the delete waits for the batch, then counts its labels and refuses."""
    postgres_only(app)
    from annotator.domain import annotations
    from annotator.domain.annotations import batch

    project_id, user_id, article_id = one_annotator(app, TEXT)
    required, optional, put = batch.OPERATIONS["put_label"]
    labelled, go, outcome, errors = threading.Event(), threading.Event(), {}, []

    def label_then_wait(s, uid, aid, operation):  # noqa: ANN001, ANN202 - the batch holds its first label's locks here
        result = put(s, uid, aid, operation)
        if not labelled.is_set():
            labelled.set()
            go.wait(30)
        return result

    monkeypatch.setitem(batch.OPERATIONS, "put_label", (required, optional, label_then_wait))
    then = {"op": "put_label", "sentence_index": 0, "label": "UFS"} if second == "label" else {"op": "create_span", "label": "QUOTE", "start": 0, "end": 9}

    def answers() -> None:
        try:
            with app.app_context():
                s = db.session
                operations = [{"op": "put_label", "sentence_index": 1, "label": "CFS"}, then]
                outcome["batch"] = annotations.write(s, lambda: annotations.apply_changes(s, user_id, article_id, operations))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(("batch", exc))
            labelled.set()

    take_turns(app, answers, labelled, go, deleting(app, project_id, article_id, outcome, errors), "the delete should wait for the batch")
    assert not errors, errors
    assert len(outcome["batch"]["results"]) == 2
    assert outcome["delete"].startswith("article 'a' has "), outcome
    with app.app_context():
        assert db.session.get(Article, article_id) is not None


def test_an_adjudication_and_a_delete_of_its_article_take_turns_not_a_deadlock(app, monkeypatch):
    """Found by the attacker: on PostgreSQL a reviewer's save stored the sentence's gold label (its insert holds the
    sentence's key), then a gold span (the article's key), while a delete of the article held the article FOR UPDATE
    and waited for the sentence: a deadlock, the delete ended by PostgreSQL (a REST 500). The adjudication locks the
    article's key first now, as every answer does: the delete waits, then counts the reviewer's gold and refuses."""
    postgres_only(app)
    from annotator.domain import accounts, gold
    from annotator.domain.gold import adjudication

    with app.app_context():
        s = db.session
        project = projects.create_project(s, "race")
        articles.store_articles(s, project, [ArticleRecord("a", "T", TEXT)], "test")
        reviewer = accounts.create_user(s, "rev", "reviewer")
        s.commit()
        project_id, reviewer_id = project.id, reviewer.id
        article_id, sentence_id = s.execute(select(Sentence.article_id, Sentence.id).where(Sentence.index == 0)).one()
    stored, go, outcome, errors = threading.Event(), threading.Event(), {}, []
    store_label = adjudication._store_label

    def store_label_then_wait(writer, label, reason):  # noqa: ANN001, ANN202 - the save holds the sentence's key here
        store_label(writer, label, reason)
        stored.set()
        go.wait(30)

    monkeypatch.setattr(adjudication, "_store_label", store_label_then_wait)

    def adjudicate() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    outcome["gold"] = gold.adjudicate(db.session, reviewer_id, sentence_id, "CFS", [("QUOTE", 15, 28)])["label"]
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(("adjudicate", exc))
            stored.set()

    take_turns(app, adjudicate, stored, go, deleting(app, project_id, article_id, outcome, errors), "the delete should wait for the adjudication")
    assert not errors, errors
    assert outcome["gold"] == "CFS"
    assert "1 gold sentence label and 1 gold span" in outcome["delete"], outcome
