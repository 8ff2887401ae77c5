"""An admin who never opens a terminal sets up a project in a real browser (Debian's Chromium), on a real server and database.

From an empty database with one admin: a project from a preset, guidelines with
a preview, two annotators, a JSONL upload with a broken line (named, nothing
stored) and a good one, two annotators per article, and the progress page
moving after an annotator labels a sentence. Then the segmentation page: the
split position picked by clicking in text with an emoji (UTF-16 in the DOM,
code points on the server). Any console error (a CSP violation included) fails.
"""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Article, Assignment, GuidelineVersion, Project, Sentence, User

from .conftest import add_user, needs_chromium

PASSWORD = "correct horse"

pytestmark = needs_chromium

ARTICLES = [
    {"id": "bridge", "title": "Bridge repairs", "text": "Bridge repairs will cost $41.5m. The council said so on Tuesday. Work starts in May."},
    {"id": "school", "title": "School meals", "text": "Fans gave it a 👍🏽 and cheered. Free meals reach 12,000 pupils. Critics want more."},
    {"id": "rates", "title": "Rates", "text": "Rates rose 4% in March. The bank expects more rises."},
]


def log_in(chromium, server: str, name: str, width: int = 1280, height: int = 900, touch: bool = False):
    """A page logged in as `name` in a new context of that size (a touch phone's with `touch`); page.errors collects the
    page's errors and the console's."""
    context = chromium.new_context(viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico") else None)
    page.goto(f"{server}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def jsonl(rows) -> bytes:
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode()


def test_admin_sets_up_a_project_from_an_empty_database(app, server, chromium):
    add_user(app, "root", "admin", PASSWORD)
    page = log_in(chromium, server, "root")

    # a project from a preset
    page.click("text=Admin: projects")
    page.click("#new-project")
    page.wait_for_load_state("load")  # the page's module script hides the sources not chosen
    assert page.is_hidden("#schema_json")  # only the chosen schema source is shown
    page.fill("#name", "Claims 2026")
    page.select_option("#preset", "claims")
    page.fill("#annotators_per_article", "2")
    page.fill("#majority_threshold", "0.66")
    page.click("button:has-text('Create project')")
    # a click returns once the next page's navigation commits, its HTML not yet parsed: the reads below do not wait
    page.wait_for_url(re.compile(r"/admin/projects/\d+$"), wait_until="load")
    page.wait_for_selector("text=Project Claims 2026 created")
    assert page.locator("table.labels .name").all_inner_texts()[:3] == ["CFS", "UFS", "NFS"]
    assert page.locator("table.labels rect").first.get_attribute("fill") == "#d62728"
    with app.app_context():
        project = db.session.scalar(select(Project))
        pid = project.id
        assert project.majority_threshold == 0.66

    # guidelines, previewed in the editor's place (server-rendered, sanitised) and saved as version 1
    page.click("nav.tabs >> text=Guidelines")
    page.wait_for_url(f"{server}/admin/projects/{pid}/guidelines", wait_until="load")  # its script (Preview's handler) runs by then
    page.fill("textarea#text", "# How to label\n\nLabel **every** sentence. <script>alert(1)</script>")
    page.click("#preview-guidelines")
    page.wait_for_selector("#live-preview h1:has-text('How to label')")
    assert page.inner_html("#live-preview").count("<strong>every</strong>") == 1
    assert "&lt;script&gt;" in page.inner_html("#live-preview")
    page.click("#preview-guidelines")  # back to Edit
    page.click("#save-guidelines")
    page.wait_for_url(f"{server}/admin/projects/{pid}/guidelines", wait_until="load")
    page.wait_for_selector("text=Saved as version 1")
    assert page.locator("#versions tbody tr").count() == 1
    assert count(app, GuidelineVersion) == 1

    # two annotators
    page.click("text=Users")
    for name in ("ann", "bob"):
        page.fill("#create-user #name", name)
        page.select_option("#create-user #role", "annotator")
        page.fill("#create-user #password", PASSWORD)
        page.click("#create-user button[type=submit]")
        page.wait_for_url(f"{server}/admin/users", wait_until="load")
        page.wait_for_selector(f"text=Created annotator {name}.")
    assert page.locator("#users tbody tr").count() == 3

    # an upload with a broken line: the line is named, nothing is stored
    page.goto(f"{server}/admin/projects/{pid}/upload")
    lines = jsonl(ARTICLES).decode().splitlines()
    lines[1] = lines[1][:-5]
    page.set_input_files("#files", files=[{"name": "news.jsonl", "mimeType": "application/x-ndjson", "buffer": "\n".join(lines).encode()}])
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(f"{server}/admin/projects/{pid}/upload", wait_until="load")
    page.wait_for_selector("#upload-results")
    assert "news.jsonl:2: invalid JSON" in page.inner_text("#upload-results .reason")
    assert "1 file rejected" in page.inner_text("#upload-summary")
    assert count(app, Article) == 0
    assert len([e for e in page.errors if "status of 422" in e]) == 1  # type: ignore[attr-defined]  (nothing stored: a 422)

    # the good file
    page.goto(f"{server}/admin/projects/{pid}/upload")
    page.set_input_files("#files", files=[{"name": "news.jsonl", "mimeType": "application/x-ndjson", "buffer": jsonl(ARTICLES)}])
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(f"{server}/admin/projects/{pid}/upload", wait_until="load")
    page.wait_for_selector("#upload-results")
    assert "Imported 3 new, 0 updated, 0 skipped; 0 files rejected." in page.inner_text("#upload-summary")
    assert count(app, Article) == 3

    # the two annotators join the project (balanced assignment draws on its members only)
    page.click("nav.tabs >> text=Members")
    page.get_by_label("ann (annotator)").check()
    page.get_by_label("bob (annotator)").check()
    page.click("#add-members-form button[type=submit]")
    page.wait_for_url(f"{server}/admin/projects/{pid}/members", wait_until="load")
    page.wait_for_selector("text=Added ann, bob to Claims 2026.")
    assert [row.split("\t")[0] for row in page.locator("#members tbody tr").all_inner_texts()] == ["ann", "bob"]

    # two annotators per article
    page.click("nav.tabs >> text=Assignment")
    page.fill("#per_article", "2")
    page.click("#balance-form button[type=submit]")
    page.wait_for_selector("text=6 new assignments")
    assert count(app, Assignment) == 6

    # progress moves after an annotator labels a sentence
    page.click("nav.tabs >> text=Progress")
    page.wait_for_url(f"{server}/admin/projects/{pid}/progress", wait_until="load")
    row = page.locator("#annotator-progress tr[data-user=ann] .labelled")
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Sentence))
        ann = db.session.scalar(select(User.id).where(User.name == "ann"))
        bridge = db.session.scalar(select(Article.id).where(Article.external_id == "bridge"))
    assert row.inner_text() == f"0 / {total}"
    assert page.is_visible("#no-chart")
    with app.app_context():
        annotations.write(db.session, lambda: annotations.put_label(db.session, ann, bridge, 0, "CFS", 4.0))
    page.reload()
    assert row.inner_text() == f"1 / {total}"
    assert page.locator("#labels-chart rect.bar[data-count='1']").count() == 1
    assert "1 / 6" in page.inner_text("#article-progress tr[data-article=bridge] .labelled")
    page.click("nav.tabs >> text=Overview")
    page.wait_for_url(f"{server}/admin/projects/{pid}", wait_until="load")
    assert page.inner_text("#count-labels") == "1"
    # the console's one line is the refused upload's page: a 422, as every file of it was refused
    assert [e for e in page.errors if "status of 422" not in e] == []  # type: ignore[attr-defined]


def test_reviewer_picks_a_split_point_by_clicking_in_text_with_an_emoji(app, server, chromium):
    from annotator.domain import accounts, projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    add_user(app, "rev", "reviewer", PASSWORD)
    with app.app_context():
        project = projects.create_project(db.session, "p")
        articles.store_articles(db.session, project, [ArticleRecord("school", "", ARTICLES[1]["text"])], "x")
        projects.add_members(db.session, project.id, [accounts.get_user(db.session, "rev")])
        db.session.commit()
        article_id = db.session.scalar(select(Article.id))
    page = log_in(chromium, server, "rev")
    page.goto(f"{server}/segmentation/articles/{article_id}")
    first = page.locator(".sentence").first
    assert first.locator(".seg-text").inner_text() == "Fans gave it a 👍🏽 and cheered."
    # put the caret after the emoji: UTF-16 offset 19 (👍🏽 is 4 units), code point 17
    page.evaluate(
        """() => {
            const el = document.querySelector('.sentence .seg-text');
            const range = document.createRange();
            range.setStart(el.firstChild, 'Fans gave it a 👍🏽'.length);
            range.collapse(true);
            const sel = window.getSelection();
            sel.removeAllRanges();
            sel.addRange(range);
            el.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
        }"""
    )
    assert first.locator("input.position").input_value() == "17"
    assert first.locator(".split-preview").inner_text().startswith("…Fans gave it a 👍🏽|and cheered")
    first.locator(".split-form button").click()
    back_at_the_article = re.compile(rf"/segmentation/articles/{article_id}\?")
    page.wait_for_url(back_at_the_article, wait_until="load")  # the click returns before the page is parsed
    page.wait_for_selector("text=Sentence split")
    assert page.locator(".seg-text").all_inner_texts()[:2] == ["Fans gave it a 👍🏽", "and cheered."]
    page.locator("#corrections .undo-form button").first.click()
    page.wait_for_url(back_at_the_article, wait_until="load")
    page.wait_for_selector("text=undone")
    assert page.locator(".seg-text").all_inner_texts()[0] == "Fans gave it a 👍🏽 and cheered."
    assert page.errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("width, height, touch", [(1280, 800, False), (1100, 800, False), (800, 1100, False), (560, 900, False),
                                                  (390, 844, True)])
def test_api_token_table_fits_its_card_with_revoke_in_reach(app, server, chromium, width, height, touch):
    """At 390 x 844 the token table on the admin user page scrolled sideways inside its card and its Revoke
    button was half hidden: its rows are cards now, each value named, Revoke on its own line. The card is as narrow
    in the desktop's grid of cards (a quarter of 1280 px; half of 800): there the table ran out of its card, over the
    next one or past the window's edge, Revoke cut off, so the rows are cards whenever the card is narrow. At 560 px
    (one card a row) they are cards as every other table's on a window that narrow (they were a table from 536 to
    590 px, when the token card kept its own copy of the rules, keyed on 30rem)."""
    from annotator.db.transactions import transaction
    from annotator.domain import accounts

    add_user(app, "root", "admin", PASSWORD)
    ann = add_user(app, "ann", "annotator", PASSWORD)
    with app.app_context():
        with transaction(db.session):
            user = db.session.get(User, ann)
            accounts.issue_token(db.session, user, expires_days=30)
            accounts.issue_token(db.session, user)
    page = log_in(chromium, server, "root", width, height, touch)
    try:
        page.goto(f"{server}/admin/users/{ann}")
        table = page.locator("#tokens")
        assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1"), "the token table scrolls sideways"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        card = table.evaluate("t => t.closest('.card').getBoundingClientRect().right")
        assert table.evaluate("t => t.getBoundingClientRect().right") <= card, "the token table runs out of its card"
        buttons = page.locator("#tokens button", has_text="Revoke")
        assert buttons.count() == 2
        for i in range(2):
            box = buttons.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= min(card, width), (box, card)
        named = page.locator("#tokens tbody tr").first.evaluate(
            "tr => [...tr.cells].map(td => getComputedStyle(td, '::before').content)")
        assert named[:4] == ['"Issued: "', '"Last used: "', '"Expires: "', '"State: "'], named  # each value says what it is
        buttons.first.click()
        page.wait_for_url(f"{server}/admin/users/{ann}", wait_until="load")  # inner_text() could read a half-parsed table
        assert "revoked" in page.locator("#tokens tbody").inner_text()
    finally:
        page.context.close()


# Each visible table that is wider than itself shows (it scrolls sideways inside its card) or whose right edge is off a
# 390 px screen: [id or class, scrollWidth, clientWidth, right edge].
TABLES_OFF_A_PHONE = """() => [...document.querySelectorAll("table")].filter((t) => t.checkVisibility())
  .map((t) => [t.id || t.className, t.scrollWidth, t.clientWidth, Math.round(t.getBoundingClientRect().right)])
  .filter(([, scroll, client, right]) => scroll > client + 1 || right > 390)"""
# The cells (of tables shown as cards) whose value is not named: a data-label cell whose caption is not shown.
UNNAMED_CELLS = """() => [...document.querySelectorAll("table.cards td[data-label]")].filter((td) => td.checkVisibility())
  .filter((td) => getComputedStyle(td, "::before").content !== JSON.stringify(td.dataset.label + ": ")).map((td) => td.dataset.label)"""


def test_admin_and_review_tables_fit_a_phone_as_cards(app, server, chromium):
    """At 390 x 844 the admin tables (projects, users, members, assignments, progress, guideline versions, label
    schemas, a user's account history, segmentation corrections, upload results), the reviewer's project list and
    the agreement figures scrolled sideways inside their card (the home page's projects, 449 px of 351; progress per
    annotator, 555 of 304; the review index, 707 of 351; the figures per annotator, 1008 of 304). Each row is a card
    now, each value named as its column is; nothing is wider than the screen."""
    from annotator.domain import resegment

    from .test_project_agreement import seed

    ratings = [{"alexandra.n": "CFS", "benedict.o": "NFS"}, {"alexandra.n": "UFS", "benedict.o": "UFS"},
               {"alexandra.n": "CFS", "benedict.o": "UFS"}, {"alexandra.n": "NFS", "benedict.o": "NFS"}]
    seeded = seed(app, ratings, [0, 0, 1, 1], annotators_per_article=2, assign=True)
    pid = seeded.project_id
    rita = add_user(app, "rita", "reviewer", PASSWORD)
    root = add_user(app, "root", "admin", PASSWORD)
    with app.app_context():
        for i, article in enumerate(seeded.articles):  # ids and titles as a scraper makes them
            db.session.get(Article, article).external_id = f"reuters-2026-12-06-flood-defences-fail-in-three-towns-{i}"
            db.session.get(Article, article).title = f"Flood defences fail in three towns after a night of record rainfall ({i})"
        db.session.add(GuidelineVersion(project_id=pid, version=2, text="# Guidelines\n\nLabel every claim.", author_id=root))
        db.session.get(Project, pid).guidelines_version = 2
        db.session.commit()
        first = db.session.get(Sentence, seeded.sentences[0])
        resegment.split_sentence(db.session, first.id, first.start + 9, root)  # a correction in the article's history
        db.session.commit()
    from .conftest import add_member
    add_member(app, pid, "rita", "alexandra.n", "benedict.o")

    pages = {
        "root": ["/", "/admin/projects", f"/admin/projects/{pid}", f"/admin/projects/{pid}/members", f"/admin/projects/{pid}/assignments",
                 f"/admin/projects/{pid}/progress", f"/admin/projects/{pid}/guidelines", f"/admin/projects/{pid}/guidelines/labels?version=1",
                 "/admin/users", f"/admin/users/{rita}", f"/segmentation/projects/{pid}", f"/segmentation/articles/{seeded.articles[0]}",
                 f"/admin/projects/{pid}/articles/{seeded.articles[0]}/annotators"],
        "rita": ["/review/", f"/review/{pid}/agreement", "/account"],
    }
    for name, urls in pages.items():
        context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
        page = context.new_page()
        try:
            page.goto(f"{server}/login")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/")
            for url in urls:
                assert page.goto(server + url).ok, url
                assert page.locator("table").count() > 0 and page.locator("table").first.is_visible(), f"{url} shows no table"
                assert page.evaluate(TABLES_OFF_A_PHONE) == [], url
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
                assert page.evaluate(UNNAMED_CELLS) == [], url
            if name == "root":  # an upload's result: one file in, one rejected with its reason
                page.goto(f"{server}/admin/projects/{pid}/upload")
                page.set_input_files("input[type=file]", [
                    {"name": "scraped-2026-12-06-morning-edition.jsonl", "mimeType": "application/json", "buffer": jsonl(ARTICLES)},
                    {"name": "scraped-2026-12-06-evening-edition.jsonl", "mimeType": "application/json", "buffer": b'{"id": "x"}\n'}])
                page.click("#upload-form button[type=submit]")
                page.wait_for_url(f"{server}/admin/projects/{pid}/upload", wait_until="load")
                page.wait_for_selector("#upload-results")
                assert page.locator("#upload-results tr.rejected").count() == 1
                assert page.evaluate(TABLES_OFF_A_PHONE) == [] and page.evaluate("document.documentElement.scrollWidth") <= 390
                assert page.evaluate(UNNAMED_CELLS) == []
        finally:
            context.close()


@pytest.mark.parametrize("width, height, touch", [(1280, 800, False), (360, 740, True)])
def test_the_label_distribution_is_readable_on_a_phone(app, server, chromium, width, height, touch):
    """Found walking the admin pages at 360 px: the overview's label distribution was an SVG drawn in a 640-unit box and
    scaled to the card, so on a phone its names and counts were 6 px tall (13 at 1280). It is drawn in the screen's own
    pixels now, each label's name and count over its bar, the bars' lengths shares of the card's width."""
    from .test_project_agreement import seed

    seeded = seed(app, [{"ann": "CFS", "ben": "CFS"}, {"ann": "UFS", "ben": "CFS"}, {"ann": "CFS", "ben": "NFS"}], [0, 0, 0],
                  annotators_per_article=2, assign=True)
    add_user(app, "root", "admin", PASSWORD)
    page = log_in(chromium, server, "root", width, height, touch)
    try:
        page.goto(f"{server}/admin/projects/{seeded.project_id}")
        chart = page.locator("#distribution")
        box = chart.bounding_box()
        texts = chart.evaluate("svg => [...svg.querySelectorAll('text')].map(t => [t.firstChild.textContent, t.textContent, t.getBoundingClientRect().height, t.getBoundingClientRect().right])")
        for _, _, high, right in texts:
            assert high >= 12, texts  # readable: 6 px at 360 before
            assert right <= box["x"] + box["width"] + 1, (texts, box)  # inside the card
        assert [(name, text) for name, text, _, _ in texts] == [("CFS", "CFS4 (67%)"), ("UFS", "UFS1 (17%)"), ("NFS", "NFS1 (17%)")], texts
        bars = chart.evaluate("svg => [...svg.querySelectorAll('rect')].map(r => r.getBoundingClientRect().width)")
        assert bars[0] == pytest.approx(box["width"], abs=1) and bars[1] == pytest.approx(box["width"] / 4, abs=1), (bars, box)
        assert box["height"] >= 3 * 36 and page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        page.context.close()


@pytest.mark.parametrize("width, height, touch", [(1280, 800, False), (360, 740, True)])
def test_the_progress_chart_dates_are_readable_on_a_phone(app, server, chromium, width, height, touch):
    """As the label distribution: the progress chart's dates and caption were drawn in its 720-unit box, 5 px tall on a
    360 px phone. They are drawn in the screen's pixels under it now, the first and last dates only on a phone (more
    overlapped), none past the chart's edges."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from annotator.db.models import Annotation

    from .test_project_agreement import seed

    seeded = seed(app, [{"ann": "CFS", "ben": "NFS"}] * 12, [0] * 12, annotators_per_article=2, assign=True)
    with app.app_context():  # a label a day for 24 days
        ids = db.session.scalars(select(Annotation.id).order_by(Annotation.id)).all()
        start = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
        for i, annotation_id in enumerate(ids):
            db.session.execute(update(Annotation).where(Annotation.id == annotation_id).values(updated_at=start + timedelta(days=i)))
        db.session.commit()
    add_user(app, "root", "admin", PASSWORD)
    page = log_in(chromium, server, "root", width, height, touch)
    try:
        page.goto(f"{server}/admin/projects/{seeded.project_id}/progress")
        chart = page.locator("#labels-chart").bounding_box()
        dates = page.evaluate("""() => [...document.querySelectorAll('svg text')].filter(t => t.checkVisibility())
          .map(t => { const r = t.getBoundingClientRect(); return [t.textContent, r.left, r.right, r.height]; })""")
        assert len(dates) >= (2 if width < 640 else 6) and all(text.startswith("2026-1") for text, _, _, _ in dates), dates
        for _, left, right, high in dates:
            assert high >= 12, dates  # 5 px at 360 before
            assert chart["x"] - 1 <= left and right <= chart["x"] + chart["width"] + 1, (dates, chart)
        assert all(a[2] + 4 <= b[1] for a, b in zip(dates, dates[1:], strict=False)), dates  # side by side, apart
        caption = page.locator("#labels-chart-caption")
        assert caption.inner_text() == "max 1 / day · line: running total (24)" and caption.bounding_box()["height"] >= 12
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        page.context.close()


def test_a_split_on_a_later_page_of_a_long_article_comes_back_to_its_sentence(app, server, chromium):
    """The segmentation page shows 50 sentences a page: a split picked by clicking on page 3 comes back to page 3,
    scrolled to the sentence, not to the top of the article's first page."""
    from annotator.domain import accounts, projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    add_user(app, "rev", "reviewer", PASSWORD)
    with app.app_context():
        project = projects.create_project(db.session, "p")
        text = " ".join(f"Sentence {k} is here." for k in range(120))
        articles.store_articles(db.session, project, [ArticleRecord("long", "", text)], "x")
        projects.add_members(db.session, project.id, [accounts.get_user(db.session, "rev")])
        db.session.commit()
        article_id = db.session.scalar(select(Article.id))
    page = log_in(chromium, server, "rev")
    page.goto(f"{server}/segmentation/articles/{article_id}?page=3")
    assert page.locator(".sentence").count() == 20 and page.locator("#sentence-range").inner_text() == "Sentences 101–120 of 120, 3 pages."
    page.evaluate(
        """() => {
            const el = document.querySelector('#sentence-109 .seg-text');
            const range = document.createRange();
            range.setStart(el.firstChild, 'Sentence'.length);
            range.collapse(true);
            window.getSelection().removeAllRanges();
            window.getSelection().addRange(range);
            el.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
        }"""
    )
    assert page.locator("#sentence-109 input.position").input_value() == "8"
    page.locator("#sentence-109 .split-form button").click()
    page.wait_for_url(re.compile(rf"/segmentation/articles/{article_id}\?"), wait_until="load")  # parsed, and scrolled to it
    page.wait_for_selector("text=Sentence split")
    assert page.url.endswith(f"/segmentation/articles/{article_id}?page=3#sentence-109")
    assert page.locator("#sentence-109 .seg-text").inner_text() == "Sentence" and page.locator("#sentence-109").is_visible()
    top = page.evaluate("() => document.getElementById('sentence-109').getBoundingClientRect().top")
    assert 0 <= top < page.viewport_size["height"]  # scrolled to it
    assert page.errors == []  # type: ignore[attr-defined]
