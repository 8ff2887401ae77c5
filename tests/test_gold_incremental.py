"""Automatic gold kept current by the writes (issue 16): a save makes its sentence's gold in its own transaction,
imports and a change of the majority rule recompute what they touch, and `gold rebuild` from scratch finds no
difference after random sequences of writes (hypothesis), on SQLite and PostgreSQL."""
from __future__ import annotations

import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Article, Assignment, GoldLabel, GoldRelation, GoldSpan, Project
from annotator.db.transactions import begin_write, transaction
from annotator.domain import accounts, gold, labelschema, projects
from annotator.domain.annotations import AnnotationError
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.gold import rebuild

from .test_export import read_jsonl
from .test_project_agreement import seed

FUZZ = settings(
    max_examples=400 if os.environ.get("ANNOTATOR_FUZZ") == "thorough" else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TEXT = "The ferry was late again. Tolls rose by 7.5% in March. Nobody told the commuters. Service resumes on Monday."
ANNOTATORS = ("ann", "ben", "cat")
LABELS = ("CFS", "UFS", "NFS")


def gold_rows(project_id: int) -> list[tuple]:
    in_project = select(Article.id).where(Article.project_id == project_id)
    from annotator.db.models import Sentence

    return sorted(db.session.execute(
        select(GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance)
        .where(GoldLabel.sentence_id.in_(select(Sentence.id).where(Sentence.article_id.in_(in_project))))
    ).all())


def test_a_label_save_makes_its_sentences_gold_in_the_same_transaction(app):
    seeded = seed(app, [{"a": "CFS"}, {"a": "UFS", "b": "UFS"}], assign=True)
    with app.app_context():
        assert gold_rows(seeded.project_id) == []  # seeded behind the write path: no gold yet
        annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["b"], seeded.articles[0], 0, "CFS"))
        assert gold_rows(seeded.project_id) == [(seeded.sentences[0], "CFS", "unanimous")]
        annotations.write(db.session, lambda: annotations.delete_label(db.session, seeded.users["b"], seeded.articles[0], 0))
        assert gold_rows(seeded.project_id) == []
        # a save that fails after the gold step leaves neither the label nor the gold
        from annotator.domain.annotations import trail

        real = trail.BUMP_REVISION

        class FailingBump:
            def run(self, session, params):
                raise RuntimeError("crash before commit")

        trail.BUMP_REVISION = FailingBump()
        try:
            with pytest.raises(RuntimeError, match="crash before commit"):
                annotations.write(db.session, lambda: annotations.put_label(db.session, seeded.users["b"], seeded.articles[0], 0, "CFS"))
        finally:
            trail.BUMP_REVISION = real
        assert gold_rows(seeded.project_id) == []


def test_a_label_save_counts_labels_the_schema_no_longer_has_as_the_rebuild_does(app):
    """Stored labels outside the schema (it changed since) are categories of their own in a save's gold step too."""
    seeded = seed(app, [{"a": "OLD", "b": "OLD", "c": "NFS"}], annotators_per_article=3, majority_threshold=0.66, assign=True)
    sentence, article = seeded.sentences[0], seeded.articles[0]
    with app.app_context():
        for who, label, expected in (("c", "CFS", [(sentence, "OLD", "majority")]), ("c", "UFS", [(sentence, "OLD", "majority")]),
                                     ("a", "CFS", [])):
            annotations.write(db.session, lambda w=who, x=label: annotations.put_label(db.session, seeded.users[w], article, 0, x))
            assert gold_rows(seeded.project_id) == expected, (who, label)
            assert rebuild.rebuild(db.session, seeded.project_id).differences == 0


def test_a_span_save_makes_automatic_gold_spans(app):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}], assign=True)
    start, _ = seeded.offsets[0]
    with app.app_context():
        for who in ("a", "b"):
            annotations.write(db.session, lambda who=who: annotations.create_span(db.session, seeded.users[who], seeded.articles[0], "QUOTE",
                                                                                   start, start + 5, f"{who}-quote-1"))
        spans = db.session.execute(select(GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance)).all()
        assert spans == [("QUOTE", start, start + 5, "unanimous")]
        annotations.write(db.session, lambda: annotations.delete_span(db.session, seeded.users["a"], seeded.articles[0], "a-quote-1"))
        assert db.session.execute(select(GoldSpan.id)).all() == []


def test_span_and_link_saves_recompute_the_article_only_when_the_span_can_be_gold(app, monkeypatch):
    """A span fewer annotators marked than the rule needs (min_raters: 2 here) cannot be gold, nor a link over it: its
    save leaves the article's gold alone (one count, no reload); the second marker's save, and the link over two such
    spans, recompute it; so does a move or a deletion of a span that could be gold, and the gold is right after each."""
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}], assign=True)
    start, _ = seeded.offsets[0]
    from annotator.domain.gold import incremental

    recomputed = []
    real = incremental._refresh  # every recomputation of articles (one article's without NumPy, or a batch's)
    monkeypatch.setattr(incremental, "_refresh", lambda s, h, a, *rest: recomputed.append(a) or real(s, h, a, *rest))
    article = seeded.articles[0]

    def save(what, who, *args):
        recomputed.clear()
        annotations.write(db.session, lambda: getattr(annotations, what)(db.session, seeded.users[who], article, *args))
        return len(recomputed)

    def gold_spans():
        return db.session.execute(select(GoldSpan.label, GoldSpan.start, GoldSpan.end).order_by(GoldSpan.start)).all()

    with app.app_context():
        assert save("create_span", "a", "QUOTE", start, start + 5, "a-q-000000") == 0  # one marker
        assert save("create_span", "a", "SOURCE", start + 6, start + 9, "a-s-000000") == 0
        assert save("create_relation", "a", "attributed_to", "a-q-000000", "a-s-000000", "a-r-000000") == 0  # over spans that cannot be gold
        assert save("update_span", "a", "a-s-000000", None, start + 6, start + 8) == 0  # moved: still one marker
        assert gold_spans() == []
        assert save("create_span", "b", "QUOTE", start, start + 5, "b-q-000000") == 1  # two markers: gold now
        assert save("create_span", "b", "SOURCE", start + 6, start + 8, "b-s-000000") == 1
        assert gold_spans() == [("QUOTE", start, start + 5), ("SOURCE", start + 6, start + 8)]
        assert save("create_relation", "b", "attributed_to", "b-q-000000", "b-s-000000", "b-r-000000") == 1
        assert db.session.execute(select(GoldRelation.type)).scalars().all() == ["attributed_to"]
        assert save("update_span", "a", "a-s-000000", None, start + 6, start + 9) == 1  # moved off a gold span
        assert gold_spans() == [("QUOTE", start, start + 5)] and db.session.execute(select(GoldRelation.id)).all() == []
        assert save("delete_span", "a", "a-q-000000") == 1  # a marker of a gold span
        assert gold_spans() == []
        assert save("delete_span", "b", "b-q-000000") == 0  # its last marker: it was not gold any more
        report = rebuild.rebuild(db.session, seeded.project_id)
        assert report.differences == 0, report.shown


def test_changing_the_majority_recomputes_the_projects_gold_in_batches(app, monkeypatch):
    seeded = seed(app, [{"a": "CFS", "b": "CFS", "c": "UFS"}, {"a": "NFS", "b": "NFS", "c": "NFS"}], [0, 1], annotators_per_article=3)
    with app.app_context():
        begin_write(db.session)
        gold.refresh_auto_gold(db.session, seeded.project_id)
        db.session.commit()
        assert [g[1:] for g in gold_rows(seeded.project_id)] == [("NFS", "unanimous")]
        batches = []
        from annotator.domain.gold import refresh

        real = refresh.refresh_articles
        monkeypatch.setattr(refresh, "refresh_articles", lambda s, h, a, *rest: batches.append(a) or real(s, h, a, *rest))
        monkeypatch.setattr(refresh, "REFRESH_BATCH_ARTICLES", 1)
        monkeypatch.setattr(refresh.refresh_auto_gold, "__defaults__", (1,))
        with transaction(db.session):
            projects.update_project(db.session, db.session.get(Project, seeded.project_id), majority_threshold=0.66)
        assert [g[1:] for g in gold_rows(seeded.project_id)] == [("CFS", "majority"), ("NFS", "unanimous")]
        assert len(batches) == 2  # one article at a time
        with transaction(db.session):  # the same setting again: nothing recomputed
            projects.update_project(db.session, db.session.get(Project, seeded.project_id), majority_threshold=0.66)
        assert len(batches) == 2


def test_imported_annotations_get_their_gold(app, runner, tmp_path):
    from .test_export import build_project

    build_project(app)
    path = tmp_path / "news.jsonl"
    assert runner.invoke(args=["export", "news", "--unit", "article", "-o", str(path)]).exit_code == 0
    (record,) = read_jsonl(path)
    record.pop("gold", None)
    (tmp_path / "in.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert runner.invoke(args=["projects", "create", "copy", "--majority", "0.66", "--annotators-per-article", "3"]).exit_code == 0
    result = runner.invoke(args=["import-annotations", "copy", str(tmp_path / "in.jsonl")])
    assert result.exit_code == 0, result.output
    with app.app_context():
        copy = db.session.scalar(select(Project.id).where(Project.name == "copy"))
        got = [g[1:] for g in gold_rows(copy)]
    assert got == [("CFS", "majority"), ("CFS", "unanimous"), ("UFS", "majority"), ("NFS", "unanimous")]  # GOLD, made by the import
    result = runner.invoke(args=["gold", "rebuild", "copy"])
    assert result.exit_code == 0 and result.output.strip() == "no differences (1 articles)", result.output


def test_gold_rebuild_lists_differences_and_fixes_them(app, runner):
    seeded = seed(app, [{"a": "CFS", "b": "CFS"}, {"a": "UFS", "b": "UFS"}], name="news")
    result = runner.invoke(args=["gold", "rebuild", "news"])  # seeded behind the write path: two gold labels missing
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[:2] == [
        f"article {seeded.articles[0]}, sentence id {seeded.sentences[0]}: gold label stored none, the rule gives CFS (unanimous)",
        f"article {seeded.articles[0]}, sentence id {seeded.sentences[1]}: gold label stored none, the rule gives UFS (unanimous)",
    ]
    assert lines[-1] == "Error: 2 differences in 1 articles (run again with --fix to store the rule's result)"
    with app.app_context():
        assert gold_rows(seeded.project_id) == []  # only compared
    result = runner.invoke(args=["gold", "rebuild", "news", "--fix"])
    assert result.exit_code == 0 and result.output.strip().splitlines()[-1] == "fixed 2 differences in 1 articles"
    assert runner.invoke(args=["gold", "rebuild", "news"]).output.strip() == "no differences (1 articles)"
    with app.app_context():
        begin_write(db.session)
        db.session.execute(delete(GoldLabel).where(GoldLabel.sentence_id == seeded.sentences[1]))
        db.session.commit()
        report = rebuild.rebuild(db.session, seeded.project_id, show=0)
    assert (report.differences, report.shown) == (1, [])
    assert runner.invoke(args=["gold", "rebuild", "nope"]).output.strip() == "Error: no project named 'nope'"


# ----------------------------------------------------------------- random writes, then rebuild
# A start that agrees often (each annotator labels each sentence with one of two labels or not at all, and marks
# each of three candidate spans or not), then random writes: gold appears, changes and goes.
_start = st.tuples(
    st.lists(st.sampled_from([None, "CFS", "UFS"]), min_size=len(ANNOTATORS) * 4, max_size=len(ANNOTATORS) * 4),
    st.lists(st.booleans(), min_size=len(ANNOTATORS) * 3, max_size=len(ANNOTATORS) * 3)
    | st.just([False] * len(ANNOTATORS) * 3),  # an article without spans: a label save's own path (its sentence alone)
)
_op = st.one_of(
    st.tuples(st.just("label"), st.sampled_from(ANNOTATORS), st.integers(0, 3), st.sampled_from(LABELS)),
    st.tuples(st.just("unlabel"), st.sampled_from(ANNOTATORS), st.integers(0, 3), st.none()),
    st.tuples(st.just("span"), st.sampled_from(ANNOTATORS), st.integers(0, 2), st.none()),
    st.tuples(st.just("unspan"), st.sampled_from(ANNOTATORS), st.integers(0, 2), st.none()),
    st.tuples(st.just("link"), st.sampled_from(ANNOTATORS), st.none(), st.none()),
    st.tuples(st.just("adjudicate"), st.none(), st.integers(0, 3), st.sampled_from(LABELS)),
)


def _apply(session, ids, article_id, sentences, candidates, op) -> None:
    kind, who, n, label = op
    user = ids.get(who)
    if kind == "label":
        annotations.write(session, lambda: annotations.put_label(session, user, article_id, n, label))
    elif kind == "unlabel":
        annotations.write(session, lambda: annotations.delete_label(session, user, article_id, n))
    elif kind == "span":
        span_label, a, b = candidates[n]
        annotations.write(session, lambda: annotations.create_span(session, user, article_id, span_label, a, b, f"{who}-span-{n}"))
    elif kind == "unspan":
        annotations.write(session, lambda: annotations.delete_span(session, user, article_id, f"{who}-span-{n}"))
    elif kind == "link":
        annotations.write(session, lambda: annotations.create_relation(session, user, article_id, "attributed_to", f"{who}-span-0", f"{who}-span-1",
                                                                       f"{who}-link-01"))
    else:
        with transaction(session):
            gold.adjudicate(session, ids["rita"], sentences[n], label, reason="random")


def make_users(app, annotators: tuple[str, ...] = ANNOTATORS) -> dict[str, int]:
    """The annotators and a reviewer, rita: name -> user id."""
    with app.app_context():
        session = db.session
        begin_write(session)
        ids = {name: accounts.create_user(session, name, "annotator", "correct horse").id for name in annotators}
        ids["rita"] = accounts.create_user(session, "rita", "reviewer", "correct horse").id
        session.commit()
        return ids


def test_incremental_gold_equals_a_rebuild_after_random_writes(app):
    ids = make_users(app)
    counter = itertools.count()

    @FUZZ
    @given(start=_start, more=st.lists(_op, max_size=12))
    def check(start, more):
        labels, marks = start
        # spans first: the labels after them change who must agree on each span (a label save recomputes the article)
        ops = [("span", who, n, None) for k, who in enumerate(ANNOTATORS) for n in range(3) if marks[k * 3 + n]]
        ops += [("link", who, None, None) for who in ANNOTATORS if any(marks)]
        ops += [("label", who, n, labels[k * 4 + n]) for k, who in enumerate(ANNOTATORS) for n in range(4) if labels[k * 4 + n]] + more
        with app.app_context():
            session = db.session
            begin_write(session)  # a project per example: the rebuild below sees this example's writes only
            project = projects.create_project(session, f"random {next(counter)}", labelschema.preset("claims"), annotators_per_article=2)
            project.majority_threshold = 0.66
            project_id = project.id
            articles.store_articles(session, project, [ArticleRecord("r", "Random", TEXT, {})], "test")
            article = session.scalar(select(Article).where(Article.project_id == project_id).order_by(Article.id.desc()).limit(1))
            for name in ANNOTATORS:
                session.add(Assignment(user_id=ids[name], article_id=article.id))
            session.commit()
            article_id = article.id
            sentences = [s.id for s in sorted(article.sentences, key=lambda s: s.index)]
            bounds = [(s.start, s.end) for s in sorted(article.sentences, key=lambda s: s.index)]
            # a quote inside sentence 2, its source in sentence 1, and a quote across sentences 3-4
            candidates = [("QUOTE", bounds[1][0], bounds[1][0] + 5), ("SOURCE", bounds[0][0], bounds[0][0] + 3),
                          ("QUOTE", bounds[2][1] - 4, bounds[3][0] + 4)]
            adjudicated = {}
            for op in ops:
                try:
                    _apply(session, ids, article_id, sentences, candidates, op)
                except (AnnotationError, gold.GoldError):
                    session.rollback()  # a refused write (no such label or span): nothing stored
                if op[0] == "adjudicate":
                    adjudicated[sentences[op[2]]] = op[3]
            report = rebuild.rebuild(session, project_id)
            assert report.differences == 0, report.shown
            begin_write(session)  # the whole-project path (ranges of ids, the loaders built per call) finds nothing to change either
            changed = gold.refresh_auto_gold(session, project_id).changed
            session.rollback()
            assert changed == 0
            stored = {sid: (label, prov) for sid, label, prov in gold_rows(project_id) if sid in adjudicated}
            assert stored == {sid: (label, "adjudicated") for sid, label in adjudicated.items()}  # never overwritten

    check()


def test_a_batch_of_articles_is_locked_in_one_statement_each_article_held(app, database_uri):
    """An import's gold refresh took each article's advisory lock with a statement of its own (1,500 for a file of
    1,500 articles); one statement now takes them all, and each is held against another transaction as before."""
    if not database_uri.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's (SQLite's BEGIN IMMEDIATE serialises the writers)")
    from sqlalchemy import event, text

    from annotator.domain.gold import writes

    with app.app_context():
        session, engine = db.session, db.engine
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
            statements.append(statement)

        begin_write(session)
        event.listen(engine, "before_cursor_execute", seen)
        try:
            writes.lock_articles(session, [907, 905, 906, 905])
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        try:
            with engine.connect() as other:
                free = {key: other.scalar(text("SELECT pg_try_advisory_xact_lock(CAST(:ns AS integer), CAST(:key AS integer))"),
                                          {"ns": writes._ARTICLE_LOCK_NAMESPACE, "key": key}) for key in (904, 905, 906, 907, 908)}
                other.rollback()
        finally:
            session.rollback()
    assert free == {904: True, 905: False, 906: False, 907: False, 908: True}
    assert len([s for s in statements if "pg_advisory_xact_lock" in s]) == 1, statements
