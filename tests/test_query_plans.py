"""PostgreSQL: after the bulk import paths, the hot queries use the indexes (issue 16, "PostgreSQL at size").

At 360,000 freshly bulk-loaded labels nothing had analysed the tables, and the
gold refresh planned a sequential scan of all sentences per batch of articles.
Here a few thousand sentences and labels come in through the bulk paths
(article import, annotation import: both ANALYZE what they filled, see
db/statistics.py); then the statements of the hot paths are captured as they
run and each SELECT is EXPLAINed with its own parameters: none may plan a
sequential scan of sentences or annotations. The hot paths: the gold of one
sentence and of one article as a label save recomputes it, the export's batch
load, the queue page's lookups of the rows it shows, and the article JSON. (Whole-project reads,
the agreement figures and the list of disputed sentences, read every row of a
project: a sequential scan is their right plan, and they are not checked.)
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select, text

from annotator.db import db
from annotator.db.models import Article, Sentence
from annotator.db.transactions import begin_write, transaction
from annotator.domain import accounts, agreement, catalog, labelschema, projects
from annotator.domain.annotations import trail
from annotator.domain.dataset import articles, export, import_annotations
from annotator.domain.dataset.export import load as export_load
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.gold import incremental, refresh

N_ARTICLES = 1500
TEXT = "The toll rose by {n} percent. Drivers were angry. The mayor said it was needed. Critics disagreed. Nobody knows more. It ends here."
ANNOTATORS = ("ann", "ben", "cat")
SPAN_STARTS = (0, 20, 40, 60, 80, 100)  # six quotes in every article, by every annotator (ben's a character longer)


@pytest.fixture
def loaded(app, database_uri):
    if not database_uri.startswith("postgresql"):
        pytest.skip("query plans are PostgreSQL's")
    with app.app_context():
        session = db.session
        with transaction(session):
            project = projects.create_project(session, "big", labelschema.preset("claims"), annotators_per_article=3)
            project_id = project.id
        records = [ArticleRecord(f"a-{n}", f"A {n}", TEXT.format(n=n), {}) for n in range(N_ARTICLES)]
        articles.import_records(session, session.get(type(project), project_id), records, "big.jsonl")
        lines = []
        for n in range(N_ARTICLES):
            annotations = [{"annotator": who, "labels": [{"sentence": i, "label": ("CFS", "UFS", "NFS")[(i + k * (n % 2)) % 3]}
                                                         for i in range(6)],
                            "spans": [{"id": f"{who}-{i}", "label": "QUOTE", "start": start, "end": start + 8 + k % 2}
                                      for i, start in enumerate(SPAN_STARTS)]} for k, who in enumerate(ANNOTATORS)]
            lines.append((n + 1, {"id": f"a-{n}", "text": TEXT.format(n=n), "annotations": annotations}))
        with transaction(session):
            project = session.get(type(project), project_id)
            import_annotations.import_records(session, project, lines, "labels.jsonl")
        yield app, project_id


KEYSET = re.compile(r"articles\.id\)? >")  # a page's or an export batch's "after this id", as SQLite and PostgreSQL have it


class Captured:
    def __init__(self) -> None:
        self.selects: list[tuple[str, object]] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            self.selects.append((statement, parameters))


def _plans(session, captured: Captured, explain: str) -> list[tuple[str, str]]:
    raw = session.connection().connection.dbapi_connection
    out = []
    with raw.cursor() as cursor:
        for statement, parameters in captured.selects:
            cursor.execute(explain + " " + statement, parameters)
            out.append((statement, "\n".join(row[0] for row in cursor.fetchall())))
    return out


def _capture(app, action, explain: str = "EXPLAIN") -> list[tuple[str, str]]:
    with app.app_context():
        captured = Captured()
        event.listen(db.engine, "before_cursor_execute", captured)
        try:
            action(db.session)
        finally:
            event.remove(db.engine, "before_cursor_execute", captured)
        db.session.rollback()
        return _plans(db.session, captured, explain)


def _assert_indexed(plans: list[tuple[str, str]], tables: tuple[str, ...] = ("sentences", "annotations")) -> None:
    assert plans
    for statement, plan in plans:
        for table in tables:
            assert f"Seq Scan on {table}" not in plan, f"{' '.join(statement.split())[:300]}\n{plan}"


def test_after_the_bulk_paths_the_hot_queries_use_the_indexes(loaded, monkeypatch):
    """One load (it takes a while), then each hot path in turn."""
    app, project_id = loaded
    with app.app_context():
        analysed = dict(db.session.execute(text(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE schemaname = current_schema() AND last_analyze IS NOT NULL"
        )).all())
        article_id = db.session.scalar(select(Article.id).where(Article.project_id == project_id).order_by(Article.id.desc()).limit(1))
        sentence_id = db.session.scalar(select(Sentence.id).where(Sentence.article_id == article_id).limit(1))
        rows = agreement.disagreements(db.session, project_id, store=False)[:50]
        db.session.rollback()
    assert {"sentences", "annotations", "articles", "gold_labels"} <= set(analysed), analysed  # ANALYZE ran (last_analyze: not autovacuum)
    assert analysed["annotations"] >= N_ARTICLES * 6 * 3 * 0.9 and rows

    def recompute(session):  # what a label save runs for its sentence, and a span save for its article
        begin_write(session)
        incremental.label_changed(session, project_id, article_id, sentence_id)
        incremental.article_changed(session, project_id, article_id)

    def export_some(session):
        for k, _ in enumerate(export.iter_records(session, project_id, "sentence", batch_size=20, id_range=(N_ARTICLES // 2, None))):
            if k > 40:
                break

    def queue_page(session):  # the rows the queue page shows
        agreement.sentence_texts(session, [r["sentence_id"] for r in rows])
        agreement.article_names(session, project_id, sorted({r["article_id"] for r in rows}))

    def article_json(session):  # GET /api/articles/<id>: the article, its sentences, one annotator's labels, spans and relations
        from annotator.domain.annotations import article_payload

        payload = article_payload(session, session.get(Article, article_id), accounts.find_user(session, "ann"))
        assert len(payload["annotations"]["labels"]) == 6

    for action in (recompute, export_some, queue_page, article_json):
        _assert_indexed(_capture(app, action))

    def article_list(session):  # GET /api/projects/<id>/articles?cursor=...: the page after an id, halfway through
        page = catalog.article_page(session, project_id, catalog.Window(100, after=article_id - N_ARTICLES // 2))
        assert len(page.items) == 100 and page.more

    keyset = [(statement, plan) for statement, plan in _capture(app, article_list) if KEYSET.search(statement)]
    assert len(keyset) == 1
    _assert_indexed(keyset, ("articles",))
    assert "Sort" not in keyset[0][1], keyset[0][1]  # read in id order from an index, not all of the project's articles sorted

    # Another project's articles after these (ids above theirs), analysed: PostgreSQL, taking project and id to be
    # unrelated, served the page from the primary key and filtered by project, so the walk's last page read every
    # later article of the database. A page, and an export batch, must read their own project's rows only.
    with app.app_context():
        with transaction(db.session):
            other = projects.create_project(db.session, "later", labelschema.preset("claims")).id
        db.session.execute(text("INSERT INTO articles (project_id, external_id, title, text, meta, sha256, created_at) "
                                "SELECT :p, 'b-' || g, '', 'Later.', '{}', '', now() FROM generate_series(1, :n) AS g"),
                           {"p": other, "n": 2 * N_ARTICLES})
        db.session.commit()
        db.session.execute(text("ANALYZE articles"))
        db.session.commit()

    def last_page(session):  # the walk's last page: its 50 articles, and nothing after them
        page = catalog.article_page(session, project_id, catalog.Window(100, after=article_id - 50))
        assert len(page.items) == 50 and not page.more

    exported: list[str] = []  # the export runs its reads on the driver's cursor, which no engine event sees
    run_rows = export_load._rows

    def rows(conn, query):  # noqa: ANN001
        exported.append(str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})))
        return run_rows(conn, query)

    monkeypatch.setattr(export_load, "_rows", rows)
    with app.app_context():  # the export of the walk's last articles: their batch, then the empty one after it
        assert len(list(export.iter_records(db.session, project_id, "sentence", batch_size=100, id_range=(article_id - 50, None)))) == 50 * 6
        captured = Captured()
        captured.selects = [(statement, None) for statement in exported if KEYSET.search(statement)]
        batches = [plan for _, plan in _plans(db.session, captured, "EXPLAIN (ANALYZE, BUFFERS)")]
        db.session.rollback()
    page = [plan for statement, plan in _capture(app, last_page, "EXPLAIN (ANALYZE, BUFFERS)") if KEYSET.search(statement)]
    for keyset, statements in ((page, 1), (batches, 2)):  # the export: its batch, and the empty one after it
        assert len(keyset) == statements, keyset
        for plan in keyset:
            assert "Index Scan using ix_articles_project_id_id on articles" in plan, plan
            assert f"Index Cond: ((ROW(project_id, id) > ROW({project_id}, " in plan and f"AND (project_id = {project_id}))" in plan, plan
            assert "Rows Removed by Filter" not in plan and "Sort" not in plan, plan  # no other project's row read, none sorted

    # Inside every save's write lock: how many annotators marked a span, whether a span that can be gold is over the
    # sentence, whether the annotator has labelled every sentence. By index, never a scan of the article's rows.
    with app.app_context():
        ann_id = accounts.find_user(db.session, "ann").id
        db.session.rollback()

    def markers(session):
        begin_write(session)
        assert not incremental.spans_can_be_gold(session, article_id, [("QUOTE", 0, 8)])  # ann and cat: 2 of 3

    def spans_over(session):
        assert not refresh.sentence_gold(session, project_id, sentence_id, with_spans=True).spans_over

    def progress(session):
        assert trail.ALL_LABELLED.rows(session, {"user_id": ann_id, "article_id": article_id, "sentence_id": sentence_id}) == [(True, True)]

    seeks = {  # what each must show: a seek on the offsets, the same index in offset order, the near sentences first
        markers: 'Index Only Scan using ix_spans_article_offsets_label_user on spans  (cost',
        spans_over: 'Index Cond: ((article_id = sentences.article_id) AND (start < sentences."end")',
        progress: "Index Cond: ((article_id = {}) AND (index >= ($",
    }
    for action, seek in seeks.items():
        plans = _capture(app, action)
        _assert_indexed(plans, ("sentences", "annotations", "spans"))
        assert any(seek.format(article_id) in plan for _, plan in plans), plans
    assert 'Index Cond: ((article_id = {}) AND (start = 0) AND ("end" = 8) AND (label = '.format(article_id) in str(_capture(app, markers))


def test_sqlite_plans_the_write_locks_hot_reads_by_index(app):
    """SQLite's plans of the same three reads, as the save runs them inside its write lock (the counts of their work
    are test_write_lock.py's): a seek on the span's offsets, the spans over a sentence in the index's order (no sort
    of the article's spans), and the sentences next to the one written looked at by their index first."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's EXPLAIN QUERY PLAN")
    from annotator.domain.gold.refresh import _SENTENCE_GOLD_AND_SPANS

    with app.app_context():
        conn = db.session.connection()

        def plan(prepared) -> str:  # noqa: ANN001
            compiled = prepared.statement.compile(dialect=conn.dialect)
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), tuple(1 for _ in compiled.positiontup)).all()
            return "\n".join(row[3] for row in rows)

        markers, spans_over, progress = plan(incremental._MARKERS), plan(_SENTENCE_GOLD_AND_SPANS), plan(trail.MARK_PROGRESS)
    assert "SEARCH spans USING COVERING INDEX ix_spans_article_offsets_label_user (article_id=? AND start=? AND end=? AND label=?)" in markers
    assert "SEARCH spans USING COVERING INDEX ix_spans_article_offsets_label_user (article_id=? AND start<?)" in spans_over
    assert "TEMP B-TREE" not in spans_over, spans_over
    assert "SEARCH sentences USING INDEX sqlite_autoindex_sentences_1 (article_id=? AND index>? AND index<?)" in progress, progress
