"""The suggestions API of the annotation page: who may read and decide, the project's switch, errors, origins.

GET /api/articles/<id>/suggestions lists the caller's pending suggestions; POST .../accept and
.../reject decide them in the same retried write transaction as a label or span save. Every
refusal is a 4xx JSON error that writes nothing; an accepted suggestion is the annotator's own,
`origin: "suggested"`, until a hand edit makes it `manual` again.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from annotator.db import db
from annotator.db.models import Annotation, Article, AuditEntry, Project, Relation, Span, SuggestionDecision
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, labelschema, projects, suggesters
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.suggestions import Proposal

from .conftest import Browser

# Our own text: a source-first quote, a quote-first one, and a sentence without speech.
TEXT = (
    "Library hours to be cut\n"
    "The city librarian, Ruth Abara, said: \u201cWe will close on Mondays from June.\u201d\n"
    "\u201cEvening hours stay as they are,\u201d said Colin Mbeki, who chairs the library board.\n"
    "The branch on Elm Street will not be affected."
)


class EveryOther:
    """A claim-label suggester of this test's own: CFS on even sentences, UFS on odd ones."""

    name, version = "test-every-other", "3"

    def propose(self, text, sentences):
        return Proposal(self.name, self.version, labels=[(i, "UFS" if i % 2 else "CFS", 0.65) for i in range(len(sentences))])


class Api:
    """A script's client with a bearer token (no CSRF token needed)."""

    def __init__(self, client, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, url: str, body: Any = None, raw: bytes | None = None):
        if raw is not None:
            return self.client.open(url, method=method, data=raw, content_type="application/json", headers=self.headers)
        return self.client.open(url, method=method, json=body, headers=self.headers)


@pytest.fixture
def world(app) -> dict[str, Any]:
    with app.app_context():
        s = db.session
        with transaction(s):
            users = {name: accounts.create_user(s, name, role, "correct horse" if name == "ann" else None)
                     for name, role in (("ann", "annotator"), ("bob", "annotator"), ("cat", "annotator"), ("rev", "reviewer"), ("adm", "admin"))}
            project = projects.create_project(s, "Libraries")
            articles.store_articles(s, project, [ArticleRecord("lib", "Library hours to be cut", TEXT), ArticleRecord("other", "Other", "Nothing is said here.")], "test")
            assignment.assign_to_user(s, project.id, users["ann"], ["lib"])
            assignment.assign_to_user(s, project.id, users["bob"], ["lib"])
            assignment.assign_to_user(s, project.id, users["cat"], ["other"])  # a member of the project, not of this article
            projects.add_members(s, project.id, [users["rev"]])
            s.execute(update(Project).where(Project.id == project.id).values(suggestions_enabled=True))
            tokens = {name: accounts.issue_token(s, user) for name, user in users.items()}
        with transaction(s):
            suggesters.run(s, project.id, suggesters=[suggesters.AttributionRules(), EveryOther()])
        article = s.scalar(select(Article.id).where(Article.external_id == "lib"))
        return {"project": project.id, "article": article, "tokens": tokens, "users": {n: u.id for n, u in users.items()}}


@pytest.fixture
def ann(app, world) -> Api:
    return Api(app.test_client(), world["tokens"]["ann"])


@pytest.fixture
def bob(app, world) -> Api:
    return Api(app.test_client(), world["tokens"]["bob"])


def url(world, tail: str = "") -> str:
    return f"/api/articles/{world['article']}/suggestions{tail}"


def state(app) -> dict[str, Any]:
    """Everything a decision could change."""
    with app.app_context():
        s = db.session
        found = {
            "labels": sorted(s.execute(select(Annotation.user_id, Annotation.label, Annotation.origin, Annotation.version)).all()),
            "spans": sorted(s.execute(select(Span.uid, Span.user_id, Span.label, Span.start, Span.end, Span.origin)).all()),
            "relations": sorted(s.execute(select(Relation.uid, Relation.user_id, Relation.origin)).all()),
            "decisions": sorted(s.execute(select(SuggestionDecision.suggestion_id, SuggestionDecision.user_id, SuggestionDecision.decision)).all()),
            "audit": s.scalar(select(func.count()).select_from(AuditEntry)),
            "revision": s.scalar(select(Project.revision)),
        }
        s.remove()
        return found


def error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert response.mimetype == "application/json" and body["status"] == status and body["error"], body
    for word in words:
        assert word in body["error"], body["error"]
    return body


def check_schema(app, name: str, value: Any) -> None:
    import jsonschema

    document = app.test_client().get("/api/openapi.json").get_json()
    jsonschema.validate(value, {"$ref": f"#/components/schemas/{name}", "components": document["components"]}, cls=jsonschema.Draft202012Validator)


# ----------------------------------------------------------------- reading
def test_the_caller_reads_their_pending_suggestions_in_the_documented_shape(app, world, ann):
    response = ann("GET", url(world))
    assert response.status_code == 200
    got = response.get_json()
    check_schema(app, "SuggestionList", got)
    assert got["enabled"] is True and got["linked_spans"] == [] and len(got["spans"]) == 6  # two CUEs, both "said"
    assert {(x["label"], x["text"]) for x in got["spans"]} == {
        ("SOURCE", "Ruth Abara"), ("CUE", "said"), ("QUOTE", "We will close on Mondays from June."),
        ("QUOTE", "Evening hours stay as they are"), ("SOURCE", "Colin Mbeki"),
    }
    assert all(TEXT[x["start"]:x["end"]] == x["text"] and x["suggester"] == "annotator-attribution-rules/1" for x in got["spans"])
    assert [(x["sentence"], x["label"], x["suggester"]) for x in got["labels"]] == [
        (0, "CFS", "test-every-other/3"), (1, "UFS", "test-every-other/3"), (2, "CFS", "test-every-other/3"), (3, "UFS", "test-every-other/3")]
    spans = {x["id"]: x["text"] for x in got["spans"]}
    assert sorted((spans[r["from"]], spans[r["to"]]) for r in got["relations"]) == [
        ("Evening hours stay as they are", "Colin Mbeki"), ("We will close on Mondays from June.", "Ruth Abara")]


def test_only_an_annotator_assigned_to_the_article_may_read_or_decide(app, world):
    """The access rule of saving a span: another annotator's article is the same 404 as a missing one; other roles 403."""
    client = app.test_client()
    before = state(app)
    sid = Api(client, world["tokens"]["ann"])("GET", url(world)).get_json()["spans"][0]["id"]
    cat = Api(client, world["tokens"]["cat"])
    for method, tail, body in (("GET", "", None), ("POST", "/accept", {"ids": [sid]}), ("POST", "/reject", {"ids": [sid]})):
        refused = error(cat(method, url(world, tail), body), 404)
        missing = error(cat(method, f"/api/articles/987654/suggestions{tail}", body), 404)
        assert refused["error"].replace(str(world["article"]), "N") == missing["error"].replace("987654", "N")
        assert "Ruth" not in json.dumps(refused)
        for role in ("rev", "adm"):
            error(Api(client, world["tokens"][role])(method, url(world, tail), body), 403)
        anonymous = client.open(url(world, tail), method=method, json=body)
        assert anonymous.status_code in (400, 401)  # a write without a session is refused by the CSRF check first
        assert anonymous.get_json()["status"] == anonymous.status_code
    assert state(app) == before


def test_with_suggestions_off_nothing_is_shown_and_decisions_are_refused(app, world, ann):
    sid = ann("GET", url(world)).get_json()["spans"][0]["id"]
    with app.app_context():
        db.session.execute(update(Project).values(suggestions_enabled=False))
        db.session.commit()
    assert ann("GET", url(world)).get_json() == {"enabled": False, "labels": [], "spans": [], "relations": [], "linked_spans": []}
    before = state(app)
    for tail in ("/accept", "/reject"):
        error(ann("POST", url(world, tail), {"ids": [sid]}), 409, "turned off")
    assert state(app) == before
    # the page draws no ghosts: it is not even told where to ask
    browser = Browser(app.test_client())
    browser.login("ann", "correct horse")
    page = browser.get(f"/annotate/{world['article']}").get_data(as_text=True)
    assert "data-suggestions-url" not in page
    with app.app_context():
        db.session.execute(update(Project).values(suggestions_enabled=True))
        db.session.commit()
    assert f'data-suggestions-url="/api/articles/{world["article"]}/suggestions"' in browser.get(f"/annotate/{world['article']}").get_data(as_text=True)


# ----------------------------------------------------------------- deciding
def test_accepting_makes_them_the_annotators_own_with_origin_and_a_retry_answers_the_same(app, world, ann, bob):
    got = ann("GET", url(world)).get_json()
    link = next(r for r in got["relations"] if next(x for x in got["spans"] if x["id"] == r["to"])["text"] == "Colin Mbeki")
    label = next(x for x in got["labels"] if x["sentence"] == 2)
    response = ann("POST", url(world, "/accept"), {"ids": [link["id"], label["id"]]})
    assert response.status_code == 200, response.get_data(as_text=True)
    first = response.get_json()
    check_schema(app, "Accepted", first)
    assert sorted((x["text"], x["origin"], x["suggester"], x["suggester_version"]) for x in first["spans"]) == [
        ("Colin Mbeki", "suggested", "annotator-attribution-rules", "1"), ("Evening hours stay as they are", "suggested", "annotator-attribution-rules", "1")]
    assert {x["suggestion"] for x in first["spans"]} == {link["from"], link["to"]}
    assert [(r["suggestion"], r["origin"]) for r in first["relations"]] == [(link["id"], "suggested")]
    assert [(x["sentence"], x["label"], x["origin"], x["suggester"], x["suggestion"]) for x in first["labels"]] == [
        (2, "CFS", "suggested", "test-every-other", label["id"])]
    after = state(app)
    again = ann("POST", url(world, "/accept"), {"ids": [link["id"], label["id"]]}).get_json()  # a retried request
    assert {k: again[k] for k in ("spans", "relations")} == {k: first[k] for k in ("spans", "relations")}
    assert [x["label"] for x in again["labels"]] == ["CFS"]
    assert state(app)["spans"] == after["spans"] and state(app)["relations"] == after["relations"]  # nothing twice
    # the article API shows them as the caller's own, with their origin
    document = ann("GET", f"/api/articles/{world['article']}").get_json()
    check_schema(app, "ArticleDocument", document)
    assert sorted((x["text"], x["origin"]) for x in document["annotations"]["spans"]) == [
        ("Colin Mbeki", "suggested"), ("Evening hours stay as they are", "suggested")]
    assert [(x["origin"], x["suggester"]) for x in document["annotations"]["relations"]] == [("suggested", "annotator-attribution-rules")]
    assert [(x["label"], x["origin"], x["suggester_version"]) for x in document["annotations"]["labels"]] == [("CFS", "suggested", "3")]
    # ann's list lost them; bob's did not, and bob owns nothing
    assert len(ann("GET", url(world)).get_json()["spans"]) == 4
    theirs = bob("GET", url(world)).get_json()
    assert len(theirs["spans"]) == 6 and len(theirs["relations"]) == 2 and len(theirs["labels"]) == 4
    assert bob("GET", f"/api/articles/{world['article']}").get_json()["annotations"] == {"labels": [], "spans": [], "relations": []}


def test_a_link_still_pending_after_one_of_its_spans_was_accepted_names_it_in_linked_spans(app, world, ann):
    got = ann("GET", url(world)).get_json()
    source = next(x for x in got["spans"] if x["text"] == "Ruth Abara")
    assert ann("POST", url(world, "/accept"), {"ids": [source["id"]]}).status_code == 200
    now = ann("GET", url(world)).get_json()
    assert [x["text"] for x in now["linked_spans"]] == ["Ruth Abara"] and source["id"] not in {x["id"] for x in now["spans"]}
    link = next(r for r in now["relations"] if r["to"] == source["id"])
    taken = ann("POST", url(world, "/accept"), {"ids": [link["id"]]}).get_json()
    own = {x["suggestion"]: x["id"] for x in taken["spans"]}
    assert taken["relations"][0]["to"] == own[source["id"]]  # the span accepted before, not a second one
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Span).where(Span.start == source["start"], Span.end == source["end"])) == 1


def test_rejecting_records_the_no_and_takes_a_spans_links(app, world, ann, bob):
    got = ann("GET", url(world)).get_json()
    source = next(x for x in got["spans"] if x["text"] == "Colin Mbeki")
    before = state(app)
    response = ann("POST", url(world, "/reject"), {"ids": [source["id"]]})
    assert response.status_code == 200
    check_schema(app, "Rejected", response.get_json())
    link = next(r["id"] for r in got["relations"] if r["to"] == source["id"])
    assert sorted(response.get_json()["rejected"]) == sorted([source["id"], link])
    after = state(app)
    assert {k: after[k] for k in ("labels", "spans", "relations")} == {k: before[k] for k in ("labels", "spans", "relations")}
    assert len(after["decisions"]) == 2 and {d[2] for d in after["decisions"]} == {"rejected"}
    now = ann("GET", url(world)).get_json()
    assert source["id"] not in {x["id"] for x in now["spans"]} and link not in {r["id"] for r in now["relations"]}
    assert source["id"] in {x["id"] for x in bob("GET", url(world)).get_json()["spans"]}  # bob's own decisions: none


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"ids": "abcdefgh1"}, 400, ("list",)),
    ({"ids": None}, 400, ("list",)),
    ({"ids": []}, 422, ("at least one",)),
    ({"ids": [1]}, 422, ("not a suggestion id",)),
    ({"ids": [["nested"]]}, 422, ("not a suggestion id",)),
    ({"ids": ["no such thing"]}, 422, ("not a suggestion id",)),
    ({"ids": ["abcdefgh0123"]}, 404, ("no suggestion",)),
    ({}, 400, ("missing field", "ids")),
    ({"ids": ["abcdefgh0123"], "extra": 1}, 400, ("unknown field",)),
    ([], 400, ("JSON object",)),
])
def test_bad_requests_are_4xx_json_and_write_nothing(app, world, ann, body, status, words):
    before = state(app)
    for tail in ("/accept", "/reject"):
        error(ann("POST", url(world, tail), body), status, *words)
    assert state(app) == before


def test_a_refusal_inside_the_accept_is_a_4xx_and_nothing_is_half_written(app, world, ann):
    """A label the schema no longer allows (an admin changed it since the suggester ran): the accept fails as a hand-made
    label would (422), and the spans accepted with it in the same request are not kept either."""
    got = ann("GET", url(world)).get_json()
    ufs = next(x for x in got["labels"] if x["label"] == "UFS")
    with app.app_context():
        schema = labelschema.preset("claims")
        schema["sentence_labels"] = [x for x in schema["sentence_labels"] if x["name"] != "UFS"]
        db.session.execute(update(Project).values(label_schema=schema))
        db.session.commit()
    before = state(app)
    error(ann("POST", url(world, "/accept"), {"ids": [got["spans"][0]["id"], ufs["id"]]}), 422, "UFS")
    assert state(app) == before


def test_raw_bytes_and_odd_json_never_500(app, world, ann):
    before = state(app)
    for raw in (b"\xff\xfe", b'{"ids": NaN}', b'{"ids": ["\\ud800abcdefgh"]}', b"[" * 3000, b'{"ids": [' + b"1" * 5000 + b"]}"):
        for tail in ("/accept", "/reject"):
            response = ann("POST", url(world, tail), raw=raw)
            assert 400 <= response.status_code < 500 and response.get_json()["error"], (raw[:20], response.status_code)
    big = {"ids": ["abcdefgh" + str(i).zfill(8) for i in range(2000)]}
    error(ann("POST", url(world, "/accept"), big), 413)
    assert state(app) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ids=st.lists(st.one_of(st.text(max_size=70), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False)), max_size=4),
       tail=st.sampled_from(["/accept", "/reject"]))
def test_random_ids_never_500_and_a_refusal_writes_nothing(app, world, ann, ids, tail):
    before = state(app)
    response = ann("POST", url(world, tail), {"ids": ids})
    assert response.status_code < 500 and response.mimetype == "application/json"
    if response.status_code >= 400:
        assert response.get_json()["status"] == response.status_code and state(app) == before


# ----------------------------------------------------------------- a hand edit makes it manual again
def test_a_hand_edit_of_an_accepted_suggestion_makes_it_manual_again(app, world, ann):
    got = ann("GET", url(world)).get_json()
    quote = next(x for x in got["spans"] if x["text"] == "Evening hours stay as they are")
    cue = next(x for x in got["spans"] if x["label"] == "CUE")
    label = next(x for x in got["labels"] if x["sentence"] == 1)
    taken = ann("POST", url(world, "/accept"), {"ids": [quote["id"], cue["id"], label["id"]]}).get_json()
    mine = {x["suggestion"]: x["id"] for x in taken["spans"]}
    base = f"/api/articles/{world['article']}"

    def origins() -> dict[str, tuple]:
        with app.app_context():
            s = db.session
            found = {uid: (origin, suggester, version) for uid, origin, suggester, version in
                     s.execute(select(Span.uid, Span.origin, Span.suggester, Span.suggester_version))}
            found["label"] = s.execute(select(Annotation.origin, Annotation.suggester, Annotation.suggester_version)).one()
            s.remove()
            return found

    suggested = ("suggested", "annotator-attribution-rules", "1")
    assert origins() == {mine[quote["id"]]: suggested, mine[cue["id"]]: suggested, "label": ("suggested", "test-every-other", "3")}
    # the same label again is no change: it stays the suggester's; another label is the annotator's own decision
    assert ann("PUT", f"{base}/labels/1", {"label": "UFS"}).status_code == 200
    assert origins()["label"] == ("suggested", "test-every-other", "3")
    assert ann("PUT", f"{base}/labels/1", {"label": "NFS"}).status_code == 200
    assert origins()["label"] == ("manual", None, None)
    # a span moved by hand, another relabelled by hand: both manual; an unchanged patch changes nothing
    assert ann("PATCH", f"{base}/spans/{mine[quote['id']]}", {"start": quote["start"], "end": quote["end"]}).status_code == 200
    assert origins()[mine[quote["id"]]] == suggested
    assert ann("PATCH", f"{base}/spans/{mine[quote['id']]}", {"end": quote["end"] - 1}).status_code == 200
    assert ann("PATCH", f"{base}/spans/{mine[cue['id']]}", {"label": "SOURCE"}).status_code == 200
    now = origins()
    assert now[mine[quote["id"]]] == now[mine[cue["id"]]] == ("manual", None, None)
    document = ann("GET", base).get_json()["annotations"]
    assert {x["origin"] for x in document["spans"]} == {"manual"} and document["labels"][0]["origin"] == "manual"
