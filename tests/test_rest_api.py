"""The REST API for pipelines (web/rest.py, web/rest_data.py): every endpoint's answers and refusals, over tokens.

Who may call what is in tests/test_route_matrix.py (generated from the URL map); the pipeline over a real
gunicorn server, with the README's example code, is in tests/test_rest_pipeline.py.
"""
from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Article, Assignment, AuditEntry, GoldLabel, Project, Sentence, User
from annotator.domain import accounts, projects

TEXTS = [
    "The council raised the rent by 4% in March. The mayor said it was needed. Tenants disagree.",
    "Exports fell by a tenth last year. The minister blamed the weather. Farmers blamed the minister.",
    "A new bridge will open in June. It cost 30 million euros. Nobody has crossed it yet.",
]


@dataclass
class Api:
    client: Any
    tokens: dict[str, str]

    def call(self, method: str, path: str, who: str = "admin", body: Any = None, raw: bytes | str | None = None,
             content_type: str | None = None, headers: dict[str, str] | None = None):
        sent = {"Authorization": f"Bearer {self.tokens[who]}", **(headers or {})}
        if raw is not None:
            return self.client.open(path, method=method, data=raw, headers=sent, content_type=content_type or "application/json")
        if body is not None:
            return self.client.open(path, method=method, json=body, headers=sent)
        return self.client.open(path, method=method, headers=sent)

    def ok(self, method: str, path: str, who: str = "admin", body: Any = None, status: int = 200, **kw: Any) -> Any:
        response = self.call(method, path, who, body, **kw)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.get_data(as_text=True)[:300]}"
        return response.get_json() if response.is_json else response

    def refused(self, method: str, path: str, status: int, who: str = "admin", body: Any = None, **kw: Any) -> str:
        response = self.call(method, path, who, body, **kw)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.get_data(as_text=True)[:300]}"
        payload = response.get_json()
        assert payload["status"] == status and payload["error"], payload
        return payload["error"]


@pytest.fixture
def api(app) -> Api:
    with app.app_context():
        s = db.session
        users = {name: accounts.create_user(s, name, role, "correct horse")
                 for name, role in (("admin", "admin"), ("rev", "reviewer"), ("ann1", "annotator"), ("ann2", "annotator"))}
        tokens = {name: accounts.issue_token(s, user) for name, user in users.items()}
        s.commit()
        s.remove()
    return Api(app.test_client(), tokens)


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def new_project(api: Api, name: str = "News", **settings: Any) -> int:
    return api.ok("POST", "/api/projects", body={"name": name, **settings}, status=201)["id"]


def add_articles(api: Api, project: int, n: int = 3, start: int = 0) -> dict[str, Any]:
    rows = [{"id": f"a{i}", "title": f"Story {i}", "text": TEXTS[i % len(TEXTS)], "meta": {"n": i}} for i in range(start, start + n)]
    return api.ok("POST", f"/api/projects/{project}/articles", raw=jsonl(rows), content_type="application/x-ndjson", status=201)


def counts(app) -> tuple[int, int, int, int]:
    with app.app_context():
        s = db.session
        got = tuple(s.scalar(select(func.count()).select_from(t)) for t in (Project, Article, Assignment, User))
        s.remove()
    return got  # type: ignore[return-value]


# ----------------------------------------------------------------- the OpenAPI document
@cache
def openapi() -> dict[str, Any]:
    return json.loads((files("annotator") / "openapi.json").read_text(encoding="utf-8"))


def conforms(payload: Any, schema_name: str) -> None:
    """The response body matches components.schemas[schema_name] of openapi.json (JSON Schema 2020-12)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": openapi()["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(payload), key=str)
    assert not errors, f"{schema_name}: {errors[0].message} at {list(errors[0].absolute_path)}"


REST_PATHS = {
    "/api/projects": {"get", "post"},
    "/api/projects/{project_id}": {"get", "patch"},
    "/api/projects/{project_id}/articles": {"get", "post"},
    "/api/projects/{project_id}/articles/{article_id}": {"delete"},
    "/api/projects/{project_id}/assignments": {"post"},
    "/api/projects/{project_id}/export.jsonl": {"get"},
    "/api/projects/{project_id}/agreement": {"get"},
    "/api/users": {"get", "post"},
    "/api/users/{name}/tokens": {"post"},
}


def test_the_openapi_document_is_valid_and_has_every_rest_path(app):
    document = openapi()
    validate_openapi(document)  # raises on any violation of the OpenAPI 3.1 specification
    for path, methods in REST_PATHS.items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), (path, set(document["paths"][path]))
    # ...and every /api route of the app is documented, with its methods
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            assert path in document["paths"], f"{rule.rule} is not in openapi.json"
            assert {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}} <= set(document["paths"][path]), rule.rule


def test_the_documented_bodies_are_the_ones_the_server_takes():
    from annotator.web import rest

    schemas = openapi()["components"]["schemas"]
    assert set(schemas["ProjectCreate"]["properties"]) == set(schemas["ProjectPatch"]["properties"]) == rest.PROJECT_FIELDS
    assert set(schemas["UserCreate"]["properties"]) == {"name", "role", "password", "active"}
    assert set(schemas["TokenRequest"]["properties"]) == {"expires_days"}
    forms = [set(form["properties"]) for form in schemas["AssignmentRequest"]["oneOf"]]
    assert forms == [{"per_article"}, {"user", "articles"}, {"rebalance", "per_article"}]


# ----------------------------------------------------------------- projects
def test_projects_are_created_read_and_changed(api, app):
    created = api.ok("POST", "/api/projects", body={"name": "News", "preset": "checkthat", "annotators_per_article": 3, "majority": 0.66,
                                                    "guidelines": "# Label claims"}, status=201)
    conforms(created, "Project")
    assert (created["name"], created["annotators_per_article"], created["majority"], created["articles"]) == ("News", 3, 0.66, 0)
    pid = created["id"]
    read = api.ok("GET", f"/api/projects/{pid}")
    assert read == created
    changed = api.ok("PATCH", f"/api/projects/{pid}", body={"majority": 0.75, "suggestions_enabled": True, "guidelines": "# New"})
    assert (changed["majority"], changed["suggestions_enabled"], changed["guidelines_version"]) == (0.75, True, 2)
    with app.app_context():
        assert db.session.get(Project, pid).guidelines == "# New"
    custom = {"sentence_labels": [{"name": "YES", "key": "1"}, {"name": "NO", "key": "2"}]}
    other = api.ok("POST", "/api/projects", body={"name": "Custom", "schema": custom}, status=201)
    assert [x["name"] for x in other["label_schema"]["sentence_labels"]] == ["YES", "NO"]


@pytest.mark.parametrize(("body", "status", "says"), [
    ({}, 400, "missing field: name"),
    ({"name": "X", "colour": "red"}, 400, "unknown field 'colour'"),
    ({"name": 5}, 400, "name must be a string"),
    ({"name": "X", "annotators_per_article": "2"}, 400, "annotators_per_article must be an integer"),
    ({"name": "X", "annotators_per_article": True}, 400, "annotators_per_article must be an integer"),
    ({"name": "X", "annotators_per_article": 0}, 400, "annotators per article must be 1 to 50"),
    ({"name": "X", "majority": 0.4}, 400, "above 0.5 and at most 1"),
    ({"name": "X", "preset": "nope"}, 400, "unknown preset 'nope'"),
    ({"name": "X", "preset": "claims", "schema": {}}, 400, "preset or schema, not both"),
    ({"name": "X", "schema": {"sentence_labels": "CFS"}}, 400, "sentence_labels"),
    ({"name": " "}, 400, "project name must be 1 to 200 characters"),
    # one line of text: `annotator projects list` prints a tab-separated line per project, and names are CLI arguments
    ({"name": "Two\nlines"}, 400, "project name must be one line of text (got U+000A at 3)"),
    ({"name": "Tab\tin it"}, 400, "project name must be one line of text (got U+0009 at 3)"),
    ({"name": "Rev\u202eersed"}, 400, "project name must be one line of text (got U+202E at 3)"),
    ({"name": "Taken"}, 400, "already exists"),
    # the guidelines page's limit: every annotation page renders them (2,940,000 characters took 35-70 s a page)
    ({"name": "X", "guidelines": "é" * 200_001}, 400, "The guidelines may be at most 200,000 characters (this text has 200,001)."),
])
def test_a_bad_project_body_is_refused_and_stores_nothing(api, app, body, status, says):
    new_project(api, "Taken")
    before = counts(app)
    assert says in api.refused("POST", "/api/projects", status, body=body)
    assert counts(app) == before


def test_bad_json_is_a_400_never_a_500(api, app):
    before = counts(app)
    for raw in ('{"name": NaN}', '{"name": "x"', "[1, 2]", '{"name": 1e999}', b'{"name": "\xff"}', '{"name": "a\\u0000"}', ""):
        api.refused("POST", "/api/projects", 400, raw=raw)
    assert counts(app) == before


def test_a_bad_patch_changes_nothing(api, app):
    pid = new_project(api, majority=0.66)
    new_project(api, "Other")
    assert "already exists" in api.refused("PATCH", f"/api/projects/{pid}", 400, body={"name": "Other", "majority": 0.9})
    assert "above 0.5" in api.refused("PATCH", f"/api/projects/{pid}", 400, body={"guidelines": "new", "majority": 2})
    assert "one line of text" in api.refused("PATCH", f"/api/projects/{pid}", 400, body={"name": "News\r\nExtra"})
    assert "at most 200,000 characters" in api.refused("PATCH", f"/api/projects/{pid}", 400, body={"guidelines": "x" * 200_001})
    read = api.ok("GET", f"/api/projects/{pid}")
    assert (read["name"], read["majority"], read["guidelines_version"]) == ("News", 0.66, 1)
    api.refused("PATCH", "/api/projects/999999", 404, body={"majority": 0.9})


def test_lists_are_paged_in_a_stable_order(api):
    ids = [new_project(api, f"P{i:02d}") for i in range(7)]
    seen, url = [], "/api/projects?per_page=3"
    while url:
        page = api.ok("GET", url)
        conforms(page, "ProjectPage")
        assert page["total"] == 7 and page["per_page"] == 3
        seen += [p["id"] for p in page["items"]]
        url = page["next"]
    assert seen == ids
    assert api.ok("GET", "/api/projects?page=9&per_page=3")["items"] == []
    assert api.ok("GET", "/api/projects?page=100000000&per_page=1000")["items"] == []  # an offset past INTEGER: empty, not a 500
    for bad in ("page=0", "page=x", "per_page=1001", "per_page=-1", "page=" + "9" * 40):
        assert "must be a whole number" in api.refused("GET", f"/api/projects?{bad}", 400)


def test_the_next_link_holds_only_the_path_and_the_paging(api):
    """Query parameters never reach url_for: ?_external= or ?endpoint= were a 500, ?project_id=9 pointed next elsewhere."""
    pid = new_project(api)
    add_articles(api, pid, 3)
    first = api.ok("GET", f"/api/projects/{pid}/articles?per_page=1")["next"]
    assert first.startswith(f"http://localhost/api/projects/{pid}/articles?cursor=") and first.endswith("&per_page=1")
    for extra in ("_external=0", "endpoint=x", "_anchor=top", "_method=POST", "_scheme=javascript", "project_id=999", "page=1&x=1"):
        page = api.ok("GET", f"/api/projects/{pid}/articles?per_page=1&{extra}")
        assert page["next"] == first, (extra, page["next"])
    assert api.ok("GET", "/api/projects?per_page=1&_external=0&page=1") | {"items": []} == {
        "items": [], "page": 1, "per_page": 1, "total": 1, "next": None}


def walk(api: Api, url: str, who: str = "admin", between: Any = None) -> list[dict[str, Any]]:
    """Every item along the `next` links from `url`; `between(n)` runs after the n-th page (from 1)."""
    items, pages = [], 0
    while url:
        page = api.ok("GET", url, who=who)
        pages += 1
        assert page["page"] == pages
        items += page["items"]
        if between is not None:
            between(pages)
        url = page["next"]
    return items


def test_a_walk_along_the_next_links_sees_each_article_once_whatever_is_deleted_or_added(api, app):
    """The pages were offsets: a delete before the second page's start made it skip an article."""
    pid = new_project(api)
    add_articles(api, pid, 7)

    def change(page: int) -> None:
        if page == 1:  # a0 and a1 shown: both go (a1 is where the next page starts), two new ones come
            with app.app_context():
                ids = dict(db.session.execute(select(Article.external_id, Article.id).where(Article.project_id == pid)).all())
            for name in ("a0", "a1"):
                api.ok("DELETE", f"/api/projects/{pid}/articles/{ids[name]}")
            add_articles(api, pid, 2, start=7)

    seen = [a["external_id"] for a in walk(api, f"/api/projects/{pid}/articles?per_page=2", between=change)]
    assert seen == ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]


def test_a_walk_of_a_reviewers_projects_repeats_none_they_join_meanwhile(api, app):
    """A project the reviewer joins before where the walk stands is not shown again later (offsets repeated one)."""
    ids = [new_project(api, f"P{i}") for i in range(6)]
    reviewer = "rev"

    def join(*which: int) -> None:
        with app.app_context():
            for k in which:
                projects.add_members(db.session, ids[k], [accounts.get_user(db.session, reviewer)])
            db.session.commit()

    join(1, 3, 5)
    seen = [p["id"] for p in walk(api, "/api/projects?per_page=1", who=reviewer, between=lambda page: join(0) if page == 1 else None)]
    assert seen == [ids[1], ids[3], ids[5]]


def made_up(doc: Any) -> str:
    """A cursor as the API encodes one (URL-safe base64 of JSON, unpadded), of any content."""
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


GOOD = {"v": 1, "list": "rest.list_projects?", "after": 1, "page": 2}


@pytest.mark.parametrize("cursor", [
    "x", "!!!", "a b", "a%2Fb", "%C3%A9", "_" * 600, "_-8",  # not base64, too long, bytes that are not UTF-8
    made_up("not json")[:-1], made_up([1, 2]), made_up({}), made_up({**GOOD, "extra": 1}),
    made_up({**GOOD, "after": -1}), made_up({**GOOD, "after": True}), made_up({**GOOD, "after": 1e30}),
    made_up({**GOOD, "after": 10**30}), made_up({**GOOD, "after": 2**31}), made_up({**GOOD, "after": "1"}),  # 2**31: past INTEGER
    made_up({**GOOD, "page": 0}), made_up({**GOOD, "page": 2**31}),
    made_up({**GOOD, "v": 2}), made_up({**GOOD, "list": None}),
])
def test_a_garbled_or_made_up_cursor_is_a_400_that_says_so(api, cursor):
    assert "cursor is not one this API gave out" in api.refused("GET", f"/api/projects?cursor={cursor}", 400)
    assert api.ok("GET", f"/api/projects?cursor={made_up(GOOD)}")["page"] == 2  # the same, well made
    assert api.ok("GET", f"/api/projects?cursor={made_up({**GOOD, 'after': 2**31 - 1})}")["items"] == []


def test_a_cursor_goes_only_with_its_own_list(api):
    one, two = new_project(api, "One"), new_project(api, "Two")
    add_articles(api, one, 3)
    add_articles(api, two, 3)
    following = api.ok("GET", f"/api/projects/{one}/articles?per_page=1")["next"]
    cursor = following.split("cursor=")[1].split("&")[0]
    assert api.ok("GET", f"/api/projects/{one}/articles?cursor={cursor}")["page"] == 2
    for elsewhere in (f"/api/projects/{two}/articles", "/api/projects", "/api/users"):
        assert "cursor belongs to another list" in api.refused("GET", f"{elsewhere}?cursor={cursor}", 400)
    assert "page or cursor, not both" in api.refused("GET", f"/api/projects/{one}/articles?cursor={cursor}&page=2", 400)
    assert "per_page must be" in api.refused("GET", f"/api/projects/{one}/articles?cursor={cursor}&per_page=0", 400)
    assert len(api.ok("GET", f"/api/projects/{one}/articles?cursor={cursor}&per_page=5")["items"]) == 2  # the size may change


def test_a_page_number_still_answers_as_before_and_links_on_by_cursor(api):
    """Clients from before cursors ask for ?page=N: the same page N, and its next link walks on from there."""
    pid = new_project(api)
    add_articles(api, pid, 5)
    page = api.ok("GET", f"/api/projects/{pid}/articles?page=2&per_page=2")
    assert [a["external_id"] for a in page["items"]] == ["a2", "a3"] and page["page"] == 2
    last = api.ok("GET", page["next"])
    assert [a["external_id"] for a in last["items"]] == ["a4"] and last["page"] == 3 and last["next"] is None
    assert api.ok("GET", f"/api/projects/{pid}/articles?page=3&per_page=2")["next"] is None


def test_a_reviewer_lists_and_reads_only_their_projects(api, app):
    mine, theirs = new_project(api, "Mine"), new_project(api, "Theirs")
    with app.app_context():
        projects.add_members(db.session, mine, [accounts.get_user(db.session, "rev")])
        db.session.commit()
    assert [p["id"] for p in api.ok("GET", "/api/projects", who="rev")["items"]] == [mine]
    api.ok("GET", f"/api/projects/{mine}", who="rev")
    assert "not one of your projects" in api.refused("GET", f"/api/projects/{theirs}", 403, who="rev")
    api.refused("PATCH", f"/api/projects/{mine}", 403, who="rev", body={"majority": 0.9})
    api.refused("GET", "/api/projects", 403, who="ann1")


# ----------------------------------------------------------------- articles
def test_articles_come_in_as_json_or_jsonl_and_list_with_progress(api, app):
    pid = new_project(api)
    stored = add_articles(api, pid, 3)
    conforms(stored, "ArticlesStored")
    assert stored == {"created": ["a0", "a1", "a2"], "updated": [], "skipped": []}
    array = [{"id": "b0", "text": TEXTS[0]}, {"text": TEXTS[1], "title": "no id", "source": "wire"}]
    assert api.ok("POST", f"/api/projects/{pid}/articles", body=array, status=201)["created"] == ["b0", "body-1"]
    api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann1", "articles": ["a0", "a1"]})
    page = api.ok("GET", f"/api/projects/{pid}/articles?per_page=2")
    conforms(page, "ArticlePage")
    assert page["total"] == 5 and [a["external_id"] for a in page["items"]] == ["a0", "a1"]
    first = page["items"][0]
    assert first["sentences"] == 3 and [a["name"] for a in first["annotators"]] == ["ann1"] and first["labelled"] == 0
    second = api.ok("GET", page["next"])
    assert [a["external_id"] for a in second["items"]] == ["a2", "b0"]
    last = api.ok("GET", second["next"])
    assert [a["external_id"] for a in last["items"]] == ["body-1"] and last["next"] is None
    with app.app_context():
        meta = db.session.scalar(select(Article.meta).where(Article.external_id == "body-1"))
    assert meta == {"source": "wire"}  # other keys go into meta, as `annotator import` does


def test_on_duplicate_as_annotator_import(api):
    pid = new_project(api)
    add_articles(api, pid, 2)
    again = jsonl([{"id": "a0", "title": "New title", "text": TEXTS[0]}, {"id": "a9", "text": TEXTS[2]}])
    path = f"/api/projects/{pid}/articles"
    error = api.refused("POST", path, 400, raw=again, content_type="application/x-ndjson")
    assert error.startswith("body:1: article id 'a0' already exists")
    assert api.ok("POST", path + "?on_duplicate=skip", raw=again, content_type="application/x-ndjson", status=201) == {
        "created": ["a9"], "updated": [], "skipped": ["a0"]}
    assert api.ok("POST", path + "?on_duplicate=update", raw=again, content_type="application/x-ndjson") == {
        "created": [], "updated": ["a0", "a9"], "skipped": []}
    assert api.ok("GET", path)["items"][0]["title"] == "New title"
    array_error = api.refused("POST", path, 400, body=[{"id": "a1", "text": TEXTS[1]}])
    assert array_error.startswith("body[0]: article id 'a1' already exists")
    assert "on_duplicate must be one of" in api.refused("POST", path + "?on_duplicate=replace", 400, raw=again,
                                                        content_type="application/x-ndjson")


@pytest.mark.parametrize(("raw", "content_type", "status", "says"), [
    ('{"id": "x", "text": "Fine."}\n{"id": "y"}\n', "application/x-ndjson", 400, "body:2: missing 'text'"),
    ('{"id": "x", "text": "Fine."}\n\n{"id": "y", "text": NaN}\n', "application/x-ndjson", 400, "body:3: invalid JSON"),
    ('{"id": "x", "text": "Fine."}\n{"id": "x", "text": "Again."}\n', "application/x-ndjson", 400, "body:2: duplicate id 'x' (first on line 1)"),
    ('[{"id": "x", "text": "Fine."}, {"id": "y", "text": 5}]', "application/json", 400, "body[1]: 'text' must be a string"),
    ('[{"id": "x", "text": "Fine."}, "y"]', "application/json", 400, "body[1]: expected a JSON object, got str"),
    ('[{"id": "x", "text": "A."}, {"id": "x", "text": "B."}]', "application/json", 400, "body[1]: duplicate id 'x' (first on item 0)"),
    ('[{"id": "x", "text": "A \\u0000"}]', "application/json", 400, "body[0]: text contains"),
    ('{"id": "x", "text": "Fine."}', "application/json", 400, "expected a JSON array of articles"),
    ("[]", "application/json", 400, "no articles"),
    ('[{"id": "x", "text": "Fine."}', "application/json", 400, "body: invalid JSON"),
    ('[{"id": "x", "sentences": [], "text": "A."}]', "application/json", 400, "body[0]: this line carries annotations"),
    ("id,text\nx,Fine.\n", "text/csv", 415, "send a JSON array"),
])
def test_a_bad_article_body_names_the_place_and_stores_nothing(api, app, raw, content_type, status, says):
    pid = new_project(api)
    before = counts(app)
    error = api.refused("POST", f"/api/projects/{pid}/articles", status, raw=raw, content_type=content_type)
    assert says in error
    assert counts(app) == before


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP", "gzip, identity"])
def test_a_body_with_a_content_encoding_is_refused_with_415_and_stores_nothing(api, app, encoding):
    """Nothing decodes a body, and a body labelled gzip was read as if plain: JSONL sent uncompressed with
    Content-Encoding: gzip stored its articles (201), and a gzip body was parsed as its compressed bytes. Both are a
    415 saying to send it uncompressed, on the API and on a page's form alike."""
    pid = new_project(api)
    before = counts(app)
    body = jsonl([{"id": "x", "text": "Fine."}])
    for sent in (body.encode(), gzip.compress(body.encode())):
        error = api.refused("POST", f"/api/projects/{pid}/articles", 415, raw=sent, content_type="application/x-ndjson",
                            headers={"Content-Encoding": encoding})
        assert "Content-Encoding" in error and "uncompressed" in error
    assert counts(app) == before
    page = app.test_client().post("/login", data={"username": "admin", "password": "correct horse"}, headers={"Content-Encoding": encoding})
    assert page.status_code == 415 and "uncompressed" in page.get_data(as_text=True)
    assert api.ok("POST", f"/api/projects/{pid}/articles", raw=body, content_type="application/x-ndjson", status=201,
                  headers={"Content-Encoding": "identity"})["created"] == ["x"]


def test_meta_nested_deeper_than_the_limit_is_refused_at_every_depth_never_a_500(api, app):
    """Found by the attacker: a meta nested a little less deep than the parser's stack allowed (~940 arrays here) was
    read, then the JSON column's serializer, further down the stack inside the INSERT, ran out of it: a 500 (and
    on other stacks, a traceback from `annotator import`). Every depth past strict_json.MAX_DEPTH is a 400 naming the
    line, and nothing is stored; the limit itself is fine."""
    from annotator.stats.strict_json import MAX_DEPTH

    pid = new_project(api)

    def line(depth: int) -> str:  # the line's object is one level, meta another, its arrays the rest
        return '{"id": "d%d", "text": "Hello there.", "meta": {"m": ' % depth + "[" * (depth - 2) + "]" * (depth - 2) + "}}\n"

    before = counts(app)
    for depth in [MAX_DEPTH + 1, 200, 500, 800, *range(900, 1000), 1500, 5000]:
        error = api.refused("POST", f"/api/projects/{pid}/articles", 400, raw=line(depth), content_type="application/x-ndjson")
        assert error.startswith("body:1: invalid JSON: nested too deeply"), (depth, error)
    assert counts(app) == before
    assert api.ok("POST", f"/api/projects/{pid}/articles", raw=line(MAX_DEPTH), content_type="application/x-ndjson", status=201)["created"]


def test_a_bad_line_after_hundreds_of_good_ones_stores_nothing(api, app):
    """A body big enough to be stored in chunks (as a big import file is) is still all or nothing."""
    pid = new_project(api)
    rows = [{"id": f"n{i}", "text": TEXTS[i % 3]} for i in range(600)] + [{"id": "bad"}]
    error = api.refused("POST", f"/api/projects/{pid}/articles", 400, raw=jsonl(rows), content_type="application/x-ndjson")
    assert error == "body:601: missing 'text' (the line has 'id')"
    assert api.ok("GET", f"/api/projects/{pid}/articles")["total"] == 0


def test_articles_are_deleted_and_annotated_ones_only_when_asked(api, app):
    pid = new_project(api)
    add_articles(api, pid, 2)
    ids = {a["external_id"]: a["id"] for a in api.ok("GET", f"/api/projects/{pid}/articles")["items"]}
    api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann1", "articles": ["a0"]})
    api.ok("PUT", f"/api/articles/{ids['a0']}/labels/0", who="ann1", body={"label": "CFS"})
    assert api.ok("DELETE", f"/api/projects/{pid}/articles/{ids['a1']}") == {"deleted": ids["a1"], "external_id": "a1"}
    error = api.refused("DELETE", f"/api/projects/{pid}/articles/{ids['a0']}", 409)
    assert "has 1 label and 0 spans" in error
    revision = api.ok("GET", f"/api/projects/{pid}")["revision"]
    api.ok("DELETE", f"/api/projects/{pid}/articles/{ids['a0']}?annotated=delete")
    assert api.ok("GET", f"/api/projects/{pid}")["revision"] == revision + 1
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "article"))
        assert (entry.action, entry.before["external_id"]) == ("delete", "a0")
    api.refused("DELETE", f"/api/projects/{pid}/articles/{ids['a0']}", 404)
    other = new_project(api, "Other")
    add_articles(api, other, 1)
    stranger = api.ok("GET", f"/api/projects/{other}/articles")["items"][0]["id"]
    api.refused("DELETE", f"/api/projects/{pid}/articles/{stranger}", 404)  # an article of another project
    api.refused("DELETE", f"/api/projects/{pid}/articles/{stranger}?annotated=maybe", 400)


def stance_schema() -> dict[str, Any]:
    """The claims preset with an article-label group, a stance (pro or con)."""
    from annotator.domain import labelschema

    schema = labelschema.preset("claims")
    schema[labelschema.ARTICLE_SECTION] = [{"name": "stance", "values": ["pro", "con"]}]
    return schema


def stance_answered(api: Api) -> tuple[int, int]:
    """A project with a stance group and one article, a0, assigned to ann1, who answered 'pro': (project, article)."""
    pid = new_project(api, schema=stance_schema())
    add_articles(api, pid, 1)
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]
    api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann1", "articles": ["a0"]})
    api.ok("PUT", f"/api/articles/{article}/article-labels/stance", who="ann1", body={"values": ["pro"]})
    return pid, article


def test_article_labels_count_as_annotation_for_a_delete_and_a_new_text(api, app):
    """An article whose only annotation is an article label (a stance) was deleted without ?annotated=delete (its
    answers gone, nothing in the audit log), and its text could be replaced under the answers."""
    pid, article = stance_answered(api)
    path = f"/api/projects/{pid}/articles"
    error = api.refused("POST", path + "?on_duplicate=update", 400, body=[{"id": "a0", "text": "Another text altogether."}])
    assert "is already annotated; its text cannot change" in error
    assert api.ok("POST", path + "?on_duplicate=update", body=[{"id": "a0", "title": "Retitled", "text": TEXTS[0]}])["updated"] == ["a0"]
    error = api.refused("DELETE", f"{path}/{article}", 409)
    assert "and 1 article label;" in error and "annotated=delete" in error
    assert api.ok("GET", path)["total"] == 1
    api.ok("DELETE", f"{path}/{article}?annotated=delete")
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "article"))
        assert (entry.action, entry.before["article_labels"]) == ("delete", 1)


def test_a_gold_article_label_decision_counts_as_work_for_a_delete(api, app):
    """A reviewer's gold on an article's stance stands after the annotator cleared their answer (or came with an
    import): the article was deleted without ?annotated=delete, the decision gone and nothing in the audit log."""
    from annotator.db.transactions import transaction
    from annotator.domain import accounts
    from annotator.domain.gold.article_labels import adjudicate_article_labels

    pid, article = stance_answered(api)
    with app.app_context(), transaction(db.session):
        adjudicate_article_labels(db.session, accounts.get_user(db.session, "rev").id, pid, article, {"stance": ["con"]}, "the lead says so")
    api.ok("DELETE", f"/api/articles/{article}/article-labels/stance", who="ann1", status=204)  # the answer goes, the decision stays
    path = f"/api/projects/{pid}/articles"
    error = api.refused("DELETE", f"{path}/{article}", 409)
    assert "has 0 labels and 0 spans and 1 gold article label decision" in error and "annotated=delete" in error
    assert api.ok("GET", path)["total"] == 1
    api.ok("DELETE", f"{path}/{article}?annotated=delete")
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "article"))
        assert (entry.action, entry.before["article_labels"], entry.before["gold_article_labels"]) == ("delete", 0, 1)
    assert api.ok("GET", path)["total"] == 0


def _answer_then_clear(api: Api, pid: int, article: int, adjudicate: Any) -> None:
    """ann1 labels the first two sentences, a reviewer decides (`adjudicate(session, reviewer_id, sentence_ids)`), and
    ann1 clears the labels: the reviewer's gold is the article's only work left."""
    from annotator.db.transactions import transaction
    from annotator.domain import accounts

    api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann1", "articles": ["a0"]})
    for index in (0, 1):
        api.ok("PUT", f"/api/articles/{article}/labels/{index}", who="ann1", body={"label": "UFS"})
    with api.client.application.app_context(), transaction(db.session):
        sentences = list(db.session.scalars(select(Sentence.id).where(Sentence.article_id == article).order_by(Sentence.index)))
        adjudicate(db.session, accounts.get_user(db.session, "rev").id, sentences)
    for index in (0, 1):
        api.ok("DELETE", f"/api/articles/{article}/labels/{index}", who="ann1", status=204)


def _sentence_gold(kind: str) -> Any:
    """A reviewer's sentence gold: a label only, or a label with a quote, its source and the link between them."""
    from annotator.domain import gold

    def adjudicate(session: Any, reviewer: int, sentences: list[int]) -> None:
        if kind == "label":
            gold.adjudicate(session, reviewer, sentences[0], "CFS", reason="a figure")
            return
        text = TEXTS[0]
        quote = ("QUOTE", text.index("it was needed"), text.index("it was needed") + len("it was needed"))
        source = ("SOURCE", text.index("The mayor"), text.index("The mayor") + len("The mayor"))
        gold.adjudicate(session, reviewer, sentences[1], "UFS", [quote, source], [("attributed_to", quote, source)])

    return adjudicate


@pytest.mark.parametrize(("kind", "says", "counts"), [
    ("label", "has 0 labels and 0 spans and 1 gold sentence label;",
     {"labels": 0, "spans": 0, "gold_labels": 1, "gold_spans": 0, "gold_links": 0}),
    ("span", "has 0 labels and 0 spans and 1 gold sentence label and 2 gold spans and 1 gold link;",
     {"labels": 0, "spans": 0, "gold_labels": 1, "gold_spans": 2, "gold_links": 1}),
], ids=["label", "span"])
def test_a_reviewers_sentence_gold_counts_as_work_for_a_delete(api, app, kind, says, counts):
    """A reviewer's adjudicated sentence gold (its label, gold spans and links) stays when the annotators clear their
    answers: the article was then deleted without ?annotated=delete, the reviewer's gold gone and nothing audited."""
    pid = new_project(api)
    add_articles(api, pid, 1)
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]
    _answer_then_clear(api, pid, article, _sentence_gold(kind))
    path = f"/api/projects/{pid}/articles"
    error = api.refused("DELETE", f"{path}/{article}", 409)
    assert says in error and error.endswith("send ?annotated=delete"), error
    assert api.ok("GET", path)["total"] == 1
    api.ok("DELETE", f"{path}/{article}?annotated=delete")
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "article"))
        assert entry.action == "delete" and {k: entry.before[k] for k in counts} == counts
    assert api.ok("GET", path)["total"] == 0


def test_automatic_gold_alone_is_no_work(api, app):
    """Gold the annotators' agreement made is not work of its own (it is recomputed from their answers): the refusal
    counts the answers only, and once they are cleared the article is deleted without ?annotated=delete."""
    pid = new_project(api)
    add_articles(api, pid, 1)
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]
    for who in ("ann1", "ann2"):
        api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": who, "articles": ["a0"]})
        api.ok("PUT", f"/api/articles/{article}/labels/0", who=who, body={"label": "CFS"})
    with app.app_context():
        assert db.session.scalar(select(GoldLabel.provenance).join(Sentence).where(Sentence.article_id == article)) == "unanimous"
    error = api.refused("DELETE", f"/api/projects/{pid}/articles/{article}", 409)
    assert error == "article 'a0' has 2 labels and 0 spans; to delete it with them, send ?annotated=delete"
    for who in ("ann1", "ann2"):
        api.ok("DELETE", f"/api/articles/{article}/labels/0", who=who, status=204)
    api.ok("DELETE", f"/api/projects/{pid}/articles/{article}")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "article")) == 0


def _gold_article_label(session: Any, reviewer: int, sentences: list[int]) -> None:
    from annotator.domain.gold.article_labels import adjudicate_article_labels

    article, project = session.execute(select(Article.id, Article.project_id).join(Sentence).where(Sentence.id == sentences[0])).one()
    adjudicate_article_labels(session, reviewer, project, article, {"stance": ["con"]}, "the lead says so")


@pytest.mark.parametrize("gold_of", ["article label", "sentence label", "span"])
def test_a_new_text_is_refused_for_an_article_with_only_a_reviewers_gold(api, app, runner, tmp_path, gold_of):
    """An import update changing the text of an article whose only work is a reviewer's gold (an article label
    decision, or adjudicated sentence gold) went through: the gold stayed on sentences and offsets of the old text."""
    pid = new_project(api, schema=stance_schema())
    add_articles(api, pid, 2)
    article = {a["external_id"]: a["id"] for a in api.ok("GET", f"/api/projects/{pid}/articles")["items"]}["a0"]
    _answer_then_clear(api, pid, article, _gold_article_label if gold_of == "article label" else _sentence_gold(gold_of.split()[0]))
    update = tmp_path / "update.jsonl"
    update.write_text(jsonl([{"id": "a1", "text": "A wholly new text."}, {"id": "a0", "text": "Another text altogether."}]))
    result = runner.invoke(args=["import", "News", str(update), "--on-duplicate", "update"])
    assert result.exit_code == 1, result.output
    assert f"{update}:2: article 'a0' is already annotated; its text cannot change" in result.output.splitlines(), result.output
    assert "imported 0 new, 0 updated, 0 skipped into News; 1 file rejected" in result.output
    with app.app_context():
        assert db.session.scalar(select(Article.text).where(Article.id == article)) == TEXTS[0]
        assert db.session.scalar(select(Article.text).where(Article.external_id == "a1", Article.project_id == pid)) == TEXTS[1]
    body = [{"id": "a0", "title": "Retitled", "text": TEXTS[0]}]  # title and meta may still change
    assert api.ok("POST", f"/api/projects/{pid}/articles?on_duplicate=update", body=body)["updated"] == ["a0"]


def test_a_new_text_takes_the_old_texts_suggestions_away(api, app):
    """Suggestions are of a text: after ?on_duplicate=update gave an article another text, its span suggestions kept
    the old offsets (past the new text's end, `text` empty in the export) and their links stayed."""
    pid = new_project(api, suggestions_enabled=False)
    add_articles(api, pid, 1)
    ran = app.test_cli_runner().invoke(args=["suggest", "run", "News"])
    assert ran.exit_code == 0, ran.output
    export = f"/api/projects/{pid}/export.jsonl?unit=article"
    assert json.loads(api.ok("GET", export).get_data(as_text=True))["suggestions"]["spans"]  # the test needs some
    new_text = "Short now."
    api.ok("POST", f"/api/projects/{pid}/articles?on_duplicate=update", body=[{"id": "a0", "text": new_text}])
    record = json.loads(api.ok("GET", export).get_data(as_text=True))
    assert record["text"] == new_text
    for span in record["suggestions"]["spans"]:  # none left, or only ones of the new text
        assert 0 <= span["start"] < span["end"] <= len(new_text) and span["text"] == new_text[span["start"]:span["end"]], span
    assert record["suggestions"] == {"suggester": None, "suggester_version": None, "labels": [], "spans": [], "relations": []}


def test_a_schema_without_a_label_takes_away_the_suggestions_of_it(api, app):
    """Only what the schema allows is stored as a suggestion (suggestions.py); a schema that dropped a span label and
    the link type kept them: the page offered ghosts whose accept was a 422 every time (and `a` on their sentence
    accepted nothing), and the export carried suggestions its own schema refuses."""
    from annotator.domain import labelschema

    pid = new_project(api, suggestions_enabled=True)
    add_articles(api, pid, 1)
    ran = app.test_cli_runner().invoke(args=["suggest", "run", "News"])
    assert ran.exit_code == 0, ran.output
    export = f"/api/projects/{pid}/export.jsonl?unit=article"
    before = json.loads(api.ok("GET", export).get_data(as_text=True))["suggestions"]
    assert {"CUE", "QUOTE", "SOURCE"} <= {s["label"] for s in before["spans"]} and before["relations"]  # the test needs them
    schema = labelschema.preset("claims")
    schema["span_labels"] = [label for label in schema["span_labels"] if label["name"] != "CUE"]
    schema["relation_types"] = []
    api.ok("PATCH", f"/api/projects/{pid}", body={"schema": schema})
    after = json.loads(api.ok("GET", export).get_data(as_text=True))["suggestions"]
    assert {s["label"] for s in after["spans"]} == {"QUOTE", "SOURCE"} and after["relations"] == []
    assert after["labels"] == before["labels"]
    api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann1", "articles": ["a0"]})
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]
    offered = api.ok("GET", f"/api/articles/{article}/suggestions", who="ann1")
    ids = [s["id"] for s in offered["spans"]]
    assert ids and {s["label"] for s in offered["spans"]} == {"QUOTE", "SOURCE"}
    api.ok("POST", f"/api/articles/{article}/suggestions/accept", who="ann1", body={"ids": ids})


# ----------------------------------------------------------------- assignment
def test_assignment_balanced_by_hand_and_rebalanced(api, app):
    pid = new_project(api)
    add_articles(api, pid, 4)
    path = f"/api/projects/{pid}/assignments"
    assert api.ok("POST", path, body={"user": "ann1", "articles": ["a0", "a1"]}) == {"created": 2}
    with app.app_context():
        projects.add_members(db.session, pid, [accounts.get_user(db.session, "ann2")])
        db.session.commit()
    assert api.ok("POST", path, body={"per_article": 2}) == {"created": 6, "articles_short": 0}
    assert api.ok("POST", path, body={"per_article": 2}) == {"created": 0, "articles_short": 0}  # idempotent
    done = api.ok("POST", path, body={"rebalance": True})
    conforms(done, "AssignmentResult")
    assert done == {"removed": 0, "kept": 0, "moved": 0, "created": 0, "articles_short": 0}
    before = counts(app)
    for body, says in [
        ({}, "send one of"),
        ({"per_article": 2, "user": "ann1", "articles": ["a0"]}, "send one of"),
        ({"user": "ann1"}, "send one of"),
        ({"per_article": 0}, "per_article must be 1 to 50"),
        ({"per_article": "2"}, "per_article must be an integer"),
        ({"user": "ann1", "articles": "a0"}, "articles must be an array of strings"),
        ({"user": "ann1", "articles": ["a0", "zz"]}, "no article with id 'zz'"),
        ({"user": "rev", "articles": ["a0"]}, "rev is a reviewer, not an annotator"),
        ({"user": "admin", "articles": ["a0"]}, "admin is an admin, not an annotator"),  # was "a admin"
        ({"user": "nobody", "articles": ["a0"]}, "nobody"),
        ({"rebalance": False}, "send one of"),
    ]:
        assert says in api.refused("POST", path, 400, body=body), body
    assert counts(app) == before


def test_assigning_more_ids_than_a_statement_takes(api, app):
    """70,000 ids by hand were one IN (...) of 70,000 parameters: a 500 on PostgreSQL (65,535 at most); the error named every id."""
    pid = new_project(api)
    add_articles(api, pid, 2)
    many = [f"a{i % 2}" for i in range(70_000)]
    assert api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann1", "articles": many}) == {"created": 2}
    before = counts(app)
    missing = ["a0", "a1"] + [f"gone-{i}" for i in range(70_000)]
    says = api.refused("POST", f"/api/projects/{pid}/assignments", 400, body={"user": "ann2", "articles": missing})
    assert says.startswith("no article with id 'gone-0', 'gone-1'") and says.endswith("and 69980 more in this project") and len(says) < 1000
    assert counts(app) == before


# ----------------------------------------------------------------- the dataset and agreement
def label_all(api: Api, pid: int, who: str, label: str) -> None:
    for article in api.ok("GET", f"/api/projects/{pid}/articles")["items"]:
        if who in [a["name"] for a in article["annotators"]]:
            for index in range(article["sentences"]):
                api.ok("PUT", f"/api/articles/{article['id']}/labels/{index}", who=who, body={"label": label})


def test_the_export_streams_with_an_etag_that_follows_the_data(api):
    pid = new_project(api)
    add_articles(api, pid, 3)
    path = f"/api/projects/{pid}/export.jsonl?unit=sentence"
    first = api.ok("GET", path)
    etag = first.headers["ETag"]
    records = [json.loads(line) for line in first.get_data(as_text=True).splitlines()]
    assert len(records) == 9 and all(r["label"] is None for r in records)
    assert api.call("GET", path, headers={"If-None-Match": etag}).status_code == 304
    api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann1", "articles": ["a0"]})
    api.ok("PUT", f"/api/articles/{api.ok('GET', f'/api/projects/{pid}/articles')['items'][0]['id']}/labels/0", who="ann1", body={"label": "CFS"})
    after_label = api.call("GET", path, headers={"If-None-Match": etag})
    assert after_label.status_code == 200 and after_label.headers["ETag"] != etag
    annotations = json.loads(after_label.get_data(as_text=True).splitlines()[0])["annotations"]
    assert [(a["annotator"], a["label"]) for a in annotations] == [("ann1", "CFS")]
    etag = after_label.headers["ETag"]
    assert api.call("GET", path, headers={"If-None-Match": etag}).status_code == 304
    add_articles(api, pid, 1, start=3)
    assert api.call("GET", path, headers={"If-None-Match": etag}).status_code == 200  # a new article
    etag = api.call("GET", path).headers["ETag"]
    listed = api.ok("GET", f"/api/projects/{pid}/articles")["items"]
    a3 = next(a for a in listed if a["external_id"] == "a3")
    stored = api.ok("GET", f"/api/articles/{a3['id']}")["article"]
    same_length_meta = {"id": "a3", "title": stored["title"], "text": stored["text"], "meta": {"desk": "B"}}
    api.ok("POST", f"/api/projects/{pid}/articles?on_duplicate=update", body=[{**same_length_meta, "meta": {"desk": "A"}}])
    etag = api.call("GET", path).headers["ETag"]
    api.ok("POST", f"/api/projects/{pid}/articles?on_duplicate=update", body=[same_length_meta])
    assert api.call("GET", path, headers={"If-None-Match": etag}).status_code == 200  # only the meta changed, same length
    etag = api.call("GET", path).headers["ETag"]
    api.ok("PATCH", f"/api/projects/{pid}", body={"majority": 0.6})
    assert api.call("GET", path, headers={"If-None-Match": etag}).status_code == 200  # gold depends on the majority
    assert api.call("GET", f"/api/projects/{pid}/export.jsonl?unit=article").headers["ETag"] != api.call("GET", path).headers["ETag"]


def test_the_etag_changes_when_an_article_is_deleted_and_another_takes_its_place(api):
    """SQLite gives a deleted last row's id to the next article: deleting an unannotated article and adding
    another of the same lengths gave the old stamp back (count, largest id, lengths), so a stale 304."""
    pid = new_project(api)
    add_articles(api, pid, 3)
    path = f"/api/projects/{pid}/export.jsonl?unit=article"
    etag = api.ok("GET", path).headers["ETag"]
    last = api.ok("GET", f"/api/projects/{pid}/articles")["items"][-1]
    api.ok("DELETE", f"/api/projects/{pid}/articles/{last['id']}")
    api.ok("POST", f"/api/projects/{pid}/articles", body=[{"id": "b2", "title": "Other 2", "text": TEXTS[2].replace("June", "July")}], status=201)
    again = api.call("GET", path, headers={"If-None-Match": etag})
    assert again.status_code == 200 and '"id":"b2"' in again.get_data(as_text=True)


def test_the_etag_changes_when_suggestions_do(api, app):
    """The article unit carries each article's suggestions: `annotator suggest run` changed them, the ETag stayed (a stale 304)."""
    pid = new_project(api, suggestions_enabled=False)  # so the import stores none
    add_articles(api, pid, 3)
    path = f"/api/projects/{pid}/export.jsonl?unit=article"
    first = api.ok("GET", path)
    assert not any(json.loads(line)["suggestions"]["spans"] for line in first.get_data(as_text=True).splitlines())
    ran = app.test_cli_runner().invoke(args=["suggest", "run", "News"])
    assert ran.exit_code == 0, ran.output
    again = api.call("GET", path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200, "suggestions changed, the ETag did not"
    assert any(json.loads(line)["suggestions"]["spans"] for line in again.get_data(as_text=True).splitlines())
    etag = again.headers["ETag"]
    assert app.test_cli_runner().invoke(args=["suggest", "run", "News"]).exit_code == 0  # the same suggestions again: nothing changed
    assert api.call("GET", path, headers={"If-None-Match": etag}).status_code == 304


def test_the_export_takes_annotator_export_options(api, app):
    pid = new_project(api)
    add_articles(api, pid, 3)
    for who in ("ann1", "ann2"):
        api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": who, "articles": ["a0", "a1", "a2"]})
        label_all(api, pid, who, "CFS")
    base = f"/api/projects/{pid}/export.jsonl"
    articles = [json.loads(x) for x in api.ok("GET", base + "?unit=article").get_data(as_text=True).splitlines()]
    assert [a["id"] for a in articles] == ["a0", "a1", "a2"] and articles[0]["text"][articles[0]["sentences"][1]["start"]:].startswith("The")
    gold = [json.loads(x) for x in api.ok("GET", base + "?gold_only=1").get_data(as_text=True).splitlines()]
    assert len(gold) == 9 and {r["label"] for r in gold} == {"CFS"}
    parts = {name: [json.loads(x)["article_id"] for x in api.ok("GET", f"{base}?unit=sentence&split={name}&splits=one=0.5,two=0.5&seed=3")
                    .get_data(as_text=True).splitlines()] for name in ("one", "two")}
    assert sorted(set(parts["one"]) | set(parts["two"])) == ["a0", "a1", "a2"] and not set(parts["one"]) & set(parts["two"])
    for query, says in [
        ("unit=word", "unit must be one of"), ("gold_only=maybe", "gold_only must be 1 or 0"), ("format=csv", "unknown parameter format"),
        ("labels=XYZ", "unknown label XYZ"), ("split=test&splits=train=0.5,dev=0.4", "must sum to 1"),
        ("split=holdout", "split 'holdout' is not one of train, dev, test"), ("seed=4", "give split=NAME too"),
        ("split=train&seed=x", "seed must be an integer"), ("annotator=nobody", "nobody"),
    ]:
        assert says in api.refused("GET", f"{base}?{query}", 400), query


def test_the_download_link_reads_its_query_as_the_rest_export_does(api):
    """The download link (/projects/{id}/export.jsonl) checked its query in a copy of the REST export's checks: it
    repeated a bad value whole, refused split, splits and seed, and sent no ETag. Both now read the query in one place
    (export.parse_query) and answer alike (web/dataset_export.py); the link adds a file name, the split's too."""
    pid = new_project(api)
    add_articles(api, pid, 3)
    rest, link = f"/api/projects/{pid}/export.jsonl", f"/projects/{pid}/export.jsonl"
    long = "x" * 100
    for query in (f"unit={long}", f"gold_only={long}", "format=csv", f"{long}=1", "labels=XYZ", "labels=", "annotator=nobody",
                  f"split={long}", "seed=4", f"split=train&seed={long}", "split=test&splits=train=0.5,dev=0.4",
                  "&".join(f"p{i}=1" for i in range(7))):
        said = api.refused("GET", f"{rest}?{query}", 400)
        assert api.refused("GET", f"{link}?{query}", 400) == said, query
        assert long not in said and len(said) < 300, query
    for query in ("", "unit=article&gold_only=0", "split=dev&splits=train=0.5,dev=0.5&seed=3", "split=train&seed=-5"):
        by_rest = api.ok("GET", f"{rest}?{query}")
        records = by_rest.get_data()  # read before the next request: a streamed answer reads as it is sent
        by_link = api.ok("GET", f"{link}?{query}")
        assert by_link.get_data() == records and by_link.headers["ETag"] == by_rest.headers["ETag"], query
        again = api.call("GET", f"{link}?{query}", headers={"If-None-Match": by_link.headers["ETag"]})
        assert again.status_code == 304 and again.headers["Cache-Control"] == "no-store", query
    named = api.ok("GET", f"{link}?split=dev&gold_only=1").headers["Content-Disposition"]
    assert named == 'attachment; filename="News.sentence.gold.dev.jsonl"'
    assert "Content-Disposition" not in api.ok("GET", f"{rest}?split=dev").headers


def test_odd_seeds_are_a_400(api):
    """seed=--5 passed the check (one lstrip("-") too many) and failed int(): a 500."""
    pid = new_project(api)
    add_articles(api, pid, 1)
    base = f"/api/projects/{pid}/export.jsonl"
    for seed in ("--5", "-", "5-", "+5", "-+5", "1_0", " 5"):
        assert "seed must be an integer" in api.refused("GET", f"{base}?split=train&seed={seed.replace('+', '%2B')}", 400), seed
    assert api.ok("GET", f"{base}?split=train&seed=-5").status_code == 200


def test_if_none_match_compares_weakly(api):
    """If-None-Match: W/"tag" matches the ETag "tag" (RFC 9110 13.1.2), as do a list holding it and *: a 304."""
    pid = new_project(api)
    add_articles(api, pid, 1)
    base = f"/api/projects/{pid}/export.jsonl"
    etag = api.ok("GET", base).headers["ETag"]
    for header in (f"W/{etag}", f'"other", W/{etag}', "*", etag):
        assert api.call("GET", base, headers={"If-None-Match": header}).status_code == 304, header
    for header in ('"other"', 'W/"other"', "W/", ""):
        assert api.call("GET", base, headers={"If-None-Match": header}).status_code == 200, header


def test_agreement_is_the_figures_of_agreement_json(api, app):
    pid = new_project(api)
    add_articles(api, pid, 3)
    for who in ("ann1", "ann2"):
        api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": who, "articles": ["a0", "a1", "a2"]})
    label_all(api, pid, "ann1", "CFS")
    label_all(api, pid, "ann2", "CFS")
    figures = api.ok("GET", f"/api/projects/{pid}/agreement")
    conforms(figures, "Agreement")
    printed = app.test_cli_runner().invoke(args=["agreement", str(pid), "--json"])
    assert printed.exit_code == 0, printed.output
    printed_figures = json.loads(printed.output)
    figures.pop("computed_at"), printed_figures.pop("computed_at")  # the clock's second may tick between the two
    assert figures == printed_figures
    assert figures["overall"]["percent_agreement"]["value"] == 1.0
    by_article = api.ok("GET", f"/api/projects/{pid}/agreement?by=article")
    assert len(by_article["articles"]) == 3
    api.refused("GET", f"/api/projects/{pid}/agreement?by=colour", 400)
    api.refused("GET", "/api/projects/999999/agreement", 404)


# ----------------------------------------------------------------- users and tokens
def test_users_and_tokens(api, app):
    made = api.ok("POST", "/api/users", body={"name": "ann3", "role": "annotator", "password": "a long password"}, status=201)
    conforms(made, "User")
    assert (made["name"], made["role"], made["active"]) == ("ann3", "annotator", True)
    page = api.ok("GET", "/api/users?per_page=2")
    conforms(page, "UserPage")
    assert page["total"] == 5 and [u["name"] for u in page["items"]] == ["admin", "rev"]
    issued = api.ok("POST", "/api/users/ann3/tokens", body={"expires_days": 30}, status=201)
    conforms(issued, "Token")
    assert issued["user"] == "ann3" and issued["token"].startswith(accounts.TOKEN_PREFIX)
    forever = api.ok("POST", "/api/users/ann3/tokens", status=201)
    assert forever["expires_days"] is None
    api.tokens["ann3"] = issued["token"]
    pid = new_project(api)
    add_articles(api, pid, 1)
    api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann3", "articles": ["a0"]})
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]
    api.ok("PUT", f"/api/articles/{article}/labels/0", who="ann3", body={"label": "UFS"})  # the new token works
    before = counts(app)
    for body, says in [
        ({"name": "ann3", "role": "annotator"}, "already exists"),
        ({"name": "ANN3", "role": "annotator"}, "differ only in case"),
        ({"name": "x", "role": "boss"}, "role"),
        ({"name": "", "role": "annotator"}, "name"),
        ({"name": "y", "role": "annotator", "password": 5}, "password must be a string"),
        ({"name": "y"}, "missing field: role"),
    ]:
        assert says in api.refused("POST", "/api/users", 400, body=body), body
    assert counts(app) == before
    assert "no user named 'nobody'" in api.refused("POST", "/api/users/nobody/tokens", 404)
    assert "expiry" in api.refused("POST", "/api/users/ann3/tokens", 400, body={"expires_days": 0})
    api.refused("POST", "/api/users/ann3/tokens", 400, body={"expires_days": "30"})
    api.refused("GET", "/api/users", 403, who="rev")
    api.refused("POST", "/api/users/ann1/tokens", 403, who="ann1")


def test_a_token_asked_for_in_a_chunked_body_gets_its_expiry(api, app, server):
    """A client that streams its body (Transfer-Encoding: chunked, no Content-Length) asked for a 1-day token and got
    one that never expires: the body was taken for absent. Over a real server: the test client does not deliver a
    chunked body."""
    import requests

    def ask(body: bytes) -> requests.Response:
        return requests.post(f"{server}/api/users/ann1/tokens", data=iter([body]), timeout=30,  # an iterator: sent chunked
                             headers={"Authorization": f"Bearer {api.tokens['admin']}", "Content-Type": "application/json"})

    issued = ask(b'{"expires_days": 1}')
    assert issued.status_code == 201 and issued.json()["expires_days"] == 1, issued.text
    with app.app_context():
        assert db.session.scalars(select(accounts.ApiToken.expires_at).order_by(accounts.ApiToken.id.desc())).first() is not None
    refused = ask(b'{"expires_days": "1"}')
    assert refused.status_code == 400 and "expires_days must be an integer" in refused.json()["error"]


def test_annotators_get_403_on_every_rest_route(api):
    pid = new_project(api)
    add_articles(api, pid, 1)
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]
    for method, path in [("GET", "/api/projects"), ("POST", "/api/projects"), ("GET", f"/api/projects/{pid}"), ("PATCH", f"/api/projects/{pid}"),
                         ("GET", f"/api/projects/{pid}/articles"), ("POST", f"/api/projects/{pid}/articles"),
                         ("DELETE", f"/api/projects/{pid}/articles/{article}"), ("POST", f"/api/projects/{pid}/assignments"),
                         ("GET", f"/api/projects/{pid}/export.jsonl"), ("GET", f"/api/projects/{pid}/agreement"),
                         ("GET", "/api/users"), ("POST", "/api/users"), ("POST", "/api/users/ann1/tokens")]:
        api.refused(method, path, 403, who="ann1", body={} if method != "GET" else None)


BAD_BODIES = ["", "null", "[]", "{}", '"x"', "3", "NaN", '{"x": 1}', "[{}]", '{"name": [1]}', '{"per_article": 1e400}', "\ud800", "{" * 5000]


def test_a_bad_body_never_gets_a_500_nor_stores_anything(api, app):
    pid = new_project(api)
    add_articles(api, pid, 1)
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]
    before = counts(app)
    for method, path in [("POST", "/api/projects"), ("PATCH", f"/api/projects/{pid}"), ("POST", f"/api/projects/{pid}/articles"),
                         ("POST", f"/api/projects/{pid}/articles?on_duplicate=skip"), ("POST", f"/api/projects/{pid}/assignments"),
                         ("POST", "/api/users"), ("POST", "/api/users/ann1/tokens")]:
        for raw in BAD_BODIES:
            for content_type in ("application/json", "application/x-ndjson"):
                response = api.call(method, path, raw=raw.encode("utf-8", "surrogatepass"), content_type=content_type)
                valid = (method == "PATCH" and raw == "{}") or (path.endswith("tokens") and raw in ("", "{}"))  # nothing to change; no expiry
                assert 400 <= response.status_code < 500 or valid, (
                    method, path, raw[:20], content_type, response.status_code, response.get_data(as_text=True)[:200])
                assert response.is_json and "error" in response.get_json() or response.status_code < 400
    assert counts(app) == before
    assert api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"] == article


class _Conflict(Exception):
    """A driver error as psycopg (sqlstate) or sqlite3 (sqlite_errorcode) reports a lock conflict."""

    def __init__(self, message: str, **attributes: Any) -> None:
        super().__init__(message)
        self.__dict__.update(attributes)


@pytest.mark.parametrize("orig", [
    _Conflict("deadlock detected", sqlstate="40P01"),
    _Conflict("could not serialize access due to concurrent update", sqlstate="40001"),
    _Conflict("database is locked", sqlite_errorcode=5),
], ids=["deadlock", "serialization", "sqlite-busy"])
def test_a_write_ended_by_a_lock_conflict_is_a_503_to_send_again_not_a_500(api, app, monkeypatch, orig):
    """A transaction PostgreSQL ended as a deadlock (two writers locking rows in opposite orders) wrote nothing, and
    the same request sent again can succeed: it was a 500 'something went wrong on our side'. Any path whose lock
    order is not yet the article-first rule ends so rather than with a 500."""
    from sqlalchemy.exc import OperationalError

    from annotator.domain import catalog

    pid = new_project(api)
    add_articles(api, pid, 1)
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]

    def conflict(*args: Any, **kw: Any) -> None:
        raise OperationalError("DELETE FROM articles", None, orig)

    monkeypatch.setattr(catalog, "delete_article", conflict)
    response = api.call("DELETE", f"/api/projects/{pid}/articles/{article}")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "1"
    assert "send it again" in response.get_json()["error"]
    monkeypatch.undo()
    assert api.ok("DELETE", f"/api/projects/{pid}/articles/{article}")["deleted"] == article  # the session is fine afterwards


def _save_between_the_spans_and_the_links(api: Api, app: Any, monkeypatch: Any) -> tuple[int, list[Any]]:
    """A project of two articles, a0 assigned to ann1, whose quote, source and link an export's read of the links (of
    its first batch) saves first, committed in a session of its own: (project id, [the save's answer] once done)."""
    from annotator.domain import annotations
    from annotator.domain.dataset.export import load

    pid = new_project(api)
    add_articles(api, pid, 2)
    article = api.ok("GET", f"/api/projects/{pid}/articles")["items"][0]["id"]
    api.ok("POST", f"/api/projects/{pid}/assignments", body={"user": "ann1", "articles": ["a0"]})
    text = TEXTS[0]
    quote, source = (text.index("it was"), text.index(" Tenants")), (text.index("The mayor"), text.index(" said"))
    with app.app_context():
        ann = db.session.scalar(select(User.id).where(User.name == "ann1"))
    saves = [
        {"op": "create_span", "label": "QUOTE", "start": quote[0], "end": quote[1], "id": "quote-0001"},
        {"op": "create_span", "label": "SOURCE", "start": source[0], "end": source[1], "id": "source-0001"},
        {"op": "create_relation", "type": "attributed_to", "from": "quote-0001", "to": "source-0001", "id": "link-0001"},
    ]
    relations, saved = load._relations, []

    def save_then_read_relations(*args: Any, **kwargs: Any) -> Any:
        if not saved:
            with app.app_context():  # a session and connection of their own
                s = db.session
                saved.append(annotations.write(s, lambda: annotations.apply_changes(s, ann, article, saves)))
                s.remove()
        return relations(*args, **kwargs)

    monkeypatch.setattr(load, "_relations", save_then_read_relations)
    return pid, saved


@pytest.mark.parametrize("unit", ["article", "sentence"])
def test_an_export_streams_one_snapshot_while_annotators_save(api, app, monkeypatch, unit):
    """PostgreSQL (READ COMMITTED) read each of an export batch's tables in a statement of its own: an annotator's quote,
    source and link saved between the spans' read and the links' read gave a link whose spans the batch had not read
    (KeyError in the middle of the stream: a 200 answer cut short, its ETag that of the whole data); likewise a user
    made after the export began (an import's new annotators) had no name. The export now reads one snapshot
    (REPEATABLE READ, READ ONLY): the save is in the next export. SQLite's read transaction was one snapshot already."""
    pid, saved = _save_between_the_spans_and_the_links(api, app, monkeypatch)
    path = f"/api/projects/{pid}/export.jsonl?unit={unit}"
    response = api.ok("GET", path)
    records = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert saved and len(records) == (2 if unit == "article" else 6)
    assert all(not r["annotations"] for r in records)  # as before the save: one snapshot, the save is in the next export
    assert api.call("GET", path, headers={"If-None-Match": response.headers["ETag"]}).status_code == 200  # which differs
    monkeypatch.undo()
    records = [json.loads(line) for line in api.ok("GET", path).get_data(as_text=True).splitlines()]
    assert any(entry.get("relations") for r in records for entry in r["annotations"])


@pytest.mark.parametrize("args", [["--unit", "article"], ["--unit", "sentence"], ["--format", "label-studio"]])
def test_annotator_export_reads_one_snapshot_while_annotators_save(api, app, runner, monkeypatch, tmp_path, args):
    """`annotator export` read as the REST export did (see above): on PostgreSQL a link saved between the reads of its
    batch's spans and links ended the command in a KeyError, its output file cut short."""
    _, saved = _save_between_the_spans_and_the_links(api, app, monkeypatch)
    out = tmp_path / "out.json"
    result = runner.invoke(args=["export", "News", *args, "-o", str(out)])
    assert result.exit_code == 0 and saved, (result.output, result.exception)
    assert "QUOTE" not in out.read_text(encoding="utf-8")  # as before the save: the save is in the next export
    monkeypatch.undo()
    assert runner.invoke(args=["export", "News", *args, "-o", str(out)]).exit_code == 0
    assert "QUOTE" in out.read_text(encoding="utf-8")


def test_an_article_id_with_a_line_break_is_refused_over_rest_too(api, app):
    """An id a list of ids one a line (`annotator assign --articles-from`) cannot name is refused at every door."""
    pid = new_project(api)
    body = jsonl([{"id": "ok", "text": TEXTS[0]}, {"id": "two\nlines", "text": TEXTS[1]}])
    error = api.refused("POST", f"/api/projects/{pid}/articles", 400, raw=body, content_type="application/x-ndjson")
    assert error.startswith(r"body:2: 'id' 'two\nlines' holds a line break or control character (U+000A at 3)"), error
    error = api.refused("POST", f"/api/projects/{pid}/articles", 400, body=[{"id": "ok", "text": TEXTS[0]}, {"id": "a\u202eb", "text": "x"}])
    assert error.startswith("body[1]: 'id' 'a\\u202eb' holds"), error
    assert api.ok("GET", f"/api/projects/{pid}/articles")["total"] == 0
