"""Admin pages through the test client: who may reach them, and what each form refuses (and stores nothing for)."""
from __future__ import annotations

import io
import json
import re
from html import unescape as html_unescape
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import ApiToken, Article, Assignment, AuditEntry, GuidelineVersion, Project, ProjectMember, Sentence, User
from annotator.db.transactions import begin_write
from annotator.domain import accounts, assignment, guidelines, labelschema, projects, resegment

from .conftest import Browser, add_user, make_app, token_form

PASSWORD = "correct horse"


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def page(response) -> str:
    return response.get_data(as_text=True)


def jsonl(rows) -> bytes:
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode()


@pytest.fixture
def admin(app, browser) -> Browser:
    add_user(app, "root", "admin")
    assert browser.login("root", PASSWORD).status_code == 302
    return browser


@pytest.fixture
def world(app):
    """A project with two articles, two annotators (one label given), a reviewer, and one segmentation correction."""
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, "news")
        ann = accounts.create_user(s, "ann", "annotator", PASSWORD)
        bob = accounts.create_user(s, "bob", "annotator", PASSWORD)
        rev = accounts.create_user(s, "rev", "reviewer", PASSWORD)
        articles.store_articles(s, project, [ArticleRecord("a1", "One", "First one. Second one. Third one."), ArticleRecord("a2", "", "Only.")], "x")
        projects.add_members(s, project.id, [ann, bob, rev])
        assignment.assign_balanced(s, project.id, 2)
        s.commit()
        article = s.scalar(select(Article).where(Article.external_id == "a1"))
        annotations.write(s, lambda: annotations.put_label(s, ann.id, article.id, 0, "CFS"))
        begin_write(s)
        correction = resegment.merge_with_next(s, s.scalar(select(Sentence.id).where(Sentence.article_id == article.id, Sentence.index == 1)), None)
        s.commit()
        accounts.issue_token(s, ann)
        s.commit()
        token = s.scalar(select(ApiToken.id).where(ApiToken.user_id == ann.id))
        return {"project": project.id, "article": article.id, "ann": ann.id, "entry": correction.entry_id, "token": token}


# ----------------------------------------------------------------- roles
def admin_urls(app, world) -> list[tuple[str, str, str]]:
    values = {"project_id": world["project"], "article_id": world["article"], "user_id": world["ann"], "version": 1, "entry_id": world["entry"], "token_id": world["token"]}
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] not in ("admin", "segmentation"):
                continue
            url = app.url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})
            for method in sorted(rule.methods & {"GET", "POST"}):
                out.append((rule.endpoint, method, url))
    return out


def test_every_admin_view_declares_its_roles(app):
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith("admin."):
            assert view.allowed_roles == ("admin",), endpoint
        if endpoint.startswith("segmentation."):
            assert view.allowed_roles == ("admin", "reviewer"), endpoint


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_annotators_and_reviewers_get_403_on_every_admin_page_and_action(app, world, role):
    name = {"annotator": "ann", "reviewer": "rev"}[role]
    client = Browser(app.test_client())
    client.login(name, PASSWORD)
    urls = admin_urls(app, world)
    assert len([u for u in urls if u[0].startswith("admin.")]) >= 25
    before = count(app, Project), count(app, User), count(app, Assignment), count(app, AuditEntry)
    for endpoint, method, url in urls:
        response = client.get(url) if method == "GET" else client.post(url, {"name": "x", "password": "longenough", "per_article": "1"})
        if endpoint.startswith("segmentation.") and role == "reviewer":
            assert response.status_code in (200, 400, 302, 409), (method, url, response.status_code)
        else:
            assert response.status_code == 403, (method, url, response.status_code)
    if role == "annotator":
        assert (count(app, Project), count(app, User), count(app, Assignment), count(app, AuditEntry)) == before


def test_anonymous_users_are_sent_to_log_in(app, world):
    client = Browser(app.test_client())
    for _, method, url in admin_urls(app, world):
        response = client.get(url) if method == "GET" else client.post(url)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login"), (method, url)


def test_a_forms_post_address_opened_with_get_leads_to_the_forms_page(app, admin, world):
    """Found walking the app: a refused form (and an issued API token, a re-balance's result) is shown at the address
    it posted to, and opening that address again (Enter in the address bar, a bookmark) answered 405 "That cannot be
    done at this address". Every admin and segmentation address that takes a POST leads, with GET, to a page that
    opens, and writes nothing."""
    before = count(app, AuditEntry), count(app, ApiToken), count(app, Assignment)
    urls = admin_urls(app, world)
    pages = {endpoint for endpoint, method, _ in urls if method == "GET"}
    posted = {url for endpoint, method, url in urls if method == "POST" and endpoint not in pages}
    assert len(posted) >= 15
    for url in sorted(posted):
        response = admin.client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        page_there = admin.client.get(response.headers["Location"])
        assert page_there.status_code == 200, (url, response.headers["Location"], page_there.status_code)
    assert admin.client.get(f"/admin/users/{world['ann']}/token").headers["Location"] == f"/admin/users/{world['ann']}"
    assert admin.client.get(f"/admin/projects/{world['project']}/rename-label").headers["Location"] == f"/admin/projects/{world['project']}/edit"
    assert (count(app, AuditEntry), count(app, ApiToken), count(app, Assignment)) == before


def test_admin_nav_only_for_admins(app, admin, world):
    assert 'href="/admin/projects"' in page(admin.get("/"))
    other = Browser(app.test_client())
    other.login("rev", PASSWORD)
    assert 'href="/admin/projects"' not in page(other.get("/"))


# ----------------------------------------------------------------- projects
def new_project(admin: Browser, **fields):
    data = {"name": "news", "schema_source": "preset", "preset": "claims", "annotators_per_article": "2", "majority_threshold": "1", **fields}
    return admin.post("/admin/projects/new", data, content_type="multipart/form-data")


def test_the_new_project_forms_schema_hint_shows_how_a_relation_names_the_labels_it_links(app, admin):
    """Found by the admin walk: the hint under the schema box gave "relation_types": [...], saying nothing of the
    "from" and "to" lists that say which span labels a relation links. Its example is now a whole schema that
    pastes as it is (the test creates a project from it), with a relation's from and to, and a line saying what
    they mean."""
    hint = html_unescape(re.search(r'id="schema_json".*?<p class="hint">(.*?)</p>', page(admin.get("/admin/projects/new")), re.S).group(1))
    example = json.loads(hint[hint.index("{"): hint.rindex("}") + 1])
    schema = labelschema.validate(example)
    relation = schema["relation_types"][0]
    assert relation["from"] and relation["to"]
    assert '"from" lists the span labels a link may start at, "to" those it may end at' in hint
    assert new_project(admin, schema_source="paste", schema_json=json.dumps(example)).status_code == 302


def test_an_admins_home_page_offers_a_new_project(app, admin):
    """Found walking the app as a new admin: the page a login lands on listed the projects (the demo's) with no way
    to start one, and with none it sent the admin to the command line; the form is one click away, so it says so."""
    empty = page(admin.get("/"))
    assert 'href="/admin/projects/new"' in empty and "New project above creates one" in empty
    assert new_project(admin).status_code == 302
    assert 'href="/admin/projects/new"' in page(admin.get("/"))
    add_user(app, "rev", "reviewer")
    reviewer = Browser(app.test_client())
    reviewer.login("rev", PASSWORD)
    assert 'href="/admin/projects/new"' not in page(reviewer.get("/"))


def test_create_project_from_preset_shows_labels_with_swatches_and_keys(app, admin):
    response = new_project(admin, preset="fullfact", majority_threshold="0.66", annotators_per_article="3")
    assert response.status_code == 302
    with app.app_context():
        project = db.session.scalar(select(Project))
        assert (project.annotators_per_article, project.majority_threshold) == (3, 0.66)
        assert project.label_schema == labelschema.validate(labelschema.preset("fullfact"))
        assert db.session.scalar(select(func.count()).select_from(GuidelineVersion)) == 1
    html = page(admin.get(response.headers["Location"]))
    assert '<rect width="14" height="14" rx="3" fill="#8c564b"/>' in html  # colour via SVG fill, no style attribute
    assert "<kbd>7</kbd>" in html and "Not a claim." in html
    assert "style=" not in html


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"name": ""}, "This field is required."),
        ({"schema_source": "paste", "schema_json": ""}, "paste the schema JSON here"),
        ({"schema_source": "paste", "schema_json": "{nope"}, "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ({"schema_source": "paste", "schema_json": json.dumps({"sentence_labels": [{"name": "A", "key": "1"}, {"name": "B", "key": "1"}]})},
         "sentence_labels[1].key: duplicate key &#34;1&#34; (also sentence_labels[0] (A))"),
        ({"schema_source": "paste", "schema_json": json.dumps({"sentence_labels": [{"name": "A", "key": "j"}]})}, "is reserved by the annotation page"),
        ({"schema_source": "upload"}, "choose a .json file"),
        ({"preset": "nope"}, "Not a valid choice"),
        ({"annotators_per_article": "0"}, "Number must be between 1 and 50."),
        ({"annotators_per_article": "two"}, "must be a whole number written with the digits 0-9"),
        ({"majority_threshold": "0.5"}, "must be above 0.5 and at most 1"),
        ({"majority_threshold": "1.5"}, "must be above 0.5 and at most 1"),
        # float() read ARABIC-INDIC 0.7 as 0.7 and 0.7_5 as 0.75, as int() did for the whole-number fields
        ({"majority_threshold": "\u0660.\u0667"}, "must be a number written with the digits 0-9 and a point"),
        ({"majority_threshold": "0.7_5"}, "must be a number written with the digits 0-9 and a point"),
        ({"majority_threshold": "nan"}, "must be a number written with the digits 0-9 and a point"),
    ],
)
def test_project_form_errors(app, admin, fields, message):
    response = new_project(admin, **fields)
    assert response.status_code == 400
    assert message in page(response)
    assert count(app, Project) == 0


def test_every_schema_problem_is_listed_on_its_own(app, admin):
    schema = {"sentence_labels": [{"name": "A", "key": "1"}, {"name": "B", "key": "1", "color": "red"}, {"name": "C", "key": "?"}]}
    response = new_project(admin, schema_source="paste", schema_json=json.dumps(schema))
    assert response.status_code == 400
    listed = re.findall(r"<li>(.*?)</li>", page(response).split('id="schema_json-errors"')[1].split("</ul>")[0])
    assert listed == [
        "sentence_labels[1].color: must look like #1f77b4 (got &#34;red&#34;)",
        "sentence_labels[1].key: duplicate key &#34;1&#34; (also sentence_labels[0] (A))",
        "sentence_labels[2].key: &#34;?&#34; is reserved by the annotation page (reserved: ? [ ] a f j k n p u x { })",
    ]
    assert count(app, Project) == 0


def test_uploaded_schema_file_is_named_in_its_error_like_the_cli(app, admin):
    bad = json.dumps({"sentence_labels": [{"name": "A", "key": "1"}, {"name": "B", "key": "1"}]}).encode()
    response = new_project(admin, schema_source="upload", schema_file=(io.BytesIO(bad), "mine.json"))
    assert response.status_code == 400
    assert "mine.json: sentence_labels[1].key: duplicate key &#34;1&#34; (also sentence_labels[0] (A))" in page(response)
    good = json.dumps({"sentence_labels": [{"name": "Claim", "description": "d", "color": "#123456", "key": "c"}]}).encode()
    assert new_project(admin, schema_source="upload", schema_file=(io.BytesIO(good), "mine.json")).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Project.label_schema))["sentence_labels"][0]["name"] == "Claim"


def test_duplicate_project_name_is_refused(app, admin):
    assert new_project(admin).status_code == 302
    response = new_project(admin)
    assert response.status_code == 400 and "project &#39;news&#39; already exists" in page(response)
    assert count(app, Project) == 1


def test_edit_project_keeps_labels_in_use(app, admin, world):
    url = f"/admin/projects/{world['project']}/edit"
    base = {"name": "news", "annotators_per_article": "2", "majority_threshold": "1"}
    response = admin.post(url, {**base, "schema_source": "preset", "preset": "checkthat"}, content_type="multipart/form-data")
    assert response.status_code == 400 and "&#39;CFS&#39; already used in stored work" in page(response)
    schema = labelschema.preset("claims")
    schema["sentence_labels"][0]["color"] = "#000000"
    response = admin.post(url, {**base, "name": "renamed", "schema_source": "paste", "schema_json": json.dumps(schema), "majority_threshold": "0.75"},
                          content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        project = db.session.get(Project, world["project"])
        assert (project.name, project.majority_threshold, project.label_schema["sentence_labels"][0]["color"]) == ("renamed", 0.75, "#000000")
    response = admin.post(url, {**base, "name": "other", "schema_source": "keep"}, content_type="multipart/form-data")
    assert response.status_code == 302


def test_the_edit_form_opens_the_json_box_on_the_current_schema(app, admin, world):
    """Found walking the admin pages: to change one label's description after annotation had started, "Paste JSON"
    opened empty, and the page shows the schema only as tables, so the admin had to write the whole schema again (and
    keep every label in use). The box now holds the current schema ("Edit as JSON"): change it, save."""
    url = f"/admin/projects/{world['project']}/edit"
    html = page(admin.get(url))
    box = re.search(r'<textarea[^>]*name="schema_json"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    with app.app_context():
        current = db.session.get(Project, world["project"]).label_schema
    shown = json.loads(html_unescape(box))
    assert shown == current
    assert re.search(r'value="paste"[^>]*> Edit as JSON', html)
    shown["sentence_labels"][0]["description"] = "A claim worth checking"
    response = admin.post(url, {"name": "news", "annotators_per_article": "2", "majority_threshold": "1", "schema_source": "paste",
                                "schema_json": json.dumps(shown)}, content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Project, world["project"]).label_schema["sentence_labels"][0]["description"] == "A claim worth checking"
    refused = admin.post(url, {"name": "news", "annotators_per_article": "2", "majority_threshold": "1", "schema_source": "paste",
                               "schema_json": "{nope"}, content_type="multipart/form-data")
    assert refused.status_code == 400 and "{nope</textarea>" in page(refused)  # a refused edit keeps what was typed


def test_a_schema_edit_names_every_label_and_value_in_use_it_drops_at_once(app, world):
    """Dropping a sentence label and an article label's value that stored work uses: the refusal named the label only,
    and the value only once the label was put back."""
    from .test_article_labels import schema_with_groups

    with app.app_context():
        s = db.session
        begin_write(s)
        project = s.get(Project, world["project"])
        projects.update_project(s, project, schema=schema_with_groups())
        s.commit()
        ann = accounts.get_user(s, "ann")
        annotations.write(s, lambda: annotations.put_article_label(s, ann.id, world["article"], "stance", ["oppose"]))
        schema = schema_with_groups()
        schema["sentence_labels"] = [label for label in schema["sentence_labels"] if label["name"] != "CFS"]
        schema["article_labels"][0]["values"] = ["support", "neutral"]
        begin_write(s)
        with pytest.raises(projects.ProjectError) as refused:
            projects.update_project(s, project, schema=schema)
        s.rollback()
        assert "'CFS' already used in stored work" in str(refused.value)
        assert "group 'stance': value 'oppose' already used in stored work" in str(refused.value)
        assert "\n" not in str(refused.value)  # one line, for the command line too
        assert s.get(Project, world["project"]).label_schema == labelschema.validate(schema_with_groups())  # unchanged


def test_the_edit_form_turns_suggestions_on_and_off(app, admin, world):
    """Off by default; the checkbox turns them on (the annotation page is then told where to fetch them) and off again.
    Without the CSRF token, or from another role, nothing changes."""
    url = f"/admin/projects/{world['project']}/edit"
    base = {"name": "news", "annotators_per_article": "2", "majority_threshold": "1", "schema_source": "keep"}

    def enabled() -> bool:
        with app.app_context():
            return db.session.scalar(select(Project.suggestions_enabled).where(Project.id == world["project"]))

    def box() -> str:
        return re.search(r'<input[^>]*name="suggestions_enabled"[^>]*>', page(admin.get(url))).group(0)

    assert 'type="checkbox"' in box() and "checked" not in box()
    assert not enabled() and "Suggestions: off" in page(admin.get(f"/admin/projects/{world['project']}"))
    refused = admin.client.post(url, data={**base, "suggestions_enabled": "y"}, content_type="multipart/form-data")  # no CSRF token
    assert refused.status_code == 400 and not enabled()
    annotator = Browser(app.test_client())
    annotator.login("ann", PASSWORD)
    assert annotator.post(url, {**base, "suggestions_enabled": "y"}, content_type="multipart/form-data").status_code == 403 and not enabled()
    assert "data-suggestions-url" not in page(annotator.get(f"/annotate/{world['article']}"))

    assert admin.post(url, {**base, "suggestions_enabled": "y"}, content_type="multipart/form-data").status_code == 302
    assert enabled() and "Suggestions: shown to annotators" in page(admin.get(f"/admin/projects/{world['project']}"))
    assert "checked" in box()
    assert f'data-suggestions-url="/api/articles/{world["article"]}/suggestions"' in page(annotator.get(f"/annotate/{world['article']}"))
    assert annotator.client.get(f"/api/articles/{world['article']}/suggestions").get_json()["enabled"] is True

    assert admin.post(url, base, content_type="multipart/form-data").status_code == 302  # the box left unticked
    assert not enabled()
    assert annotator.client.get(f"/api/articles/{world['article']}/suggestions").get_json() == {
        "enabled": False, "labels": [], "spans": [], "relations": [], "linked_spans": []}


# ----------------------------------------------------------------- guidelines
def test_guidelines_versions_preview_and_notice(app, admin, world):
    url = f"/admin/projects/{world['project']}/guidelines"
    admin.get(url)
    response = admin.post(url, {"text": "# Rules\n\n<script>alert(1)</script> **bold**", "base_version": "1", "action": "preview"})
    assert response.status_code == 200
    html = page(response)
    assert "<strong>bold</strong>" in html and "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert count(app, GuidelineVersion) == 1  # a preview saves nothing

    response = admin.send_json("POST", url + "/preview", {"text": "[x](javascript:alert(1)) *hi*"})
    assert response.status_code == 200
    assert "<em>hi</em>" in response.json["html"] and "href" not in response.json["html"]
    assert admin.send_json("POST", url + "/preview", {"text": 5}).status_code == 400
    assert app.test_client().post(url + "/preview", json={"text": "x"}).status_code == 400  # no CSRF token

    with app.app_context():
        assert guidelines.guidelines_notice(db.session, world["ann"], world["project"]) is None
    assert admin.post(url, {"text": "# Rules v2", "base_version": "1", "action": "save"}).status_code == 302
    assert "Saved as version 2" in page(admin.get(url))
    response = admin.post(url, {"text": "# Rules v2 from a stale tab", "base_version": "1", "action": "save"})
    assert response.status_code == 409 and "Someone saved version 2" in page(response)
    assert admin.post(url, {"text": "# Rules v3", "base_version": "2", "action": "save"}).status_code == 302
    with app.app_context():
        assert db.session.get(Project, world["project"]).guidelines_version == 3
        assert db.session.scalars(select(GuidelineVersion.text).order_by(GuidelineVersion.version)).all() == ["", "# Rules v2", "# Rules v3"]
        notice = guidelines.guidelines_notice(db.session, world["ann"], world["project"])
        assert notice["last_version"] == 1 and notice["current_version"] == 3
        assert guidelines.guidelines_notice(db.session, world["ann"] + 1, world["project"]) is None  # bob has not labelled
    assert "<h1>Rules v2</h1>" in page(admin.get(url + "/v2"))
    assert admin.get(url + "/v9").status_code == 404
    listing = page(admin.get(url + "/labels"))
    assert "1 label made under a version older than 3" in listing and "CFS" in listing and "ann" in listing
    assert "0 labels made under version 2" in page(admin.get(url + "/labels?version=2"))
    assert admin.get(url + "/labels?version=7").status_code == 404


def test_the_older_labels_link_shows_only_once_a_label_was_made_under_an_older_version(admin, world):
    """Found by the walk helper: with every label made under the current version the link led to an empty page."""
    url = f"/admin/projects/{world['project']}/guidelines"
    assert 'id="older-labels"' not in page(admin.get(url))  # world's label was made under version 1, the current one
    assert admin.post(url, {"text": "# Rules v2", "base_version": "1", "action": "save"}).status_code == 302
    assert 'id="older-labels"' in page(admin.get(url))


@pytest.mark.parametrize("letter", ["ж", "😀"], ids=["cyrillic", "emoji"])
def test_guidelines_of_200000_characters_of_any_script_save_and_preview(app, admin, world, letter):
    """Found by the admin walk: the form is urlencoded, each UTF-8 byte %XX on the wire, and was held to the 500 kB
    limit of every form, so 100,000 Cyrillic letters were a 413 on save. The guidelines' views size their limit from
    the field's own maximum: 200,000 characters of any script (an emoji is 4 bytes, 12 on the wire) save and preview,
    and one more is refused with the form's own message, not a 413."""
    url = f"/admin/projects/{world['project']}/guidelines"
    admin.get(url)
    text = letter * 200_000
    response = admin.post(url, {"text": text, "base_version": "1", "action": "preview"})
    assert response.status_code == 200 and text in page(response)
    response = admin.send_json("POST", url + "/preview", {"text": text})  # \ud83d\ude00 escapes: 12 bytes a character
    assert response.status_code == 200 and text in response.json["html"]
    assert admin.post(url, {"text": text, "base_version": "1", "action": "save"}).status_code == 302
    with app.app_context():
        assert db.session.get(Project, world["project"]).guidelines == text
    response = admin.post(url, {"text": text + letter, "base_version": "2", "action": "save"})
    assert response.status_code == 400 and "The guidelines may be at most 200,000 characters (this text has 200,001)." in page(response)
    response = admin.send_json("POST", url + "/preview", {"text": text + letter})
    assert response.status_code == 400 and "at most 200,000 characters" in response.json["error"]
    assert count(app, GuidelineVersion) == 2


def test_guidelines_count_a_browsers_crlf_as_one_line_break(app, admin, world):
    """A browser sends each line break of a textarea as CRLF: 200,000 characters typed, with 2,500 line breaks, came
    as 202,500 and were refused (tests/test_guidelines_browser.py shows it in Chromium). A CRLF counts once."""
    url = f"/admin/projects/{world['project']}/guidelines"
    typed = ("ж" * 79 + "\n") * 2_500
    assert len(typed) == 200_000
    assert admin.post(url, {"text": typed.replace("\n", "\r\n"), "base_version": "1", "action": "save"}).status_code == 302
    response = admin.post(url, {"text": typed.replace("\n", "\r\n") + "x", "base_version": "2", "action": "save"})
    assert response.status_code == 400 and "(this text has 200,001)" in page(response)


def test_other_forms_keep_the_limit_of_a_form(app, admin):
    """The guidelines' larger limit is theirs alone: another admin form past 500 kB is still a 413."""
    response = admin.post("/admin/users", {"name": "x", "role": "annotator", "password": "p" * 600_000})
    assert response.status_code == 413 and "500 kB" in page(response)


def test_counts_on_the_web_pages_are_worded_singular_or_plural_never_with_s_in_brackets(app, admin, world):
    """Found by the admin walk: a flash and the account history said "1 API token(s) revoked". Every count the pages
    word says "1 token" and "2 tokens" (wording.counted); no template or view writes "(s)" after a word."""
    import pathlib

    from annotator.domain import account_log

    root = pathlib.Path(__file__).resolve().parent.parent
    sources = [*(root / "templates").rglob("*.html"), *(root / "annotator" / "web").rglob("*.py"), root / "annotator" / "domain" / "account_log.py"]
    bracketed = [f"{path.relative_to(root)}:{n}" for path in sources for n, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"[a-z]\(s\)(?!\s*(?:-?%\}|\}\}|$))", line) and not line.lstrip().startswith("#")]  # not a call: span_text(s) }}
    assert bracketed == []
    assert account_log.describe("deactivate", None, {"tokens_revoked": 1}) == "deactivated; 1 API token revoked"
    assert account_log.describe("deactivate", None, {"tokens_revoked": 3}) == "deactivated; 3 API tokens revoked"
    assert account_log.describe("token_revoke", None, {"token_ids": [4]}) == "API token 4 revoked"
    assert account_log.describe("token_revoke", None, {"token_ids": [4, 5]}) == "API tokens 4, 5 revoked"
    assert admin.post(f"/admin/users/{world['ann']}/deactivate").status_code == 302
    assert "deactivated; 1 API token revoked" in page(admin.get(f"/admin/users/{world['ann']}"))


# ----------------------------------------------------------------- users
def test_a_new_projects_first_saved_guidelines_are_version_1(app, admin):
    assert new_project(admin).status_code == 302
    with app.app_context():
        pid = db.session.scalar(select(Project.id))
    url = f"/admin/projects/{pid}/guidelines"
    html = page(admin.get(url))
    assert "No guidelines yet" in html and "current: version" not in html and ">v1<" not in html  # nothing saved: no version to show
    assert admin.post(url, {"text": "# Rules", "base_version": "1", "action": "save"}).status_code == 302
    saved = page(admin.get(url))
    assert "Saved as version 1." in saved and "will see a notice" not in saved  # no label was made under an older version
    with app.app_context():
        assert db.session.get(Project, pid).guidelines_version == 1
        assert db.session.execute(select(GuidelineVersion.version, GuidelineVersion.text)).all() == [(1, "# Rules")]
    assert admin.post(url, {"text": "# Rules, again", "base_version": "1", "action": "save"}).status_code == 302
    assert "Saved as version 2" in page(admin.get(url))
    with app.app_context():
        assert db.session.scalars(select(GuidelineVersion.text).order_by(GuidelineVersion.version)).all() == ["# Rules", "# Rules, again"]


def test_guidelines_page_says_which_version_the_first_save_will_be_once_labels_were_made_without_any(app, admin, world):
    """ann labelled before the project had guidelines (under its empty version 1). The page said "the first ones
    saved are version 1" while its table listed that v1, and the save became version 2. A label keeps the version it
    was made under, so the first guidelines are version 2 (they must not claim labels made without them): the page
    now says so, and ann's notice says her labels were made when there were none."""
    url = f"/admin/projects/{world['project']}/guidelines"
    html = page(admin.get(url))
    assert "the first ones saved are version 1" not in html
    assert "the first ones saved will be version 2" in html and ">v1<" in html
    assert admin.post(url, {"text": "# Rules", "base_version": "1", "action": "save"}).status_code == 302
    assert "Saved as version 2. Annotators who labelled under an older version will see a notice." in page(admin.get(url))
    ann = Browser(app.test_client())
    ann.login("ann", PASSWORD)
    notice = re.search(r'id="guidelines-notice"[^>]*>(.*?)</p>', page(ann.get(f"/annotate/{world['article']}")), re.S).group(1)
    assert "before there were any guidelines" in notice and "version 2" in notice


def test_an_article_label_made_without_guidelines_keeps_the_first_saved_ones_at_version_2(app, world):
    """Article labels record their guidelines version as sentence labels do: the empty version 1 is no placeholder then."""
    from sqlalchemy import delete

    from annotator.db.models import Annotation, ArticleLabel

    with app.app_context():
        s = db.session
        project = s.get(Project, world["project"])
        s.execute(delete(Annotation))
        s.add(ArticleLabel(article_id=world["article"], user_id=world["ann"], group="topic", values=["x"], guidelines_version=1))
        s.commit()
        assert projects.set_guidelines(s, project, "# Rules") == 2
        s.rollback()


def test_guidelines_preview_without_script_hides_the_editor_and_offers_edit(app, admin, world):
    url = f"/admin/projects/{world['project']}/guidelines"
    admin.get(url)
    html = page(admin.post(url, {"text": "# Draft **rules**", "base_version": "1", "action": "preview"}))
    editor = re.search(r"<textarea[^>]*>", html).group(0)
    assert " hidden" in editor  # the preview takes the editor's place; the text is still sent on save
    assert "# Draft **rules**" in html and "<strong>rules</strong>" in html
    assert re.findall(r">\s*(Preview|Edit)\s*</button>", html) == ["Edit"]  # one control, now back to editing
    html = page(admin.post(url, {"text": "# Draft **rules**", "base_version": "1", "action": "edit"}))
    assert " hidden" not in re.search(r"<textarea[^>]*>", html).group(0)
    assert re.findall(r">\s*(Preview|Edit)\s*</button>", html) == ["Preview"]
    assert count(app, GuidelineVersion) == 1


def test_user_form_errors(app, admin):
    for fields, message in [
        ({"name": "bad name", "role": "annotator", "password": "longenough"}, "user name must be"),
        ({"name": "ok", "role": "annotator", "password": "short"}, "A password needs at least 8 characters."),
        ({"name": "ok", "role": "annotator", "password": "x" * 1025}, "A password may have at most 1,024 characters."),
        ({"name": "ok", "role": "boss", "password": "longenough"}, "Not a valid choice"),
        ({"name": "root", "role": "annotator", "password": "longenough"}, "user &#39;root&#39; already exists"),
    ]:
        response = admin.post("/admin/users", fields)
        assert response.status_code == 400 and message in page(response), fields
    assert count(app, User) == 1


def _issue_key(html: str) -> str:
    return re.search(r'name="issue_key"[^>]*value="([^"]+)"', html).group(1)


def _session_cookie(app, admin) -> dict:
    cookie = admin.client.get_cookie("session")
    return dict(app.session_interface.get_signing_serializer(app).loads(cookie.value)) if cookie else {}


def test_a_new_token_is_shown_once_and_never_kept_in_a_cookie(app, admin):
    """A token is the POST's own answer, never stored in the session: the signed session cookie is readable by its
    holder and replayable, so a token handed to a next page through it was shown again to anyone replaying the cookie
    kept from before that page (found after the last stop). The form carries a one-use issue key: sending it again
    (a reload of the answer, a double click, a replayed request) issues no second token and shows none."""
    uid = add_user(app, "carol")
    base = f"/admin/users/{uid}"
    key = _issue_key(page(admin.get(base)))
    response = admin.post(base + "/token", {"expires_days": "5", "issue_key": key})
    shown = page(response)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    token = re.search(r'<pre class="token" id="token">([^<]+)</pre>', shown).group(1)
    assert "It stops working after 5 days." in shown
    assert token not in json.dumps(_session_cookie(app, admin)) and token not in str(response.headers)
    with app.app_context():
        assert accounts.user_for_token(db.session, token).name == "carol"
    again = admin.post(base + "/token", {"expires_days": "5", "issue_key": key})
    assert again.status_code == 409 and 'id="token"' not in page(again) and token not in page(again)
    assert "was shown once" in page(again)
    assert count(app, ApiToken, ApiToken.user_id == uid) == 1
    fresh = _issue_key(page(admin.get(base)))  # the user's page gives a new key: another token is one more click
    assert fresh != key and re.search(r'id="token">ann_', page(admin.post(base + "/token", {"issue_key": fresh})))
    assert count(app, ApiToken, ApiToken.user_id == uid) == 2
    other = add_user(app, "dave")  # a key used for carol issues nothing for dave either
    assert admin.post(f"/admin/users/{other}/token", {"issue_key": fresh}).status_code == 409
    for bad in ("", "short", "x" * 200, "not a key!"):
        assert admin.post(base + "/token", {"issue_key": bad}).status_code == 400, bad
    assert count(app, ApiToken) == 2


def test_the_token_form_sent_twice_at_once_issues_one_token(app, admin):
    """A double click sends the form twice at once: the second waits for the user's lock and finds the first's key."""
    from concurrent.futures import ThreadPoolExecutor

    uid = add_user(app, "carol")
    fields = {"issue_key": _issue_key(page(admin.get(f"/admin/users/{uid}"))), "csrf_token": admin.csrf()}
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: admin.client.post(f"/admin/users/{uid}/token", data=fields), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert count(app, ApiToken, ApiToken.user_id == uid) == 1


def test_user_lifecycle(app, admin):
    assert admin.post("/admin/users", {"name": "carol", "role": "annotator", "password": "longenough"}).status_code == 302
    with app.app_context():
        uid = accounts.get_user(db.session, "carol").id
    base = f"/admin/users/{uid}"
    response = admin.post(base + "/token", {"issue_key": _issue_key(page(admin.get(base)))})
    token = re.search(r'<pre class="token" id="token">([^<]+)</pre>', page(response)).group(1)
    assert token.startswith("ann_")
    assert token not in page(admin.get(base))  # shown once only
    with app.app_context():
        assert accounts.user_for_token(db.session, token).name == "carol"
    assert admin.post(base + "/revoke").status_code == 302
    with app.app_context():
        assert accounts.user_for_token(db.session, token) is None
    for short_or_long, words in (("short", "A password needs at least 8 characters."), ("x" * 1025, "A password may have at most 1,024 characters.")):
        response = admin.post(base + "/password", {"password": short_or_long})  # the reset says it in the app's words too
        assert response.status_code == 400 and words in page(response) and "Field must be" not in page(response)
    assert admin.post(base + "/password", {"password": "a new password"}).status_code == 302
    assert Browser(app.test_client()).login("carol", "a new password").status_code == 302
    assert admin.post(base + "/role", {"role": "reviewer"}).status_code == 302
    assert admin.post(base + "/role", {"role": "king"}).status_code == 400
    admin.post(base + "/token", token_form())
    assert admin.post(base + "/deactivate").status_code == 302
    with app.app_context():
        user = db.session.get(User, uid)
        assert not user.active and user.role == "reviewer"
        assert db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == uid, ApiToken.revoked_at.is_(None))) == 0
    assert Browser(app.test_client()).login("carol", "a new password").status_code == 403
    assert admin.post(base + "/token", token_form()).status_code == 409
    assert admin.post(base + "/activate").status_code == 302
    assert Browser(app.test_client()).login("carol", "a new password").status_code == 302


def test_the_last_admin_cannot_be_removed(app, admin):
    with app.app_context():
        uid = accounts.get_user(db.session, "root").id
    for action, data in (("deactivate", {}), ("role", {"role": "annotator"})):
        response = admin.post(f"/admin/users/{uid}/{action}", data)
        assert response.status_code == 409
        assert "last active admin" in page(response)
    with app.app_context():
        root = db.session.get(User, uid)
        assert root.active and root.role == "admin"
    assert admin.post(f"/admin/users/{uid}/deactivate", {"csrf_token": "forged"}).status_code == 400


# ----------------------------------------------------------------- upload
def upload(admin: Browser, project_id: int, *files, on_duplicate="error"):
    data = {"files": [(io.BytesIO(content), name) for name, content in files], "on_duplicate": on_duplicate}
    return admin.post(f"/admin/projects/{project_id}/upload", data, content_type="multipart/form-data")


def test_upload_reports_imported_skipped_and_rejected(app, admin):
    new_project(admin)
    with app.app_context():
        pid = db.session.scalar(select(Project.id))
    rows = [{"id": f"a{i}", "text": f"Sentence {i}. Another."} for i in range(1, 6)]
    broken = jsonl(rows).decode().splitlines()
    broken[2] = '{"id": "a3", "text": '
    response = upload(admin, pid, ("broken.jsonl", "\n".join(broken).encode()), ("good.csv", b"id,title,text\nc1,T,Body one.\n"))
    html = page(response)
    assert response.status_code == 200
    assert "broken.jsonl:3: invalid JSON" in html and "Rejected, nothing stored" in html
    assert "Imported 1 new, 0 updated, 0 skipped; 1 file rejected." in html
    assert count(app, Article, Article.external_id.like("a%")) == 0 and count(app, Article) == 1
    assert "c1" in html

    response = upload(admin, pid, ("more.jsonl", jsonl([{"id": "c1", "text": "Body one."}, {"id": "n1", "text": "New."}])))
    assert "already exists in project" in page(response) and "more.jsonl:1" in page(response)
    assert "on the upload page" in page(response)  # the message names this page's setting, not only the CLI's flag
    response = upload(admin, pid, ("more.jsonl", jsonl([{"id": "c1", "text": "Body one."}, {"id": "n1", "text": "New."}])), on_duplicate="skip")
    assert "Imported 1 new, 0 updated, 1 skipped; 0 files rejected." in page(response)
    assert "skipped (already in the project):</strong> c1" in page(response)
    response = upload(admin, pid, ("notes.docx", b"PK"), ("latin.txt", "Café".encode("latin-1")))
    assert response.status_code == 422  # every file refused: the status says so, as the CLI's exit code does
    assert "Imported 0 new, 0 updated, 0 skipped; 2 files rejected." in page(response)
    response = upload(admin, pid, ("notes.docx", b"PK"), ("latin.txt", "Café".encode("latin-1")), ("story.txt", b"Headline\nBody."))
    assert response.status_code == 200
    html = page(response)
    assert "notes.docx: unknown format &#39;.docx&#39;" in html and "latin.txt:1: not UTF-8" in html
    assert count(app, Article, Article.external_id == "story") == 1


@pytest.mark.parametrize("name, reason", [
    ("a" * 300 + ".txt", "must be 1 to 255 characters"),  # stored on SQLite past the column's 255; PostgreSQL refused it
    (" .txt", "must be 1 to 255 characters"),  # an id of one space
    ("\t.txt", "must be 1 to 255 characters"),
])
def test_a_txt_files_name_is_held_to_the_rules_of_an_article_id(app, admin, name, reason):
    """A .txt file's name is its article's id, which is 1 to 255 characters with its ends stripped, as a JSONL or CSV id
    is: a browser sends any file name, and an id of 300 characters, or of one space, was stored as it came."""
    new_project(admin)
    with app.app_context():
        pid = db.session.scalar(select(Project.id))
    response = upload(admin, pid, (name, b"Headline\nBody."))
    assert response.status_code == 422, page(response)
    assert f"the file's name, the article's id, {reason}" in html_unescape(page(response))
    assert count(app, Article) == 0
    response = upload(admin, pid, ("  spaced  .txt", b"Headline\nBody."))
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalars(select(Article.external_id)).all() == ["spaced"]


def test_an_upload_that_imported_nothing_offers_to_fix_and_upload_again_not_to_assign(app, admin):
    """Found by the admin walk: with every line of every file refused, the result page still offered "Assign the
    articles" as the next step. It says nothing was imported and leads back to the upload form; an upload that
    imported something still offers to assign."""
    new_project(admin)
    with app.app_context():
        pid = db.session.scalar(select(Project.id))
    assign = f'href="/admin/projects/{pid}/assignments"'
    response = upload(admin, pid, ("bad.jsonl", b'{"id": "x1"}\n{"text": "No id."}\nnot json\n'))
    html = page(response)
    assert response.status_code == 422 and count(app, Article) == 0
    assert "Nothing was imported: fix the files named above and upload them again." in html
    assert re.search(rf'<a href="/admin/projects/{pid}/upload"[^>]*>Upload the fixed files</a>', html)
    assert assign not in html.split('id="upload-summary"')[1]  # the project's tabs link there; the next step does not
    response = upload(admin, pid, ("bad.jsonl", b"not json\n"), ("good.jsonl", b'{"id": "g1", "text": "Fine."}\n'))
    html = page(response)
    assert response.status_code == 200 and "Nothing was imported" not in html
    assert assign in html.split('id="upload-summary"')[1]


def test_upload_refuses_a_csv_row_of_fewer_cells_than_the_header_naming_both_counts(app, admin):
    """As the CLI: a short row said "missing 'text'" of a file whose header has 'text'."""
    new_project(admin)
    with app.app_context():
        pid = db.session.scalar(select(Project.id))
    response = upload(admin, pid, ("short.csv", b"id,title,text\nc1,T,Body.\nc2,Only a title\n"))
    assert response.status_code == 422
    html = page(response)
    assert "short.csv:3: the row has 2 cells where the header has 3" in html and "missing" not in html
    assert count(app, Article) == 0


@pytest.mark.parametrize("fields, message", [({"files": []}, "choose at least one file"), ({"on_duplicate": "merge"}, "Not a valid choice")])
def test_upload_form_errors(app, admin, fields, message):
    new_project(admin)
    data = {"files": [(io.BytesIO(b'{"text": "x."}'), "a.jsonl")], "on_duplicate": "error", **fields}
    response = admin.post("/admin/projects/1/upload", data, content_type="multipart/form-data")
    assert response.status_code == 400 and message in page(response)
    assert count(app, Article) == 0


def test_upload_past_the_size_limit_gets_a_clear_413(database_uri):
    small = make_app(database_uri, MAX_CONTENT_LENGTH=4096)
    try:
        add_user(small, "root", "admin")
        client = Browser(small.test_client())
        client.login("root", PASSWORD)
        new_project(client)
        response = upload(client, 1, ("big.jsonl", jsonl([{"id": "x", "text": "word " * 2000}])))
        assert response.status_code == 413
        assert "larger than the limit of 4096 bytes" in page(response)
        assert count(small, Article) == 0
    finally:
        with small.app_context():
            db.session.remove()
            db.engine.dispose()


# ----------------------------------------------------------------- assignment
def test_balance_rebalance_and_by_hand(app, admin, world):
    pid, aid = world["project"], world["article"]
    base = f"/admin/projects/{pid}/assignments"
    assert admin.post(base + "/balance", {"per_article": "0"}).status_code == 400
    assert admin.post(base + "/balance", {"per_article": "x"}).status_code == 400
    response = admin.post(base + "/balance", {"per_article": "3"})
    assert response.status_code == 302
    html = page(admin.get(base))
    assert "0 new assignments" in html and "2 articles have fewer than 3" in html
    with app.app_context():
        assert db.session.get(Project, pid).annotators_per_article == 3
        bob = accounts.get_user(db.session, "bob").id
        dan = accounts.create_user(db.session, "dan", "annotator", PASSWORD).id
        db.session.commit()
    assert admin.post(f"/admin/projects/{pid}/members", {"users": [str(dan)]}).status_code == 302  # dan joins the project
    admin.post(f"/admin/users/{bob}/deactivate")
    response = admin.post(base + "/rebalance")
    html = page(response)
    assert response.status_code == 200 and "Re-balanced: 2 unstarted assignments of annotators who left the project or were deactivated removed" in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment).where(Assignment.user_id == bob)) == 0
        assert db.session.scalar(select(func.count()).select_from(Assignment).where(Assignment.user_id == dan)) == 2

    url = f"/admin/projects/{pid}/articles/{aid}/annotators"
    assert "ann" in page(admin.get(url))
    assert admin.post(url, {"annotators": [str(bob)]}).status_code == 400  # deactivated: not a choice
    response = admin.post(url, {"annotators": [str(dan)]})
    assert response.status_code == 302
    follow = page(admin.get(url))
    assert "Kept ann: they have already started" in follow
    with app.app_context():
        names = set(db.session.scalars(select(User.name).join(Assignment, Assignment.user_id == User.id).where(Assignment.article_id == aid)))
        assert names == {"ann", "dan"}
    assert admin.get(f"/admin/projects/{pid}/articles/999999/annotators").status_code == 404


def test_members_add_with_nobody_chosen_says_so_and_with_nobody_to_choose_offers_no_add(app, admin, world):
    """Found by the admin walk: Add pressed with nobody ticked, or with nobody left to tick (every annotator and
    reviewer a member already, where the page still showed Add), both answered "tick at least one person to add".
    With nobody to add the page offers no Add button (no script needed) and a post says why; with people to add and
    none ticked, the message says what to do."""
    url = f"/admin/projects/{world['project']}/members"
    form = re.search(r'(?s)<form method="post" id="add-members-form".*?</form>', page(admin.get(url))).group(0)
    assert "Every annotator and reviewer is a member already" in form and "<button" not in form
    before = count(app, ProjectMember)
    response = admin.post(url, {})
    assert response.status_code == 400 and "Nobody can be added: every annotator and reviewer is a member already." in page(response)
    assert "tick at least one" not in page(response).lower()
    add_user(app, "zed")
    form = re.search(r'(?s)<form method="post" id="add-members-form".*?</form>', page(admin.get(url))).group(0)
    assert re.search(r'<button type="submit" class="primary">Add</button>', form)
    response = admin.post(url, {})
    assert response.status_code == 400 and "Tick at least one person to add, then press Add." in page(response)
    assert count(app, ProjectMember) == before


def test_members_page_adds_and_removes_members_and_reviewers_open_only_their_projects(app, admin, world):
    pid = world["project"]
    with app.app_context():
        s = db.session
        sport = projects.create_project(s, "sport").id
        carol = accounts.create_user(s, "carol", "annotator", PASSWORD).id
        ids = {name: accounts.get_user(s, name).id for name in ("ann", "bob", "rev", "root")}
        s.commit()
    url = f"/admin/projects/{pid}/members"
    html = page(admin.get(url))
    members = html.split('id="members"')[1].split("</table>")[0]
    assert all(name in members for name in ("ann", "bob", "rev")) and "carol" not in members
    assert 'href="/admin/projects/%d/members"' % pid in page(admin.get(f"/admin/projects/{pid}"))  # a tab of the project pages
    # add: only annotators and reviewers who are not members yet are choices
    before = count(app, ProjectMember)
    for bad in ([str(ids["root"])], [str(ids["ann"])], ["999999"], ["x"], []):
        response = admin.post(url, {"users": bad})
        assert response.status_code == 400, bad
    assert count(app, ProjectMember) == before
    response = admin.post(url, {"users": [str(carol)]})
    assert response.status_code == 302
    assert "Added carol" in page(admin.get(url))
    # remove: bob's assignments stay until a re-balance, which the message offers
    response = admin.post(f"{url}/{ids['bob']}/remove")
    assert response.status_code == 302
    html = page(admin.get(url))
    assert "Removed bob" in html and "Re-balance" in html
    with app.app_context():
        assert [u.name for u in projects.members(db.session, pid)] == ["ann", "carol", "rev"]
    assert admin.post(f"{url}/{ids['bob']}/remove").status_code == 409  # not a member any more
    assert admin.post(f"/admin/projects/{sport}/members/{ids['rev']}/remove").status_code == 409
    assert admin.get("/admin/projects/999999/members").status_code == 404

    # the reviewer sees news, not sport; admins see both
    reviewer = Browser(app.test_client())
    reviewer.login("rev", PASSWORD)
    for path in ("/", "/review/"):
        html = page(reviewer.get(path))
        assert "news" in html and "sport" not in html, path
    for path in (f"/review/{sport}/agreement", f"/review/{sport}/queue", f"/projects/{sport}/export.jsonl", f"/segmentation/projects/{sport}"):
        response = reviewer.get(path)
        assert response.status_code == 403 and "not one of your projects" in page(response), path
        assert admin.get(path).status_code == 200, path
    assert reviewer.get(f"/review/{pid}/queue").status_code == 200
    # taken off news, the reviewer is refused there too, and told whom to ask
    assert admin.post(f"{url}/{ids['rev']}/remove").status_code == 302
    for path in (f"/review/{pid}/queue", f"/projects/{pid}/export.jsonl", f"/segmentation/articles/{world['article']}"):
        assert reviewer.get(path).status_code == 403, path
    assert "You are not a reviewer of any project yet" in page(reviewer.get("/review/"))


def test_balance_without_annotators_says_what_to_do_on_the_web(app, admin):
    """Was a 409 page left on .../assignments/balance, showing a command whose project name was not quoted
    (`annotator projects members Rent news --add NAME ...`): now back on the assignments page, as Re-balance
    does, with the Members page linked and no command to copy."""
    new_project(admin, name="Rent news")
    response = admin.post("/admin/projects/1/assignments/balance", {"per_article": "3"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/projects/1/assignments"
    html = page(admin.get("/admin/projects/1/assignments"))
    flashed = re.search(r'<p class="flash flash-error"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "Rent news has no active annotators" in flashed and '<a href="/admin/projects/1/members">Members page</a>' in flashed
    assert "annotator projects" not in flashed
    with app.app_context():
        assert db.session.get(Project, 1).annotators_per_article == 2  # the refused balance stored nothing


def test_balance_without_annotators_on_the_command_line_quotes_the_name(app):
    with app.app_context():
        project = projects.create_project(db.session, "Rent news")
        with pytest.raises(assignment.NoAnnotators) as refused:
            assignment.assign_balanced(db.session, project.id, 1)
        db.session.rollback()
    assert "`annotator projects members 'Rent news' --add NAME ...`" in str(refused.value)


# ----------------------------------------------------------------- progress
def test_progress_counts_and_chart(app, admin, world):
    url = f"/admin/projects/{world['project']}/progress"
    html = page(admin.get(url))
    assert 'id="labels-chart"' in html and 'data-count="1"' in html
    assert re.search(r'data-user="ann">.*?class="num labelled" data-label="Sentences labelled">1 / \d+<', html, re.S)
    overview = page(admin.get(f"/admin/projects/{world['project']}"))
    assert 'id="count-labels">1<' in overview and 'id="distribution"' in overview
    assert "/review/" in overview  # the agreement slot names where the reviewer pages will be


def test_the_progress_charts_caption_names_no_line_on_the_first_day(app, admin, world):
    """Found walking a new project: on its first day of labels the chart is one bar, and a running total of one point
    draws nothing, yet the caption said "line: running total (36)" under a chart with no line. It gives the total."""
    html = page(admin.get(f"/admin/projects/{world['project']}/progress"))
    caption = re.search(r'id="labels-chart-caption">([^<]*)<', html).group(1)
    assert caption == "max 1 / day · 1 in all"


# ----------------------------------------------------------------- the admin lists, a page at a time
def test_admin_lists_page_through_the_articles_and_past_the_end_show_the_last_page(app, admin, world):
    """Progress and assignment list 50 articles a page, segmentation 100; a page past the last shows the last
    (the labels-by-version list shows none there); the sentence counts belong to the page's own articles."""
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    with app.app_context():
        begin_write(db.session)
        project = projects.create_project(db.session, "long list")
        records = [ArticleRecord(f"art-{i:03d}", "", "One sentence. " * (1 + i % 3)) for i in range(130)]
        articles.store_articles(db.session, project, records, "many.jsonl")
        db.session.commit()
        pid = project.id

    def shown(url: str) -> list[str]:
        response = admin.get(url)
        assert response.status_code == 200, url
        return re.findall(r">(art-\d{3})<", page(response))

    every = [f"art-{i:03d}" for i in range(130)]
    for path, per_page in ((f"/admin/projects/{pid}/progress", 50), (f"/admin/projects/{pid}/assignments", 50),
                           (f"/segmentation/projects/{pid}", 100)):
        pages = [shown(f"{path}?page={n}") for n in range(1, -(-130 // per_page) + 1)]
        assert [a for p in pages for a in dict.fromkeys(p)] == every, path
        assert shown(path) == pages[0] and shown(f"{path}?page=0") == pages[0]
        assert shown(f"{path}?page=999") == pages[-1] and shown(f"{path}?page={10**30}") == pages[-1], path
    rows = re.findall(r">(art-\d{3})</a></td><td class=\"whole\"></td><td class=\"num\" data-label=\"Sentences\">(\d+)<", page(admin.get(f"/segmentation/projects/{pid}?page=2")))
    assert rows == [(f"art-{i:03d}", str(1 + i % 3)) for i in range(100, 130)]

    labels = f"/admin/projects/{world['project']}/guidelines/labels?version=1"
    assert re.search(r'id="old-labels"', page(admin.get(labels)))
    past = page(admin.get(labels + "&page=2"))
    assert 'id="old-labels"' not in past and 'id="label-total">1 label ' in past
    # a version spelled other than in ASCII digits names none: 404 (int() read "\u0661" as 1, "1_0" as 10, 5,000 digits as all)
    every_older = admin.get(labels.replace("version=1", "version="))  # empty: every older version, as the pager links
    assert every_older.status_code == 200 and "made under a version older than" in page(every_older)
    for bad in ("\u0661", "1_0", "9" * 5000, "x", "-1", "+1", " 1", "0"):
        response = admin.get(f"/admin/projects/{world['project']}/guidelines/labels?version={quote(bad)}")
        assert response.status_code == 404 and "has no guidelines version" in page(response), (bad[:10], response.status_code)


# ----------------------------------------------------------------- segmentation through the pages
def test_segmentation_pages_split_merge_undo(app, world):
    reviewer = Browser(app.test_client())
    reviewer.login("rev", PASSWORD)
    url = f"/segmentation/articles/{world['article']}"
    html = page(reviewer.get(url))
    assert "First one. Second one. Third one." not in html and "Second one. Third one." in html
    with app.app_context():
        first, merged = db.session.scalars(select(Sentence.id).where(Sentence.article_id == world["article"]).order_by(Sentence.index)).all()
    assert reviewer.post(url + "/split", {"sentence_id": str(merged), "position": "abc"}).status_code == 400
    response = reviewer.post(url + "/split", {"sentence_id": str(merged), "position": "99"})
    assert response.status_code == 400 and "Position 99 is not inside sentence 2: choose 1 to 21" in page(response)
    assert reviewer.post(url + "/split", {"sentence_id": "999999", "position": "3"}).status_code == 404
    assert reviewer.post(url + "/split", {"sentence_id": str(merged), "position": str(len("Second one."))}).status_code == 302
    html = page(reviewer.get(url))
    assert "Sentence split" in html
    with app.app_context():
        texts = [a.text[s.start:s.end] for a in [db.session.get(Article, world["article"])] for s in a.sentences]
        assert texts == ["First one.", "Second one.", "Third one."]
    response = reviewer.post(url + "/merge", {"sentence_id": str(first)})
    assert response.status_code == 302
    assert "must label the merged sentence again" in page(reviewer.get(url))
    with app.app_context():
        last = db.session.scalar(select(AuditEntry.id).where(AuditEntry.entity == "segmentation").order_by(AuditEntry.id.desc()))
    assert reviewer.post(f"{url}/undo/{last}").status_code == 302
    response = reviewer.post(f"{url}/undo/{last}")
    assert response.status_code == 409 and "already been undone" in page(response)
    with app.app_context():
        rows = db.session.execute(select(Sentence.index).where(Sentence.article_id == world["article"]).order_by(Sentence.index)).all()
        assert len(rows) == 3


def test_a_long_articles_sentences_come_in_pages_and_a_correction_keeps_the_place(app, admin):
    """A 363-sentence article was one page of 548 KB and 7,037 DOM nodes, two forms a sentence: now 50 sentences
    a page. The page's last sentence still merges with the next page's first; a correction on page 3 comes back to
    page 3 at its sentence; a refused split shows the page of its sentence with the reason."""
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    n = 363
    with app.app_context():
        project = projects.create_project(db.session, "long")
        articles.store_articles(db.session, project, [ArticleRecord("long", "", " ".join(f"Sentence {k} is here." for k in range(n)))], "x")
        db.session.commit()
        article_id = db.session.scalar(select(Article.id))
        ids = db.session.scalars(select(Sentence.id).where(Sentence.article_id == article_id).order_by(Sentence.index)).all()
    assert len(ids) == n
    url = f"/segmentation/articles/{article_id}"
    first = page(admin.get(url))
    assert len(first.encode()) < 80_000, len(first.encode())
    assert first.count('class="split-form"') == 50 and first.count('class="merge-form"') == 50  # the 50th merges with the 51st
    assert re.findall(r'<span class="index"[^>]*>(\d+)</span>', first) == [str(k) for k in range(1, 51)]
    assert "Sentences 1–50 of 363, 8 pages." in first and f'href="{url}?page=2"' in first
    last = page(admin.get(url + "?page=8"))
    assert re.findall(r'<span class="index"[^>]*>(\d+)</span>', last) == [str(k) for k in range(351, 364)]
    assert last.count('class="merge-form"') == 12  # none on the article's last sentence
    # past the last page: the last (its forms' CSRF tokens aside, which carry the second they were made in: a loaded
    # machine took over a second between the two pages, and the whole pages differed by the token alone)
    unsigned = lambda html: re.sub(r'(name="csrf-token" content|value)="[\w-]+\.[\w-]+\.[\w-]+"', r'\1=""', html)  # noqa: E731
    assert unsigned(page(admin.get(url + "?page=99"))) == unsigned(last)

    response = admin.post(url + "/split?page=3", {"sentence_id": str(ids[120]), "position": "8"})
    assert response.status_code == 302 and response.headers["Location"] == f"{url}?page=3#sentence-120"
    response = admin.post(url + "/merge?page=3", {"sentence_id": str(ids[148])})  # page 3's last (the split moved it) with page 4's first
    assert response.status_code == 302 and response.headers["Location"] == f"{url}?page=3#sentence-149"
    with app.app_context():
        texts = [a.text[s.start:s.end] for a in [db.session.get(Article, article_id)] for s in a.sentences]
    assert texts[120:122] == ["Sentence", "120 is here."] and texts[149] == "Sentence 148 is here. Sentence 149 is here."
    refused = admin.post(url + "/split", {"sentence_id": str(ids[300]), "position": "999"})
    assert refused.status_code == 400 and "Position 999 is not inside sentence 301" in page(refused)
    assert 'id="sentence-300"' in page(refused) and 'id="sentence-0"' not in page(refused)


def test_sentence_numbers_shown_to_people_count_from_1(app, admin, world):
    """The index in data stays 0-based; the segmentation page and the labels-by-version list show 1, 2, 3."""
    html = page(admin.get(f"/segmentation/articles/{world['article']}"))
    assert re.findall(r'<span class="index"[^>]*>(\d+)</span>', html) == ["1", "2"]
    assert 'start="0"' not in html
    with app.app_context():
        first = db.session.scalar(select(Sentence.index).where(Sentence.article_id == world["article"]).order_by(Sentence.index))
        assert first == 0  # the data keep counting from 0
    url = f"/admin/projects/{world['project']}/guidelines/labels?version=1"
    row = re.search(r'<table class="table cards" id="old-labels">.*?<tbody>\s*<tr>(.*?)</tr>', page(admin.get(url)), re.S).group(1)
    assert re.findall(r'<td class="num" data-label="Sentence">(\d+)</td>', row) == ["1"]  # ann's label on the first sentence


def test_overview_shows_the_cached_agreement_headline_without_computing_it(app, admin, world):
    from annotator.db.models import CacheEntry
    from annotator.domain import agreement as project_agreement

    url = f"/admin/projects/{world['project']}"
    assert 'id="agreement-headline"' not in page(admin.get(url))
    assert count(app, CacheEntry) == 0  # the overview never computes agreement itself
    with app.app_context():
        project_agreement.summary(db.session, world["project"])  # what the reviewer page does
    html = page(admin.get(url))
    assert 'id="agreement-headline"' in html and "Krippendorff" in html


def test_overview_offers_the_dataset_downloads(app, admin, world):
    """The downloads were only on the Review page: an admin looking at the project found no way to export it."""
    pid = world["project"]
    html = page(admin.get(f"/admin/projects/{pid}"))
    section = re.search(r'<section[^>]*id="downloads".*?</section>', html, re.S)
    assert section and "Download" in section.group(0)
    links = [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+)"', section.group(0))]
    for url in (f"/projects/{pid}/export.jsonl?unit=sentence", f"/projects/{pid}/export.jsonl?unit=article",
                f"/projects/{pid}/export.jsonl?unit=sentence&gold_only=1"):
        assert url in links, url
        response = admin.get(url)
        body = response.get_data(as_text=True)  # read to the end: the answer is streamed
        assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"], url
        if "unit=article" in url:
            assert {json.loads(line)["id"] for line in body.splitlines()} == {"a1", "a2"}
    # each download's name says what it is, and no other link on the page has it ("Sentences" was also the tab's)
    names = [name.strip() for name in re.findall(r"<a [^>]*>([^<]+)</a>", html)]
    for name in re.findall(r"<a [^>]*download[^>]*>([^<]+)</a>", section.group(0)):
        assert names.count(name.strip()) == 1, name
    assert "an empty file until some are agreed or adjudicated" in section.group(0)


def test_upload_of_a_big_file_is_stored_in_chunks_and_shown_whole_or_not_at_all(app, admin, monkeypatch):
    from annotator.db.models import StagedImport
    from annotator.domain.dataset import articles

    monkeypatch.setattr(articles, "CHUNK_ARTICLES", 3)
    new_project(admin)
    with app.app_context():
        pid = db.session.scalar(select(Project.id))
    rows = [{"id": f"b{i}", "text": f"Story {i}. It has two sentences."} for i in range(10)]
    # the last line names an id already there: the whole file is refused, nothing staged or stored
    response = upload(admin, pid, ("seed.jsonl", jsonl([{"id": "b9", "text": "Already here."}])))
    assert "Imported 1 new" in page(response)
    response = upload(admin, pid, ("big.jsonl", jsonl(rows[:9] + [{"id": "b9", "text": "Again."}])))
    assert "big.jsonl:10: article id &#39;b9&#39; already exists" in page(response)
    assert count(app, Article) == 1 and count(app, StagedImport) == 0
    response = upload(admin, pid, ("big.jsonl", jsonl(rows)), on_duplicate="skip")
    assert "Imported 9 new, 0 updated, 1 skipped; 0 files rejected." in page(response)
    assert count(app, Article) == 10 and count(app, StagedImport) == 0
    with app.app_context():
        staged = db.session.scalars(select(Article.staged_import).where(Article.external_id == "b0")).one()
    assert staged is not None  # it did go through the staged path


def test_members_page_command_line_hint_quotes_a_project_name_with_spaces(app, admin):
    """Found walking the app: the hint read `annotator projects members Harbour news --add NAME...`,
    which a shell splits into two arguments; the name is now quoted as a shell needs it."""
    import html as html_lib
    import shlex

    with app.app_context():
        pid = projects.create_project(db.session, "Harbour news").id
        quirky = projects.create_project(db.session, "Ana's \"desk\"").id
        db.session.commit()
    for project_id, name in ((pid, "Harbour news"), (quirky, "Ana's \"desk\"")):
        text = html_lib.unescape(page(admin.get(f"/admin/projects/{project_id}/members")))
        command = text.split("From the command line: <code>")[1].split("</code>")[0]
        assert shlex.split(command)[:4] == ["annotator", "projects", "members", name], command
