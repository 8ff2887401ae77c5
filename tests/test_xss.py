"""Stored XSS: script tags, event-handler attributes and javascript: links stored in every field users
can fill are shown as text on every page, for every role.

The payloads go into article text, titles and metadata, the project name,
guidelines (Markdown), label descriptions of the schema, and user names (set
straight in the database: the forms refuse such names, but imported or legacy
data might hold them). Then every GET route of the URL map is requested as
each role (the route x role matrix's list, so new pages are covered) and each
HTML response is parsed: no element may carry an on* attribute, a javascript:
URL or an inline script, and no payload may appear as markup. JSON responses
(API, exports) keep the payload as data, with a JSON content type and nosniff.
Guidelines Markdown goes through nh3; checked here with the usual vectors.
"""
from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

import pytest

from annotator.domain import markdown

from .test_route_matrix import BACKENDS, GET_CASES, ROLES, Case, Content, caller, find_rule, seeded_app, url_for_rule

SCRIPT = '<script>window.__xss="script";alert(1)</script>'
IMG = "<img src=x onerror=\"window.__xss='img';alert(2)\">"
LINK = "<a href=\"javascript:window.__xss='link';alert(3)\">click me</a>"
PAYLOAD = SCRIPT + IMG + LINK
# What must never appear raw in HTML (each is the opening of a payload's markup).
RAW_MARKERS = ('<script>window.__xss', "<script>alert", "<img src=x", "<svg onload", '<a href="javascript:')

NAMES = {
    "annotator": "<img src=x onerror=alert(11)>",
    "other_annotator": "<script>alert(12)</script>",
    "reviewer": '<a href="javascript:alert(13)">r</a>',
    "admin": '"><svg onload=alert(14)>',
}
GUIDELINES = f"""# Guidelines {SCRIPT}

Inline HTML: {IMG} and {LINK}.

[a javascript link](javascript:window.__xss='md';alert(4)) and [MiXeD case](JaVaScRiPt:alert(5)) and
![an image](javascript:alert(6)) and <javascript:alert(7)> and [ref][r].

[r]: javascript:alert(8)
"""


def payload_content() -> Content:
    return Content(
        title_a=f"Title {PAYLOAD}",
        text_a=f"Prices rose by 5% in May. {PAYLOAD} The minister said it was a record. Critics disagreed strongly. Nobody knows what comes next.",
        title_shared=f"Shared {IMG}",
        text_shared=f"Unemployment fell to 4% last year. {SCRIPT} The mayor said so on Monday. {LINK} Others doubt the figure.",
        meta={"source": PAYLOAD, PAYLOAD: "as a key", "url": "javascript:alert(9)"},
        guidelines=GUIDELINES,
        project_name=f"Project {IMG}",
        label_description=f"Describes {PAYLOAD}",
        names=dict(NAMES),
        suggester=f"bot {IMG}",  # suggester names come from other tools too (import-annotations --as-suggestions --as NAME)
    )


class Audit(HTMLParser):
    """Collects what would run in a browser: on* attributes, javascript: URLs, inline scripts."""

    URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "poster"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>: an event-handler attribute")
            if name in self.URL_ATTRIBUTES and scheme_of(value) in ("javascript", "vbscript", "data") and tag != "img":
                self.problems.append(f"<{tag} {name}={value[:60]!r}>: a script URL")
        if tag == "script":
            if "src" not in values and values.get("type", "").lower() not in ("application/json", "application/ld+json"):
                self.problems.append("an inline <script>")
        if tag == "img" and values.get("src") == "x":
            self.problems.append("the payload's <img src=x> became an element")

    handle_startendtag = handle_starttag


def scheme_of(url: str) -> str | None:
    """The scheme a browser reads from a URL (WHATWG: leading controls/spaces dropped, tabs and newlines
    removed anywhere), or None for a relative URL."""
    cleaned = re.sub(r"[\t\n\r]", "", url).lstrip("".join(map(chr, range(0x21))))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else None


def audit_html(html: str) -> list[str]:
    parser = Audit()
    parser.feed(html)
    parser.close()
    problems = parser.problems
    problems += [f"raw payload markup {marker!r}" for marker in RAW_MARKERS if marker in html]
    return problems


@pytest.fixture(scope="module", params=BACKENDS)
def payload_world(request, tmp_path_factory):
    with seeded_app(request.param, tmp_path_factory.mktemp("xss"), payload_content()) as (app, world):
        yield app, world, {role: caller(app, world, role) for role in ROLES}


@pytest.mark.parametrize("case", GET_CASES, ids=lambda c: c.id)
def test_every_page_shows_payloads_as_text(payload_world, case: Case):
    app, world, callers = payload_world
    rule = find_rule(app, case)
    problems = []
    for shared in (False, True):
        path = url_for_rule(rule, world, shared=shared)
        for role in ROLES:
            response = callers[role].client.get(path)
            body = response.get_data(as_text=True)
            assert response.status_code < 500, f"{role} GET {path}: {response.status_code}"
            if response.mimetype == "text/html":
                problems += [f"{role} GET {path}: {p}" for p in audit_html(body)]
            elif case.endpoint != "static":
                if response.status_code == 200 and response.mimetype not in ("application/json", "application/jsonl", "application/x-ndjson", "image/svg+xml"):
                    problems.append(f"{role} GET {path}: served as {response.mimetype}")
                if response.headers.get("X-Content-Type-Options") != "nosniff":
                    problems.append(f"{role} GET {path}: no nosniff on {response.mimetype}")
    assert not problems, "\n".join(problems)


def _pages(payload_world) -> str:
    """Every HTML page every role can open, concatenated."""
    app, world, callers = payload_world
    out = []
    for case in GET_CASES:
        rule = find_rule(app, case)
        for shared in (False, True):
            for role in ROLES:
                response = callers[role].client.get(url_for_rule(rule, world, shared=shared))
                body = response.get_data(as_text=True)  # read every body: a streamed export must run to its end
                if response.status_code == 200 and response.mimetype == "text/html":
                    out.append(body)
    return "\n".join(out)


def test_the_payloads_are_shown_escaped_not_dropped(payload_world):
    """Shown as text somewhere (so the checks above looked at them), escaped by the template engine."""
    html = _pages(payload_world)
    escaped = {
        "title": "Title &lt;script&gt;",
        "project name": "Project &lt;img src=x",
        "label description": "Describes &lt;script&gt;",
        "article text": "&lt;img src=x onerror=",
        "guidelines heading": "Guidelines &lt;script&gt;",
        "annotator A's name": "&lt;img src=x onerror=alert(11)&gt;",
        "annotator B's name": "&lt;script&gt;alert(12)&lt;/script&gt;",
        "reviewer's name": "&lt;a href=&#34;javascript:alert(13)&#34;&gt;r&lt;/a&gt;",
        "admin's name": "&#34;&gt;&lt;svg onload=alert(14)&gt;",
    }
    missing = {what: text for what, text in escaped.items() if text not in html and text.replace("&#34;", "&quot;") not in html}
    assert not missing, f"not shown anywhere (escaped) although stored: {missing}"


def test_api_and_export_keep_the_payload_as_data(payload_world):
    app, world, callers = payload_world
    response = callers["annotator"].client.get(f"/api/articles/{world.article_a}")
    assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
    article = response.get_json()["article"]
    assert article["title"] == world.content.title_a and article["text"] == world.content.text_a
    assert article["meta"]["source"] == PAYLOAD
    export = callers["admin"].client.get(f"/projects/{world.project}/export.jsonl?unit=article")
    assert export.status_code == 200 and export.mimetype != "text/html"
    assert export.headers["X-Content-Type-Options"] == "nosniff" and export.headers["Content-Disposition"].startswith("attachment")
    records = [json.loads(line) for line in export.get_data(as_text=True).splitlines() if line.strip()]
    by_id = {r.get("id"): r for r in records}
    assert by_id["a-only"]["title"] == world.content.title_a and by_id["a-only"]["text"] == world.content.text_a


def test_guidelines_preview_is_sanitised(payload_world):
    app, world, callers = payload_world
    admin = callers["admin"]
    response = admin.send_json("POST", f"/admin/projects/{world.project}/guidelines/preview", {"text": GUIDELINES})
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert not audit_html(html), audit_html(html)
    assert "&lt;script&gt;" in html  # shown as text, not dropped silently


# ----------------------------------------------------------------- the Markdown sanitiser
VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[a](javascript:alert(1))",
    "[a](JaVaScRiPt:alert(1))",
    "[a](&#106;avascript:alert(1))",
    "[a](java%0ascript:alert(1))",
    "[a](<javascript:alert(1)>)",
    "[a](vbscript:msgbox(1))",
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![i](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[a][r]\n\n[r]: javascript:alert(1)",
    '[a](https://example.org "x\\" onmouseover=\\"alert(1)")',
    "<iframe src=https://example.org></iframe>",
    "<svg/onload=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<style>body{display:none}</style>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |",
]


@pytest.mark.parametrize("source", VECTORS)
def test_markdown_vectors_render_harmless(source: str):
    html = markdown.render(source)
    problems = audit_html(html)
    parser = Audit()
    parser.feed(html)
    for tag, attrs in parser.elements:
        if tag not in markdown.ALLOWED_TAGS:
            problems.append(f"<{tag}> survived")
        for name in attrs:
            if name not in markdown.ALLOWED_ATTRIBUTES.get(tag, set()) and not (tag == "a" and name == "rel"):
                problems.append(f"<{tag} {name}=...> survived")
        if tag == "a" and scheme_of(attrs.get("href", "")) not in (None, "http", "https", "mailto"):
            problems.append(f"<a href={attrs.get('href')!r}> survived")
    assert not problems, (source, html, problems)


def test_the_sanitiser_alone_cleans_raw_html():
    """Even if the Markdown renderer let HTML through, nh3 would keep only safe tags, attributes and schemes."""
    dirty = (
        '<p onclick="x()">a</p><a href="javascript:alert(1)" onmouseover="y()">b</a><script>z()</script>'
        '<img src=x onerror=alert(1)><iframe src="https://e.org"></iframe><a href="https://example.org">ok</a>'
    )
    clean = markdown.sanitise(dirty)
    assert not audit_html(clean), clean
    assert "<script" not in clean and "<iframe" not in clean and "<img" not in clean
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in clean


def test_guidelines_go_through_nh3(monkeypatch):
    """The sanitiser is the maintained library (nh3), called on every render: not a hand-written filter."""
    import nh3

    calls = []
    real = nh3.clean

    def spy(html, *args, **kwargs):
        calls.append(html)
        return real(html, *args, **kwargs)

    monkeypatch.setattr(markdown.nh3, "clean", spy)
    assert markdown.nh3 is nh3
    out = markdown.render("Hello [link](https://example.org) <b>bold</b>")
    assert len(calls) == 1 and "https://example.org" in out
    from annotator.domain import guidelines

    guidelines.render("# again")
    assert len(calls) == 2, "annotator.domain.guidelines.render does not go through markdown.sanitise"


@pytest.mark.parametrize("raw", [SCRIPT, IMG, LINK, *NAMES.values(), '<a href=" JaVa\tScRiPt:alert(1)">x</a>'])
def test_the_audit_catches_each_payload_unescaped(raw: str):
    """The page check above can fail: each payload, unescaped, is caught; escaped, it is not."""
    from markupsafe import escape

    assert audit_html(f"<p>{raw}</p>"), raw
    assert not audit_html(f"<p>{escape(raw)}</p><a title=\"{escape(raw)}\" href=\"/x\">y</a>"), raw


# ----------------------------------------------------------------- the upload's result page
def test_upload_errors_show_the_files_keys_and_names_as_text(app, browser):
    """A refused file's error quotes what the file holds (its keys, its CSV columns) and its name: all of it the
    uploader's text, shown escaped on the result page, never as markup."""
    from annotator.db import db
    from annotator.domain import accounts, labelschema, projects

    with app.app_context():
        admin = accounts.create_user(db.session, "adm", "admin", "correct horse")
        project_id = projects.create_project(db.session, "Uploads", labelschema.preset("claims"), 1, "", admin.id).id
        db.session.commit()
    browser.login("adm", "correct horse")
    files = {
        "keys.jsonl": json.dumps({"id": "k1", SCRIPT: "x", IMG: "y"}).encode(),  # no text: the error lists the line's keys
        "meta.jsonl": json.dumps({"id": "m1", "text": "Hi.", IMG: 1, "meta": {IMG: 2}}).encode(),  # a key in meta too, another value
        "columns.csv": f'text,"{SCRIPT}","{SCRIPT}"\nHello.,1,2\n'.encode(),  # a column named twice
        f"{IMG}.jsonl": b'{"id": "n1", "text": ',  # a bad line, named by its file
    }
    data = {"files": [(io.BytesIO(content), name) for name, content in files.items()], "on_duplicate": "error"}
    response = browser.post(f"/admin/projects/{project_id}/upload", data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html  # every file refused
    reasons = re.findall(r'<td class="reason whole">(.*?)</td>', html, re.S)
    assert len(reasons) == len(files), reasons
    assert not audit_html(html), audit_html(html)
    assert "&lt;script&gt;window.__xss" in html and "&lt;img src=x onerror=" in html  # shown, as text
