"""store_many's bulk insert (straight to the driver on SQLite) stores exactly what an ORM / Core insert stores."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from annotator.db import db
from annotator.db.models import Article, Sentence, Suggestion
from annotator.db.transactions import transaction
from annotator.domain import projects, suggestions
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.suggestions import Proposal

TEXT = "Rail fares\n\u201cIt is too much,\u201d said a commuter.\nFares rise 5%.\n"
COLUMNS = ("uid", "suggester", "version", "kind", "label", "sentence_id", "start", "end", "from_uid", "to_uid", "score", "created_at")


def test_the_bulk_insert_stores_what_core_stores(app):
    with app.app_context():
        s = db.session
        with transaction(s):
            project = projects.create_project(s, "P")
            articles.store_articles(s, project, [ArticleRecord("a", "T", TEXT), ArticleRecord("b", "T", TEXT)], "test")
        ids = dict(s.execute(select(Article.external_id, Article.id)).all())
        schema = project.label_schema
        proposal = Proposal("m", "v1", labels=[(1, "NFS", 0.25)], spans=[("q", "QUOTE", 12, 26, 0.9), ("s", "SOURCE", 33, 43, 1)],
                            relations=[("attributed_to", "q", "s", 1 / 3)])
        rows = {}
        for key in ("a", "b"):
            sentence_ids = list(s.scalars(select(Sentence.id).where(Sentence.article_id == ids[key]).order_by(Sentence.index)))
            rows[key] = suggestions.rows_for(proposal, ids[key], len(TEXT), schema, sentence_ids)
        with transaction(s):
            assert suggestions.store_many(s, "m", {ids["a"]: rows["a"]}) == 4
            s.execute(insert(Suggestion.__table__), rows["b"])  # what SQLAlchemy itself stores
        stored = {key: sorted(tuple(getattr(x, c) for c in COLUMNS[:-1]) for x in s.scalars(select(Suggestion).where(Suggestion.article_id == ids[key])))
                  for key in ("a", "b")}

        def same_sentence(row):  # the two articles' label suggestions name (and their ids hash) their own sentence
            return ("label",) * (row[3] == "label") or row[:1], row[1:5], (None if row[5] is None else "sentence",), row[6:]

        assert sorted(map(same_sentence, stored["a"])) == sorted(map(same_sentence, stored["b"]))
        times = s.execute(select(Suggestion.article_id, Suggestion.created_at)).all()
        assert len(times) == 8 and all(t.utcoffset() == timedelta(0) for _, t in times)
        raw = s.connection().exec_driver_sql("SELECT DISTINCT typeof(created_at) || ':' || length(created_at) FROM suggestions").all() \
            if s.connection().dialect.name == "sqlite" else []
        assert len(raw) <= 1  # on SQLite both spell the timestamp the same way
