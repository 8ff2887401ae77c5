"""The annotation JSON API: every rejection with its status and nothing written; happy paths, retries, blind, tokens, audit."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, Assignment, AuditEntry, Project, Relation, Span, User
from annotator.db.transactions import begin_write
from annotator.domain import accounts, assignment, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import Browser

# Code points, not UTF-16 units: the flag is 2 code points, the emoji 1, "é" 1 (precomposed), "é" 2 (e + combining accent).
TEXT = 'Taxes rose 5% last year \U0001f1eb\U0001f1f7. \u201cIt was the biggest rise,\u201d said the minister \U0001f600.\r\nCaf\u00e9 and cafe\u0301 were closed.'
OTHER_TEXT = "Another article. Only ann reads it."


@dataclass
class World:
    article: int  # assigned to ann and bob
    ann_only: int  # assigned to ann only
    unassigned: int
    ann: int
    bob: int
    ann_token: str
    bob_token: str
    reviewer_token: str
    admin_token: str
    sentences: int


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        s = db.session
        # Only ann can log in with a password (scrypt is slow on purpose); the others use tokens.
        users = {name: accounts.create_user(s, name, role, "correct horse" if name == "ann" else None) for name, role in
                 [("ann", "annotator"), ("bob", "annotator"), ("rev", "reviewer"), ("adm", "admin")]}
        project = projects.create_project(s, "P")
        articles.store_articles(
            s, project,
            [ArticleRecord("a1", "Title", TEXT), ArticleRecord("a2", "Two", OTHER_TEXT), ArticleRecord("a3", "Three", OTHER_TEXT)],
            "test",
        )
        assignment.assign_to_user(s, project.id, users["ann"], ["a1", "a2"])
        assignment.assign_to_user(s, project.id, users["bob"], ["a1"])
        projects.add_members(s, project.id, [users["rev"]])  # reviewers read the articles of their projects only
        tokens = {name: accounts.issue_token(s, user) for name, user in users.items()}
        s.commit()
        ids = dict(s.execute(select(Article.external_id, Article.id)).all())
        sentences = len(s.get(Article, ids["a1"]).sentences)
        return World(ids["a1"], ids["a2"], ids["a3"], users["ann"].id, users["bob"].id,
                     tokens["ann"], tokens["bob"], tokens["rev"], tokens["adm"], sentences)


class Api:
    """A script's client: every request carries its bearer token and no CSRF token."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __call__(self, method: str, url: str, body: Any = None, raw: str | bytes | None = None, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        if raw is not None:
            return self.client.open(url, method=method, data=raw, headers=headers, content_type="application/json", **kw)
        if body is None:
            return self.client.open(url, method=method, headers=headers, **kw)
        return self.client.open(url, method=method, json=body, headers=headers, **kw)


@pytest.fixture
def ann(app, world) -> Api:
    return Api(app.test_client(), world.ann_token)


@pytest.fixture
def bob(app, world) -> Api:
    return Api(app.test_client(), world.bob_token)


def span_body(label: str, start: int, end: int, uid: str | None = None) -> dict:
    body = {"label": label, "start": start, "end": end}
    if uid:
        body["id"] = uid
    return body


def snapshot(app) -> dict[str, Any]:
    """Everything a write could change: rows of the annotation tables, the audit log's size, revisions, assignment states."""
    with app.app_context():
        s = db.session
        state = {
            "labels": sorted(s.execute(select(Annotation.user_id, Annotation.sentence_id, Annotation.label, Annotation.seconds, Annotation.version)).all()),
            "spans": sorted(s.execute(select(Span.uid, Span.user_id, Span.label, Span.start, Span.end)).all()),
            "relations": sorted(s.execute(select(Relation.uid, Relation.user_id, Relation.type, Relation.from_span_id, Relation.to_span_id)).all()),
            "audit": s.scalar(select(func.count()).select_from(AuditEntry)),
            "revision": sorted(s.execute(select(Project.id, Project.revision)).all()),
            "assignments": sorted(s.execute(select(Assignment.id, Assignment.status)).all()),
        }
        s.remove()
        return state


def counts(app) -> tuple[int, int, int, int]:
    with app.app_context():
        s = db.session
        result = tuple(s.scalar(select(func.count()).select_from(m)) for m in (Annotation, Span, Relation))
        result += (s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity != "user")),)  # not account entries
        s.remove()
        return result  # type: ignore[return-value]


def assert_json_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    for word in words:
        assert word in body["error"], body["error"]
    return body


@pytest.fixture
def seeded(app, world, ann, bob) -> dict[str, str]:
    """ann and bob each have a label, a quote, a source and a link on the shared article."""
    uids = {}
    for who, api in (("ann", ann), ("bob", bob)):
        assert api("PUT", f"/api/articles/{world.article}/labels/0", {"label": "CFS", "seconds": 2}).status_code == 200
        quote = TEXT.index("\u201cIt was")
        q = api("POST", f"/api/articles/{world.article}/spans", span_body("QUOTE", quote, TEXT.index(' said'), f"{who}-quote-1"))
        source = TEXT.index("the minister")
        s = api("POST", f"/api/articles/{world.article}/spans", span_body("SOURCE", source, source + len("the minister"), f"{who}-source-1"))
        cue = TEXT.index("said")
        c = api("POST", f"/api/articles/{world.article}/spans", span_body("CUE", cue, cue + 4, f"{who}-cue-0001"))
        r = api("POST", f"/api/articles/{world.article}/relations", {"type": "attributed_to", "from": f"{who}-quote-1", "to": f"{who}-source-1", "id": f"{who}-rel-0001"})
        assert (q.status_code, s.status_code, c.status_code, r.status_code) == (201, 201, 201, 201)
        uids.update({f"{who}_quote": f"{who}-quote-1", f"{who}_source": f"{who}-source-1", f"{who}_cue": f"{who}-cue-0001", f"{who}_rel": f"{who}-rel-0001"})
    ann("POST", f"/api/articles/{world.ann_only}/spans", span_body("QUOTE", 0, 7, "ann-other-article"))
    return uids


# ----------------------------------------------------------------- rejections
A = "{article}"


def rejections(w: World) -> list[tuple[str, str, str, str, Any, int, str]]:
    """(case, who, method, url, body, status, words in the error). Bodies given as str are sent raw."""
    a, lbl, spans, rels = f"/api/articles/{w.article}", f"/api/articles/{w.article}/labels/1", f"/api/articles/{w.article}/spans", f"/api/articles/{w.article}/relations"
    n = len(TEXT)
    return [
        ("malformed JSON", "ann", "PUT", lbl, '{"label": "CFS",', 400, "not valid JSON"),
        ("empty body", "ann", "PUT", lbl, "", 400, "not valid JSON"),
        ("NaN is not JSON", "ann", "PUT", lbl, '{"label": "CFS", "seconds": NaN}', 400, "not valid JSON"),
        ("Infinity is not JSON", "ann", "PUT", lbl, '{"label": "CFS", "seconds": Infinity}', 400, "not valid JSON"),
        ("a number beyond a float", "ann", "PUT", lbl, '{"label": "CFS", "seconds": 1e400}', 400, "the number 1e400 is out of range"),
        ("a 5000-digit number", "ann", "POST", spans, '{"label": "QUOTE", "start": 1, "end": ' + "9" * 5000 + "}", 400, "not valid JSON"),
        ("not UTF-8", "ann", "PUT", lbl, b'{"label": "\xff"}', 400, "UTF-8"),
        ("deep nesting", "ann", "PUT", lbl, "[" * 5000 + "]" * 5000, 400, None),
        ("array body", "ann", "PUT", lbl, [1, 2], 400, "JSON object"),
        ("string body", "ann", "POST", spans, "\"QUOTE\"", 400, "JSON object"),
        ("null body", "ann", "POST", rels, "null", 400, "JSON object"),
        ("unknown field", "ann", "PUT", lbl, {"label": "CFS", "colour": "red"}, 400, "unknown field"),
        ("unknown span field", "ann", "POST", spans, {**span_body("QUOTE", 0, 5), "user": "bob"}, 400, "unknown field"),
        ("missing label", "ann", "PUT", lbl, {"seconds": 1}, 400, "missing field"),
        ("missing end", "ann", "POST", spans, {"label": "QUOTE", "start": 0}, 400, "missing field"),
        ("missing to", "ann", "POST", rels, {"type": "attributed_to", "from": "x"}, 400, "missing field"),
        ("label is a number", "ann", "PUT", lbl, {"label": 1}, 400, "string"),
        ("label is null", "ann", "PUT", lbl, {"label": None}, 400, "string"),
        ("seconds is a string", "ann", "PUT", lbl, {"label": "CFS", "seconds": "3"}, 400, "number"),
        ("seconds is a bool", "ann", "PUT", lbl, {"label": "CFS", "seconds": True}, 400, "number"),
        ("seconds is null", "ann", "PUT", lbl, {"label": "CFS", "seconds": None}, 400, "null"),
        ("negative seconds", "ann", "PUT", lbl, {"label": "CFS", "seconds": -1}, 422, ">= 0"),
        ("version is a float", "ann", "PUT", lbl, {"label": "CFS", "version": 1.0}, 400, "integer"),
        ("version is a bool", "ann", "PUT", lbl, {"label": "CFS", "version": True}, 400, "integer"),
        ("version is negative", "ann", "PUT", lbl, {"label": "CFS", "version": -1}, 400, "version"),
        ("unknown label", "ann", "PUT", lbl, {"label": "MAYBE"}, 422, "unknown sentence label"),
        ("span label as sentence label", "ann", "PUT", lbl, {"label": "QUOTE"}, 422, "unknown sentence label"),
        ("label case matters", "ann", "PUT", lbl, {"label": "cfs"}, 422, "unknown sentence label"),
        ("stale version", "ann", "PUT", f"{a}/labels/0", {"label": "NFS", "version": 7}, 409, "changed elsewhere"),
        ("sentence bounds not an object", "ann", "PUT", lbl, {"label": "CFS", "sentence": [0, 5]}, 400, "sentence must be an object"),
        ("sentence bounds with a float", "ann", "PUT", lbl, {"label": "CFS", "sentence": {"start": 0, "end": 5.0}}, 400, "integer"),
        ("sentence bounds not what is stored", "ann", "PUT", f"{a}/labels/0", {"label": "NFS", "sentence": {"start": 0, "end": 1}}, 409, "no longer the text"),
        ("version 0 but a label exists", "ann", "PUT", f"{a}/labels/0", {"label": "NFS", "version": 0}, 409, "changed elsewhere"),
        ("no such sentence", "ann", "PUT", f"{a}/labels/{w.sentences}", {"label": "CFS"}, 404, "no sentence"),
        ("huge sentence index", "ann", "PUT", f"{a}/labels/{10**20}", {"label": "CFS"}, 404, None),
        ("negative sentence index", "ann", "PUT", f"{a}/labels/-1", {"label": "CFS"}, 404, None),
        ("no such article", "ann", "PUT", "/api/articles/99999/labels/0", {"label": "CFS"}, 404, "no article"),
        ("huge article id", "ann", "POST", f"/api/articles/{2**40}/spans", span_body("QUOTE", 0, 5), 404, "no article"),
        # not assigned: the same 404 as a missing article (was 403 "not assigned", which told that the id exists)
        ("not assigned: label", "bob", "PUT", f"/api/articles/{w.ann_only}/labels/0", {"label": "CFS"}, 404, "no article"),
        ("not assigned: span", "bob", "POST", f"/api/articles/{w.ann_only}/spans", span_body("QUOTE", 0, 5), 404, "no article"),
        ("not assigned: relation", "ann", "POST", f"/api/articles/{w.unassigned}/relations", {"type": "attributed_to", "from": "ann-quote-1", "to": "ann-source-1"}, 404, "no article"),
        ("not assigned: delete", "bob", "DELETE", f"/api/articles/{w.ann_only}/spans/ann-other-article", None, 404, "no article"),
        ("reviewer cannot write", "rev", "PUT", lbl, {"label": "CFS"}, 403, None),
        ("admin cannot write", "adm", "POST", spans, span_body("QUOTE", 0, 5), 403, None),
        ("anonymous write (CSRF is checked first)", "anon", "PUT", lbl, {"label": "CFS"}, 400, "CSRF"),
        ("anonymous read", "anon", "GET", a, None, 401, None),
        ("revoked or wrong token", "forged", "PUT", lbl, {"label": "CFS"}, 401, "token"),
        ("start is a bool", "ann", "POST", spans, span_body("QUOTE", True, 5), 400, "integer"),
        ("start is a float", "ann", "POST", spans, span_body("QUOTE", 1.0, 5), 400, "integer"),
        ("end is a string", "ann", "POST", spans, {"label": "QUOTE", "start": 0, "end": "5"}, 400, "integer"),
        ("span label is a list", "ann", "POST", spans, {"label": ["QUOTE"], "start": 0, "end": 5}, 400, "string"),
        ("id is a number", "ann", "POST", spans, {**span_body("QUOTE", 0, 5), "id": 12345678}, 400, "string"),
        ("id too short", "ann", "POST", spans, span_body("QUOTE", 0, 5, "abc"), 400, "8 to 64"),
        ("id with a slash", "ann", "POST", spans, span_body("QUOTE", 0, 5, "abc/defgh"), 400, "8 to 64"),
        ("id is null", "ann", "POST", spans, {**span_body("QUOTE", 0, 5), "id": None}, 400, "null"),
        ("unknown span label", "ann", "POST", spans, span_body("PERSON", 0, 5), 422, "unknown span label"),
        ("sentence label as span label", "ann", "POST", spans, span_body("CFS", 0, 5), 422, "unknown span label"),
        ("negative start", "ann", "POST", spans, span_body("QUOTE", -1, 5), 422, "0 <= start < end"),
        ("empty span", "ann", "POST", spans, span_body("QUOTE", 5, 5), 422, "0 <= start < end"),
        ("reversed span", "ann", "POST", spans, span_body("QUOTE", 9, 5), 422, "0 <= start < end"),
        ("past the end", "ann", "POST", spans, span_body("QUOTE", 0, n + 1), 422, f"<= {n}"),
        ("huge offsets", "ann", "POST", spans, span_body("QUOTE", 10**30, 10**30 + 1), 422, "very large"),
        ("span id reused with other content", "ann", "POST", spans, span_body("QUOTE", 0, 5, "ann-quote-1"), 409, "taken by other content"),
        ("span id of another annotator", "ann", "POST", spans, span_body("QUOTE", 0, 5, "bob-quote-1"), 409, "taken by other content"),
        ("unknown relation type", "ann", "POST", rels, {"type": "said_by", "from": "ann-quote-1", "to": "ann-source-1"}, 422, "unknown relation type"),
        ("relation the wrong way round", "ann", "POST", rels, {"type": "attributed_to", "from": "ann-source-1", "to": "ann-quote-1"}, 422, "cannot start"),
        ("relation to a cue", "ann", "POST", rels, {"type": "attributed_to", "from": "ann-quote-1", "to": "ann-cue-0001"}, 422, "cannot end"),
        ("relation to itself", "ann", "POST", rels, {"type": "attributed_to", "from": "ann-quote-1", "to": "ann-quote-1"}, 422, "two different spans"),
        ("relation to a missing span", "ann", "POST", rels, {"type": "attributed_to", "from": "ann-quote-1", "to": "nope-nope-nope"}, 422, "no span"),
        ("relation to another annotator's span", "ann", "POST", rels, {"type": "attributed_to", "from": "ann-quote-1", "to": "bob-source-1"}, 422, "no span"),
        ("relation to a span in another article", "ann", "POST", rels, {"type": "attributed_to", "from": "ann-other-article", "to": "ann-source-1"}, 422, "no span"),
        ("relation endpoints of the wrong type", "ann", "POST", rels, {"type": "attributed_to", "from": 1, "to": "ann-source-1"}, 400, "string"),
        ("relation type is null", "ann", "POST", rels, {"type": None, "from": "ann-quote-1", "to": "ann-source-1"}, 400, "string"),
        ("the same link twice", "ann", "POST", rels, {"type": "attributed_to", "from": "ann-quote-1", "to": "ann-source-1", "id": "second-link"}, 409, "already linked"),
        ("relation id of another annotator", "ann", "POST", rels, {"type": "attributed_to", "from": "ann-quote-1", "to": "ann-source-1", "id": "bob-rel-0001"}, 409, "taken by other content"),
        ("patch with nothing", "ann", "PATCH", f"{spans}/ann-quote-1", {}, 400, "at least one"),
        ("patch with null", "ann", "PATCH", f"{spans}/ann-quote-1", {"label": None}, 400, "null"),
        ("patch unknown field", "ann", "PATCH", f"{spans}/ann-quote-1", {"text": "x"}, 400, "unknown field"),
        ("patch past the end", "ann", "PATCH", f"{spans}/ann-quote-1", {"end": n + 1}, 422, "0 <= start < end"),
        ("patch reversed", "ann", "PATCH", f"{spans}/ann-quote-1", {"start": 60, "end": 50}, 422, "0 <= start < end"),
        ("patch to an unknown label", "ann", "PATCH", f"{spans}/ann-quote-1", {"label": "PERSON"}, 422, "unknown span label"),
        ("relabel breaks a link", "ann", "PATCH", f"{spans}/ann-quote-1", {"label": "SOURCE"}, 409, "delete the link first"),
        ("patch another annotator's span", "ann", "PATCH", f"{spans}/bob-quote-1", {"start": 1}, 404, "no span"),
        ("patch a missing span", "ann", "PATCH", f"{spans}/nope-nope-nope", {"start": 1}, 404, "no span"),
        ("delete a missing label", "ann", "DELETE", f"{a}/labels/2", None, 404, "no label"),
        ("delete another annotator's span", "ann", "DELETE", f"{spans}/bob-quote-1", None, 404, "no span"),
        ("delete a missing relation", "ann", "DELETE", f"{rels}/nope-nope-nope", None, 404, "no relation"),
        ("delete another annotator's relation", "ann", "DELETE", f"{rels}/bob-rel-0001", None, 404, "no relation"),
        ("too large", "ann", "PUT", lbl, json.dumps({"label": "CFS", "pad": "x" * 20000}), 413, "larger than"),
        ("unknown endpoint", "ann", "GET", "/api/articles/x", None, 404, None),
        ("wrong method", "ann", "POST", f"{a}/labels/0", {"label": "CFS"}, 405, None),
    ]


def test_rejections_say_why_and_change_nothing(app, world, seeded):
    """Each case in one database (they must not change it, so they cannot affect each other); all failures are listed."""
    tokens = {"ann": world.ann_token, "bob": world.bob_token, "rev": world.reviewer_token, "adm": world.admin_token,
              "anon": None, "forged": "ann_" + "x" * 43}
    problems = []
    cases = rejections(world)
    assert len(cases) > 80 and len({c[0] for c in cases}) == len(cases)
    for case, who, method, url, body, status, words in cases:
        api = Api(app.test_client(), tokens[who])
        before = snapshot(app)
        response = api(method, url, raw=body) if isinstance(body, (str, bytes)) else api(method, url, body)
        try:
            assert_json_error(response, status, *([words] if words else []))
            assert snapshot(app) == before, "the database changed"
        except AssertionError as exc:
            problems.append(f"{case}: {str(exc).splitlines()[0]}")
    assert not problems, "\n".join(problems)


# Every annotation write with a body (api.write_request): (method, path under the article, a body with the required
# fields, the optional fields that may be left out but not sent as null).
BODY_WRITES = [
    ("PUT", "/labels/0", {"label": "CFS"}, ("seconds", "request_id")),
    ("PUT", "/article-labels/stance", {"values": ["support"]}, ()),
    ("POST", "/spans", span_body("QUOTE", 0, 5), ("id",)),
    ("PATCH", "/spans/ann-quote-1", {}, ("label", "start", "end")),
    ("POST", "/relations", {"type": "attributed_to", "from": "a", "to": "b"}, ("id",)),
    ("POST", "/changes", {"operations": []}, ("request_id",)),
    ("POST", "/suggestions/accept", {"ids": []}, ()),
    ("POST", "/suggestions/reject", {"ids": []}, ()),
]


@pytest.mark.parametrize(("method", "tail", "body", "not_null"), BODY_WRITES, ids=[f"{m} {t}" for m, t, _, _ in BODY_WRITES])
def test_every_write_checks_its_body_alike_before_it_reads_anything(app, world, ann, method, tail, body, not_null):
    """One check for every write's body (api.write_request): the same messages, and a bad body is a 400 before the
    article is looked for (a missing article too), with nothing written."""
    before = snapshot(app)
    for article in (world.article, 10**6):
        url = f"/api/articles/{article}{tail}"
        assert_json_error(ann(method, url, raw="[1]"), 400, "request body must be a JSON object")
        assert_json_error(ann(method, url, {**body, "colour": "red"}), 400, "unknown field 'colour'; allowed: ")
        for name in not_null:
            assert_json_error(ann(method, url, {**body, name: None}), 400, f"{name} must not be null; leave it out instead")
        assert_json_error(ann(method, url, raw=json.dumps({**body, "pad": "x" * 300_000})), 413, "request body is larger than")
    assert snapshot(app) == before


def test_session_write_without_csrf_header_is_refused(app, world, seeded):
    browser = Browser(app.test_client())
    browser.login("ann", "correct horse")
    before = snapshot(app)
    response = browser.client.put(f"/api/articles/{world.article}/labels/1", json={"label": "CFS"})
    assert_json_error(response, 400, "CSRF")
    response = browser.send_json("PUT", f"/api/articles/{world.article}/labels/1", {"label": "CFS"}, headers={"X-CSRFToken": "forged"})
    assert_json_error(response, 400, "CSRF")
    assert snapshot(app) == before
    ok = browser.send_json("PUT", f"/api/articles/{world.article}/labels/1", {"label": "CFS"})
    assert ok.status_code == 200 and ok.get_json()["label"] == "CFS"


@pytest.mark.parametrize("token", ["revoked", "unknown"])
def test_reads_with_a_bad_token_beside_a_session_are_401_not_the_session_user(app, world, seeded, token):
    """A script whose token was revoked must not quietly read as whoever is logged in in the same cookie jar."""
    browser = Browser(app.test_client())
    browser.login("ann", "correct horse")
    url = f"/api/articles/{world.article}"
    assert browser.client.get(url).status_code == 200  # the session alone reads
    if token == "revoked":
        with app.app_context():
            value = accounts.issue_token(db.session, db.session.get(User, world.ann))
            accounts.revoke_tokens(db.session, db.session.get(User, world.ann))
            db.session.commit()
    else:
        value = "ann_not-a-real-token"
    assert_json_error(browser.client.get(url, headers={"Authorization": f"Bearer {value}"}), 401, "token")
    with app.app_context():  # a good token of the session's user is fine
        good = accounts.issue_token(db.session, db.session.get(User, world.ann))
        db.session.commit()
    assert browser.client.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_token_writes_need_no_csrf_and_revoked_tokens_stop_working(app, world, ann):
    response = ann("PUT", f"/api/articles/{world.article}/labels/1", {"label": "UFS"})
    assert response.status_code == 200
    with app.app_context():
        accounts.revoke_tokens(db.session, db.session.get(User, world.ann))
        db.session.commit()
    before = snapshot(app)
    assert_json_error(ann("PUT", f"/api/articles/{world.article}/labels/1", {"label": "CFS"}), 401)
    assert_json_error(ann("GET", f"/api/articles/{world.article}"), 401)
    assert snapshot(app) == before


# ----------------------------------------------------------------- happy paths
def test_label_put_update_and_delete(app, world, ann):
    url = f"/api/articles/{world.article}/labels/1"
    first = ann("PUT", url, {"label": "CFS", "seconds": 4.25})
    assert first.status_code == 200
    label = first.get_json()
    assert label["label"] == "CFS" and label["version"] == 1 and label["seconds"] == 4.25 and label["sentence"] == 1
    assert label["guidelines_version"] == 1 and label["updated_at"].endswith("Z") and label["needs_review"] is False
    second = ann("PUT", url, {"label": "NFS", "seconds": 1, "version": 1}).get_json()
    assert second["label"] == "NFS" and second["version"] == 2 and second["seconds"] == 5.25
    capped = ann("PUT", url, {"label": "NFS", "seconds": 10**12}).get_json()
    assert capped["seconds"] == 3605.25
    assert ann("DELETE", url).status_code == 204
    assert ann("GET", f"/api/articles/{world.article}").get_json()["annotations"]["labels"] == []
    recreated = ann("PUT", url, {"label": "UFS", "version": 0})
    assert recreated.status_code == 200 and recreated.get_json()["version"] == 1


def test_guidelines_version_in_force_is_stamped(app, world, ann):
    ann("PUT", f"/api/articles/{world.article}/labels/0", {"label": "CFS"})
    with app.app_context():
        projects.set_guidelines(db.session, db.session.scalar(select(Project)), "New rules")
        db.session.commit()
    label = ann("PUT", f"/api/articles/{world.article}/labels/1", {"label": "CFS"}).get_json()
    assert label["guidelines_version"] == 2
    labels = ann("GET", f"/api/articles/{world.article}").get_json()["annotations"]["labels"]
    assert [(x["sentence"], x["guidelines_version"]) for x in labels] == [(0, 1), (1, 2)]


def test_stale_version_is_409_with_the_current_label(app, world, ann):
    url = f"/api/articles/{world.article}/labels/0"
    ann("PUT", url, {"label": "CFS"})  # tab 1 and tab 2 both load version 1
    assert ann("PUT", url, {"label": "UFS", "version": 1}).status_code == 200  # tab 1 saves
    stale = ann("PUT", url, {"label": "NFS", "version": 1})  # tab 2 saves on top of what it saw
    body = assert_json_error(stale, 409)
    assert body["current"]["label"] == "UFS" and body["current"]["version"] == 2
    ann("DELETE", url)
    gone = assert_json_error(ann("PUT", url, {"label": "NFS", "version": 2}), 409)
    assert gone["current"] is None


def test_a_label_removal_with_a_stale_version_is_409_and_removes_nothing(app, world, ann):
    """The page's undo (and Shift+Delete) removes a label with the version it saw: one set since in another tab stays,
    alone and in a batch, and the answer carries it."""
    url = f"/api/articles/{world.article}/labels/0"
    ann("PUT", url, {"label": "CFS"})  # this tab saw version 1
    ann("PUT", url, {"label": "NFS", "version": 1})  # another tab: version 2
    stale = assert_json_error(ann("DELETE", f"{url}?version=1"), 409)
    assert stale["current"]["label"] == "NFS" and stale["current"]["version"] == 2
    batch = ann("POST", f"/api/articles/{world.article}/changes", {"operations": [{"op": "delete_label", "sentence_index": 0, "version": 1}]})
    assert assert_json_error(batch, 409)["current"]["version"] == 2
    for bad in ("-1", "x", "1.0", "\u0661", "9" * 30):
        assert "version" in assert_json_error(ann("DELETE", f"{url}?version={bad}"), 400)["error"]
    assert [x["label"] for x in ann("GET", f"/api/articles/{world.article}").get_json()["annotations"]["labels"]] == ["NFS"]
    assert ann("DELETE", f"{url}?version=2").status_code == 204  # the version it has: removed
    assert ann("DELETE", f"{url}?version=2").status_code == 404  # already gone, as without a version


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
                                          "application/jsonl", "multipart/form-data; boundary=x"])
def test_a_body_not_sent_as_json_is_a_415_naming_json_and_changes_nothing(app, world, ann, content_type):
    """A JSON body sent as text/plain (or with no Content-Type) was read as JSON and saved: the API takes
    application/json only (charset or not), and says so, on the annotation, suggestion and REST routes alike."""
    before = snapshot(app)
    a, body = world.article, json.dumps({"label": "CFS"})
    headers = {"Content-Type": content_type} if content_type else {}
    sent = [("PUT", f"/api/articles/{a}/labels/0", body, ann),
            ("POST", f"/api/articles/{a}/changes", json.dumps({"operations": [{"op": "put_label", "sentence_index": 0, "label": "CFS"}]}), ann),
            ("POST", f"/api/articles/{a}/suggestions/accept", json.dumps({"ids": []}), ann),
            ("POST", "/api/projects", json.dumps({"name": "Sent as text"}), Api(app.test_client(), world.admin_token))]
    for method, url, raw, who in sent:
        response = who.client.open(url, method=method, data=raw.encode(), headers={**who.headers, **headers})
        assert response.request.headers.get("Content-Type") == content_type
        assert "application/json" in assert_json_error(response, 415, "Content-Type")["error"]
    assert snapshot(app) == before
    for sent_as in ("application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"):
        response = ann.client.open(f"/api/articles/{a}/labels/0", method="PUT", data=body, headers={**ann.headers, "Content-Type": sent_as})
        assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("version", [2**31, 2**63, 2**64, 10**30, -1, -(2**63) - 1])
def test_a_version_beyond_the_column_is_a_400_out_of_range_not_a_409(app, world, ann, version):
    """A label's version is a 32-bit INTEGER column: a `version` of 2**63 was compared with the stored one and
    answered 409 (changed elsewhere), sending a client to reload for a number no label can have."""
    a = world.article
    ann("PUT", f"/api/articles/{a}/labels/0", {"label": "CFS"})
    before = snapshot(app)
    refusals = [
        ann("PUT", f"/api/articles/{a}/labels/0", {"label": "NFS", "version": version}),
        ann("PUT", f"/api/articles/{a}/labels/1", {"label": "NFS", "version": version}),
        ann("POST", f"/api/articles/{a}/changes", {"operations": [{"op": "put_label", "sentence_index": 0, "label": "NFS", "version": version}]}),
        ann("POST", f"/api/articles/{a}/changes", {"operations": [{"op": "delete_label", "sentence_index": 0, "version": version}]}),
        ann("DELETE", f"/api/articles/{a}/labels/0?version={version}"),
        ann("PUT", f"/api/articles/{a}/article-labels/stance", {"values": [], "version": version}),
        ann("DELETE", f"/api/articles/{a}/article-labels/stance?version={version}"),
    ]
    for response in refusals:
        assert_json_error(response, 400, "version out of range", str(2**31 - 1))
    assert snapshot(app) == before
    assert ann("PUT", f"/api/articles/{a}/labels/0", {"label": "NFS", "version": 2**31 - 1}).status_code == 409  # in range: stale


def test_a_retried_label_put_with_version_does_not_count_its_seconds_twice(app, world, ann):
    """The page sends `version`: when a save landed but its response was lost, the retry is a 409 carrying the
    label it wrote (the page takes it as saved), not a second write adding the seconds again."""
    url = f"/api/articles/{world.article}/labels/0"
    first = ann("PUT", url, {"label": "CFS", "seconds": 4, "version": 0})
    assert first.status_code == 200 and first.get_json()["seconds"] == 4
    retry = assert_json_error(ann("PUT", url, {"label": "CFS", "seconds": 4, "version": 0}), 409)
    assert retry["current"]["label"] == "CFS" and retry["current"]["seconds"] == 4 and retry["current"]["version"] == 1
    assert ann("GET", f"/api/articles/{world.article}").get_json()["annotations"]["labels"][0]["seconds"] == 4


def test_a_retried_label_put_with_a_request_id_is_answered_again_and_counted_once(app, world, ann):
    """Without `version` (last write wins) a retry of a save whose response was lost used to add its seconds again;
    with a request id it gets the first answer, 200, and nothing is written."""
    url = f"/api/articles/{world.article}/labels/0"
    body = {"label": "CFS", "seconds": 4, "request_id": "save-req-0001"}
    first = ann("PUT", url, body)
    assert first.status_code == 200 and first.get_json()["seconds"] == 4
    before = snapshot(app)
    retry = ann("PUT", url, body)
    assert retry.status_code == 200 and retry.get_json() == first.get_json()
    assert snapshot(app) == before  # no seconds added, no version bump, no audit entry, no revision bump
    assert_json_error(ann("PUT", url, {**body, "seconds": 5}), 422, "already used for a different save")
    assert_json_error(ann("PUT", url, {**body, "request_id": "bad id!"}), 400, "request_id")
    assert_json_error(ann("PUT", url, {**body, "request_id": None}), 400, "request_id must not be null")
    assert snapshot(app) == before
    after = ann("PUT", url, {**body, "request_id": "save-req-0002"}).get_json()
    assert (after["seconds"], after["version"]) == (8, 2)


def test_label_sent_for_a_sentence_split_meanwhile_is_409_and_not_stored(app, world, ann):
    """A tab opened before a reviewer split sentence 0 must not label the wrong text."""
    from annotator.db.models import Sentence
    from annotator.domain import resegment

    payload = ann("GET", f"/api/articles/{world.article}").get_json()
    first = payload["sentences"][0]
    seen = {"start": first["start"], "end": first["end"]}
    url = f"/api/articles/{world.article}/labels/0"
    assert ann("PUT", url, {"label": "CFS", "sentence": seen}).status_code == 200  # bounds as stored: fine
    text = payload["article"]["text"]
    cut = text.index(" ", first["start"]) + 1  # split after the first word
    with app.app_context():
        sentence_id = db.session.scalar(select(Sentence.id).where(Sentence.article_id == world.article, Sentence.index == 0))
        begin_write(db.session)
        resegment.split_sentence(db.session, sentence_id, cut, None)
        db.session.commit()
    before = ann("GET", f"/api/articles/{world.article}").get_json()["annotations"]["labels"]
    body = assert_json_error(ann("PUT", url, {"label": "NFS", "sentence": seen}), 409)
    assert body["sentences_changed"] is True
    assert ann("GET", f"/api/articles/{world.article}").get_json()["annotations"]["labels"] == before


def test_two_tabs_last_write_wins_and_both_are_audited(app, world):
    tab1, tab2 = Api(app.test_client(), world.ann_token), Api(app.test_client(), world.ann_token)
    url = f"/api/articles/{world.article}/labels/2"
    assert tab1("PUT", url, {"label": "CFS", "seconds": 1}).status_code == 200
    assert tab2("PUT", url, {"label": "NFS", "seconds": 2}).status_code == 200
    stored = tab1("GET", f"/api/articles/{world.article}").get_json()["annotations"]["labels"]
    assert [(x["label"], x["version"], x["seconds"]) for x in stored] == [("NFS", 2, 3.0)]
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "label").order_by(AuditEntry.id)).all()
        assert [(e.action, e.before and e.before["label"], e.after["label"], e.user_id) for e in entries] == [
            ("create", None, "CFS", world.ann),
            ("update", "CFS", "NFS", world.ann),
        ]
        assert all(e.project_id and e.article_id == world.article and e.at is not None for e in entries)


def test_spans_and_relations_round_trip_with_code_point_offsets(app, world, ann):
    base = f"/api/articles/{world.article}"
    flag = TEXT.index("\U0001f1eb\U0001f1f7")
    created = ann("POST", f"{base}/spans", span_body("CUE", flag, flag + 2))
    assert created.status_code == 201
    span = created.get_json()
    assert span["text"] == "\U0001f1eb\U0001f1f7" and len(span["id"]) >= 8
    accented = TEXT.index("cafe\u0301")  # e + combining accent: 5 code points
    decomposed = ann("POST", f"{base}/spans", span_body("SOURCE", accented, accented + 5, "decomposed-cafe")).get_json()
    assert decomposed["text"] == "cafe\u0301"
    quote = ann("POST", f"{base}/spans", span_body("QUOTE", TEXT.index("\u201cIt"), TEXT.index(" said"), "quote-0001")).get_json()
    source = ann("POST", f"{base}/spans", span_body("SOURCE", TEXT.index("the minister"), TEXT.index(" \U0001f600"), "source-001")).get_json()
    assert quote["text"] == "\u201cIt was the biggest rise,\u201d" and source["text"] == "the minister"
    relation = ann("POST", f"{base}/relations", {"type": "attributed_to", "from": "quote-0001", "to": "source-001", "id": "link-0001"})
    assert relation.status_code == 201
    assert relation.get_json() == {"id": "link-0001", "type": "attributed_to", "from": "quote-0001", "to": "source-001"}
    # a source in another sentence is fine
    cross = ann("POST", f"{base}/relations", {"type": "attributed_to", "from": "quote-0001", "to": "decomposed-cafe"})
    assert cross.status_code == 201
    resized = ann("PATCH", f"{base}/spans/quote-0001", {"start": TEXT.index("It was"), "end": TEXT.index(",\u201d")})
    assert resized.status_code == 200 and resized.get_json()["text"] == "It was the biggest rise"
    relabelled = ann("PATCH", f"{base}/spans/{span['id']}", {"label": "SOURCE"})
    assert relabelled.get_json()["label"] == "SOURCE"
    document = ann("GET", base).get_json()
    stored = {s["id"]: s for s in document["annotations"]["spans"]}
    assert len(stored) == 4
    for s in stored.values():
        assert TEXT[s["start"]:s["end"]] == s["text"]
    assert [s["start"] for s in document["annotations"]["spans"]] == sorted(s["start"] for s in stored.values())
    assert {r["id"] for r in document["annotations"]["relations"]} == {"link-0001", cross.get_json()["id"]}
    # deleting the quote takes both links with it, each audited
    assert ann("DELETE", f"{base}/spans/quote-0001").status_code == 204
    assert ann("GET", base).get_json()["annotations"]["relations"] == []
    with app.app_context():
        deleted = db.session.execute(select(AuditEntry.entity, AuditEntry.entity_id).where(AuditEntry.action == "delete")).all()
        assert sorted(deleted) == sorted([("relation", "link-0001"), ("relation", cross.get_json()["id"]), ("span", "quote-0001")])
    assert ann("DELETE", f"{base}/relations/link-0001").status_code == 404


def test_delete_relation(app, world, seeded, ann):
    url = f"/api/articles/{world.article}/relations/{seeded['ann_rel']}"
    assert ann("DELETE", url).status_code == 204
    assert ann("DELETE", url).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Relation).where(Relation.user_id == world.ann)) == 0
        assert db.session.scalar(select(func.count()).select_from(Span).where(Span.user_id == world.ann)) == 4


def test_patch_that_changes_nothing_is_not_audited(app, world, seeded, ann):
    before = snapshot(app)
    response = ann("PATCH", f"/api/articles/{world.article}/spans/{seeded['ann_cue']}", {"label": "CUE"})
    assert response.status_code == 200
    assert snapshot(app) == before


def test_retried_creates_make_one_row(app, world, ann):
    base = f"/api/articles/{world.article}"
    body = span_body("QUOTE", 3, 9, "retry-span-1")
    first, second = ann("POST", f"{base}/spans", body), ann("POST", f"{base}/spans", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json() == second.get_json()
    ann("POST", f"{base}/spans", span_body("SOURCE", 20, 23, "retry-source"))
    link = {"type": "attributed_to", "from": "retry-span-1", "to": "retry-source", "id": "retry-link-1"}
    assert [ann("POST", f"{base}/relations", link).status_code for _ in range(3)] == [201, 200, 200]
    assert counts(app) == (0, 2, 1, 3)  # two spans, one relation, three audit entries


def test_one_annotator_never_has_the_same_span_twice(app, world, ann, bob):
    """Two tabs marking the same text send two ids for one span: the second is a 409 naming the first (to adopt),
    and so is resizing or relabelling a span into one the caller already has. Another annotator's span does not count."""
    base = f"/api/articles/{world.article}"
    assert ann("POST", f"{base}/spans", span_body("QUOTE", 3, 9, "tab-one-span")).status_code == 201
    assert ann("POST", f"{base}/spans", span_body("CUE", 3, 9, "tab-one-cue")).status_code == 201  # other label: fine
    before = snapshot(app)
    again = assert_json_error(ann("POST", f"{base}/spans", span_body("QUOTE", 3, 9, "tab-two-span")), 409, "already have")
    assert again["duplicate"] is True and again["current"] == {"id": "tab-one-span", "label": "QUOTE", "start": 3, "end": 9, "text": TEXT[3:9]}
    assert_json_error(ann("PATCH", f"{base}/spans/tab-one-cue", {"label": "QUOTE"}), 409, "already have")
    assert snapshot(app) == before
    assert ann("POST", f"{base}/spans", span_body("QUOTE", 3, 9, "tab-one-span")).status_code == 200  # a retry is still a retry
    assert bob("POST", f"{base}/spans", span_body("QUOTE", 3, 9, "bobs-quote-1")).status_code == 201


def test_write_progress_moves_assignment_status(app, world, ann):
    def status() -> str:
        with app.app_context():
            value = db.session.scalar(select(Assignment.status).where(Assignment.user_id == world.ann, Assignment.article_id == world.article))
            db.session.remove()
            return value

    assert status() == "assigned"
    ann("POST", f"/api/articles/{world.article}/spans", span_body("QUOTE", 0, 5))
    assert status() == "in_progress"
    for i in range(world.sentences):
        ann("PUT", f"/api/articles/{world.article}/labels/{i}", {"label": "NFS"})
    assert status() == "done"
    ann("DELETE", f"/api/articles/{world.article}/labels/0")
    assert status() == "in_progress"


def test_every_write_bumps_the_project_revision(app, world, ann):
    def revision() -> int:
        with app.app_context():
            value = db.session.scalar(select(Project.revision))
            db.session.remove()
            return value

    start = revision()
    ann("PUT", f"/api/articles/{world.article}/labels/0", {"label": "CFS"})
    ann("POST", f"/api/articles/{world.article}/spans", span_body("QUOTE", 0, 5, "rev-span-1"))
    ann("POST", f"/api/articles/{world.article}/spans", span_body("QUOTE", 0, 5, "rev-span-1"))  # retry: no change
    ann("DELETE", f"/api/articles/{world.article}/spans/rev-span-1")
    assert revision() == start + 3


# ----------------------------------------------------------------- blind
def test_blind_annotation_through_every_endpoint(app, world, seeded, bob, ann):
    # bob never sees ann's work on the shared article
    document = bob("GET", f"/api/articles/{world.article}").get_json()
    everything = json.dumps(document)
    assert "ann-" not in everything
    assert {s["id"] for s in document["annotations"]["spans"]} == {"bob-quote-1", "bob-source-1", "bob-cue-0001"}
    assert [r["id"] for r in document["annotations"]["relations"]] == ["bob-rel-0001"]
    assert len(document["annotations"]["labels"]) == 1
    # ... nor her article
    assert_json_error(bob("GET", f"/api/articles/{world.ann_only}"), 404, "no article")  # as for a missing id (was 403)
    # ... and cannot touch or probe her spans and relations: they are "not there" for him
    for method, url, body in [
        ("PATCH", f"/api/articles/{world.article}/spans/ann-quote-1", {"start": 1}),
        ("DELETE", f"/api/articles/{world.article}/spans/ann-quote-1", None),
        ("DELETE", f"/api/articles/{world.article}/relations/ann-rel-0001", None),
    ]:
        body = assert_json_error(bob(method, url, body), 404)
        assert "current" not in body
    conflict = assert_json_error(bob("POST", f"/api/articles/{world.article}/spans", span_body("QUOTE", 0, 5, "ann-quote-1")), 409)
    assert "current" not in conflict  # the id is taken, but what it holds stays hidden
    assert bob("DELETE", f"/api/articles/{world.article}/relations/bob-rel-0001").status_code == 204
    conflict = assert_json_error(
        bob("POST", f"/api/articles/{world.article}/relations", {"type": "attributed_to", "from": "bob-quote-1", "to": "bob-source-1", "id": "ann-rel-0001"}), 409, "taken by other content"
    )
    assert "current" not in conflict
    # the label endpoints only ever show bob's own label
    stale = assert_json_error(bob("PUT", f"/api/articles/{world.article}/labels/0", {"label": "NFS", "version": 5}), 409)
    assert stale["current"]["label"] == "CFS" and stale["current"]["seconds"] == 2.0
    # ann still sees exactly her own
    mine = ann("GET", f"/api/articles/{world.article}").get_json()["annotations"]
    assert {s["id"] for s in mine["spans"]} == {"ann-quote-1", "ann-source-1", "ann-cue-0001"}


def test_reviewers_and_admins_read_articles_but_see_only_their_own_annotations(app, world, seeded):
    for token in (world.reviewer_token, world.admin_token):
        response = Api(app.test_client(), token)("GET", f"/api/articles/{world.ann_only}")
        assert response.status_code == 200
        assert response.get_json()["annotations"] == {"labels": [], "spans": [], "relations": []}


def test_get_article_document(app, world, ann):
    document = ann("GET", f"/api/articles/{world.article}").get_json()
    assert document["article"]["text"] == TEXT and document["article"]["title"] == "Title"
    assert document["article"]["id"] == world.article and document["article"]["external_id"] == "a1" and document["article"]["project"] == "P"
    assert document["guidelines_version"] == 1
    assert [s["name"] for s in document["schema"]["sentence_labels"]] == ["CFS", "UFS", "NFS"]
    sentences = document["sentences"]
    assert [s["index"] for s in sentences] == list(range(world.sentences)) and world.sentences >= 3
    assert all(0 <= s["start"] < s["end"] <= len(TEXT) for s in sentences)


# ----------------------------------------------------------------- OpenAPI
def test_openapi_documents_every_api_route(app):
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    import re

    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes and routes == documented
    # every documented operation says what its errors look like, and parameters match the path
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}  # query parameters of the REST API beside them
            assert names == set(re.findall(r"{(\w+)}", path)), (path, method)
            assert {p["in"] for p in op.get("parameters", [])} <= {"path", "query", "header"}, (path, method)
            if path != "/api/openapi.json":
                assert any(code.startswith("4") for code in op["responses"]), (path, method)


def test_openapi_request_schemas_match_what_the_server_accepts(app, world, ann):
    """The documented bodies are the ones the server takes: a body built from each schema's fields is accepted."""
    schemas = app.test_client().get("/api/openapi.json").get_json()["components"]["schemas"]
    assert set(schemas["LabelPut"]["properties"]) == {"label", "seconds", "version", "sentence", "request_id"}
    assert set(schemas["SpanCreate"]["properties"]) == {"label", "start", "end", "id"}
    assert set(schemas["SpanPatch"]["properties"]) == {"label", "start", "end"}
    assert set(schemas["RelationCreate"]["properties"]) == {"type", "from", "to", "id"}
    base = f"/api/articles/{world.article}"
    assert ann("PUT", f"{base}/labels/0", {"label": "CFS", "seconds": 1.5, "version": 0, "request_id": "doc-save-1"}).status_code == 200
    assert ann("POST", f"{base}/spans", {"label": "QUOTE", "start": 0, "end": 5, "id": "doc-quote-1"}).status_code == 201
    assert ann("POST", f"{base}/spans", {"label": "SOURCE", "start": 6, "end": 9, "id": "doc-source-1"}).status_code == 201
    assert ann("PATCH", f"{base}/spans/doc-quote-1", {"label": "QUOTE", "start": 1, "end": 5}).status_code == 200
    assert ann("POST", f"{base}/relations", {"type": "attributed_to", "from": "doc-quote-1", "to": "doc-source-1", "id": "doc-link-1"}).status_code == 201


# ----------------------------------------------------------------- property: never a 500, never half a write
_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20), st.sampled_from([0, 1, 5, 10, 40, len(TEXT), len(TEXT) + 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["CFS", "UFS", "NFS", "QUOTE", "SOURCE", "CUE", "attributed_to", "ann-quote-1", "ann-source-1", "bob-source-1", "bob-quote-1", "ann-other-article", "prop-span-00", "prop-span-01"]),
)
_values = st.one_of(_json_scalars, st.lists(_json_scalars, max_size=3), st.dictionaries(st.text(max_size=5), _json_scalars, max_size=2))
_junk_bodies = st.one_of(st.dictionaries(st.sampled_from(["label", "seconds", "version", "start", "end", "id", "type", "from", "to", "user_id", ""]), _values, max_size=5), _values)


def _maybe(good):
    """Mostly well-formed values, sometimes anything."""
    return st.integers(0, 9).flatmap(lambda i: good if i < 8 else _json_scalars)


_offsets = st.one_of(st.integers(-3, len(TEXT) + 3), st.integers(-(2**70), 2**70))
_new_ids = st.sampled_from([f"prop-span-{i:02d}" for i in range(4)] + ["ann-quote-1", "bob-quote-1", "bob-rel-0001", "ann-rel-0001"])
_refs = st.sampled_from(["ann-quote-1", "ann-source-1", "ann-cue-0001", "bob-quote-1", "bob-source-1", "ann-other-article", "prop-span-00", "prop-span-01", "prop-span-02", "nope-nope"])


def _body(required: dict, optional: dict):
    return st.fixed_dictionaries({k: _maybe(v) for k, v in required.items()}, optional={k: _maybe(v) for k, v in optional.items()})


_targets = st.one_of(
    st.tuples(st.just("PUT"), st.one_of(st.integers(-2, 4), st.integers(2**31 - 2, 2**64)).map(lambda i: f"labels/{i}"),
              _body({"label": st.sampled_from(["CFS", "UFS", "NFS", "QUOTE", "x"])}, {"seconds": st.floats(-10, 10**6) | st.integers(0, 10**30), "version": st.integers(-1, 5) | st.none()})),
    st.tuples(st.just("POST"), st.just("spans"),
              _body({"label": st.sampled_from(["QUOTE", "SOURCE", "CUE", "CFS"]), "start": _offsets, "end": _offsets}, {"id": _new_ids})),
    st.tuples(st.just("POST"), st.just("relations"),
              _body({"type": st.sampled_from(["attributed_to", "said"]), "from": _refs, "to": _refs}, {"id": _new_ids})),
    st.tuples(st.just("PATCH"), _refs.map(lambda u: f"spans/{u}"),
              _body({}, {"label": st.sampled_from(["QUOTE", "SOURCE", "CUE"]), "start": _offsets, "end": _offsets})),
    st.tuples(st.just("DELETE"), st.sampled_from(["spans/ann-cue-0001", "spans/bob-cue-0001", "spans/prop-span-01", "relations/bob-rel-0001", "relations/ann-rel-0001", "labels/0", "labels/99"]), st.none()),
    st.tuples(st.sampled_from(["PUT", "POST", "PATCH"]), st.sampled_from(["labels/1", "spans", "relations", "spans/ann-quote-1"]), _junk_bodies),
)


# Each example is an HTTP request and two snapshots of the database, on SQLite and PostgreSQL: 100 by default reach every
# kind of target several times; ANNOTATOR_FUZZ=thorough (README) runs 400 as the other fuzz tests do.
@settings(max_examples=400 if os.environ.get("ANNOTATOR_FUZZ") == "thorough" else 100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target=_targets, article=st.sampled_from(["article", "article", "article", "ann_only", "unassigned", "missing"]))
def test_random_bodies_never_500_and_never_half_write(app, world, seeded, target, article):
    article_id = getattr(world, article) if article != "missing" else 424242
    method, tail, body = target
    api = Api(app.test_client(), world.ann_token)
    before = snapshot(app)
    raw = json.dumps(body, allow_nan=True)  # NaN/Infinity go out as the non-JSON tokens a sloppy client would send
    response = api(method, f"/api/articles/{article_id}/{tail}", raw=raw)
    assert response.status_code < 500, response.get_data(as_text=True)
    event(f"{method} {tail.split('/')[0]} -> {response.status_code}" + (f" {response.get_json()['error'][:40]}" if response.status_code == 400 else ""))
    assert response.mimetype == "application/json" or response.status_code == 204
    after = snapshot(app)
    new_audit = after["audit"] - before["audit"]
    bumps = sum(b - a for (_, a), (_, b) in zip(before["revision"], after["revision"], strict=True))
    if response.status_code >= 400:
        assert response.get_json()["status"] == response.status_code
        assert after == before
    elif new_audit == 0:  # an idempotent retry or a no-op patch
        assert after == before
    else:  # a whole write: the change, its audit entries and exactly one revision bump
        assert bumps == 1 and after != before
    # whatever happened, bob's work is untouched
    assert [row for row in after["spans"] if row[1] == world.bob] == [row for row in before["spans"] if row[1] == world.bob]
    assert [row for row in after["relations"] if row[1] == world.bob] == [row for row in before["relations"] if row[1] == world.bob]


def test_responses_match_the_documented_schemas(app, world, seeded, ann):
    """The OpenAPI document is a contract: real responses validate against its component schemas."""
    import jsonschema

    document = app.test_client().get("/api/openapi.json").get_json()

    def check(name: str, value: Any) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)

    base = f"/api/articles/{world.article}"
    check("ArticleDocument", ann("GET", base).get_json())
    check("Label", ann("PUT", f"{base}/labels/1", {"label": "UFS", "seconds": 1}).get_json())
    check("Span", ann("POST", f"{base}/spans", span_body("QUOTE", 0, 5, "schema-span-1")).get_json())
    check("Span", ann("PATCH", f"{base}/spans/schema-span-1", {"end": 6}).get_json())
    check("Relation", ann("POST", f"{base}/relations", {"type": "attributed_to", "from": "schema-span-1", "to": seeded["ann_source"]}).get_json())
    check("Conflict", ann("PUT", f"{base}/labels/1", {"label": "CFS", "version": 9}).get_json())
    check("Error", ann("POST", f"{base}/spans", span_body("QUOTE", 5, 1)).get_json())
    check("LabelPut", {"label": "CFS", "seconds": 2.5, "version": None})
    with pytest.raises(jsonschema.ValidationError):
        check("SpanCreate", {"label": "QUOTE", "start": 0, "end": 5, "colour": "red"})  # the document forbids unknown fields too


# ----------------------------------------------------------------- a token decides, whatever cookies come with it
def test_a_token_client_that_keeps_cookies_still_works_after_loading_a_page(app, world, ann):
    """Like requests.Session: the cookie jar fills with the session cookie of an HTML page (its CSRF token);
    every later call still carries the valid token, and the token decides."""
    assert ann("GET", "/").status_code == 200  # an HTML page, read with the token: sets a session cookie
    assert any(cookie.key == "session" for cookie in ann.client._cookies.values())
    assert ann("GET", f"/api/articles/{world.article}").status_code == 200
    response = ann("PUT", f"/api/articles/{world.article}/labels/1", {"label": "UFS"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert ann("GET", "/").status_code == 200


def test_a_valid_token_beside_another_users_session_acts_as_the_token_user(app, world, seeded):
    """The token decides: bob's script in a jar that holds ann's session cookie writes as bob, not as ann."""
    browser = Browser(app.test_client())
    browser.login("ann", "correct horse")
    response = browser.client.put(
        f"/api/articles/{world.article}/labels/1", json={"label": "CFS"}, headers={"Authorization": f"Bearer {world.bob_token}"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        labels = db.session.execute(select(Annotation.user_id, Annotation.label).order_by(Annotation.id)).all()
    assert labels[-1] == (world.bob, "CFS") and (world.ann, "CFS") not in labels[2:]
    # ...and the session, without the token, is still ann's
    assert browser.client.get(f"/api/articles/{world.ann_only}").status_code == 200


def test_a_reviewer_reads_only_articles_of_their_own_projects_through_the_api(app, world):
    """A reviewer who is not a member of the article's project gets the same 404 as for a missing id (found
    trying to break project membership: the API answered them the whole article)."""
    with app.app_context():
        s = db.session
        other = projects.create_project(s, "Elsewhere")
        outsider = accounts.create_user(s, "outsider", "reviewer")
        projects.add_members(s, other.id, [outsider])
        token = accounts.issue_token(s, outsider)
        s.commit()
    api = Api(app.test_client(), token)
    refused = api("GET", f"/api/articles/{world.article}")
    missing = api("GET", "/api/articles/999999")
    assert refused.status_code == missing.status_code == 404
    assert TEXT[:20] not in refused.get_data(as_text=True)
    assert refused.get_json()["error"].replace(str(world.article), "N") == missing.get_json()["error"].replace("999999", "N")
    # a member reads it as before
    with app.app_context():
        projects.add_members(db.session, db.session.get(Article, world.article).project_id,
                             [db.session.get(accounts.User, db.session.scalar(select(accounts.User.id).where(accounts.User.name == "outsider")))])
        db.session.commit()
    assert api("GET", f"/api/articles/{world.article}").status_code == 200


# ----------------------------------------------------------------- several changes in one request
def _batch(w: World, quote_id: str = "batch-quote-1") -> list[dict]:
    quote, source = TEXT.index("\u201cIt was"), TEXT.index("the minister")
    return [
        {"op": "put_label", "sentence_index": 1, "label": "UFS", "seconds": 3, "request_id": "batch-label-1"},
        {"op": "create_span", "label": "QUOTE", "start": quote + 1, "end": TEXT.index(" said"), "id": quote_id},  # not seeded's quote
        {"op": "create_span", "label": "SOURCE", "start": source + 4, "end": source + len("the minister"), "id": "batch-source-1"},
        {"op": "create_relation", "type": "attributed_to", "from": quote_id, "to": "batch-source-1", "id": "batch-link-1"},
    ]


def test_a_batch_of_changes_answers_each_as_its_single_endpoint(app, world, ann):
    import jsonschema

    document = app.test_client().get("/api/openapi.json").get_json()
    url = f"/api/articles/{world.article}/changes"
    response = ann("POST", url, {"operations": _batch(world), "request_id": "batch-0000-1"})
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    jsonschema.validate(response.get_json(), {"$ref": "#/components/schemas/ChangesResult", "components": document["components"]},
                        cls=jsonschema.Draft202012Validator)
    assert [r["status"] for r in results] == [200, 201, 201, 201]
    quote = results[1]["body"]
    assert TEXT[quote["start"]:quote["end"]] == quote["text"]
    mine = ann("GET", f"/api/articles/{world.article}").get_json()["annotations"]
    assert {s["id"] for s in mine["spans"]} == {"batch-quote-1", "batch-source-1"} and [r["id"] for r in mine["relations"]] == ["batch-link-1"]
    # the retry of a batch whose answer was lost: the same answer, nothing written again
    before = snapshot(app)
    assert ann("POST", url, {"operations": _batch(world), "request_id": "batch-0000-1"}).get_json() == response.get_json()
    assert snapshot(app) == before
    deletes = ann("POST", url, {"operations": [{"op": "delete_span", "id": "batch-quote-1"}, {"op": "delete_label", "sentence_index": 1}]})
    assert deletes.status_code == 200 and deletes.get_json() == {"results": [{"status": 204, "body": None}] * 2}
    for op in [{"op": "update_span", "id": "batch-source-1", "end": TEXT.index("the minister") + 3},
               {"op": "put_article_label", "group": "x", "values": []}]:
        body = {"operations": [op]}
        jsonschema.validate(body, {"$ref": "#/components/schemas/ChangesRequest", "components": document["components"]},
                            cls=jsonschema.Draft202012Validator)


def test_a_failing_batch_names_its_operation_and_stores_nothing(app, world, seeded, ann):
    url = f"/api/articles/{world.article}/changes"
    cases = [
        ({"op": "put_label", "sentence_index": 99, "label": "CFS"}, 404, "operation 4 (put_label): "),
        ({"op": "put_label", "sentence_index": 0, "label": "CFS", "version": 9}, 409, "operation 4 (put_label): "),
        ({"op": "create_span", "label": "QUOTE", "start": 5, "end": 1}, 422, "operation 4 (create_span): "),
        ({"op": "delete_relation", "id": seeded["bob_rel"]}, 404, "operation 4 (delete_relation): "),
        ({"op": "create_span", "label": "QUOTE", "start": 0, "end": 3, "id": seeded["bob_quote"]}, 409, "operation 4 (create_span): "),
        ({"op": "put_label", "sentence_index": 0, "label": "CFS", "seconds": "1"}, 400, "operation 4 (put_label): seconds"),
        ({"op": "span", "start": 0}, 400, "operation 4: op must be one of"),
    ]
    for bad, status, words in cases:
        before = snapshot(app)
        body = assert_json_error(ann("POST", url, {"operations": [*_batch(world), bad]}), status, words)
        assert body["index"] == 4
        if "bob" in json.dumps(bad):  # bob's ids: refused without showing anything of his
            assert "current" not in body
        assert snapshot(app) == before, bad
    conflict = ann("POST", url, {"operations": [{"op": "put_label", "sentence_index": 0, "label": "UFS", "version": 7}]}).get_json()
    assert conflict["current"]["label"] == "CFS"  # the single endpoint's extra fields come along


def test_batch_body_limits_and_shape(app, world, ann):
    url = f"/api/articles/{world.article}/changes"
    before = snapshot(app)
    many = [{"op": "delete_label", "sentence_index": 0}] * 201
    assert_json_error(ann("POST", url, {"operations": many}), 413, "at most 200 operations")
    assert_json_error(ann("POST", url, raw="x" * (300 * 1024)), 413, "larger than")
    assert_json_error(ann("POST", url, {"operations": [], "colour": 1}), 400, "unknown field")
    assert_json_error(ann("POST", url, {}), 400, "missing field: operations")
    assert_json_error(ann("POST", url, {"operations": {}}), 400, "must be a list")
    assert_json_error(ann("POST", url, {"operations": _batch(world), "request_id": None}), 400, "must not be null")
    assert_json_error(ann("POST", url, {"operations": _batch(world), "request_id": "short"}), 400, "request_id")
    assert snapshot(app) == before
    # 200 operations of a realistic size fit
    quote = TEXT.index("\u201cIt was")
    spans = [{"op": "create_span", "label": "QUOTE", "start": quote, "end": quote + 2 + i % 20, "id": f"many-span-{i:04d}"} for i in range(20)]
    deletes = [{"op": "delete_span", "id": f"many-span-{i:04d}"} for i in range(20)]
    labels = [{"op": "put_label", "sentence_index": i % world.sentences, "label": "CFS", "seconds": 1, "request_id": f"many-label-{i:04d}"} for i in range(160)]
    response = ann("POST", url, {"operations": spans + labels + deletes})
    assert response.status_code == 200 and len(response.get_json()["results"]) == 200


def test_batch_roles_and_csrf(app, world, seeded):
    url = f"/api/articles/{world.article}/changes"
    body = {"operations": _batch(world)}
    before = snapshot(app)
    # as the single endpoints: an anonymous write fails the CSRF check first (400)
    for token, status in [(world.reviewer_token, 403), (world.admin_token, 403), (None, 400), ("ann_" + "x" * 43, 401)]:
        assert_json_error(Api(app.test_client(), token)("POST", url, body), status)
    assert_json_error(Api(app.test_client(), world.ann_token)("POST", f"/api/articles/{world.unassigned}/changes", body), 404)
    browser = Browser(app.test_client())
    browser.login("ann", "correct horse")
    assert_json_error(browser.client.post(url, json=body), 400, "CSRF")
    assert_json_error(browser.send_json("POST", url, body, headers={"X-CSRFToken": "forged"}), 400, "CSRF")
    assert snapshot(app) == before
    assert browser.send_json("POST", url, body).status_code == 200


def test_openapi_batch_operations_are_the_ones_the_server_takes(app):
    """Each documented operation has exactly the fields batch.py accepts for it, and the same required ones."""
    from annotator.domain.annotations.batch import OPERATIONS

    schemas = app.test_client().get("/api/openapi.json").get_json()["components"]["schemas"]
    assert set(schemas["ChangesRequest"]["properties"]) == {"operations", "request_id"}
    documented = {item["properties"]["op"]["const"]: item for item in schemas["ChangeOperation"]["oneOf"]}
    assert set(documented) == set(OPERATIONS)
    for name, (required, optional, _runner) in OPERATIONS.items():
        assert set(documented[name]["properties"]) == {"op"} | required | optional, name
        assert set(documented[name]["required"]) == {"op"} | required, name
