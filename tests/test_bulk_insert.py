"""db.bulk.insert_rows: the driver's executemany in the session's transaction, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from annotator.db import db
from annotator.db.bulk import insert_rows
from annotator.db.models import Article, Sentence
from annotator.db.transactions import transaction
from annotator.domain import projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

COLUMNS = ("article_id", "index", "start", "end")


def _article(session) -> int:  # noqa: ANN001
    project = projects.create_project(session, "Bulk")
    articles.store_articles(session, project, [ArticleRecord("a", "A", "One. Two. Three.")], "seed")
    session.commit()
    return session.scalar(select(Article.id))


def _sentences(session, article_id: int) -> list[tuple[int, int, int]]:  # noqa: ANN001
    return [tuple(row) for row in session.execute(
        select(Sentence.index, Sentence.start, Sentence.end).where(Sentence.article_id == article_id).order_by(Sentence.index))]


def test_rows_land_as_given_and_go_with_the_transaction(app):
    with app.app_context():
        s = db.session
        article_id = _article(s)
        assert _sentences(s, article_id) == [(0, 0, 4), (1, 5, 9), (2, 10, 16)]
        with transaction(s):
            insert_rows(s, Sentence.__table__, COLUMNS, [(article_id, i, 20 + i, 21 + i) for i in range(3, 2003)])
        assert len(_sentences(s, article_id)) == 2003 and _sentences(s, article_id)[-1] == (2002, 2022, 2023)
        with pytest.raises(RuntimeError), transaction(s):
            insert_rows(s, Sentence.__table__, COLUMNS, [(article_id, 5000, 1, 2)])
            raise RuntimeError("rolled back")
        assert len(_sentences(s, article_id)) == 2003


def test_a_driver_error_is_sqlalchemys_and_leaves_nothing(app):
    """A unique key or a CHECK broken: SQLAlchemy's IntegrityError, as Connection.execute raised it (the import turns it
    into its own message), and nothing of the statement stays."""
    with app.app_context():
        s = db.session
        article_id = _article(s)
        for bad in ([(article_id, 3, 20, 21), (article_id, 0, 1, 2)], [(article_id, 3, 5, 5)], [(article_id + 1, 0, 1, 2)]):
            with pytest.raises(IntegrityError), transaction(s):
                insert_rows(s, Sentence.__table__, COLUMNS, bad)
            assert _sentences(s, article_id) == [(0, 0, 4), (1, 5, 9), (2, 10, 16)]


def test_an_import_stores_its_sentences_in_a_few_statements(app):
    """SQLite runs the statement once per row under executemany (31-36 ms for the 25,401 sentences of the peerbench
    harness's articles); 249 rows a statement take half that."""
    with app.app_context():
        s = db.session
        if db.engine.dialect.name != "sqlite":
            pytest.skip("counts SQLite's statement runs")
        project = projects.create_project(s, "Few")
        s.commit()
        text = " ".join(f"Sentence {i} ends here." for i in range(600))
        runs = []
        driver = s.connection().connection.dbapi_connection
        driver.set_trace_callback(lambda sql: runs.append(sql) if sql.startswith("INSERT INTO sentences") else None)
        try:
            with transaction(s):
                articles.store_articles(s, project, [ArticleRecord("long", "Long", text)], "long.jsonl")
        finally:
            driver.set_trace_callback(None)
        assert len(_sentences(s, s.scalar(select(Article.id).where(Article.external_id == "long")))) == 600
        assert len(runs) == 3  # 249 + 249 + 102 rows
