"""Every route x method x role gets the status its view's marker promises: generated from app.url_map.

Nobody has to remember to add a new route here. Each rule of the URL map is
requested by five callers: anonymous, annotator A, annotator B (same project,
not assigned to A's article), a reviewer and an admin. What each may do is
read from the view function itself: `allowed_roles` (set by
security.roles_required / login_required) or `public` (security.public). A
view with neither marker fails the test: that is how a forgotten decorator is
caught. URL arguments are filled from a seeded project (ARG_VALUES); a rule
with an argument nobody gave a value for fails, naming the rule, so its author
adds one.

Expected:
  * public view: anything but 401 / 403 / 5xx, for everyone;
  * anonymous: 302 to /login for pages, 401 JSON for /api;
  * logged in with a role the view does not allow: 403 (JSON under /api);
  * allowed role: anything but 401 / 403 / 5xx (a 4xx for an empty form is fine);
  * annotator B on anything of A's article (page, API read or write): 403 or 404,
    and no response B gets ever carries A's span or relation ids.
State-changing methods are sent with a valid CSRF token and an empty body, on
a fresh database per rule; a refused request must leave the database
byte-for-byte as it was.
"""
from __future__ import annotations

import contextlib
import hashlib
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select, text, update

from annotator import create_app
from annotator.db import db, models
from annotator.db.models import Article, Project, Sentence, User
from annotator.domain import accounts, assignment, projects, resegment, suggestions
from annotator.domain.annotations import create_relation, create_span, put_label, write
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.suggestions import Proposal

from .conftest import Browser, fresh_database, make_app, token_form

PASSWORD = "correct horse"
CHEAP_HASH = "pbkdf2:sha256:1000"
ROLES = ("anonymous", "annotator", "other_annotator", "reviewer", "admin")
USER_ROLE = {"annotator": "annotator", "other_annotator": "annotator", "reviewer": "reviewer", "admin": "admin"}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
# Endpoints Flask itself adds, with why they are public (they carry no marker of ours).
FRAMEWORK_PUBLIC = {"static": "Flask's static files: CSS, JS modules, icons"}
# Rule arguments that point into A's work: annotator B must get 403 or 404 on any rule taking one.
A_OWNED_ARGUMENTS = frozenset({"article_id", "sentence_index", "sentence_id", "uid"})
SECRET = "A-secret"  # every span / relation id of annotator A starts with this

TEXT_A = "Prices rose by 5% in May. The minister said it was a record. Critics disagreed strongly with that. Nobody knows what comes next."
TEXT_SHARED = "Unemployment fell to 4% last year. The mayor said so on Monday. Others doubt the figure."


# ----------------------------------------------------------------- the seeded project
@dataclass
class Content:
    """What the seeded project says: plain by default; test_xss.py fills it with payloads."""

    title_a: str = "Prices in May"
    text_a: str = TEXT_A
    title_shared: str = "Jobs"
    text_shared: str = TEXT_SHARED
    meta: dict[str, Any] = field(default_factory=lambda: {"source": "example.org"})
    guidelines: str = "# Guidelines\n\nLabel every sentence."
    project_name: str = "Matrix"
    label_description: str | None = None
    # user names, set straight in the database (bypassing accounts.check_name) when not plain
    names: dict[str, str] = field(default_factory=lambda: {"annotator": "ann_a", "other_annotator": "ann_b", "reviewer": "rev", "admin": "adm"})
    suggester: str = "matrix-suggester"  # the name the seeded suggestions carry (import-annotations --as-suggestions --as NAME takes any)


@dataclass
class World:
    content: Content
    project: int
    article_a: int  # assigned to annotator A only
    article_shared: int  # assigned to A and B
    article_b: int  # assigned to B only
    sentences_a: list[int]
    sentences_shared: list[int]
    users: dict[str, int]  # role -> user id
    names: dict[str, str]  # role -> user name
    tokens: dict[str, str]  # role -> API token
    span_a: str
    source_a: str
    relation_a: str
    span_shared_a: str
    source_shared_a: str
    relation_shared_a: str
    span_shared_b: str
    seg_entry: int | None
    token_ids: dict[str, int] = field(default_factory=dict)  # role -> id of its API token
    suggested_links: dict[str, str] = field(default_factory=dict)  # article external id -> the id of its suggested link


def _sentence_ids(session, article_id: int) -> list[int]:
    return list(session.scalars(select(Sentence.id).where(Sentence.article_id == article_id).order_by(Sentence.index)))


def _two_words(text: str, start: int = 0) -> tuple[tuple[int, int], tuple[int, int]]:
    """Offsets of two non-overlapping stretches of text that hold no whitespace at either end."""
    words = [(i, i + len(w)) for i, w in _words(text) if i >= start]
    return words[0], words[1]


def _words(text: str) -> Iterator[tuple[int, str]]:
    i = 0
    for part in text.split(" "):
        if part.strip():
            yield i, part
        i += len(part) + 1


def seed(app, content: Content | None = None) -> World:
    """A project with three articles, four users (one per role) and A's labels, spans and links."""
    content = content or Content()
    with app.app_context():
        s = db.session
        from annotator.domain import labelschema

        schema = labelschema.preset("claims")
        schema["article_labels"] = [{"name": "stance", "description": "The article's stance.", "values": ["support", "oppose"]}]
        if content.label_description is not None:
            for section in ("sentence_labels", "span_labels", "relation_types", "article_labels"):
                for item in schema[section]:
                    item["description"] = content.label_description
        users: dict[str, User] = {}
        for role, name in content.names.items():
            try:
                users[role] = accounts.create_user(s, name, USER_ROLE[role], PASSWORD)
            except accounts.AccountError:  # a name no form would accept: stored as legacy data would be
                user = User(name=name, role=USER_ROLE[role], active=True)
                user.set_password(PASSWORD)
                s.add(user)
                s.flush()
                users[role] = user
        project = projects.create_project(s, content.project_name, schema, 2, content.guidelines, users["admin"].id)
        articles.store_articles(
            s,
            project,
            [
                ArticleRecord("a-only", content.title_a, content.text_a, dict(content.meta)),
                ArticleRecord("shared", content.title_shared, content.text_shared, dict(content.meta)),
                ArticleRecord("b-only", "B's article", "B reads this alone. Nobody else does."),
            ],
            "seed",
        )
        assignment.assign_to_user(s, project.id, users["annotator"], ["a-only", "shared"])
        assignment.assign_to_user(s, project.id, users["other_annotator"], ["shared", "b-only"])
        projects.add_members(s, project.id, [users["reviewer"]])  # the annotators are members by their assignments
        tokens = {role: accounts.issue_token(s, user) for role, user in users.items()}
        ids = dict(s.execute(select(Article.external_id, Article.id).where(Article.project_id == project.id)).all())
        user_ids = {role: user.id for role, user in users.items()}
        token_ids = {role: s.scalar(select(models.ApiToken.id).where(models.ApiToken.user_id == user.id)) for role, user in users.items()}
        project_id = project.id
        s.commit()

        a, b = user_ids["annotator"], user_ids["other_annotator"]
        (q0, q1), (s0, s1) = _two_words(content.text_a)
        write(s, lambda: put_label(s, a, ids["a-only"], 0, "CFS", 3))
        write(s, lambda: create_span(s, a, ids["a-only"], "QUOTE", q0, q1, f"{SECRET}-quote-a"))
        write(s, lambda: create_span(s, a, ids["a-only"], "SOURCE", s0, s1, f"{SECRET}-source-a"))
        write(s, lambda: create_relation(s, a, ids["a-only"], "attributed_to", f"{SECRET}-quote-a", f"{SECRET}-source-a", f"{SECRET}-rel-a"))
        suggested_links = _suggest(s, project_id, content, ids)
        (q0, q1), (s0, s1) = _two_words(content.text_shared)
        write(s, lambda: put_label(s, a, ids["shared"], 0, "CFS", 3))
        write(s, lambda: create_span(s, a, ids["shared"], "QUOTE", q0, q1, f"{SECRET}-quote-s"))
        write(s, lambda: create_span(s, a, ids["shared"], "SOURCE", s0, s1, f"{SECRET}-source-s"))
        write(s, lambda: create_relation(s, a, ids["shared"], "attributed_to", f"{SECRET}-quote-s", f"{SECRET}-source-s", f"{SECRET}-rel-s"))
        write(s, lambda: put_label(s, b, ids["shared"], 1, "NFS", 2))
        write(s, lambda: create_span(s, b, ids["shared"], "QUOTE", q0, q1 + 1 if q1 < len(content.text_shared) else q1, "B-own-quote-s"))

        # one segmentation correction on A's article, on a sentence nobody labelled: something to undo
        seg_entry = None
        last = s.scalars(select(Sentence).where(Sentence.article_id == ids["a-only"]).order_by(Sentence.index.desc())).first()
        sentence_text = content.text_a[last.start:last.end]
        cut = next((i + 1 for i in range(1, len(sentence_text) - 1) if sentence_text[i] == " " and sentence_text[i + 1] != " "), None)
        if cut is not None and last.index > 0:
            from annotator.db.transactions import begin_write

            begin_write(s)
            seg_entry = resegment.split_sentence(s, last.id, last.start + cut, user_ids["admin"]).entry_id
            s.commit()
        world = World(
            content=content,
            project=project_id,
            article_a=ids["a-only"],
            article_shared=ids["shared"],
            article_b=ids["b-only"],
            sentences_a=_sentence_ids(s, ids["a-only"]),
            sentences_shared=_sentence_ids(s, ids["shared"]),
            users=user_ids,
            names=dict(content.names),
            tokens=tokens,
            span_a=f"{SECRET}-quote-a",
            source_a=f"{SECRET}-source-a",
            relation_a=f"{SECRET}-rel-a",
            span_shared_a=f"{SECRET}-quote-s",
            source_shared_a=f"{SECRET}-source-s",
            relation_shared_a=f"{SECRET}-rel-s",
            span_shared_b="B-own-quote-s",
            seg_entry=seg_entry,
            token_ids=token_ids,
            suggested_links=suggested_links,
        )
        s.remove()
    return world


def _suggest(s, project_id: int, content: Content, ids: dict[str, int]) -> dict[str, str]:
    """Suggestions on, and on A's and the shared article a suggested label, QUOTE, SOURCE and link of their own
    (words of the text A did not mark, the SOURCE reaching into the XSS payload where there is one)."""
    s.execute(update(Project).where(Project.id == project_id).values(suggestions_enabled=True))
    schema = s.scalar(select(Project.label_schema).where(Project.id == project_id))
    links = {}
    for external, body in (("a-only", content.text_a), ("shared", content.text_shared)):
        words = [(i, i + len(w)) for i, w in _words(body)]
        proposal = Proposal(content.suggester, "1", labels=[(1, "UFS", 0.6)],
                            spans=[("q", "QUOTE", words[2][0], words[4][1], 0.9), ("s", "SOURCE", words[6][0], words[6][1], 0.8)],
                            relations=[("attributed_to", "q", "s", 0.85)])
        rows = suggestions.rows_for(proposal, ids[external], len(body), schema, _sentence_ids(s, ids[external]))
        suggestions.store(s, ids[external], content.suggester, rows)
        links[external] = next(row["uid"] for row in rows if row["kind"] == "relation")
    s.commit()
    return links


# ----------------------------------------------------------------- URL arguments
def _uid(rule, world: World, shared: bool) -> str:
    if "/relations/" in rule.rule:
        return world.relation_shared_a if shared else world.relation_a
    return world.span_shared_a if shared else world.span_a


# argument name -> value from the seeded world; `shared` fills A's ids on the article A and B share
ARG_VALUES: dict[str, Callable[[Any, World, bool], Any]] = {
    "project_id": lambda rule, w, shared: w.project,
    "article_id": lambda rule, w, shared: w.article_shared if shared else w.article_a,
    "sentence_index": lambda rule, w, shared: 0,
    "sentence_id": lambda rule, w, shared: (w.sentences_shared if shared else w.sentences_a)[0],
    "uid": _uid,
    "user_id": lambda rule, w, shared: w.users["annotator"],
    "version": lambda rule, w, shared: 1,
    "entry_id": lambda rule, w, shared: w.seg_entry,
    "filename": lambda rule, w, shared: "css/app.css",
    "token_id": lambda rule, w, shared: w.token_ids["annotator"],
    "name": lambda rule, w, shared: w.names["annotator"],  # /api/users/<name>/tokens
    "group": lambda rule, w, shared: "stance",  # the seeded schema's article label group
}


def url_for_rule(rule, world: World, shared: bool = False) -> str:
    values = {}
    for name in sorted(rule.arguments):
        if name not in ARG_VALUES:
            pytest.fail(
                f"route {rule.rule} ({rule.endpoint}) takes <{name}>, and tests/test_route_matrix.py has no value for it: "
                f"add one to ARG_VALUES (from the seeded world) so the route x role matrix covers this route"
            )
        value = ARG_VALUES[name](rule, world, shared)
        if value is None:
            pytest.fail(f"route {rule.rule} ({rule.endpoint}): the seeded world has no value for <{name}>")
        values[name] = value
    return rule.build(values, append_unknown=False)[1]


# ----------------------------------------------------------------- what each view promises
@dataclass(frozen=True)
class Case:
    rule: str
    method: str
    endpoint: str

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"


def url_rules(app) -> list:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def cases_of(app) -> list[Case]:
    return [
        Case(rule.rule, method, rule.endpoint)
        for rule in url_rules(app)
        for method in sorted(rule.methods - IGNORED_METHODS)
    ]


def _collect_app():
    """The app as the URL map sees it (no database needed to list routes)."""
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "collect"})


COLLECTED = cases_of(_collect_app())
GET_CASES = [c for c in COLLECTED if c.method == "GET"]
WRITE_CASES = [c for c in COLLECTED if c.method in STATE_CHANGING]


def find_rule(app, case: Case):
    for rule in app.url_map.iter_rules():
        if rule.rule == case.rule and rule.endpoint == case.endpoint and case.method in rule.methods:
            return rule
    pytest.fail(f"route {case.id} ({case.endpoint}) is gone from the URL map")


def access_of(app, endpoint: str) -> tuple[bool, tuple[str, ...] | None]:
    """(public, allowed roles) as the view declares them; a view that declares neither fails here."""
    if endpoint in FRAMEWORK_PUBLIC:
        return True, None
    view = app.view_functions[endpoint]
    public = getattr(view, "public", False) is True
    roles = getattr(view, "allowed_roles", None)
    if not public and roles is None:
        pytest.fail(
            f"view {endpoint} ({view.__module__}.{getattr(view, '__qualname__', view)}) has no access marker: "
            "decorate it with security.roles_required(...), login_required or public"
        )
    if public and roles is not None:
        pytest.fail(f"view {endpoint} is marked both public and roles_required{roles}: pick one")
    return public, roles


def expectation(app, rule, role: str) -> str:
    """'public' | 'login' | 'forbidden' | 'not_yours' | 'allowed'."""
    public, roles = access_of(app, rule.endpoint)
    if public:
        return "public"
    if role == "anonymous":
        return "login"
    if roles and USER_ROLE[role] not in roles:
        return "forbidden"
    if role == "other_annotator" and A_OWNED_ARGUMENTS & set(rule.arguments):
        return "not_yours"
    return "allowed"


def check(expected: str, path: str, response, role: str) -> str | None:
    """None when the response is what `expected` promises, else why not."""
    status = response.status_code
    body = response.get_data(as_text=True)
    is_api = path.startswith("/api/")
    if status >= 500:
        return f"{status} (a server error)"
    if role == "other_annotator" and SECRET in body:
        return f"{status}: the response shows annotator A's span or relation ids to annotator B"
    if expected in ("public", "allowed"):
        return f"{status}: the role is allowed, yet refused" if status in (401, 403) else None
    if expected == "login":
        if is_api:
            if status != 401 or not (response.is_json and response.get_json().get("status") == 401):
                return f"{status} {body[:120]!r}: anonymous should get a 401 JSON error under /api"
            return None
        if status != 302 or not response.headers.get("Location", "").startswith("/login"):
            return f"{status} -> {response.headers.get('Location')}: anonymous should be redirected to /login"
        return None
    if expected == "forbidden":
        if status != 403:
            return f"{status}: this role is not allowed and should get 403"
        if is_api and not (response.is_json and response.get_json().get("status") == 403):
            return f"403 without a JSON error under /api: {body[:120]!r}"
        return None
    if expected == "not_yours":
        return None if status in (403, 404) else f"{status}: annotator B must get 403 or 404 on annotator A's article"
    raise AssertionError(expected)


# ----------------------------------------------------------------- databases and callers


@contextlib.contextmanager
def seeded_app(backend: str, folder: Path, content: Content | None = None, **config: Any):
    """An app on its own database with the seeded world, built outside any one test (cheap password hash)."""
    with fresh_database(backend, folder) as uri:
        app = make_app(uri, **config)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(models, "PASSWORD_METHOD", CHEAP_HASH)
            world = seed(app, content)
        try:
            yield app, world
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def caller(app, world: World, role: str, password: str = PASSWORD) -> Browser:
    """A browser-like client logged in as `role` (anonymous: no login, but a CSRF token from /login)."""
    browser = Browser(app.test_client())
    if role == "anonymous":
        browser.get("/login")
        return browser
    response = browser.login(world.names[role], password)
    assert response.status_code == 302, f"{role} could not log in: {response.status_code}"
    return browser


# A minimal valid JSON body per API write, so that only the access check can refuse it (an empty body
# would be refused as malformed before the article is even looked at, proving nothing about access).
API_BODIES: dict[str, Callable[[World], Any]] = {
    "api.put_label_view": lambda w: {"label": "UFS"},
    "api.delete_label_view": lambda w: None,
    "api.create_span_view": lambda w: {"label": "CUE", "start": 0, "end": 3},
    "api.update_span_view": lambda w: {"label": "QUOTE"},
    "api.delete_span_view": lambda w: None,
    "api.create_relation_view": lambda w: {"type": "attributed_to", "from": w.span_a, "to": w.source_a},
    "api.delete_relation_view": lambda w: None,
    "api.put_article_label_view": lambda w: {"values": ["oppose"]},
    "api.delete_article_label_view": lambda w: None,
    "api.apply_changes_view": lambda w: {"operations": [
        {"op": "put_label", "sentence_index": 0, "label": "UFS"}, {"op": "create_span", "label": "CUE", "start": 0, "end": 3},
    ]},
    "suggestions.accept": lambda w: {"ids": [w.suggested_links["a-only"]]},
    "suggestions.reject": lambda w: {"ids": [w.suggested_links["a-only"]]},
    # the REST API for pipelines (web/rest.py, web/rest_data.py): admins write, reviewers read, annotators get 403
    "rest.create_project": lambda w: {"name": "Matrix 2"},
    "rest.update_project": lambda w: {"majority": 0.75},
    "rest.rename_label": lambda w: {"section": "sentence", "old": "NFS", "new": "Opinion"},
    "rest.create_user": lambda w: {"name": "newcomer", "role": "annotator"},
    "rest.issue_token": lambda w: {"expires_days": 5},
    "rest_data.add_articles": lambda w: [{"id": "new-one", "text": "A new article. It has two sentences."}],
    "rest_data.delete_article": lambda w: None,
    "rest_data.assign": lambda w: {"per_article": 1},
}


def body_for(endpoint: str, path: str, world: World) -> Any:
    if not path.startswith("/api/"):
        return None
    if endpoint not in API_BODIES:
        pytest.fail(f"API write {endpoint} has no minimal valid body in tests/test_route_matrix.py: add one to API_BODIES")
    return API_BODIES[endpoint](world)


def send(browser: Browser, method: str, path: str, body: Any = None):
    """A request as the page would send it: GET as is; others with a valid CSRF token (API: a JSON body; forms: empty)."""
    if method == "GET":
        return browser.client.get(path)
    if path.startswith("/api/"):
        return browser.send_json(method, path, body)
    return browser.client.open(path, method=method, data={"csrf_token": browser.csrf()})


def fingerprint(app) -> str:
    """A hash of every row of every table: equal before and after means nothing was written."""
    digest = hashlib.sha256()
    with app.app_context():
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                order = ", ".join(c.name for c in table.primary_key.columns) or "1"
                for row in conn.execute(select(table).order_by(text(order))):
                    digest.update(repr(tuple(row)).encode())
                digest.update(b"|")
    return digest.hexdigest()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def shared_world(request, tmp_path_factory):
    """One seeded database per backend for all read-only requests, with a logged-in client per role."""
    with seeded_app(request.param, tmp_path_factory.mktemp("matrix")) as (app, world):
        yield app, world, {role: caller(app, world, role) for role in ROLES}


# ----------------------------------------------------------------- the tests
def test_the_url_map_was_collected():
    """The generated cases are the app's routes: reading pages, the API and admin forms are all there."""
    endpoints = {c.endpoint for c in COLLECTED}
    assert {"home.home", "auth.login", "api.get_article", "api.put_label_view", "annotate.article_page"} <= endpoints
    assert {"admin.members", "admin.member_remove"} <= endpoints  # a project's members: admins only
    assert {"suggestions.pending", "suggestions.accept", "suggestions.reject"} <= endpoints  # an annotator's suggestions
    assert {"account.account", "account.password", "admin.user"} <= endpoints  # the user's own page and password (no user id in them), the admin's page
    assert {"rest.list_projects", "rest.create_project", "rest.get_project", "rest.update_project", "rest.list_users", "rest.create_user",
            "rest.issue_token", "rest_data.list_articles", "rest_data.add_articles", "rest_data.delete_article", "rest_data.assign",
            "rest_data.export_jsonl", "rest_data.project_agreement"} <= endpoints  # the REST API for pipelines
    assert len(GET_CASES) >= 10 and len(WRITE_CASES) >= 5


def test_every_view_declares_who_may_call_it():
    app = _collect_app()
    unmarked = []
    for rule in url_rules(app):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint not in FRAMEWORK_PUBLIC and not getattr(view, "public", False) and getattr(view, "allowed_roles", None) is None:
            unmarked.append(f"{rule.rule} ({rule.endpoint})")
    assert not unmarked, "views without roles_required / login_required / public: " + ", ".join(unmarked)


def test_a_view_without_a_marker_fails_the_matrix():
    """The check the matrix relies on: a new route with no decorator of ours is caught, not passed."""
    app = _collect_app()

    @app.route("/forgotten")
    def forgotten():
        return "secret"

    with pytest.raises(pytest.fail.Exception, match="forgotten.*has no access marker"):
        access_of(app, "forgotten")


def test_a_rule_with_an_unknown_argument_fails_loudly():
    app = _collect_app()

    @app.route("/things/<int:thing_id>")
    def thing(thing_id: int):
        return "x"

    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "thing")
    with pytest.raises(pytest.fail.Exception, match=r"/things/<int:thing_id>.*<thing_id>.*ARG_VALUES"):
        url_for_rule(rule, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", GET_CASES, ids=lambda c: c.id)
def test_get(shared_world, case: Case, role: str):
    app, world, callers = shared_world
    rule = find_rule(app, case)
    expected = expectation(app, rule, role)
    path = url_for_rule(rule, world)
    response = send(callers[role], "GET", path)
    problem = check(expected, path, response, role)
    assert problem is None, f"{role} GET {path} (expected {expected}): {problem}"


@pytest.mark.parametrize("case", GET_CASES, ids=lambda c: c.id)
def test_head_answers_as_get_does(shared_world, case: Case):
    """HEAD is GET without the body (link checkers and monitors send it): the same status for every role. Two admin
    pages took any method but GET for a submitted form, so HEAD was a 400 where GET was a 200."""
    app, world, callers = shared_world
    path = url_for_rule(find_rule(app, case), world)
    problems = []
    for role in ROLES:
        got, head = send(callers[role], "GET", path), callers[role].client.head(path)
        got.get_data()  # a streamed export read to its end, in its request's context
        got.close()
        if head.status_code != got.status_code or head.get_data():
            problems.append(f"{role}: GET {got.status_code}, HEAD {head.status_code} with {len(head.get_data())} bytes")
    assert not problems, f"HEAD {path}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("case", WRITE_CASES, ids=lambda c: c.id)
def test_state_changing(app, case: Case):
    """Each role in turn (the allowed ones last, admin at the very end) on a fresh seeded database."""
    world = seed(app)
    rule = find_rule(app, case)
    path = url_for_rule(rule, world)
    callers = {role: caller(app, world, role) for role in ROLES}
    problems = []
    for role in ROLES:
        expected = expectation(app, rule, role)
        before = fingerprint(app)
        response = send(callers[role], case.method, path, body_for(case.endpoint, path, world))
        problem = check(expected, path, response, role)
        if problem is None and expected in ("login", "forbidden", "not_yours") and fingerprint(app) != before:
            problem = f"{response.status_code}, but the refused request changed the database"
        if problem:
            problems.append(f"{role} (expected {expected}): {problem}")
        if expected in ("public", "allowed") and not path.startswith("/api/"):
            # the same request with no body at all (CSRF token in the header, as fetch() sends it): still never a 500
            bare = callers[role].client.open(path, method=case.method, headers={"X-CSRFToken": callers[role].csrf()})
            if bare.status_code >= 500 or bare.status_code in (401, 403):
                problems.append(f"{role}, no body, CSRF token in the header: {bare.status_code}")
    assert not problems, f"{case.method} {path}:\n  " + "\n  ".join(problems)


# ----------------------------------------------------------------- blind annotation: B never sees A's work
def test_b_reads_only_its_own_work_on_the_shared_article(shared_world):
    app, world, callers = shared_world
    response = callers["other_annotator"].client.get(f"/api/articles/{world.article_shared}")
    assert response.status_code == 200
    mine = response.get_json()["annotations"]
    assert [(label["sentence"], label["label"]) for label in mine["labels"]] == [(1, "NFS")]
    assert [s["id"] for s in mine["spans"]] == [world.span_shared_b]
    assert mine["relations"] == []
    # ...and A, on the same article, sees only A's
    theirs = callers["annotator"].client.get(f"/api/articles/{world.article_shared}").get_json()["annotations"]
    assert {s["id"] for s in theirs["spans"]} == {world.span_shared_a, world.source_shared_a}


@pytest.mark.parametrize("case", GET_CASES, ids=lambda c: c.id)
def test_b_sees_nothing_of_a_on_the_shared_article(shared_world, case: Case):
    """Every page and API read B may open, pointed at the article A and B share: none shows A's spans or links."""
    app, world, callers = shared_world
    rule = find_rule(app, case)
    path = url_for_rule(rule, world, shared=True)
    response = callers["other_annotator"].client.get(path)
    assert response.status_code < 500, f"GET {path}: {response.status_code}"
    assert SECRET not in response.get_data(as_text=True), f"GET {path} shows annotator A's ids to annotator B"


def test_b_guessing_a_ids_gets_nothing_and_changes_nothing(app):
    """B knows (or guesses) A's span and relation ids on their shared article: every use of them is refused."""
    world = seed(app)
    b = caller(app, world, "other_annotator")
    art = world.article_shared
    before = fingerprint(app)
    attempts = [
        ("PATCH", f"/api/articles/{art}/spans/{world.span_shared_a}", {"label": "SOURCE"}, (404,)),
        ("PATCH", f"/api/articles/{art}/spans/{world.span_shared_a}", {"start": 0, "end": 3}, (404,)),
        ("DELETE", f"/api/articles/{art}/spans/{world.span_shared_a}", None, (404,)),
        ("DELETE", f"/api/articles/{art}/relations/{world.relation_shared_a}", None, (404,)),
        ("POST", f"/api/articles/{art}/relations", {"type": "attributed_to", "from": world.span_shared_a, "to": world.source_shared_a}, (404, 422)),
        ("POST", f"/api/articles/{art}/relations", {"type": "attributed_to", "from": world.span_shared_b, "to": world.source_shared_a}, (404, 422)),
        ("POST", f"/api/articles/{art}/relations", {"type": "attributed_to", "from": world.span_shared_a, "to": world.span_shared_b, "id": world.relation_shared_a}, (404, 409, 422)),
        # the same through the batch endpoint: the failing operation named, nothing of the batch stored
        ("POST", f"/api/articles/{art}/changes", {"operations": [
            {"op": "put_label", "sentence_index": 0, "label": "UFS"}, {"op": "update_span", "id": world.span_shared_a, "label": "SOURCE"},
        ]}, (404,)),
        ("POST", f"/api/articles/{art}/changes", {"operations": [{"op": "delete_relation", "id": world.relation_shared_a}]}, (404,)),
        ("POST", f"/api/articles/{art}/changes", {"operations": [
            {"op": "create_relation", "type": "attributed_to", "from": world.span_shared_a, "to": world.source_shared_a},
        ]}, (404, 422)),
        ("POST", f"/api/articles/{world.article_a}/changes", {"operations": [{"op": "delete_span", "id": world.span_a}]}, (403, 404)),
        # A's ids on A's own article, from B: not assigned
        ("PATCH", f"/api/articles/{world.article_a}/spans/{world.span_a}", {"label": "SOURCE"}, (403, 404)),
        ("DELETE", f"/api/articles/{world.article_a}/relations/{world.relation_a}", None, (403, 404)),
        ("GET", f"/api/articles/{world.article_a}", None, (403, 404)),
    ]
    with app.app_context():
        a_span = db.session.execute(
            select(models.Span.start, models.Span.end).where(models.Span.uid == world.span_shared_a)
        ).one()
    a_text = world.content.text_shared[a_span.start:a_span.end]
    for method, path, body, statuses in attempts:
        response = b.send_json(method, path, body) if method != "GET" else b.client.get(path)
        assert response.status_code in statuses, f"{method} {path}: {response.status_code} {response.get_data(as_text=True)[:200]}"
        payload = response.get_json()
        assert payload and "error" in payload and "current" not in payload, payload
        assert a_text not in response.get_data(as_text=True), f"{method} {path} shows the text of A's span"
    assert fingerprint(app) == before
    # a span of B's own with A's id: refused without telling B anything about A's span
    response = b.send_json("POST", f"/api/articles/{art}/spans", {"label": "QUOTE", "start": 0, "end": 4, "id": world.span_shared_a})
    assert response.status_code == 409 and "current" not in response.get_json()
    assert fingerprint(app) == before
    # B labelling the sentence A labelled makes B's own label; A's stays
    assert b.send_json("PUT", f"/api/articles/{art}/labels/0", {"label": "UFS"}).status_code == 200
    a = caller(app, world, "annotator")
    labels = a.client.get(f"/api/articles/{art}").get_json()["annotations"]["labels"]
    assert [(label["sentence"], label["label"]) for label in labels] == [(0, "CFS")]


def test_b_cannot_export_or_review(shared_world):
    """Exports and reviewer pages (which show every annotator's work) are closed to annotators."""
    app, world, callers = shared_world
    for path in (f"/projects/{world.project}/export.jsonl", f"/projects/{world.project}/export.jsonl?unit=sentence", "/review/"):
        response = callers["other_annotator"].client.get(path)
        assert response.status_code == 403, path
        assert SECRET not in response.get_data(as_text=True)


# ----------------------------------------------------------------- reviewers: only their projects
# Rule arguments that tie a route to one project: a reviewer who is not a member gets 403 or 404 on them.
PROJECT_ARGUMENTS = frozenset({"project_id", "article_id", "sentence_id", "entry_id"})


def _outsider(app, world: World) -> Browser:
    """A reviewer of another project, who knows the seeded project's ids."""
    with app.app_context():
        s = db.session
        other = projects.create_project(s, "Elsewhere")
        outsider = accounts.create_user(s, "outsider", "reviewer", PASSWORD)
        projects.add_members(s, other.id, [outsider])
        s.commit()
        s.remove()
    browser = Browser(app.test_client())
    assert browser.login("outsider", PASSWORD).status_code == 302
    return browser


def _project_cases(app, methods: frozenset[str]) -> list:
    return [
        (rule, method)
        for rule in url_rules(app)
        for method in sorted(rule.methods & methods)
        if PROJECT_ARGUMENTS & set(rule.arguments) and _reviewer_may_call(app, rule.endpoint)
    ]


def _reviewer_may_call(app, endpoint: str) -> bool:
    """Routes for reviewers by name, and routes for any logged-in user (login_required: no roles), such as the API's read."""
    public, roles = access_of(app, endpoint)
    return not public and roles is not None and (not roles or "reviewer" in roles)


def test_a_reviewer_of_another_project_is_refused_every_page_and_export_of_this_one(app):
    """Generated from the URL map: every route a reviewer may use that names a project, article or sentence."""
    world = seed(app)
    outsider = _outsider(app, world)
    cases = _project_cases(app, frozenset({"GET"}) | STATE_CHANGING)
    assert {rule.endpoint for rule, _ in cases} >= {"review.agreement", "review.queue", "review.sentence", "downloads.export_jsonl",
                                                    "segmentation.articles", "segmentation.article", "segmentation.split",
                                                    "api.get_article"}
    before = fingerprint(app)
    problems = []
    for rule, method in cases:
        for shared in (False, True):
            path = url_for_rule(rule, world, shared)
            response = send(outsider, method, path)
            if response.status_code not in (403, 404):
                problems.append(f"{method} {path}: {response.status_code}")
            elif SECRET in response.get_data(as_text=True) or world.content.text_a[:20] in response.get_data(as_text=True):
                problems.append(f"{method} {path}: the refusal shows the project's work")
    assert not problems, "a reviewer who is not a member got through:\n  " + "\n  ".join(problems)
    assert fingerprint(app) == before
    # the lists they see name only their own project
    for path in ("/", "/review/"):
        page = outsider.client.get(path).get_data(as_text=True)
        assert "Elsewhere" in page and world.content.project_name not in page, path


def test_home_shows_b_only_b_s_own_queue(shared_world):
    app, world, callers = shared_world
    page = callers["other_annotator"].client.get("/").get_data(as_text=True)
    assert "B&#39;s article" in page or "B's article" in page
    assert world.content.title_a not in page  # A's own article is not even listed


# ----------------------------------------------------------------- API tokens: never for another admin
TOKEN_TARGETS = {"self": "admin", "other admin": "admin2", "reviewer": "reviewer", "annotator": "annotator"}


def _with_a_second_admin(app) -> tuple[World, dict[str, int], dict[str, str]]:
    """The seeded world plus another admin, "adm2" (role key "admin2"): the users' ids and names by role key."""
    world = seed(app)
    with app.app_context():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(models, "PASSWORD_METHOD", CHEAP_HASH)
            other = accounts.create_user(db.session, "adm2", "admin", PASSWORD)
        db.session.commit()
        ids = {**world.users, "admin2": other.id}
        db.session.remove()
    return world, ids, {**world.names, "admin2": "adm2"}


def test_admins_issue_tokens_for_themselves_and_non_admins_never_for_another_admin(app):
    """A token acts as its user, so an admin who could issue one for another admin could act as them (found in the
    debt list: the REST API and the admin page both issued it). Every way to issue one, the session's REST call, the
    admin's own Bearer token and the admin page's form, for each kind of user: another admin's is a 403 that stores
    nothing; the others work. The admin page does not offer the form for another admin."""
    world, ids, names = _with_a_second_admin(app)
    admin = caller(app, world, "admin")
    bearer = {"Authorization": f"Bearer {world.tokens['admin']}"}
    ways: dict[str, Callable[[str], Any]] = {
        "REST, session": lambda who: admin.send_json("POST", f"/api/users/{names[who]}/tokens", {"expires_days": 5}),
        "REST, Bearer token": lambda who: app.test_client().post(f"/api/users/{names[who]}/tokens", json={"expires_days": 5}, headers=bearer),
        "admin page": lambda who: admin.post(f"/admin/users/{ids[who]}/token", token_form(expires_days="5")),
    }
    problems = []
    for way, issue in ways.items():
        for target, who in TOKEN_TARGETS.items():
            before = fingerprint(app)
            response = issue(who)
            shown = response.get_data(as_text=True)
            if target == "other admin":
                refused = response.status_code == 403 and "adm2 is an admin: only adm2 may issue API tokens for adm2" in html.unescape(shown)
                if not refused or fingerprint(app) != before or accounts.TOKEN_PREFIX in shown:
                    problems.append(f"{way}, {target}: {response.status_code}, expected a 403 that stores nothing")
            elif response.status_code != (200 if way == "admin page" else 201) or accounts.TOKEN_PREFIX not in shown:
                problems.append(f"{way}, {target}: {response.status_code}, expected the token")
    assert not problems, "\n".join(problems)
    for who, offered in (("admin2", False), ("admin", True), ("reviewer", True), ("annotator", True)):
        page = admin.get(f"/admin/users/{ids[who]}").get_data(as_text=True)
        assert ('id="token-form"' in page) is offered and ('id="token-not-yours"' in page) is not offered, who
        assert 'id="revoke-form"' in page  # revoking stays possible, another admin's tokens too


def test_admins_set_passwords_for_themselves_and_non_admins_never_for_another_admin(app):
    """A password logs in as its user, as a token acts as it: an admin who could set another admin's could log in as
    them. The admin page's form: another admin's is a 403 that changes nothing (the form is not offered, the page says
    how the server's operator sets it); the admin's own and a non-admin's are set."""
    world, ids, _ = _with_a_second_admin(app)
    admin = caller(app, world, "admin")
    with pytest.MonkeyPatch.context() as patch:  # the new passwords hashed cheaply too
        patch.setattr(models, "PASSWORD_METHOD", CHEAP_HASH)
        before = fingerprint(app)
        refused = admin.post(f"/admin/users/{ids['admin2']}/password", {"password": "a new password 12345"})
        assert refused.status_code == 403 and fingerprint(app) == before
        assert "adm2 is an admin: only adm2 may set adm2's password" in html.unescape(refused.get_data(as_text=True))
        for who in ("reviewer", "annotator", "admin"):  # the admin's own last: it ends the session the caller uses
            response = admin.post(f"/admin/users/{ids[who]}/password", {"password": "a new password 12345"})
            assert response.status_code == 302, who
    admin = caller(app, world, "admin", password="a new password 12345")
    for who, offered in (("admin2", False), ("admin", True), ("reviewer", True), ("annotator", True)):
        page = admin.get(f"/admin/users/{ids[who]}").get_data(as_text=True)
        assert ('id="password-form"' in page) is offered and ('id="password-not-yours"' in page) is not offered, who


def test_every_role_changes_its_own_password_and_only_its_own(app):
    """/account/password names no user: whoever is logged in changes their own (with their current password), and
    stays logged in; anonymous is sent to log in and changes nothing."""
    world = seed(app)
    callers = {role: caller(app, world, role) for role in ROLES}
    new = "a new password 12345"
    with pytest.MonkeyPatch.context() as patch:  # the new passwords hashed cheaply too
        patch.setattr(models, "PASSWORD_METHOD", CHEAP_HASH)
        before = fingerprint(app)
        body = {"current": PASSWORD, "password": new, "confirm": new}
        refused = callers["anonymous"].post("/account/password", body)
        assert refused.status_code == 302 and "/login" in refused.headers["Location"] and fingerprint(app) == before
        for role in ROLES[1:]:
            response = callers[role].post("/account/password", body)
            assert response.status_code == 302 and response.headers["Location"] == "/account", role
            assert callers[role].client.get("/account").status_code == 200, f"{role} was logged out by their own change"
    with app.app_context():
        trail = db.session.execute(select(models.AuditEntry.entity_id, models.AuditEntry.user_id, models.AuditEntry.after)
                                   .where(models.AuditEntry.action == "password").order_by(models.AuditEntry.id)).all()
    assert [(int(entity), actor, after["by"]) for entity, actor, after in trail] == [(world.users[r], world.users[r], "self") for r in ROLES[1:]]
    for role in ROLES[1:]:
        assert caller(app, world, role, password=new).client.get("/account").status_code == 200


def test_a_token_issued_while_a_user_was_not_an_admin_ends_when_they_become_one(app):
    """Demote another admin, issue them a token (allowed: they are a reviewer now), make them an admin again: the
    token then acted as that admin, the very thing the rule above forbids (found in the walk-through). Becoming an
    admin ends the tokens a user had; the ones they issue themselves afterwards work."""
    world, ids, names = _with_a_second_admin(app)
    admin = caller(app, world, "admin")
    assert admin.post(f"/admin/users/{ids['admin2']}/role", {"role": "reviewer"}).status_code == 302
    assert 'id="role-admin-tokens"' in admin.get(f"/admin/users/{ids['admin2']}").get_data(as_text=True)  # the page says so
    issued = admin.send_json("POST", f"/api/users/{names['admin2']}/tokens", {})
    assert issued.status_code == 201
    token = issued.get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/projects", headers=bearer).status_code == 200  # a reviewer's read
    promoted = admin.post(f"/admin/users/{ids['admin2']}/role", {"role": "admin"}, follow_redirects=True)
    assert promoted.status_code == 200
    assert "adm2 is now admin; their 1 API token was revoked" in html.unescape(promoted.get_data(as_text=True))
    assert app.test_client().get("/api/users", headers=bearer).status_code == 401
    assert 'id="role-admin-tokens"' not in admin.get(f"/admin/users/{ids['admin2']}").get_data(as_text=True)
