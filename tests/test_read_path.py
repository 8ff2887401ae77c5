"""The read path's exact answers: GET /api/articles/<id> byte for byte, and the annotation page's values.

The read path runs prebuilt Core statements (annotations/reads.py, access.py, progress.queued_article,
guidelines.guidelines_notice); these tests pin what they answer against documents written out by hand,
with everything a document can carry: labels, spans, relations, origins, non-ASCII text and another
annotator's work that must not show (blind).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import orjson
import pytest
from sqlalchemy import event, select, update

from annotator.db import db
from annotator.db.models import Annotation, ApiToken, Article, GuidelineVersion, Project, Relation, Sentence, Span
from annotator.domain import accounts, annotations, assignment, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

# Code points: the flag is 2, each emoji 1, "é" 1 (precomposed) or 2 (e + combining accent).
SENTENCES = [
    "Le ministre a dit : \u00ab Les imp\u00f4ts ont augment\u00e9 de 5 % \U0001f1eb\U0001f1f7. \u00bb",
    "C'\u00e9tait \U0001f600 \u00e9norme.",
    "Caf\u00e9 et cafe\u0301 sont ferm\u00e9s.",
]
TEXT = SENTENCES[0] + " " + SENTENCES[1] + "\n" + SENTENCES[2]
QUOTE = "Les imp\u00f4ts ont augment\u00e9 de 5 % \U0001f1eb\U0001f1f7."
SOURCE = "Le ministre"
CUE = "Le ministre a dit"
SCHEMA = {
    "sentence_labels": [
        {"name": "CFS", "description": "D\u00e9claration \u00ab v\u00e9rifiable \u00bb", "color": "#d62728", "key": "1"},
        {"name": "NFS", "description": "Pas un fait", "color": "#7f7f7f", "key": "2"},
    ],
    "span_labels": [
        {"name": "QUOTE", "description": "Ce qui est dit", "color": "#1f77b4", "key": "q"},
        {"name": "SOURCE", "description": "Qui le dit", "color": "#2ca02c", "key": "s"},
    ],
    "relation_types": [
        {"name": "attributed_to", "description": "Citation \u2192 source", "color": "#555555", "key": "l", "from": ["QUOTE"], "to": ["SOURCE"]},
    ],
}
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
AT_MICRO = datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone.utc)
ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def _bounds() -> list[tuple[int, int]]:
    starts = [0, len(SENTENCES[0]) + 1, len(SENTENCES[0]) + 1 + len(SENTENCES[1]) + 1]
    return [(start, start + len(sentence)) for start, sentence in zip(starts, SENTENCES, strict=True)]


@pytest.fixture
def rich(app) -> dict:
    """An article with zoe's labels, spans and relation (some accepted from a suggester) and bob's (never shown to her)."""
    with app.app_context():
        s = db.session
        zoe = accounts.create_user(s, "zoe", "annotator", None)
        bob = accounts.create_user(s, "bob", "annotator", None)
        project = projects.create_project(s, "Projet \u2713", SCHEMA, guidelines="*Lisez* ceci.")
        articles.store_articles(
            s, project,
            [ArticleRecord("a-\u00e91", "Titre \u00ab un \u00bb", TEXT, meta={"source": "Agence \u2713", "n": 3}),
             ArticleRecord("a2", "", "Deux. Trois.")],
            "test", segmented={"a-\u00e91": _bounds()},
        )
        assignment.assign_to_user(s, project.id, zoe, ["a-\u00e91", "a2"])
        assignment.assign_to_user(s, project.id, bob, ["a-\u00e91"])
        token = accounts.issue_token(s, zoe)
        s.commit()
        article = s.scalar(select(Article.id).where(Article.external_id == "a-\u00e91"))
        quote_start, source_start = TEXT.index(QUOTE), TEXT.index(SOURCE)
        for action in (
            lambda: annotations.put_label(s, zoe.id, article, 0, "CFS", 2.5),
            lambda: annotations.put_label(s, zoe.id, article, 2, "NFS", 0),
            lambda: annotations.put_label(s, bob.id, article, 0, "NFS", 1),
            lambda: annotations.create_span(s, zoe.id, article, "QUOTE", quote_start, quote_start + len(QUOTE), "quote-one"),
            lambda: annotations.create_span(s, zoe.id, article, "SOURCE", source_start, source_start + len(SOURCE), "source-two"),
            lambda: annotations.create_span(s, zoe.id, article, "SOURCE", source_start, source_start + len(CUE), "source-one"),
            lambda: annotations.create_span(s, bob.id, article, "QUOTE", 0, 5, "bobs-span"),
            lambda: annotations.create_relation(s, zoe.id, article, "attributed_to", "quote-one", "source-two", "link-one"),
            lambda: annotations.create_relation(s, zoe.id, article, "attributed_to", "quote-one", "source-one", "link-zero"),
        ):
            annotations.write(s, action)
        mine = Annotation.user_id == zoe.id
        first = select(Sentence.id).where(Sentence.article_id == article, Sentence.index == 0).scalar_subquery()
        s.execute(update(Annotation).where(mine, Annotation.sentence_id != first)
                  .values(origin="suggested", suggester="r\u00e8gles", suggester_version="1.0"))
        s.execute(update(Annotation).where(mine).values(updated_at=AT))  # after: an update stamps updated_at
        s.execute(update(Annotation).where(mine, Annotation.sentence_id == first).values(updated_at=AT_MICRO))
        s.execute(update(Span).where(Span.uid == "quote-one").values(origin="suggested", suggester="r\u00e8gles", suggester_version="2"))
        s.execute(update(Relation).where(Relation.uid == "link-one").values(origin="suggested", suggester="liens", suggester_version=None))
        project = s.get(Project, project.id)
        projects.set_guidelines(s, project, "**Nouvelle** version.")  # version 2: zoe labelled under 1
        s.execute(update(GuidelineVersion).where(GuidelineVersion.version == 2).values(created_at=AT))
        project.suggestions_enabled = True
        s.commit()
        return {"article": article, "project": project.id, "token": token, "starts": (quote_start, source_start)}


def _origin(origin: str = "manual", suggester: str | None = None, version: str | None = None) -> dict:
    return {"origin": origin, "suggester": suggester, "suggester_version": version}


def test_article_json_is_exactly_the_document(app, rich):
    quote_start, source_start = rich["starts"]
    expected = {
        "article": {"id": rich["article"], "external_id": "a-\u00e91", "title": "Titre \u00ab un \u00bb", "text": TEXT,
                    "meta": {"source": "Agence \u2713", "n": 3}, "project": "Projet \u2713"},
        "sentences": [{"index": i, "start": start, "end": end} for i, (start, end) in enumerate(_bounds())],
        "schema": SCHEMA,
        "guidelines_version": 2,
        "annotations": {
            "labels": [
                {"sentence": 0, "label": "CFS", "seconds": 2.5, "guidelines_version": 1, "version": 1,
                 "updated_at": "2026-01-02T03:04:05.120000Z", "needs_review": False, **_origin()},
                {"sentence": 2, "label": "NFS", "seconds": 0.0, "guidelines_version": 1, "version": 1,
                 "updated_at": "2026-01-02T03:04:05Z", "needs_review": False, **_origin("suggested", "r\u00e8gles", "1.0")},
            ],
            "spans": [  # by start, end, then the order they were made
                {"id": "source-two", "label": "SOURCE", "start": source_start, "end": source_start + len(SOURCE), "text": SOURCE, **_origin()},
                {"id": "source-one", "label": "SOURCE", "start": source_start, "end": source_start + len(CUE), "text": CUE, **_origin()},
                {"id": "quote-one", "label": "QUOTE", "start": quote_start, "end": quote_start + len(QUOTE), "text": QUOTE,
                 **_origin("suggested", "r\u00e8gles", "2")},
            ],
            "relations": [
                {"id": "link-one", "type": "attributed_to", "from": "quote-one", "to": "source-two", **_origin("suggested", "liens")},
                {"id": "link-zero", "type": "attributed_to", "from": "quote-one", "to": "source-one", **_origin()},
            ],
        },
    }
    response = app.test_client().get(f"/api/articles/{rich['article']}", headers={"Authorization": f"Bearer {rich['token']}"})
    assert response.status_code == 200
    assert json.loads(response.data) == expected
    assert response.data == orjson.dumps(expected, option=ORJSON_OPTIONS)


SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
     "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
]


@pytest.mark.parametrize("query, cookie", [("", None), ("?x=1", None), ("", "theme=dark")])
def test_article_json_headers_are_exactly_these(app, rich, query, cookie):
    """The article JSON's headers, in order, whatever shortcut the request path takes: the security headers, no-store,
    and Vary: Cookie (the answer would be another with a session cookie), with or without a query string or a cookie
    that is not the session's."""
    headers = {"Authorization": f"Bearer {rich['token']}"} | ({"Cookie": cookie} if cookie else {})
    response = app.test_client().get(f"/api/articles/{rich['article']}{query}", headers=headers)
    assert response.status_code == 200
    assert list(response.headers.items()) == [
        ("Content-Type", "application/json"), ("Content-Length", str(len(response.data))), *SECURITY_HEADERS,
        ("Cache-Control", "no-store"), ("Vary", "Cookie"),
    ]


def test_a_refused_token_is_answered_with_these_headers(app, rich):
    response = app.test_client().get(f"/api/articles/{rich['article']}", headers={"Authorization": "Bearer ann_not-a-token"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid or revoked API token"
    assert list(response.headers.items()) == [  # nobody's answer: no no-store
        ("Content-Type", "application/json"), ("Content-Length", str(len(response.data))), *SECURITY_HEADERS, ("Vary", "Cookie"),
    ]


def test_annotation_page_shows_the_article_its_place_and_the_guidelines_notice(app, rich):
    response = app.test_client().get(f"/annotate/{rich['article']}", headers={"Authorization": f"Bearer {rich['token']}"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Projet \u2713 \u00b7 article 1 of 2 in your queue" in page
    assert f'data-suggestions-url="/api/articles/{rich["article"]}/suggestions"' in page
    assert "Guidelines <span class=\"muted\">v2</span>" in page
    assert "<strong>Nouvelle</strong> version." in page
    assert ("you labelled under version 1, they are now version 2 (saved 2026-01-02 03:04 UTC)") in page
    assert "<title>Titre \u00ab un \u00bb" in page
    for item in SCHEMA["sentence_labels"] + SCHEMA["span_labels"]:
        assert item["name"] in page


def test_readers_get_the_article_only_where_they_may(app, rich):
    """Annotators: when assigned; reviewers: in their projects; admins: always; the same 404 otherwise."""
    with app.app_context():
        s = db.session
        tokens = {}
        for name, role in (("carl", "annotator"), ("rev", "reviewer"), ("outsider", "reviewer"), ("adm", "admin")):
            tokens[name] = accounts.issue_token(s, accounts.create_user(s, name, role, None))
        projects.add_members(s, rich["project"], [accounts.find_user(s, "rev")])
        s.commit()
    client = app.test_client()
    url = f"/api/articles/{rich['article']}"
    for name, status in (("carl", 404), ("rev", 200), ("outsider", 404), ("adm", 200)):
        response = client.get(url, headers={"Authorization": f"Bearer {tokens[name]}"})
        assert response.status_code == status, name
        if status == 200:  # blind: a reader's own annotations only, and these have none
            assert response.get_json()["annotations"] == {"labels": [], "spans": [], "relations": []}
    missing = client.get("/api/articles/999999", headers={"Authorization": f"Bearer {tokens['adm']}"})
    assert missing.status_code == 404


def test_a_tokens_last_use_is_written_on_the_requests_own_connection(app, rich):
    """Writing the last use (once a minute per token) checked a second connection out of the pool mid-request."""
    with app.app_context():
        db.session.execute(update(ApiToken).values(last_used_at=None))
        db.session.commit()
        engine = db.engine
    held, most = [0], [0]

    def checkout(*_args) -> None:
        held[0] += 1
        most[0] = max(most[0], held[0])

    def checkin(*_args) -> None:
        held[0] -= 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        response = app.test_client().get(f"/api/articles/{rich['article']}", headers={"Authorization": f"Bearer {rich['token']}"})
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert response.status_code == 200
    assert most[0] == 1
    with app.app_context():
        assert db.session.scalar(select(ApiToken.last_used_at)) is not None


def test_the_article_json_is_four_selects(app, rich):
    """The token's user, the article with the caller's right to it, its sentences, and the caller's labels, spans and
    relations together (issue 17: each statement run cost ~12 us of SQLAlchemy on top of the database's work)."""
    client = app.test_client()
    url, headers = f"/api/articles/{rich['article']}", {"Authorization": f"Bearer {rich['token']}"}
    assert client.get(url, headers=headers).status_code == 200  # the token's first use is written: not counted below
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def count(conn, cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200 and len(response.get_json()["annotations"]["relations"]) == 2
    assert [s for s in statements if s != "BEGIN"] == ["SELECT"] * 4


def test_labels_are_read_through_the_articles_sentences(app, rich):
    """SQLite plans with no statistics: the labels' read must look annotations up by (user, sentence) among the article's
    sentences, never walk every label the user has in every project (written as a join of sentences and annotations
    inside the UNION, it did: 1,000 labels read for an article's one)."""
    from annotator.domain.annotations.reads import ANNOTATIONS

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's planner (PostgreSQL's plans: tests/test_query_plans.py)")
        compiled = ANNOTATIONS.statement.compile(dialect=db.engine.dialect)
        parameters = [{"article_id": rich["article"], "user_id": 1}[name] for name in compiled.positiontup]
        raw = db.session.connection().connection.dbapi_connection
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + str(compiled), parameters)]
    on_annotations = [step for step in plan if step.startswith("SEARCH annotations")]
    assert on_annotations and all("(user_id=? AND sentence_id=?)" in step for step in on_annotations), plan


def test_a_page_of_articles_is_read_from_the_projects_index_in_its_order(app):
    """The REST list's keyset page (and the admin lists, an export batch: the same order) seeks the project's
    articles after an id in the (project_id, id) index, in its order: no other project's rows, no sort."""
    from annotator.domain import catalog

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's planner (PostgreSQL's plans: tests/test_query_plans.py)")
        project_id = projects.create_project(db.session, "p").id
        db.session.commit()
        captured: list[tuple[str, tuple]] = []

        def capture(conn, cursor, statement, parameters, *_args) -> None:  # noqa: ANN001
            if "articles.id >" in statement:
                captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            catalog.article_page(db.session, project_id, catalog.Window(10, after=5))
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert len(captured) == 1
        raw = db.session.connection().connection.dbapi_connection
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + captured[0][0], captured[0][1])]
    assert "SEARCH articles USING INDEX ix_articles_project_id_id (project_id=? AND id>?)" in plan, plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
