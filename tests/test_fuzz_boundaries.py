"""Hostile text and numbers at every boundary: never a 500, never stored.

Text that is not valid Unicode (a lone surrogate, as `json.loads` makes from a
"\\ud800" escape, or bytes that are not UTF-8) and NUL characters are refused
with a 4xx that says so (a one-line error in the CLI) wherever text comes in:
JSON bodies, form fields, query strings, URL parts, uploads, label schemas and
command-line arguments. Integers too large for a database column (10**30) in
URLs, query strings and forms are a 4xx or clamped, never a 500.

The hand-picked cases come first; the hypothesis test at the end walks every
state-changing route of the URL map as a caller who could otherwise succeed,
and checks that nothing hostile is ever stored (row counts unchanged and no
stored text holding NUL or a surrogate) on SQLite and PostgreSQL.
"""
from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, Text, select

from annotator.db import db
from annotator.db.models import Project
from annotator.stats import textcheck

from .conftest import make_app
from .test_bad_input import row_counts as counts
from .test_route_matrix import WRITE_CASES, Case, World, access_of, caller, find_rule, seed, url_for_rule

HUGE = 10**30
SURROGATE_SCHEMA = '{"sentence_labels": [{"name": "A", "description": "broken \\ud800 escape", "key": "1"}]}'


@pytest.fixture
def quiet_app(database_uri):
    """The app with server errors answered as 500 pages (as in production), not raised into the test."""
    app = make_app(database_uri, PROPAGATE_EXCEPTIONS=False)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def world(quiet_app) -> World:
    return seed(quiet_app)


def row_counts(app) -> dict[str, int]:
    found = counts(app)
    found.pop("cache_entries")  # derived figures a page may cache while it shows itself
    return found


def stored_problems(app) -> list[str]:
    """Every stored text (and JSON) value holding NUL or a lone surrogate."""
    problems = []
    with app.app_context():
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                columns = [c for c in table.columns if isinstance(c.type, (String, Text)) or c.type.__class__.__name__ == "JSON"]
                if not columns:
                    continue
                for row in conn.execute(select(*columns)):
                    for column, value in zip(columns, row, strict=True):
                        reason = textcheck.find_problem(value, f"{table.name}.{column.name}")
                        if reason:
                            problems.append(reason)
    return problems


# ----------------------------------------------------------------- the label schema that broke every page
def project_form(**fields: str) -> dict[str, str]:
    return {"name": "Fresh", "schema_source": "preset", "preset": "claims", "annotators_per_article": "2", "majority_threshold": "1", **fields}


def test_a_lone_surrogate_in_a_pasted_schema_is_refused_and_pages_still_work(quiet_app, world):
    admin = caller(quiet_app, world, "admin")
    before = row_counts(quiet_app)
    response = admin.post("/admin/projects/new", project_form(schema_source="paste", schema_json=SURROGATE_SCHEMA))
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:500]
    assert "sentence_labels[0].description" in page and "surrogate" in page
    assert row_counts(quiet_app) == before
    # and the edit page of an existing project the same way
    response = admin.post(f"/admin/projects/{world.project}/edit", project_form(name="Matrix", schema_source="paste", schema_json=SURROGATE_SCHEMA))
    assert response.status_code == 400
    assert admin.client.get(f"/admin/projects/{world.project}").status_code == 200
    assert admin.client.get("/admin/projects").status_code == 200
    assert not stored_problems(quiet_app)


def test_a_lone_surrogate_in_an_uploaded_schema_file_is_refused(quiet_app, world):
    admin = caller(quiet_app, world, "admin")
    before = row_counts(quiet_app)
    response = admin.post("/admin/projects/new", project_form(schema_source="upload", schema_file=(io.BytesIO(SURROGATE_SCHEMA.encode()), "s.json")),
                          content_type="multipart/form-data")
    assert response.status_code == 400 and "surrogate" in response.get_data(as_text=True)
    assert row_counts(quiet_app) == before


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_nul_and_surrogates_in_schema_keys_and_descriptions(bad):
    from annotator.domain import labelschema

    for field in ("description", "key"):
        schema = labelschema.preset("claims")
        schema["span_labels"][1][field] = bad
        with pytest.raises(labelschema.SchemaError, match=r"span_labels\[1\]"):
            labelschema.validate(schema)


# ----------------------------------------------------------------- forms, query strings, URLs
@pytest.mark.parametrize("name", ["Fresh\x00", "Fresh%00"], ids=["nul", "nul-escaped"])
def test_a_nul_in_a_form_field_is_refused(quiet_app, world, name):
    admin = caller(quiet_app, world, "admin")
    before = row_counts(quiet_app)
    if "%" in name:
        body = f"csrf_token={admin.csrf()}&name={name}&schema_source=preset&preset=claims&annotators_per_article=2&majority_threshold=1"
        response = admin.client.post("/admin/projects/new", data=body, content_type="application/x-www-form-urlencoded")
    else:
        response = admin.post("/admin/projects/new", project_form(name=name))
    assert response.status_code == 400, response.status_code
    assert "name" in response.get_data(as_text=True) and "NUL" in response.get_data(as_text=True)
    assert row_counts(quiet_app) == before


def test_bytes_that_are_not_utf8_in_a_form_field_are_refused(quiet_app, world):
    admin = caller(quiet_app, world, "admin")
    before = row_counts(quiet_app)
    body = f"csrf_token={admin.csrf()}&name=Caf%E9&schema_source=preset&preset=claims&annotators_per_article=2&majority_threshold=1"
    response = admin.client.post("/admin/projects/new", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "UTF-8" in response.get_data(as_text=True)
    assert row_counts(quiet_app) == before
    # the same text, properly encoded, is fine
    body = body.replace("Caf%E9", "Caf%C3%A9")
    assert admin.client.post("/admin/projects/new", data=body, content_type="application/x-www-form-urlencoded").status_code == 302


@pytest.mark.parametrize("query", ["q=%00", "unit=%ff", "status=%ED%A0%80"])
def test_hostile_query_strings_are_400(quiet_app, world, query):
    reviewer = caller(quiet_app, world, "reviewer")
    response = reviewer.client.get(f"/review/{world.project}/queue?{query}")
    assert response.status_code == 400, response.status_code


def test_a_json_body_to_a_page_with_a_surrogate_is_400(quiet_app, world):
    admin = caller(quiet_app, world, "admin")
    before = row_counts(quiet_app)
    body = '{"name": "x\\ud800", "schema_source": "preset", "preset": "claims", "annotators_per_article": "2", "majority_threshold": "1"}'
    response = admin.client.post("/admin/projects/new", data=body, content_type="application/json", headers={"X-CSRFToken": admin.csrf()})
    assert response.status_code == 400 and "surrogate" in response.get_json()["error"]
    assert row_counts(quiet_app) == before


@pytest.mark.parametrize(("value", "reason"), [("NaN", "NaN is not a JSON value"), ("1e400", "the number 1e400 is out of range"),
                                               ('"1", "name": "y"', 'the key "name" is given twice')])
def test_a_json_body_to_a_page_is_parsed_as_strict_json(quiet_app, world, value, reason):
    """Pages read JSON bodies with the API's rules (stats.strict_json): NaN or 1e400 is refused as not JSON, by name."""
    admin = caller(quiet_app, world, "admin")
    before = row_counts(quiet_app)
    body = '{"name": "x", "schema_source": "preset", "preset": "claims", "annotators_per_article": "2", "majority_threshold": %s}' % value
    response = admin.client.post("/admin/projects/new", data=body, content_type="application/json", headers={"X-CSRFToken": admin.csrf()})
    assert response.status_code == 400 and reason in response.get_json()["error"]
    assert row_counts(quiet_app) == before


@pytest.mark.parametrize("body", ['{"label": "QUOTE", "start": 0, "end": 3, "id": "abcdefgh\\ud800"}',
                                  '{"label": "QUOTE\\u0000", "start": 0, "end": 3}',
                                  '{"label": "QUOTE", "start": 0, "end": 3, "\\udfff": 1}'])
def test_api_json_with_surrogates_or_nul_is_400(quiet_app, world, body):
    annotator = caller(quiet_app, world, "annotator")
    before = row_counts(quiet_app)
    response = annotator.client.post(f"/api/articles/{world.article_a}/spans", data=body, content_type="application/json",
                                     headers={"X-CSRFToken": annotator.csrf()})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "NUL" in error or "surrogate" in error
    assert row_counts(quiet_app) == before


def test_api_json_with_a_key_given_twice_is_400_and_stores_nothing(quiet_app, world):
    """One span, two labels: Python would keep the last ("SOURCE") without a word; the API says which key."""
    annotator = caller(quiet_app, world, "annotator")
    before = row_counts(quiet_app)
    response = annotator.client.post(f"/api/articles/{world.article_a}/spans", content_type="application/json",
                                     data='{"label": "QUOTE", "start": 0, "end": 3, "label": "SOURCE"}',
                                     headers={"X-CSRFToken": annotator.csrf()})
    assert response.status_code == 400 and 'the key "label" is given twice' in response.get_json()["error"]
    assert row_counts(quiet_app) == before


@pytest.mark.parametrize("path", ["/admin/projects/{huge}", "/admin/projects/{huge}/progress", "/admin/users/{huge}",
                                  "/segmentation/articles/{huge}", "/review/{huge}/queue", "/annotate/{huge}"])
def test_huge_ids_in_urls_are_404(quiet_app, world, path):
    role = "annotator" if path.startswith("/annotate") else "admin"
    response = caller(quiet_app, world, role).client.get(path.format(huge=HUGE))
    assert response.status_code == 404, response.status_code


@pytest.mark.parametrize("segment", ["%00", "%ff%fe", "%ed%a0%80", "caf%e9"])
def test_url_text_that_is_not_valid_unicode_is_a_404_before_any_view(quiet_app, world, segment):
    """A path segment percent-encoding NUL, bytes that are not UTF-8 or a surrogate names nothing: a 404 before the
    view (and before the CSRF check), never the text with U+FFFD in its place (found by the session attacker)."""
    annotator = caller(quiet_app, world, "annotator")
    before = row_counts(quiet_app)
    for method, path in (("delete", f"/api/articles/{world.article_a}/spans/{segment}"),
                         ("put", f"/api/articles/{world.article_a}/article-labels/{segment}")):
        response = getattr(annotator.client, method)(path, json={"values": ["x"]}, headers={"Accept": "application/json"})
        assert response.status_code == 404, (segment, method, response.status_code, response.get_json())
        assert "\ufffd" not in response.get_data(as_text=True)
    assert row_counts(quiet_app) == before


@pytest.mark.parametrize("path", ["/admin/projects/{p}/progress", "/admin/projects/{p}/assignments", "/segmentation/projects/{p}",
                                  "/review/{p}/queue", "/admin/projects/{p}/guidelines/labels"])
@pytest.mark.parametrize("page", [str(HUGE), "-5", "0", "abc", str(2**63)])
def test_page_numbers_out_of_range_are_clamped(quiet_app, world, path, page):
    response = caller(quiet_app, world, "admin").client.get(path.format(p=world.project) + f"?page={page}")
    assert response.status_code == 200, response.status_code


@pytest.mark.parametrize("fields", [
    {"annotators_per_article": str(HUGE)},
    {"annotators_per_article": str(-HUGE)},
    {"majority_threshold": str(HUGE)},
    {"majority_threshold": "1e400"},
    {"majority_threshold": "nan"},
])
def test_oversized_numbers_in_project_forms_are_400(quiet_app, world, fields):
    admin = caller(quiet_app, world, "admin")
    before = row_counts(quiet_app)
    response = admin.post("/admin/projects/new", project_form(**fields))
    assert response.status_code == 400
    assert row_counts(quiet_app) == before


def test_oversized_numbers_in_other_forms_are_4xx(quiet_app, world):
    admin = caller(quiet_app, world, "admin")
    before = row_counts(quiet_app)
    sentence = world.sentences_a[0]
    cases = [
        (f"/segmentation/articles/{world.article_a}/split", {"sentence_id": str(HUGE), "position": "3"}),
        (f"/segmentation/articles/{world.article_a}/split", {"sentence_id": str(sentence), "position": str(HUGE)}),
        (f"/segmentation/articles/{world.article_a}/merge", {"sentence_id": str(HUGE)}),
        (f"/admin/projects/{world.project}/assignments/balance", {"per_article": str(HUGE)}),
        (f"/admin/projects/{world.project}/articles/{world.article_a}/annotators", {"annotators": str(HUGE)}),
        # past float's range: WTForms' NumberRange took isnan() of it, an OverflowError
        (f"/admin/projects/{world.project}/assignments/balance", {"per_article": str(10**400)}),
        (f"/segmentation/articles/{world.article_a}/split", {"sentence_id": str(sentence), "position": str(10**400)}),
    ]
    for path, fields in cases:
        response = admin.post(path, fields)
        assert 400 <= response.status_code < 500, (path, fields, response.status_code)
    assert row_counts(quiet_app) == before


# ----------------------------------------------------------------- every state-changing route, fuzzed
FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


def _form_field_names() -> list[str]:
    """Every field of every form the pages read (admin, review, login), from the form classes themselves."""
    from flask_wtf import FlaskForm

    from annotator.web import auth, review
    from annotator.web.admin import forms

    names = {"action"}  # a plain request.form field (the guidelines editor's preview / save)
    for module in (forms, review, auth):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, FlaskForm) and value is not FlaskForm:
                names |= {name for name, field in vars(value).items() if hasattr(field, "field_class")}
    return sorted(names)


FORM_FIELDS = _form_field_names()
API_FIELDS = ["label", "seconds", "version", "sentence", "start", "end", "id", "type", "from", "to", "ids"]
PLAIN_VALUES = ["1", "2", "0", "CFS", "QUOTE", "SOURCE", "attributed_to", "claims", "preset", "paste", "keep", "upload", "error", "skip",
                "annotator", "admin", "Fresh name", "a fine long password", "0.75", "save", "preview", "x", "", "abcdefgh-1234"]
HOSTILE_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfff", "\ud83d", "ok \x00\ud800"]
NOT_UTF8 = [b"%FF", b"%ED%A0%80", b"%C3", b"caf%E9", b"\xff\xfe"]  # bytes of a urlencoded value that are not UTF-8
HUGE_INTS = [HUGE, -HUGE, 2**63, 2**31, 10**400]
HOSTILE_FILES = [
    ("a.jsonl", b'{"id": "s1", "text": "Broken \\ud800 escape."}'),
    ("b.jsonl", b'{"id": "n1", "text": "Fine text.", "title": "nul \\u0000 title"}'),
    ("c.csv", b"id,text\nc1,\"Fine text.\"\nc2,\"nul \x00 inside\"\n"),
    ("d.csv", b"id,text\nd1,\"never closed\nd2,second row\n"),
    ("e.txt", b"Title\x00\nBody text."),
    ("f.json", SURROGATE_SCHEMA.encode()),
    ("g.json", b'{"sentence_labels": [{"name": "A", "key": "\\u0000"}]}'),
    ("h.jsonl", b'{"id": ' + str(HUGE).encode() + b', "text": "Huge id."}'),
]

_value = st.one_of(
    st.tuples(st.just("plain"), st.sampled_from(PLAIN_VALUES) | st.text(max_size=12)),
    st.tuples(st.just("hostile"), st.sampled_from(HOSTILE_TEXT) | st.builds(lambda a, b: a + b, st.text(max_size=5), st.sampled_from(HOSTILE_TEXT))),
    st.tuples(st.just("not-utf8"), st.sampled_from(NOT_UTF8)),
    st.tuples(st.just("int"), st.sampled_from(HUGE_INTS)),
)


def _is_hostile(text: str) -> bool:
    return textcheck.problem(text) is not None


def _urlencoded(fields: dict[str, tuple[str, Any]], csrf: str) -> tuple[bytes, bool]:
    from urllib.parse import quote_from_bytes

    parts, hostile = [b"csrf_token=" + csrf.encode()], False
    for name, (kind, value) in fields.items():
        if kind == "not-utf8":
            raw, hostile = value, True
        elif kind == "int":
            raw = str(value).encode()
        else:
            raw = quote_from_bytes(value.encode("utf-8", "surrogatepass")).encode()
            hostile = hostile or _is_hostile(value)
        parts.append(name.encode() + b"=" + raw)
    return b"&".join(parts), hostile


def _json(fields: dict[str, tuple[str, Any]]) -> tuple[str, bool]:
    body, hostile = {}, False
    for name, (kind, value) in fields.items():
        if kind == "not-utf8":
            value = value.decode("latin-1")  # as JSON text it is just Latin-1 letters: fine
        elif kind == "hostile":
            hostile = True
        body[name] = value
    return json.dumps(body), hostile  # ensure_ascii: a surrogate travels as a "\ud800" escape, NUL as "\u0000"


def _multipart(fields: dict[str, tuple[str, Any]], files: list[tuple[str, str, bytes]], csrf: str) -> tuple[dict[str, Any], bool]:
    data: dict[str, Any] = {"csrf_token": csrf}
    hostile = False
    for name, (kind, value) in fields.items():
        if kind == "not-utf8":
            value = value.decode("latin-1")
        elif kind == "int":
            value = str(value)
        else:
            if _is_hostile(value.replace("\x00", "")):  # a surrogate cannot travel in multipart: its UTF-8-ish bytes as Latin-1 text
                value = value.encode("utf-8", "surrogatepass").decode("latin-1")
            hostile = hostile or "\x00" in value
        data[name] = value
    for field, file_name, content in files:
        if not isinstance(data.get(field, []), list):
            continue  # a text field of that name was sent already
        data.setdefault(field, []).append((io.BytesIO(content), file_name))
    return data, hostile


_body = st.fixed_dictionaries({
    "encoding": st.sampled_from(["urlencoded", "json", "multipart"]),
    "fields": st.dictionaries(st.sampled_from(FORM_FIELDS + API_FIELDS), _value, max_size=6),
    "files": st.lists(st.tuples(st.sampled_from(["files", "schema_file"]), st.sampled_from(HOSTILE_FILES)), max_size=2),
})


def _fuzz_caller(app, world: World, case: Case):
    public, roles = access_of(app, case.endpoint)
    if public:
        return "anonymous"
    return next(role for role in ("annotator", "reviewer", "admin") if not roles or role in roles)


@pytest.mark.parametrize("case", WRITE_CASES, ids=lambda c: c.id)
@FUZZ
@given(body=_body)
@example(body={"encoding": "urlencoded", "files": [], "fields": {  # the schema that broke every page, where a schema is read
    "name": ("plain", "Fresh"), "schema_source": ("plain", "paste"), "schema_json": ("plain", SURROGATE_SCHEMA),
    "annotators_per_article": ("plain", "2"), "majority_threshold": ("plain", "1"), "preset": ("plain", "claims")}})
@example(body={"encoding": "multipart", "fields": {"on_duplicate": ("plain", "error")}, "files": [("files", f) for f in HOSTILE_FILES[:2]]})
@example(body={"encoding": "json", "files": [], "fields": {"label": ("plain", "QUOTE"), "start": ("int", 0), "end": ("int", 3),
                                                           "id": ("hostile", "abcdefgh\ud800")}})
def test_fuzz_every_state_changing_route(quiet_app, case: Case, body):
    """As a caller the route allows (annotator A on A's own article), with a valid CSRF token: random fields of every
    form and API body, holding invalid Unicode, NUL, bytes that are not UTF-8 and huge integers, as a urlencoded form,
    a JSON body or a multipart upload with hostile files. Never a 500; a field with text we refuse is a 4xx with
    nothing written; a 4xx never writes; and no stored text ever holds NUL or a surrogate."""
    app = quiet_app
    if "_fuzz" not in app.config:  # one seeded world and caller per test, reused by its examples
        world = seed(app)
        role = _fuzz_caller(app, world, case)
        app.config["_fuzz"] = (world, role, caller(app, world, role), url_for_rule(find_rule(app, case), world))
    world, role, browser, path = app.config["_fuzz"]
    is_api = path.startswith("/api/")
    fields = {k: v for k, v in body["fields"].items() if (k in API_FIELDS) or not is_api}
    csrf = browser.csrf()
    before = row_counts(app)
    before.pop("login_failures", None)  # a refused login counts its failure: that is the throttle, not the request's write
    if body["encoding"] == "json" or is_api:
        data, hostile = _json(fields)
        response = browser.client.open(path, method=case.method, data=data, content_type="application/json", headers={"X-CSRFToken": csrf})
    elif body["encoding"] == "urlencoded":
        data, hostile = _urlencoded(fields, csrf)
        response = browser.client.open(path, method=case.method, data=data, content_type="application/x-www-form-urlencoded")
    else:
        files = [(field, name, content) for field, (name, content) in body["files"]]
        data, hostile = _multipart(fields, files, csrf)
        response = browser.client.open(path, method=case.method, data=data, content_type="multipart/form-data")
    status = response.status_code
    page = response.get_data(as_text=True)
    assert status < 500, f"{case.method} {path} as {role}: {status}\n{page[:300]}"
    after = row_counts(app)
    after.pop("login_failures", None)
    if hostile:
        assert 400 <= status < 500, f"{case.method} {path}: text with NUL / a surrogate / non-UTF-8 bytes got {status}"
    if status >= 400:
        assert after == before, f"{case.method} {path}: refused ({status}) but wrote"
    assert not stored_problems(app), f"{case.method} {path}: stored {stored_problems(app)[:3]}"


# ----------------------------------------------------------------- an annotator cannot probe which article ids exist
def test_an_unassigned_article_answers_like_a_missing_one(quiet_app, world):
    """Annotator A and B's own article: the same 404 and the same words (but for the id) as an id nobody has."""
    a = caller(quiet_app, world, "annotator")
    with quiet_app.app_context():
        missing = (db.session.scalar(select(db.func.max(Project.id))) or 0) + 10_000
    requests = [
        ("GET", "/annotate/{id}", None),
        ("GET", "/api/articles/{id}", None),
        ("PUT", "/api/articles/{id}/labels/0", {"label": "CFS"}),
        ("PUT", "/api/articles/{id}/labels/99", {"label": "CFS"}),
        ("DELETE", "/api/articles/{id}/labels/0", None),
        ("POST", "/api/articles/{id}/spans", {"label": "QUOTE", "start": 0, "end": 3}),
        ("PATCH", "/api/articles/{id}/spans/abcdefgh-1", {"label": "QUOTE"}),
        ("DELETE", "/api/articles/{id}/spans/abcdefgh-1", None),
        ("POST", "/api/articles/{id}/relations", {"type": "attributed_to", "from": "abcdefgh-1", "to": "abcdefgh-2"}),
        ("DELETE", "/api/articles/{id}/relations/abcdefgh-1", None),
        ("GET", "/api/articles/{id}/suggestions", None),
        ("POST", "/api/articles/{id}/suggestions/accept", {"ids": ["abcdefgh-1"]}),
        ("POST", "/api/articles/{id}/suggestions/reject", {"ids": ["abcdefgh-1"]}),
    ]
    before = row_counts(quiet_app)
    for method, template, body in requests:
        answers = []
        for article_id in (world.article_b, missing):
            url = template.format(id=article_id)
            response = a.client.get(url) if method == "GET" else a.send_json(method, url, body)
            body_text = re.sub(r'(content|value)="[\w.-]{40,}"', "", response.get_data(as_text=True))  # CSRF tokens: signed with the time
            answers.append((response.status_code, body_text.replace(str(article_id), "ID")))
        assert answers[0][0] == 404, (method, template, answers[0][0])
        assert answers[0] == answers[1], f"{method} {template}: {answers[0][1][:200]!r} != {answers[1][1][:200]!r}"
    assert row_counts(quiet_app) == before
