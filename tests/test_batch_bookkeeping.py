"""A batch of changes does its bookkeeping once (trail.deferred): one revision bump and one gold step for the whole
batch, the automatic gold `gold rebuild` gives and the single saves give, the same assignment progress as the single
saves, and two batches at once (threads, PostgreSQL and SQLite) both go through and lose nothing."""
from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Annotation, Article, Assignment, GoldLabel, GoldRelation, GoldSpan, Project, Relation, Sentence, Span
from annotator.db.transactions import begin_write, transaction
from annotator.domain import gold, labelschema, projects
from annotator.domain.annotations import batch, trail
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.gold import incremental, rebuild

from .test_gold_incremental import ANNOTATORS, FUZZ, make_users

TEXT = "The ferry was late again. Tolls rose by 7.5% in March. Nobody told the commuters. Service resumes on Monday."
LABELS = ("CFS", "UFS", "NFS")
_names = itertools.count()


@dataclass
class Place:
    """A project with one article of four sentences, assigned to every annotator."""

    project_id: int
    article_ids: list[int]
    sentences: list[int]
    candidates: list[tuple[str, int, int]] = field(default_factory=list)


def _place(ids: dict[str, int], n_articles: int = 1) -> Place:
    """Inside an app context: a new project (annotators_per_article 2, majority 0.66) with `n_articles` articles."""
    s = db.session
    begin_write(s)
    project = projects.create_project(s, f"P{next(_names)}", labelschema.preset("claims"), annotators_per_article=2)
    project.majority_threshold = 0.66
    articles.store_articles(s, project, [ArticleRecord(f"r{k}", "Random", TEXT, {}) for k in range(n_articles)], "test")
    article_ids = list(s.scalars(select(Article.id).where(Article.project_id == project.id).order_by(Article.id)))
    for name in ANNOTATORS:
        s.add_all(Assignment(user_id=ids[name], article_id=a) for a in article_ids)
    s.commit()
    rows = s.execute(select(Sentence.id, Sentence.start, Sentence.end).where(Sentence.article_id == article_ids[0]).order_by(Sentence.index)).all()
    bounds = [(start, end) for _, start, end in rows]
    # a quote inside sentence 2, its source in sentence 1, and a quote across sentences 3-4
    candidates = [("QUOTE", bounds[1][0], bounds[1][0] + 5), ("SOURCE", bounds[0][0], bounds[0][0] + 3), ("QUOTE", bounds[2][1] - 4, bounds[3][0] + 4)]
    return Place(project.id, article_ids, [sid for sid, _, _ in rows], candidates)


def _revision(project_id: int) -> int:
    db.session.rollback()  # a fresh read
    return db.session.scalar(select(Project.revision).where(Project.id == project_id))


def _statuses(article_id: int) -> dict[int, str]:
    db.session.rollback()
    return dict(db.session.execute(select(Assignment.user_id, Assignment.status).where(Assignment.article_id == article_id)).all())


def _in_batch(ids, who: str, article_id: int, operations: list[dict[str, Any]]) -> dict[str, Any]:
    s = db.session
    return annotations.write(s, lambda: annotations.apply_changes(s, ids[who], article_id, operations))


def _one_by_one(ids, who: str, article_id: int, operations: list[dict[str, Any]]) -> None:
    """The same operations as single saves, each its own transaction (each runs its single endpoint's function)."""
    s = db.session
    for operation in operations:
        runner = batch.OPERATIONS[operation["op"]][2]
        annotations.write(s, lambda runner=runner, operation=operation: runner(s, ids[who], article_id, operation))


def _label(n: int, label: str = "CFS") -> dict[str, Any]:
    return {"op": "put_label", "sentence_index": n, "label": label}


def _span(place: Place, who: str, n: int) -> dict[str, Any]:
    label, start, end = place.candidates[n]
    return {"op": "create_span", "label": label, "start": start, "end": end, "id": f"{who}-span-{n}"}


def _link(who: str) -> dict[str, Any]:
    return {"op": "create_relation", "type": "attributed_to", "from": f"{who}-span-0", "to": f"{who}-span-1", "id": f"{who}-link-01"}


# ----------------------------------------------------------------- once per batch
def test_a_batch_bumps_the_revision_once_and_does_the_gold_step_once(app, monkeypatch):
    ids = make_users(app)
    calls: list[str] = []
    for name in ("label_changed", "article_changed", "writes_changed"):
        real = getattr(incremental, name, None)
        if real is None:
            continue  # (before the batch's own gold step existed)
        monkeypatch.setattr(incremental, name, lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k))
    with app.app_context():
        place = _place(ids)
        article = place.article_ids[0]
        def operations(who: str) -> list[dict[str, Any]]:
            return [_label(0), _label(1, "UFS"), _label(1), _span(place, who, 0), _span(place, who, 1), _link(who),
                    {"op": "update_span", "id": f"{who}-span-0", "end": place.candidates[0][2] - 1}, {"op": "delete_label", "sentence_index": 0}]

        before, n = _revision(place.project_id), len(operations("ann"))
        _in_batch(ids, "ann", article, operations("ann"))
        assert _revision(place.project_id) == before + 1
        assert len(calls) == 1, calls
        # single saves are as before: each its own bump, and its own gold step unless it is a span or link save whose
        # spans cannot be gold (fewer markers than min_raters: ben's span 0, and the link over it, as ann moved hers)
        calls.clear()
        _one_by_one(ids, "ben", article, operations("ben"))
        assert _revision(place.project_id) == before + 1 + n
        assert calls == ["label_changed"] * 3 + ["article_changed"] * 2 + ["label_changed"]
        # a batch that changes nothing (a repeated create) bumps nothing, as its single save
        _in_batch(ids, "ann", article, [_span(place, "ann", 1)])
        assert _revision(place.project_id) == before + 1 + n
        assert rebuild.rebuild(db.session, place.project_id).differences == 0


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Inside an app context: the SQL statements run in the block, each on one line."""
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def test_a_batch_reads_the_articles_access_once(app):
    """Every operation of a batch asks for the article's access (access.writable_article); inside the batch it is read
    once, and a span operation after a label operation reuses the label's read. The next batch reads it again."""
    ids = make_users(app)
    with app.app_context():
        place = _place(ids)
        article = place.article_ids[0]
        with _statements() as seen:
            _in_batch(ids, "ann", article, [_label(0), _span(place, "ann", 0), _span(place, "ann", 1), _link("ann")])
        first = [x for x in seen if x.startswith("SELECT articles.id, articles.project_id")]
        with _statements() as seen:
            _in_batch(ids, "ann", article, [{"op": "delete_span", "id": "ann-span-1"}])
        second = [x for x in seen if x.startswith("SELECT articles.id, articles.project_id")]
        assert len(first) == 1 and "sentences" in first[0]  # the label's read (with its sentence) served the spans and link
        assert len(second) == 1
        assert db.session.scalar(select(Relation.uid).where(Relation.uid == "ann-link-01")) is None  # went with its span
        assert "annotator.access.remembered" not in db.session.info


def test_a_batch_writes_its_audit_entries_in_one_statement_in_the_operations_order(app):
    from annotator.db.models import AuditEntry

    ids = make_users(app)
    with app.app_context():
        place = _place(ids)
        article = place.article_ids[0]
        before = db.session.scalar(select(func.max(AuditEntry.id))) or 0
        with _statements() as seen:
            _in_batch(ids, "ann", article, [_label(0), _span(place, "ann", 0), _span(place, "ann", 1), _link("ann"), _label(0, "NFS")])
        assert len([x for x in seen if x.startswith("INSERT INTO audit_log")]) == 1
        db.session.rollback()
        rows = db.session.execute(select(AuditEntry.entity, AuditEntry.action, AuditEntry.entity_id, AuditEntry.user_id)
                                  .where(AuditEntry.id > before).order_by(AuditEntry.id)).all()
        assert [(entity, action) for entity, action, _, _ in rows] == [
            ("label", "create"), ("span", "create"), ("span", "create"), ("relation", "create"), ("label", "update")]
        assert [uid for _, _, uid, _ in rows[1:4]] == ["ann-span-0", "ann-span-1", "ann-link-01"]
        assert {user for *_, user in rows} == {ids["ann"]}
        # a refused batch leaves no audit entry of its operations that went through before the refusal
        with pytest.raises(annotations.AnnotationError):
            _in_batch(ids, "ann", article, [_label(1), {"op": "delete_span", "id": "no-such-span"}])
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.id > before)) == 5


def test_a_failed_batch_leaves_no_bookkeeping_and_the_next_save_does_its_own(app):
    """The pending bookkeeping lives in session.info for the batch only: after a refused batch, a single save in the
    same session bumps and computes gold at once, as always."""
    ids = make_users(app)
    with app.app_context():
        place = _place(ids)
        article = place.article_ids[0]
        before = _revision(place.project_id)
        with pytest.raises(annotations.AnnotationError):
            _in_batch(ids, "ann", article, [_label(0), {"op": "delete_label", "sentence_index": 3}])
        assert _revision(place.project_id) == before and getattr(trail, "_PENDING", None) not in db.session.info
        annotations.write(db.session, lambda: annotations.put_label(db.session, ids["ann"], article, 0, "CFS"))
        annotations.write(db.session, lambda: annotations.put_label(db.session, ids["ben"], article, 0, "CFS"))
        assert _revision(place.project_id) == before + 2
        assert db.session.scalars(select(GoldLabel.label)).all() == ["CFS"]


# ----------------------------------------------------------------- progress as the single saves give it
SCENARIOS = {
    "every sentence labelled": [_label(n) for n in range(4)],
    "all labelled, one taken back": [*(_label(n) for n in range(4)), {"op": "delete_label", "sentence_index": 2}],
    "taken back, labelled again": [_label(0), {"op": "delete_label", "sentence_index": 0}, *(_label(n, "NFS") for n in range(4))],
    "spans only": "spans",
    "a label changed to another value only": [_label(1, "UFS")],
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("first", ["nothing", "one label", "all labelled"])
def test_assignment_progress_after_a_batch_is_that_of_the_single_saves(app, scenario, first):
    """ann sends the operations as one batch, ben one by one, after the same start: same status, same gold."""
    ids = make_users(app)
    with app.app_context():
        place = _place(ids)
        article = place.article_ids[0]
        start = {"nothing": [], "one label": [_label(1)], "all labelled": [_label(n) for n in range(4)]}[first]
        for who in ("ann", "ben"):
            _one_by_one(ids, who, article, start)
            operations = SCENARIOS[scenario]
            if operations == "spans":
                operations = [_span(place, who, 0), _span(place, who, 1), _link(who)]
            (_in_batch if who == "ann" else _one_by_one)(ids, who, article, operations)
        statuses = _statuses(article)
        assert statuses[ids["ann"]] == statuses[ids["ben"]], statuses
        assert statuses[ids["cat"]] == "assigned"
        assert rebuild.rebuild(db.session, place.project_id).differences == 0


# ----------------------------------------------------------------- random batches: gold as rebuild and as single saves
@dataclass
class Model:
    """What one annotator has, so that a random batch holds only operations that succeed (a failing one would roll
    the whole batch back, and the example would test little)."""

    labels: set[int] = field(default_factory=set)
    spans: dict[int, int] = field(default_factory=dict)  # candidate -> its end now
    link: bool = False


_raw_op = st.one_of(
    st.tuples(st.just("label"), st.integers(0, 3), st.sampled_from(LABELS)),
    st.tuples(st.just("unlabel"), st.integers(0, 3), st.none()),
    st.tuples(st.just("span"), st.integers(0, 2), st.none()),
    st.tuples(st.just("unspan"), st.integers(0, 2), st.none()),
    st.tuples(st.just("move"), st.integers(0, 2), st.none()),
    st.tuples(st.just("link"), st.none(), st.none()),
    st.tuples(st.just("unlink"), st.none(), st.none()),
)
_step = st.one_of(
    st.tuples(st.just("batch"), st.sampled_from(ANNOTATORS), st.lists(_raw_op, min_size=1, max_size=10)),
    st.tuples(st.just("adjudicate"), st.integers(0, 3), st.sampled_from(LABELS)),
)


def _operations(place: Place, who: str, model: Model, raw: list[tuple]) -> list[dict[str, Any]]:
    """The raw operations that would succeed in this order, as batch operations; `model` follows them."""
    out: list[dict[str, Any]] = []
    for kind, n, label in raw:
        if kind == "label":
            out.append(_label(n, label))
            model.labels.add(n)
        elif kind == "unlabel" and n in model.labels:
            out.append({"op": "delete_label", "sentence_index": n})
            model.labels.discard(n)
        elif kind == "span" and n not in model.spans:
            out.append(_span(place, who, n))
            model.spans[n] = place.candidates[n][2]
        elif kind == "unspan" and n in model.spans:
            out.append({"op": "delete_span", "id": f"{who}-span-{n}"})
            del model.spans[n]
            model.link = model.link and n not in (0, 1)  # its links go with it
        elif kind == "move" and n in model.spans:
            end = place.candidates[n][2]
            model.spans[n] = end - 1 if model.spans[n] == end else end
            out.append({"op": "update_span", "id": f"{who}-span-{n}", "end": model.spans[n]})
        elif kind == "link" and not model.link and {0, 1} <= set(model.spans):
            out.append(_link(who))
            model.link = True
        elif kind == "unlink" and model.link:
            out.append({"op": "delete_relation", "id": f"{who}-link-01"})
            model.link = False
    return out


def _gold(place: Place) -> tuple:
    """The place's gold, by sentence index and offsets (comparable between two projects)."""
    db.session.rollback()
    index = {sid: k for k, sid in enumerate(place.sentences)}
    labels = db.session.execute(select(GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance).where(GoldLabel.sentence_id.in_(place.sentences)))
    spans = db.session.execute(select(GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance).where(GoldSpan.article_id == place.article_ids[0]))
    relations = db.session.scalar(select(GoldRelation.id).join(GoldSpan, GoldSpan.id == GoldRelation.from_span_id)
                                  .where(GoldSpan.article_id == place.article_ids[0]).limit(1))
    return sorted((index[sid], label, prov) for sid, label, prov in labels), sorted(spans), relations is not None


def test_incremental_gold_after_random_batches_equals_a_rebuild_and_the_single_saves(app):
    ids = make_users(app)

    @FUZZ
    @given(steps=st.lists(_step, min_size=1, max_size=8))
    def check(steps):
        with app.app_context():
            batched, single = _place(ids), _place(ids)
            models = {who: Model() for who in ANNOTATORS}
            for step in steps:
                if step[0] == "adjudicate":
                    for place in (batched, single):
                        with transaction(db.session):
                            gold.adjudicate(db.session, ids["rita"], place.sentences[step[1]], step[2], reason="random")
                    continue
                _, who, raw = step
                operations = _operations(batched, who, models[who], raw)
                if not operations:
                    continue
                before = _revision(batched.project_id)
                _in_batch(ids, who, batched.article_ids[0], operations)
                assert _revision(batched.project_id) == before + 1
                _one_by_one(ids, who, single.article_ids[0], operations)
            report = rebuild.rebuild(db.session, batched.project_id)
            assert report.differences == 0, report.shown
            assert _gold(batched) == _gold(single)
            by_user = {v: k for k, v in ids.items()}
            assert ({by_user[u]: st for u, st in _statuses(batched.article_ids[0]).items()}
                    == {by_user[u]: st for u, st in _statuses(single.article_ids[0]).items()})

    check()


# ----------------------------------------------------------------- two batches at once
ROUNDS = 4


@pytest.mark.parametrize("where", ["one article", "two articles"])
def test_two_batches_at_once_both_go_through_and_lose_nothing(app, where):
    """ann and ben each send a batch at the same moment, ROUNDS times: on one article, or on two articles of one project.
    Each thread has its own app context (its own session and connection), as two gunicorn workers would. The batches
    take their locks as single saves do (their rows, the assignment, the article's gold lock, the project row last)."""
    ids = make_users(app)
    with app.app_context():
        place = _place(ids, n_articles=1 if where == "one article" else 2)
        start = _revision(place.project_id)
    article_of = {"ann": place.article_ids[0], "ben": place.article_ids[-1]}
    start_line = threading.Barrier(2)
    errors: list[BaseException] = []
    attempts = {"ann": 0, "ben": 0}

    def annotator(who: str) -> None:
        try:
            with app.app_context():
                s = db.session
                for r in range(ROUNDS):
                    operations = [_label(n, LABELS[(r + n) % 3]) for n in range(4)]
                    operations += [_span(place, who, 0), _span(place, who, 1), _link(who)] if r == 0 else [
                        {"op": "update_span", "id": f"{who}-span-0", "end": place.candidates[0][2] - r % 2}]

                    def action(operations=operations) -> Any:
                        attempts[who] += 1
                        return annotations.apply_changes(s, ids[who], article_of[who], operations)

                    start_line.wait(timeout=30)
                    annotations.write(s, action)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            start_line.abort()

    threads = [threading.Thread(target=annotator, args=(who,)) for who in ("ann", "ben")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert attempts == {"ann": ROUNDS, "ben": ROUNDS}  # nor did either need write()'s retry (a deadlock, a conflict)
    with app.app_context():
        s = db.session
        assert _revision(place.project_id) == start + 2 * ROUNDS
        last = ROUNDS - 1
        for who in ("ann", "ben"):
            labels = s.execute(select(Sentence.index, Annotation.label).join(Sentence, Sentence.id == Annotation.sentence_id)
                               .where(Annotation.user_id == ids[who], Sentence.article_id == article_of[who]).order_by(Sentence.index)).all()
            assert labels == [(n, LABELS[(last + n) % 3]) for n in range(4)]
            assert s.scalar(select(Span.end).where(Span.uid == f"{who}-span-0")) == place.candidates[0][2] - last % 2
            assert s.scalar(select(Relation.uid).where(Relation.user_id == ids[who])) == f"{who}-link-01"
            assert _statuses(article_of[who])[ids[who]] == "done"
        assert rebuild.rebuild(s, place.project_id).differences == 0


def test_one_annotators_two_batches_on_one_article_take_turns(app, monkeypatch):
    """Found by the attacker: two batches of one annotator on one article (two tabs) that label the same sentences in
    opposite orders deadlocked on PostgreSQL, each holding the row the other wanted next; over HTTP a third of such
    pairs ended in a 503 after three deadlocks. Here each batch stops after its first label until the other has done
    its own (or 2 s pass), which made the deadlock certain: now the second batch waits for its turn before its first
    row lock, and neither needs write()'s retry."""
    ids = make_users(app)
    with app.app_context():
        article = _place(ids).article_ids[0]
    required, optional, put = batch.OPERATIONS["put_label"]
    meet = threading.Barrier(2)

    def put_then_meet(s: Any, user_id: int, article_id: int, operation: dict[str, Any]) -> dict[str, Any]:
        result = put(s, user_id, article_id, operation)
        if operation.get("seconds") == 1:  # each batch's first operation
            try:
                meet.wait(timeout=2)
            except threading.BrokenBarrierError:
                pass  # the other batch is waiting for its turn (or, after a deadlock, its retry is alone)
        return result

    monkeypatch.setitem(batch.OPERATIONS, "put_label", (required, optional, put_then_meet))
    attempts = {"forward": 0, "backward": 0}
    errors: list[BaseException] = []

    def tab(name: str, order: list[int]) -> None:
        try:
            with app.app_context():
                s = db.session
                operations = [{**_label(n, "UFS" if name == "forward" else "NFS"), "seconds": 1 if k == 0 else 0} for k, n in enumerate(order)]

                def action() -> Any:
                    attempts[name] += 1
                    return annotations.apply_changes(s, ids["ann"], article, operations)

                annotations.write(s, action)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=("forward", [0, 1, 2, 3])), threading.Thread(target=tab, args=("backward", [3, 2, 1, 0]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert attempts == {"forward": 1, "backward": 1}
    with app.app_context():
        labels = db.session.execute(select(Sentence.index, Annotation.label).join(Sentence, Sentence.id == Annotation.sentence_id)
                                    .where(Annotation.user_id == ids["ann"], Sentence.article_id == article)).all()
        assert len(labels) == 4 and len({label for _, label in labels}) == 1  # one batch's labels, whole: the one that went last
