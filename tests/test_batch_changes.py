"""A batch of changes without HTTP (domain/annotations/batch.py): in order, all or nothing, the failing index named, retries once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Annotation, Article, AuditEntry, Project, Relation, Span
from annotator.domain import accounts, assignment, projects
from annotator.domain.annotations import MAX_OPERATIONS, AnnotationError
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

TEXT = "Prices went up again. \u201cWe are worried,\u201d said the baker \U0001f35e. The mayor said nothing."
QUOTE = (TEXT.index("\u201c"), TEXT.index(" said"))
SOURCE = (TEXT.index("the baker"), TEXT.index("the baker") + len("the baker"))


@pytest.fixture
def setup(app):
    """One article of three sentences assigned to ann; cy is not assigned."""
    with app.app_context():
        s = db.session
        ann, cy = (accounts.create_user(s, name) for name in ("ann", "cy"))
        project = projects.create_project(s, "P")
        articles.store_articles(s, project, [ArticleRecord("a", "T", TEXT)], "test")
        assignment.assign_to_user(s, project.id, ann, ["a"])
        s.commit()
        return {"ann": ann.id, "cy": cy.id, "article": s.scalar(select(Article.id))}


def _state(s) -> tuple:
    """Row counts (of the audit log, the annotation writes': not the users' account entries) and the revision."""
    annotation_audit = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity != "user"))
    return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Annotation, Span, Relation)) + (annotation_audit, s.scalar(select(Project.revision)))


def _apply(s, user_id, article_id, operations, request_id=None):
    return annotations.write(s, lambda: annotations.apply_changes(s, user_id, article_id, operations, request_id))


def _save(quote_id="quote-0001", source_id="source-0001", request_id="label-0001"):
    """What the page queues for one quote: a label, the quote, its source, the link."""
    return [
        {"op": "put_label", "sentence_index": 1, "label": "CFS", "seconds": 2, "request_id": request_id},
        {"op": "create_span", "label": "QUOTE", "start": QUOTE[0], "end": QUOTE[1], "id": quote_id},
        {"op": "create_span", "label": "SOURCE", "start": SOURCE[0], "end": SOURCE[1], "id": source_id},
        {"op": "create_relation", "type": "attributed_to", "from": quote_id, "to": source_id, "id": "link-0001"},
    ]


def test_a_batch_runs_each_operation_as_its_single_function_would(app, setup):
    ann, article = setup["ann"], setup["article"]
    with app.app_context():
        s = db.session
        answer = _apply(s, ann, article, _save())
        statuses = [result["status"] for result in answer["results"]]
        assert statuses == [200, 201, 201, 201]
        label, quote, _source, link = (result["body"] for result in answer["results"])
        assert (label["label"], label["version"], label["seconds"]) == ("CFS", 1, 2.0)
        assert quote["text"] == TEXT[QUOTE[0]:QUOTE[1]] and link == {"id": "link-0001", "type": "attributed_to", "from": "quote-0001", "to": "source-0001"}
        assert _state(s)[:4] == (1, 2, 1, 4)
        # then a change and deletions: the single functions' answers (the updated span; None where they answer 204)
        more = _apply(s, ann, article, [
            {"op": "update_span", "id": "quote-0001", "end": QUOTE[1] - 1},
            {"op": "delete_relation", "id": "link-0001"},
            {"op": "delete_span", "id": "source-0001"},
            {"op": "delete_label", "sentence_index": 1},
        ])
        assert [r["status"] for r in more["results"]] == [200, 204, 204, 204]
        assert more["results"][0]["body"]["text"] == TEXT[QUOTE[0]:QUOTE[1] - 1] and more["results"][1]["body"] is None
        assert _state(s)[:3] == (0, 1, 0)


@pytest.mark.parametrize("bad, index, status, words", [
    ({"op": "put_label", "sentence_index": 99, "label": "CFS"}, 2, 404, "sentence"),
    ({"op": "put_label", "sentence_index": 0, "label": "NOPE"}, 2, 422, "NOPE"),
    ({"op": "put_label", "sentence_index": 1, "label": "UFS", "version": 7}, 2, 409, ""),
    ({"op": "create_span", "label": "QUOTE", "start": QUOTE[0], "end": QUOTE[1], "id": "quote-0002"}, 2, 409, "already have"),
    ({"op": "create_span", "label": "QUOTE", "start": 0, "end": len(TEXT) + 1}, 2, 422, "0 <= start"),
    ({"op": "delete_span", "id": "missing-1"}, 2, 404, "missing-1"),
    ({"op": "create_relation", "type": "attributed_to", "from": "quote-0001", "to": "nobody-01"}, 2, 422, "nobody-01"),
])
def test_one_failing_operation_stores_nothing_and_is_named(app, setup, bad, index, status, words):
    """The first two operations would succeed alone; the third fails: nothing of the batch is stored, and the error
    carries the single function's status and message, the operation's index and its op."""
    ann, article = setup["ann"], setup["article"]
    with app.app_context():
        s = db.session
        before = _state(s)
        operations = [
            {"op": "put_label", "sentence_index": 1, "label": "CFS", "request_id": "label-0009"},
            {"op": "create_span", "label": "QUOTE", "start": QUOTE[0], "end": QUOTE[1], "id": "quote-0001"},
            bad,
            {"op": "delete_label", "sentence_index": 0},  # would fail too: the first failure is the one named
        ]
        with pytest.raises(AnnotationError) as info:
            _apply(s, ann, article, operations)
        error = info.value
        assert (error.status, error.extra["index"], error.extra["op"]) == (status, index, bad["op"])
        assert error.message.startswith(f"operation {index} ({bad['op']}): ") and words in error.message
        assert _state(s) == before
        # the refused batch kept no request id: the same label save alone goes through
        assert _apply(s, ann, article, operations[:1])["results"][0]["body"]["version"] == 1


@pytest.mark.parametrize("operations, status, words", [
    ("put_label", 400, "must be a list"),
    ([], 400, "must not be empty"),
    ([{"op": "delete_label", "sentence_index": 0}] * (MAX_OPERATIONS + 1), 413, f"at most {MAX_OPERATIONS}"),
    ([{"op": "delete_label", "sentence_index": 0}, "x"], 400, "operation 1: an operation must be a JSON object"),
    ([{"op": "relabel"}], 400, "operation 0: op must be one of"),
    ([{"sentence_index": 0}], 400, "op must be one of"),
    ([{"op": ["put_label"], "sentence_index": 0}], 400, "operation 0: op must be one of"),  # unhashable: was a 500
    ([{"op": {"put_label": 1}}], 400, "operation 0: op must be one of"),
    ([{"op": "put_label", "sentence_index": 0, "label": "CFS", "colour": "red"}], 400, "operation 0 (put_label): unknown field 'colour'"),
    ([{"op": "create_span", "label": "QUOTE", "start": 0}], 400, "missing field: end"),
    ([{"op": "create_span", "label": "QUOTE", "start": 0, "end": 4, "id": None}], 400, "id must not be null"),
    ([{"op": "put_label", "sentence_index": True, "label": "CFS"}], 400, "sentence_index must be an integer"),
    ([{"op": "delete_article_label", "group": 3}], 400, "group must be a string"),
])
def test_malformed_batches_are_refused_before_anything_runs(app, setup, operations, status, words):
    ann, article = setup["ann"], setup["article"]
    with app.app_context():
        s = db.session
        before = _state(s)
        with pytest.raises(AnnotationError) as info:
            _apply(s, ann, article, operations)
        assert info.value.status == status and words in info.value.message, info.value.message
        assert _state(s) == before


def test_a_batch_on_an_article_not_assigned_is_404_at_its_first_operation(app, setup):
    with app.app_context():
        s = db.session
        with pytest.raises(AnnotationError) as info:
            _apply(s, setup["cy"], setup["article"], _save())
        assert (info.value.status, info.value.extra["index"]) == (404, 0)
        assert _state(s)[:4] == (0, 0, 0, 0)


def test_a_retried_batch_counts_once_and_answers_as_the_first_time(app, setup):
    """The first answer was lost and the page sends the same batch again: with its request id, the retry writes
    nothing and gets the first answer, even when the batch deleted a span it created (alone, that delete's retry
    would be a 404, and the create's a 200 instead of 201)."""
    ann, article = setup["ann"], setup["article"]
    with app.app_context():
        s = db.session
        operations = [*_save(), {"op": "delete_relation", "id": "link-0001"}, {"op": "delete_span", "id": "source-0001"}]
        first = _apply(s, ann, article, operations, request_id="batch-0001")
        after_first = _state(s)
        assert _apply(s, ann, article, operations, request_id="batch-0001") == first
        assert _state(s) == after_first
        assert s.scalar(select(Annotation.seconds)) == 2.0  # not 4: the label's seconds counted once
        # the same id with other operations is a client bug: refused, nothing written
        with pytest.raises(AnnotationError) as info:
            _apply(s, ann, article, operations[:1], request_id="batch-0001")
        assert info.value.status == 422 and _state(s) == after_first


def test_a_retried_batch_without_its_own_id_is_still_safe_for_creates_and_label_saves(app, setup):
    """Label saves keep their request ids and spans / relations their client ids: a repeat of creates and saves
    is answered like the first time (the creates 200 instead of 201), not a 409, and counts once."""
    ann, article = setup["ann"], setup["article"]
    with app.app_context():
        s = db.session
        first = _apply(s, ann, article, _save())
        after_first = _state(s)
        again = _apply(s, ann, article, _save())
        assert [r["body"] for r in again["results"]] == [r["body"] for r in first["results"]]
        assert [r["status"] for r in again["results"]] == [200, 200, 200, 200]
        assert _state(s) == after_first


def test_a_label_save_inside_a_batch_with_the_batchs_own_request_id_is_a_422_not_a_retry_forever(app, setup):
    """One id for the batch and for a label save in it: the label's claim finds the batch's, still unanswered. That was
    a 503 "try again", which every retry got again; it is the same id used for two saves, a client bug (422)."""
    ann, article = setup["ann"], setup["article"]
    with app.app_context():
        s = db.session
        before = _state(s)
        for _attempt in range(2):  # a retry answers the same
            with pytest.raises(AnnotationError) as info:
                _apply(s, ann, article, _save(request_id="shared-0001"), request_id="shared-0001")
            assert (info.value.status, info.value.extra["index"]) == (422, 0), info.value.message
            assert "already used for a different save" in info.value.message
            assert _state(s) == before
