"""A reviewer in a real browser (Debian's Chromium), on a real server and database: from the disagreement queue's
article label disputes to an article's page, a decision with a reason, and back to an empty queue."""
from __future__ import annotations

import re

from sqlalchemy import select

from annotator.db import db
from annotator.db.models import GoldArticleLabel

from .conftest import needs_chromium
from .test_article_label_review import PASSWORD, SPLIT, make_world

pytestmark = needs_chromium


def test_a_reviewer_in_a_browser_goes_from_the_queue_to_an_article_and_decides(app, server, chromium):
    world = make_world(app, [SPLIT])
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(server + "/login")
        page.fill("input[name=name]", "rev")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{server}/review/{world.project}/queue")
        row = page.locator("#article-queue tbody tr")
        assert row.count() == 1 and row.get_attribute("data-group") == "stance"
        row.locator("td.sentence-text a").click()
        page.wait_for_url(re.compile(rf"/review/{world.project}/articles/{world.articles[0]}/labels$"))
        assert page.locator("fieldset[data-group=stance] .answer").all_inner_texts() == ["ann: oppose", "bob: oppose", "cat: support"]
        page.check("fieldset[data-group=stance] input[value=neutral]")
        page.fill("#reason", "both readings miss the point")
        page.click("#save-gold")
        page.wait_for_url(re.compile(rf"/review/{world.project}/queue"))
        assert "Gold saved for the article labels of a0" in page.locator(".flash").first.inner_text()
        assert page.locator("#article-queue-empty").is_visible()
        assert problems == []
    finally:
        context.close()
    with app.app_context():
        row = db.session.scalar(select(GoldArticleLabel))
        assert (row.group, row.values, row.provenance, row.reason) == ("stance", ["neutral"], "adjudicated", "both readings miss the point")
