"""A reviewer in a real browser (Debian's Chromium), on a real server and database: opens the
disagreement queue, adjudicates a disputed sentence with a reason, and finds the gold, its
provenance and its effect on the agreement figures."""
from __future__ import annotations

import re

from sqlalchemy import select

from annotator.db import db
from annotator.models import AuditEntry, GoldLabel, GoldSpan

from .conftest import add_user, needs_chromium
from .test_project_agreement import add_spans, seed

PASSWORD = "correct horse"

pytestmark = needs_chromium


def test_reviewer_adjudicates_from_the_queue_and_sees_it_in_the_figures(app, server, chromium):
    ratings = [
        {"ann": "CFS", "ben": "NFS"},  # disputed: no agreement -> first in the queue
        {"ann": "UFS", "ben": "UFS"},
        {"ann": "CFS", "ben": "UFS", "cat": "UFS"},  # disputed: 1/3 -> next
        {"ann": "NFS", "ben": "NFS"},
    ]
    seeded = seed(app, ratings, [0, 0, 0, 1], annotators_per_article=2)
    s0, _ = seeded.offsets[0]
    add_spans(app, seeded, [("ann", 0, "QUOTE", s0, s0 + 8), ("ben", 0, "QUOTE", s0, s0 + 12)])
    add_user(app, "rita", "reviewer", PASSWORD)

    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(server + "/login")
        page.fill("input[name=name]", "rita")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.click("a.nav-review")
        page.click(f"a[href='/review/{seeded.project_id}/queue']")
        rows = page.locator("#queue tbody tr")
        assert rows.count() == 2
        assert rows.nth(0).get_attribute("data-sentence") == str(seeded.sentences[0])

        rows.nth(0).locator("td.sentence-text a").click()
        page.wait_for_url(re.compile(rf"/review/{seeded.project_id}/sentences/{seeded.sentences[0]}$"))
        # each annotator's label and spans side by side, names visible to the reviewer
        assert page.locator("article.annotator[data-annotator=ann] .label-badge").inner_text() == "CFS"
        assert page.locator("article.annotator[data-annotator=ben] .label-badge").inner_text() == "NFS"
        assert page.locator("article.annotator[data-annotator=ben] mark.span-mark").count() == 1
        # the highlight colour comes from the schema through review-colours.js (no inline style in the HTML)
        colour = page.locator("article.annotator[data-annotator=ann] mark.span-mark").evaluate("e => getComputedStyle(e).borderBottomColor")
        assert colour == "rgb(31, 119, 180)"  # QUOTE #1f77b4

        page.check("input[name=label][value=CFS]")
        page.check(f"input[name=spans][value='QUOTE:{s0}:{s0 + 8}']")
        page.fill("#reason", "A cost figure: check-worthy. ben's quote runs into the verb.")
        page.click("#save-gold")
        page.wait_for_url(re.compile(rf"/review/{seeded.project_id}/sentences/{seeded.sentences[2]}$"))
        assert "Gold saved" in page.locator(".flash").inner_text()

        with app.app_context():
            gold = db.session.scalar(select(GoldLabel).where(GoldLabel.sentence_id == seeded.sentences[0]))
            assert (gold.label, gold.provenance, gold.reviewer.name) == ("CFS", "adjudicated", "rita")
            assert gold.reason == "A cost figure: check-worthy. ben's quote runs into the verb." and gold.updated_at is not None
            spans = [(g.label, g.start, g.end, g.provenance) for g in db.session.scalars(select(GoldSpan))]
            assert spans == [("QUOTE", s0, s0 + 8, "adjudicated")]
            audited = db.session.execute(select(AuditEntry.entity, AuditEntry.action).where(AuditEntry.user_id == gold.reviewer_id)).all()
            assert sorted(audited) == [("gold_label", "create"), ("gold_span", "create")]

        # the queue no longer offers it; the adjudicated view does, with its provenance
        page.goto(f"{server}/review/{seeded.project_id}/queue")
        assert page.locator("#queue tbody tr").count() == 1
        page.select_option("select[name=status]", "adjudicated")
        page.click("form.filters button[type=submit]")
        assert page.locator("#queue tbody tr").first.locator(".prov").inner_text() == "CFS (adjudicated)"

        # and the agreement figures count it: ann agreed with the adjudicated gold, ben did not
        page.click("nav.review-tabs a:has-text('Agreement')")
        assert "1 adjudicated" in page.locator("#agreement-summary").inner_text()
        ann = page.locator("tr[data-annotator=ann]")
        ben = page.locator("tr[data-annotator=ben]")
        assert ann.locator("td.adjudicated-n").inner_text() == "1" and ann.locator("td.adjudicated-agree").inner_text() == "100.0 %"
        assert ben.locator("td.adjudicated-n").inner_text() == "1" and ben.locator("td.adjudicated-agree").inner_text() == "0.0 %"
        assert page.locator("svg.heatmap rect").count() >= 9
        assert problems == []  # no CSP violation, no script error
    finally:
        context.close()
