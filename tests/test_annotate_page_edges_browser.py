"""The annotation page at its edges, in Chromium (issue 12): which sentence a label key labels after
marking text far away, spans that run across sentences, which source keyboard linking proposes,
the Spans panel per sentence, 1-based sentence numbers, and a 390 px wide phone.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Article, Assignment, Project, Sentence
from annotator.domain import accounts, labelschema, projects, resegment
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import add_user, needs_chromium
from .test_annotate_browser import (
    _CHAR_POINTS,
    PASSWORD,
    SOURCE,
    TEXT,
    TITLE,
    click_text,
    db_labels,
    db_relations,
    db_spans,
    drag_mouse,
    open_page,
    seed,
    settled,
    wait_ready,
    wait_saved,
)

pytestmark = needs_chromium

# 200 sentences, one a line; every "number N reports" is unique (N is the 0-based index).
LONG = "\n".join(f"Report number {i} reports that the harbour committee met for the {i + 1}th time." for i in range(200))


def drag_select(page, needle: str, nth: int = 0) -> None:
    """Scroll the text into the middle of the window (wherever it is in the article), then select it by dragging."""
    page.evaluate(
        """([needle, nth]) => {
             const full = document.getElementById('text').textContent;
             let at = -1;
             for (let i = 0; i <= nth; i++) at = full.indexOf(needle, at + 1);
             let seen = 0;
             for (const piece of document.querySelectorAll('#text .pc')) {
               if (at < seen + piece.textContent.length) { piece.scrollIntoView({block: 'center'}); return; }
               seen += piece.textContent.length;
             }
           }""",
        [needle, nth],
    )
    settled(page)  # just after a jump, Chromium hit-tested the mouse a line above the text measured (3 runs in 8)
    box = page.evaluate(_CHAR_POINTS, [needle, nth])
    drag_mouse(page, box, steps=4)
    assert page.evaluate("() => window.getSelection().toString()") == needle


def current_text(page) -> str:
    return page.evaluate("() => [...document.querySelectorAll('#text .pc.cur')].map((p) => p.textContent).join('')")


def labels(app, user: str, article_id: int) -> dict[int, str]:
    return {i: label for i, (label, _) in db_labels(app, user, article_id).items()}


# ------------------------------------------------------------------ 1. the label goes to the sentence being marked


def test_marking_text_far_away_makes_its_sentence_the_one_a_label_key_labels(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"])
    assert current_text(page).startswith("Report number 0 ")

    # Mark a quote in sentence 154 with the mouse, make it a span, then press a label key.
    drag_select(page, "the harbour committee met for the 155th time")
    page.keyboard.press("q")
    settled(page)
    scrolled = page.evaluate("() => window.scrollY")
    page.keyboard.press("2")
    wait_saved(page)
    assert labels(app, "ann", ids["long"]) == {154: "UFS"}  # not sentence 0, the one current before
    assert current_text(page).startswith("Report number 155 ")  # and on to the next one, as after any label
    settled(page)  # where the move to it ends, not a point on a smooth scroll that might be heading for the top
    assert abs(page.evaluate("() => window.scrollY") - scrolled) < 200  # the page did not jump back to the top
    assert [label for _, label, _, _ in db_spans(app, "ann", ids["long"])] == ["QUOTE"]

    # Text merely selected (no span made) decides it too.
    drag_select(page, "Report number 90 reports")
    page.keyboard.press("3")
    wait_saved(page)
    assert labels(app, "ann", ids["long"]) == {154: "UFS", 90: "NFS"}
    assert current_text(page).startswith("Report number 91 ")

    # Clicking a span's label tag makes the span's sentence current.
    page.keyboard.press("Escape")
    page.evaluate("() => document.querySelector('#text .tag').scrollIntoView({block: 'center'})")
    page.locator("#text .tag").first.click()
    assert current_text(page).startswith("Report number 154 ")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ 3. keyboard linking proposes the nearest source

LINKS_TEXT = (
    "Quarterly report\n"
    "Lena Park, the finance officer, opened the meeting.\n"
    "The budget was discussed at length by everyone present.\n"
    "Ana Ruiz, who has been mayor of the town for eleven years, said \u201cwe will build it\u201d today.\n"
    "Tom Berg disagreed with the plan.\n"
    "\u201cPrices will fall,\u201d the report says.\n"
    "Nobody else spoke."
)


def test_keyboard_linking_proposes_the_nearest_source_first(app, server, chromium):
    ids = seed(app, [ArticleRecord("links", "Quarterly report", LINKS_TEXT)], users=("ann",))
    article_id = ids["links"]
    page = open_page(chromium, server, "ann", article_id)
    for needle, key in [("Lena Park", "s"), ("Ana Ruiz", "s"), ("Tom Berg", "s"), ("we will build it", "q"), ("Prices will fall", "q")]:
        drag_select(page, needle)
        page.keyboard.press(key)
        page.keyboard.press("Escape")
    wait_saved(page)
    uid = {LINKS_TEXT[s:e]: u for u, _, s, e in db_spans(app, "ann", article_id)}

    def proposed_for(quote: str) -> str:
        click_text(page, quote)
        page.keyboard.press("l")
        page.keyboard.press("n")
        return page.locator("#text .tag.anchor").get_attribute("data-span")

    # In the quote's own sentence first, although Tom Berg (next sentence) is fewer characters away.
    assert proposed_for("we will build it") == uid["Ana Ruiz"]
    page.keyboard.press("Enter")
    # None in its sentence: the nearest by characters (the sentence before), not the first in the article.
    assert proposed_for("Prices will fall") == uid["Tom Berg"]
    page.keyboard.press("n")  # then the next nearest
    assert page.locator("#text .tag.anchor").get_attribute("data-span") == uid["Ana Ruiz"]
    page.keyboard.press("p")
    page.keyboard.press("Enter")
    wait_saved(page)
    assert sorted(db_relations(app, "ann")) == sorted(
        [("attributed_to", uid["we will build it"], uid["Ana Ruiz"]), ("attributed_to", uid["Prices will fall"], uid["Tom Berg"])]
    )
    page.context.close()


# ------------------------------------------------------------------ 13. the Spans panel: this sentence first


def test_the_spans_panel_lists_the_current_sentences_spans_with_the_article_behind_a_toggle(app, server, chromium):
    ids = seed(app, [ArticleRecord("links", "Quarterly report", LINKS_TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["links"])
    for needle, key in [("Lena Park", "s"), ("Ana Ruiz", "s"), ("we will build it", "q"), ("Tom Berg", "s")]:
        drag_select(page, needle)
        page.keyboard.press(key)
        page.keyboard.press("Escape")
    wait_saved(page)
    shown = lambda: [t.split(" ", 1)[1].strip() for t in page.locator("#spans li .span-text").all_text_contents()]  # noqa: E731

    click_text(page, "discussed")  # sentence 3: none of its own
    assert shown() == []
    assert page.locator("#spans-empty").is_visible() and "sentence 3" in page.locator("#spans-empty").text_content()
    page.keyboard.press("j")  # sentence 4: its two spans, in text order
    assert shown() == ["Ana Ruiz", "we will build it"]
    assert "sentence 4" in page.locator("#spans-heading").text_content()
    assert page.locator("#spans-count").text_content().strip() == "2 of 4"

    page.locator("#spans-all").check()  # the whole article
    assert shown() == ["Lena Park", "Ana Ruiz", "we will build it", "Tom Berg"]
    page.locator("#spans li .span-text", has_text="Lena Park").click()  # choosing one there makes its sentence current
    assert current_text(page).startswith("Lena Park")
    page.keyboard.press("1")
    wait_saved(page)
    assert labels(app, "ann", ids["links"]) == {1: "CFS"}
    page.locator("#spans-all").uncheck()
    assert shown() == []  # sentence 3 (1-based) is current now: it has none
    page.keyboard.press("k")
    assert shown() == ["Lena Park"]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ 2. a span across a sentence boundary says so


def test_a_span_across_sentences_is_marked_as_such(app, server, chromium):
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    across = "she said. \u201cNobody wants"  # the end of sentence 5 into sentence 6 (1-based)
    drag_select(page, across)
    assert "sentences 5\u20136" in page.locator("#hint").text_content()  # said before the span is made
    page.keyboard.press("q")
    wait_saved(page)
    [(_, label, s, e)] = db_spans(app, "ann", ids["bridge"])
    assert (label, TEXT[s:e]) == ("QUOTE", across)
    assert "sentences 5\u20136" in page.locator("#hint").text_content()
    item = page.locator("#spans li", has_text="Nobody wants")
    assert item.is_visible() and "sentences 5\u20136" in item.text_content()
    assert item.locator(".across").is_visible()

    # A span inside one sentence has no such note; and after a reload the note is still there.
    drag_select(page, SOURCE)
    page.keyboard.press("s")
    wait_saved(page)
    page.reload()
    page.wait_for_selector("#annotate[data-ready=true]")
    page.locator("#spans-all").check()
    assert "sentences" not in page.locator("#spans li", has_text=SOURCE).text_content()
    assert "sentences 5\u20136" in page.locator("#spans li", has_text="Nobody wants").text_content()
    click_text(page, "Nobody")  # selecting it says so in the hint line too
    assert "sentences 5\u20136" in page.locator("#hint").text_content()
    # Clicking it where it lies between the two sentences (the space after "said.") makes its first sentence current.
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert not current_text(page).startswith("\u201cWe underestimated")
    page.locator("#text .pc.hl:not([data-s])").click()
    assert current_text(page).startswith("\u201cWe underestimated")
    page.context.close()


# ------------------------------------------------------------------ 8. sentence numbers people read are 1-based


def test_a_label_refused_after_a_resegmentation_names_the_sentence_1_based(app, server, chromium):
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    for _ in range(3):
        page.keyboard.press("j")  # index 3: "The council's chief engineer ...", the 4th sentence
    assert "Sentence 4 of" in page.locator("#current-info").text_content()
    with app.app_context():  # a reviewer splits it meanwhile
        who = accounts.get_user(db.session, "ann").id
        sid = db.session.scalar(select(Sentence.id).where(Sentence.article_id == ids["bridge"], Sentence.index == 3))
        resegment.split_sentence(db.session, sid, TEXT.index("presented"), who)
        db.session.commit()
        db.session.remove()
    page.keyboard.press("1")
    page.wait_for_selector("#alert:not([hidden])")
    alert = page.locator("#alert").text_content()
    assert "Sentence 4 " in alert and "sentence 3" not in alert.lower(), alert
    assert "Reload" in alert
    assert labels(app, "ann", ids["bridge"]) == {}
    page.context.close()


# ------------------------------------------------------------------ 12. a 390 px wide phone


def test_on_a_phone_the_article_labels_are_rows_of_answers_not_columns_over_the_text(app, server, chromium):
    """Each answer was a bold block of its own (app.css makes labels blocks): two groups pushed the article's first
    line down by a third of a phone's screen; a long answer must wrap, not widen the page."""
    long_value = "a topic named at such length that it runs wider than any phone"
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    with app.app_context():
        project = db.session.scalar(select(Article).where(Article.id == ids["bridge"])).project
        schema = dict(project.label_schema)
        schema["article_labels"] = [{"name": "stance", "values": ["pro", "con", "neutral"]},
                                    {"name": "topics", "values": ["transport", "budget", long_value], "multiple": True}]
        projects.update_project(db.session, project, schema=schema)
        db.session.commit()
    page = open_page(chromium, server, "ann", ids["bridge"], viewport=(390, 844))
    tops = page.evaluate("() => [...document.querySelectorAll('#article-labels [data-group=stance] label')]"
                         ".map((l) => Math.round(l.getBoundingClientRect().top))")
    assert len(tops) == 4 and len(set(tops)) == 1, tops  # pro, con, neutral, none: one row
    weight = page.evaluate("() => getComputedStyle(document.querySelector('#article-labels label')).fontWeight")
    assert weight == "400", weight  # answers in plain type under their bold group name
    box = page.evaluate("() => { const r = document.getElementById('article-labels').getBoundingClientRect();"
                        " return {h: r.height, right: r.right, page: document.documentElement.scrollWidth}; }")
    assert box["h"] <= 200 and box["right"] <= 390 and box["page"] <= 390, box
    assert page.evaluate("() => document.querySelector('#text .snt').getBoundingClientRect().top") < 844 / 2
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_the_keyboard_help_says_how_to_reach_the_article_labels(app, server, chromium):
    """Found walking the app: the labels for the whole article sit above the text, where the keys never go, and the
    help (?) said nothing of them; Shift+Tab from the text reaches them, and the help now says so (only when there are some)."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("?")
    assert "whole article" not in page.locator("#help").text_content()  # no article labels in this schema
    page.context.close()
    with app.app_context():
        project = db.session.scalar(select(Article).where(Article.id == ids["bridge"])).project
        schema = dict(project.label_schema)
        schema["article_labels"] = [{"name": "stance", "values": ["pro", "con"]}]
        projects.update_project(db.session, project, schema=schema)
        db.session.commit()
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("?")
    help_text = page.locator("#help").text_content()
    assert "Labels for the whole article" in help_text and "Shift+Tab" in help_text, help_text
    page.keyboard.press("Escape")
    page.focus("#text")
    page.keyboard.press("Shift+Tab")  # what the help says: up from the text to the article's labels
    assert page.evaluate("() => document.activeElement.closest('#article-labels') !== null")
    page.keyboard.press("ArrowLeft")  # from "none" (checked) to the previous answer: con
    wait_saved(page)
    assert page.evaluate("() => document.querySelector('#article-labels input:checked').value") == "con"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# Each visible tool of the toolbar's first row: [what it is, left, top, width, height].
TOOL_BOXES = """() => [...document.querySelectorAll('#toolbar button, #toolbar .save-status, #toolbar .progress-text')]
  .filter(e => e.offsetParent !== null && !e.closest('.span-tools'))
  .map(e => { const r = e.getBoundingClientRect(); return [e.dataset.action || e.dataset.label || e.id || e.className, r.left, r.top, r.width, r.height]; })"""


def test_on_a_touch_phone_undo_and_redo_are_thumb_sized_in_the_one_row_of_tools(app, server, chromium, tmp_path):
    """At 390 x 844 with touch, Undo was 25 x 26 px and Redo hidden, so a mistaken Undo could not be redone: both are
    shown, each at least 44 x 44 CSS px (a thumb's target, WCAG 2.5.5), and the tools still fit one row."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844), touch=True)
    total = page.evaluate("() => document.getElementById('progress-text').textContent").split("/")[1].split()[0]  # hidden, still kept
    # the "3 / 12" count has no room in the row of tools on a touch phone: the hint carries it from the page's opening
    assert page.locator("#hint").text_content() == f"0 of {total} labelled; sentence 1 is still unlabelled."
    for action in ("undo", "redo"):
        button = page.locator(f'#toolbar button[data-action="{action}"]')
        assert button.is_visible(), action
        box = button.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, (action, box)
    boxes = page.evaluate(TOOL_BOXES)
    assert len({round(top + height / 2) for _, _, top, _, height in boxes}) == 1, boxes  # one row: one centre line
    assert all(left >= 0 and left + width <= 390 for _, left, _, width, _ in boxes), boxes
    toolbar = page.evaluate("() => { const t = document.getElementById('toolbar'); return [t.scrollWidth, t.clientWidth, "
                            "document.documentElement.scrollWidth]; }")
    assert toolbar[0] <= toolbar[1] and toolbar[2] <= 390, toolbar
    assert page.evaluate("() => { const s = document.getElementById('save-status'); return s.scrollWidth <= s.clientWidth; }")  # whole words
    page.screenshot(path=str(tmp_path / "phone-touch.png"))
    page.locator('#toolbar button[data-kind="sentence"][data-label="CFS"]').tap()  # a label, an undo, and the redo by touch
    wait_saved(page)
    assert page.locator("#hint").text_content() == f"1 of {total} labelled; sentence 2 is still unlabelled."
    page.locator('#toolbar button[data-action="undo"]').tap()
    wait_saved(page)
    page.locator('#toolbar button[data-action="redo"]').tap()
    wait_saved(page)
    assert db_labels(app, "ann", ids["long"])[0][0] == "CFS"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_phone_the_toolbar_fits_and_the_panels_open_without_scrolling_past_the_article(app, server, chromium, tmp_path):
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844))
    toolbar = page.evaluate(
        "() => { const t = document.getElementById('toolbar'); const r = t.getBoundingClientRect();"
        " return {sw: t.scrollWidth, cw: t.clientWidth, h: r.height, page: document.documentElement.scrollWidth}; }"
    )
    assert toolbar["sw"] <= toolbar["cw"] and toolbar["page"] <= 390, toolbar
    assert toolbar["h"] <= 60, toolbar  # one row, not four rows of buttons over the text
    for name in ("CFS", "UFS", "NFS"):  # labelling by touch works from that row
        assert page.locator(f'#toolbar button[data-kind="sentence"][data-label="{name}"]').is_visible()
    page.screenshot(path=str(tmp_path / "phone.png"))

    # The span tools are one tap away, and they fit too.
    page.locator("#span-tools-toggle").click()
    assert page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').is_visible()
    assert page.evaluate("() => { const t = document.getElementById('toolbar'); return t.scrollWidth <= t.clientWidth; }")
    page.locator("#span-tools-toggle").click()
    assert not page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').is_visible()

    # The panels: a visible control in the first screen opens them over the article, with no scrolling.
    assert not page.locator("#current-panel").is_visible() or page.evaluate(
        "() => document.getElementById('current-panel').getBoundingClientRect().top > innerHeight"
    )
    toggle = page.locator("#panels-toggle")
    assert toggle.is_visible()
    box = toggle.bounding_box()
    assert box and box["y"] + box["height"] <= 844
    toggle.click()
    panel = page.evaluate("() => { const r = document.getElementById('current-panel').getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; }")
    assert 0 <= panel["top"] and panel["bottom"] <= 844, panel
    assert page.locator("#current-panel").is_visible() and page.locator("#spans-heading").is_visible()
    assert page.evaluate("() => window.scrollY") == 0
    page.screenshot(path=str(tmp_path / "phone-panels.png"))
    toggle.click()  # and closes them again
    assert not page.locator("#current-panel").is_visible()
    page.keyboard.press("1")  # keys still work with the panels closed
    wait_saved(page)
    assert labels(app, "ann", ids["long"]) == {0: "CFS"}
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()

    # On a desktop the panels stay beside the article, with no toggle.
    wide = open_page(chromium, server, "ann", ids["long"])
    assert not wide.locator("#panels-toggle").is_visible() and not wide.locator("#span-tools-toggle").is_visible()
    assert wide.locator("#current-panel").is_visible()
    assert wide.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').is_visible()
    wide.context.close()


def test_on_a_phone_seven_sentence_labels_wrap_inside_the_toolbar_instead_of_overflowing(app, server, chromium, tmp_path):
    add_user(app, "ann", password=PASSWORD)
    with app.app_context():
        project = projects.create_project(db.session, "Seven", labelschema.preset("fullfact"))
        articles.store_articles(db.session, project, [ArticleRecord("long", "Harbour reports", LONG)], "test")
        article_id = db.session.scalar(select(Article.id))
        db.session.add(Assignment(user_id=accounts.get_user(db.session, "ann").id, article_id=article_id))
        db.session.commit()
    page = open_page(chromium, server, "ann", article_id, viewport=(390, 844))
    toolbar = page.evaluate(
        "() => { const t = document.getElementById('toolbar'); return {sw: t.scrollWidth, cw: t.clientWidth, h: t.getBoundingClientRect().height,"
        " page: document.documentElement.scrollWidth}; }"
    )
    assert toolbar["sw"] <= toolbar["cw"] and toolbar["page"] <= 390, toolbar
    assert toolbar["h"] <= 130, toolbar
    for button in page.locator('#toolbar button[data-kind="sentence"]').all():
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.locator("#panels-toggle").is_visible()
    page.screenshot(path=str(tmp_path / "phone-seven-labels.png"))
    page.keyboard.press("7")
    wait_saved(page)
    assert labels(app, "ann", article_id) == {0: "not_claim"}
    page.context.close()


def test_shift_delete_says_what_it_did_instead_of_leaving_the_last_message(app, server, chromium):
    """Found walking the app: after deleting a span, Shift+Delete cleared the label silently and the
    hint still read "Deleted the SOURCE span ..."; on an unlabelled sentence it did nothing at all."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"])
    drag_select(page, "the harbour committee")
    page.keyboard.press("s")
    page.keyboard.press("Delete")
    assert page.locator("#hint").text_content().startswith("Deleted the SOURCE span")
    page.keyboard.press("k")  # back to the sentence the mark made current
    page.keyboard.press("1")
    page.keyboard.press("k")
    wait_saved(page)
    assert labels(app, "ann", ids["long"]) == {0: "CFS"}
    page.keyboard.press("Shift+Delete")
    wait_saved(page)
    assert labels(app, "ann", ids["long"]) == {}
    assert page.locator("#hint").text_content() == "Removed the label of sentence 1 (CFS)."
    page.keyboard.press("Shift+Delete")
    assert page.locator("#hint").text_content() == "Sentence 1 has no label to remove."
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_phone_the_open_span_tools_leave_the_hint_line_readable(app, server, chromium):
    """Found walking the app at 390 px: selecting text opens the span tools, whose row lay over the
    hint line, so "Linking: click the SOURCE ..." (and every other hint) was hidden while they were open."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844))
    drag_select(page, "the harbour committee")
    assert page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').is_visible()  # opened by the selection
    page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').click()
    click_text(page, "harbour committee")
    page.locator('#toolbar button[data-kind="relation"]').click()
    assert page.locator("#hint").text_content().startswith("Linking:")
    assert page.locator('#toolbar button[data-kind="span"][data-label="SOURCE"]').is_visible()  # the tools stay open
    uncovered = page.evaluate(
        """() => { const h = document.getElementById('hint'); const r = h.getBoundingClientRect();
                   const e = document.elementFromPoint(r.left + 20, r.top + r.height / 2); return !!e && h.contains(e); }"""
    )
    assert uncovered, "the span tools cover the hint line"
    tools = page.locator("#span-tools").bounding_box()
    hint = page.locator("#hint").bounding_box()
    assert tools["y"] >= hint["y"] + hint["height"] - 1 or tools["y"] + tools["height"] <= hint["y"] + 1, (tools, hint)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_phone_the_keyboard_help_opens_at_its_top(app, server, chromium):
    """Found walking the app at 390 px: the help dialog focused its Close button, at the very bottom,
    so it opened scrolled to its end and the label keys at its top were out of sight."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844))
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    scroll = page.evaluate("() => { const d = document.getElementById('help'); return [d.scrollTop, d.scrollHeight, d.clientHeight]; }")
    assert scroll[1] > scroll[2], scroll  # the help is longer than the screen: the case that matters
    assert scroll[0] == 0, scroll
    title = page.locator("#help-title").bounding_box()
    assert title and 0 <= title["y"] and title["y"] + title["height"] <= 844
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()
    page.keyboard.press("1")  # the keys work again once it is closed
    wait_saved(page)
    assert labels(app, "ann", ids["long"]) == {0: "CFS"}
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ found by a newcomer on a phone


def mouse_select(page, needle: str) -> None:
    """Select text by dragging over it where it is on the screen now (drag_select scrolls it to the middle first)."""
    settled(page)
    box = page.evaluate(_CHAR_POINTS, [needle, 0])
    drag_mouse(page, box, steps=4)


def test_on_a_phone_the_open_span_tools_leave_the_articles_first_line_in_sight(app, server, chromium, tmp_path):
    """The span tools opened by a selection lay over the article card's first line: at the top of the page, the
    text being marked was hidden under them. The head now makes room for them; the drag still selects what it covered."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844))
    page.screenshot(path=str(tmp_path / "phone-before-selecting.png"))
    mouse_select(page, "Report number 0 reports")
    assert page.evaluate("() => window.getSelection().toString()") == "Report number 0 reports"
    assert page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').is_visible()  # opened by the selection
    page.screenshot(path=str(tmp_path / "phone-span-tools-open.png"))
    tools = page.locator("#span-tools").bounding_box()
    card = page.evaluate("() => { const r = document.querySelector('.doc-meta').getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; }")
    marked = page.evaluate("() => { const r = window.getSelection().getRangeAt(0).getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; }")
    assert tools["y"] + tools["height"] <= card["top"] + 1, (tools, card)
    assert tools["y"] + tools["height"] <= marked["top"] + 1, (tools, marked)
    hint = page.locator("#hint").bounding_box()
    assert tools["y"] >= hint["y"] + hint["height"] - 1, (tools, hint)  # and the hint line stays readable
    page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').click()
    wait_saved(page)
    assert [(label, LONG[s:e]) for _, label, s, e in db_spans(app, "ann", ids["long"])] == [("QUOTE", "Report number 0 reports")]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_touch_phone_the_selection_hint_says_what_to_tap_and_fits_the_screen(app, server, chromium):
    """The hint after a selection ran off a phone's screen (one line, cut) and named keys a phone has not got."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844), touch=True)
    page.evaluate(
        """() => { const node = document.querySelector('#text .pc').firstChild; const r = document.createRange();
                   r.setStart(node, 0); r.setEnd(node, node.length); getSelection().removeAllRanges(); getSelection().addRange(r); }"""
    )
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('Selected')")
    text = page.locator("#hint").text_content()
    assert "tap QUOTE, SOURCE or CUE" in text, text
    assert "q QUOTE" not in text, text
    fit = page.evaluate(
        """() => { const h = document.getElementById('hint'); const r = h.getBoundingClientRect();
                   return {sh: h.scrollHeight, ch: h.clientHeight, sw: h.scrollWidth, cw: h.clientWidth, right: r.right, page: document.documentElement.scrollWidth}; }"""
    )
    assert fit["sh"] <= fit["ch"] and fit["sw"] <= fit["cw"] and fit["right"] <= 390 and fit["page"] <= 390, fit
    assert page.locator('#toolbar button[data-kind="span"][data-label="CUE"]').is_visible()  # what it says to tap is there
    page.locator('#toolbar button[data-kind="span"][data-label="CUE"]').tap()
    wait_saved(page)
    assert [label for _, label, _, _ in db_spans(app, "ann", ids["long"])] == ["CUE"]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_phone_span_pressed_after_a_selection_opens_its_menu_and_keeps_the_selection(app, server, chromium):
    """"Span ▾" pressed after a selection closed the tools the selection had opened: the annotator had to press it twice."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844))
    drag_select(page, "the harbour committee")
    toggle = page.locator("#span-tools-toggle")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.locator('#toolbar button[data-kind="span"][data-label="SOURCE"]').is_visible()
    assert page.evaluate("() => window.getSelection().toString()") == "the harbour committee"
    page.locator('#toolbar button[data-kind="span"][data-label="SOURCE"]').click()
    wait_saved(page)
    assert [(label, LONG[s:e]) for _, label, s, e in db_spans(app, "ann", ids["long"])] == [("SOURCE", "the harbour committee")]
    toggle.click()  # pressed again, it closes them
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator('#toolbar button[data-kind="span"][data-label="SOURCE"]').is_visible()
    toggle.click()  # and opens them
    assert page.locator('#toolbar button[data-kind="span"][data-label="SOURCE"]').is_visible()
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_reload_keeps_the_annotators_place_per_article(app, server, chromium):
    """Reloading a long article reopened it at the first unlabelled sentence, not where the annotator was."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG), ArticleRecord("other", "Other reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"])
    for key in "111":
        page.keyboard.press(key)
    for _ in range(60):
        page.keyboard.press("j")
    wait_saved(page)
    assert current_text(page).startswith("Report number 63 reports")
    page.reload()
    wait_ready(page)
    assert current_text(page).startswith("Report number 63 reports")
    page.wait_for_function(
        "() => { const r = document.querySelector('#text .pc.cur').getBoundingClientRect(); return r.top > 0 && r.bottom < innerHeight; }"
    )
    page.keyboard.press("1")  # and the keys act there
    wait_saved(page)
    assert labels(app, "ann", ids["long"]) == {0: "CFS", 1: "CFS", 2: "CFS", 63: "CFS"}

    page.goto(f"{server}/annotate/{ids['other']}")  # another article, in the same tab: its own first unlabelled sentence
    wait_ready(page)
    assert current_text(page).startswith("Report number 0 reports")
    page.goto(f"{server}/annotate/{ids['long']}")  # and back: where the annotator left it
    wait_ready(page)
    assert current_text(page).startswith("Report number 64 reports")
    page.evaluate("() => sessionStorage.clear()")  # nothing kept (a new tab): the first unlabelled sentence
    page.reload()
    wait_ready(page)
    assert current_text(page).startswith("Report number 3 reports")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ found by the session attacker


def test_on_a_touch_phone_a_tapped_span_shows_the_buttons_its_hint_names(app, server, chromium):
    """Tapping a span on a phone said "tap a span label to relabel it, or Fit, Delete, Link" while those buttons were
    behind the closed "Span ▾": the hint named nothing on the screen. Selecting a span now opens the span tools."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844), touch=True)
    drag_select(page, "the harbour committee")
    page.locator('#toolbar button[data-kind="span"][data-label="CUE"]').tap()
    wait_saved(page)
    toggle = page.locator("#span-tools-toggle")
    page.evaluate("() => getSelection().removeAllRanges()")
    toggle.tap()  # the annotator closes the tools the selection had opened
    assert toggle.get_attribute("aria-expanded") == "false"
    page.locator("#text .tag").first.tap()
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('CUE')")
    assert "Fit, Delete, Link" in page.locator("#hint").text_content()
    assert toggle.get_attribute("aria-expanded") == "true"
    delete = page.locator('#toolbar button[data-action="delete"]')
    assert delete.is_visible()
    delete.tap()  # what the hint says to tap is there, and does what it says
    wait_saved(page)
    assert db_spans(app, "ann", ids["long"]) == []
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_small_touch_phone_the_hint_after_a_long_selection_still_shows_what_to_tap(app, server, chromium):
    """On a 320 px phone the hint after a selection across two sentences takes three lines, and the two-line clamp cut
    off its end, the part that says what to tap. What to tap now comes first; the clamp may cut the excerpt."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(320, 568), touch=True)
    drag_select(page, "reports that the harbour committee met for the 1th time.\nReport number 1 reports")
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('Selected')")
    text = page.locator("#hint").text_content()
    assert "tap QUOTE, SOURCE or CUE" in text and "across sentences 1–2" in text, text
    shown = page.evaluate(
        """(needle) => { const h = document.getElementById('hint'); const node = h.firstChild; const at = node.data.indexOf(needle);
                   const r = document.createRange(); r.setStart(node, at); r.setEnd(node, at + needle.length);
                   const box = h.getBoundingClientRect(); const bottom = box.bottom - parseFloat(getComputedStyle(h).paddingBottom);
                   return [...r.getClientRects()].every((x) => x.bottom <= bottom + 1 && x.right <= box.right + 1); }""",
        "tap QUOTE, SOURCE or CUE",
    )
    assert shown, text
    page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').tap()  # and it is there to tap
    wait_saved(page)
    assert [label for _, label, _, _ in db_spans(app, "ann", ids["long"])] == ["QUOTE"]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_reload_after_the_articles_text_changed_opens_at_its_first_unlabelled_sentence(app, server, chromium):
    """The kept place is an offset into the article's text. A re-import may replace the text while nobody has annotated
    the article, and the reload then opened the new text at whatever sentence held the old offset (here the 64th of
    a text whose first sentences nobody had seen) instead of at its first unlabelled sentence."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"])
    for _ in range(63):
        page.keyboard.press("j")
    assert current_text(page).startswith("Report number 63 reports")
    new_text = "\n".join(f"Notice {i} says that the ferry sailed late for the {i + 1}th time." for i in range(150))
    with app.app_context():
        project = db.session.scalar(select(Article.project_id).where(Article.id == ids["long"]))
        articles.store_articles(db.session, db.session.get(Project, project), [ArticleRecord("long", "Harbour notices", new_text)], "test",
                                on_duplicate="update")
        db.session.commit()
    page.reload()
    wait_ready(page)
    assert current_text(page).startswith("Notice 0 says")
    for _ in range(5):
        page.keyboard.press("j")
    page.reload()  # the same text: the place is kept
    wait_ready(page)
    assert current_text(page).startswith("Notice 5 says")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ found by a newcomer (helper brief ux)


def test_on_a_phone_escape_closes_the_span_tools_as_it_ends_the_span_mode_on_a_laptop(app, server, chromium):
    """On a laptop Esc drops the selection (text or span), and the span tools go with it; on a phone the row of span
    tools that the selection had opened stayed open under the hint line, and Esc never closed it."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844))
    toggle = page.locator("#span-tools-toggle")
    quote = page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]')

    drag_select(page, "the harbour committee")  # a text selection opens them
    assert toggle.get_attribute("aria-expanded") == "true" and quote.is_visible()
    page.keyboard.press("Escape")
    assert page.evaluate("() => window.getSelection().toString()") == ""
    assert toggle.get_attribute("aria-expanded") == "false" and not quote.is_visible()

    drag_select(page, "the harbour committee")
    quote.click()
    wait_saved(page)
    page.keyboard.press("l")  # linking: Esc first cancels the link, the tools (and the span) stay
    assert page.locator("#hint").text_content().startswith("Linking")
    page.keyboard.press("Escape")
    assert page.locator("#hint").text_content() == "Linking cancelled." and toggle.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Escape")  # then the selected span goes, and the tools with it
    assert page.evaluate("() => document.querySelectorAll('#text .sel').length") == 0
    assert toggle.get_attribute("aria-expanded") == "false" and not quote.is_visible()

    toggle.click()  # opened by hand with nothing selected, Esc closes them too
    assert quote.is_visible()
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not quote.is_visible()
    page.keyboard.press("1")  # and the keys go on working
    wait_saved(page)
    assert [(label, LONG[s:e]) for _, label, s, e in db_spans(app, "ann", ids["long"])] == [("QUOTE", "the harbour committee")]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


KEY_WORDS = ("Esc", "Enter", "n / p", "press", " key", "click")


def says_what_to_tap(text: str) -> bool:
    return "tap" in text.lower() and not any(word in text for word in KEY_WORDS)


def test_on_a_touch_phone_the_link_hints_say_what_to_tap_not_which_keys(app, server, chromium):
    """Linking on a phone said "click the SOURCE (or n / p to choose, nearest first, and Enter), Esc cancels": keys a
    phone has not got. The span hints already said what to tap; the link hints now do too, and what they name works."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844), touch=True)
    link = page.locator('#toolbar button[data-kind="relation"]')
    hint = page.locator("#hint")

    drag_select(page, "Report number 0 reports")
    page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').tap()
    link.tap()  # no source yet
    assert hint.text_content().startswith("Linking: no SOURCE span yet") and says_what_to_tap(hint.text_content()), hint.text_content()
    page.locator('#toolbar button[data-kind="span"][data-label="SOURCE"]').tap()  # nothing selected to make it from
    assert hint.text_content().startswith("While linking") and says_what_to_tap(hint.text_content()), hint.text_content()
    drag_select(page, "the harbour committee")  # what it says: select its text and tap SOURCE
    page.locator('#toolbar button[data-kind="span"][data-label="SOURCE"]').tap()
    wait_saved(page)
    assert len(db_relations(app, "ann")) == 1

    drag_select(page, "Report number 1 reports")
    page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').tap()
    link.tap()  # a source to link to
    assert hint.text_content().startswith("Linking: tap the SOURCE") and says_what_to_tap(hint.text_content()), hint.text_content()
    assert page.evaluate("() => { const h = document.getElementById('hint'); return h.scrollHeight <= h.clientHeight; }")  # all in sight
    page.locator("#text .tag.sel").tap()  # not a source
    assert hint.text_content().startswith("That is not a SOURCE span") and "Tap Link again" in hint.text_content()
    assert says_what_to_tap(hint.text_content()), hint.text_content()
    link.tap()  # as it says: cancels
    assert hint.text_content() == "Linking cancelled."
    link.tap()
    page.locator("#text .tag.candidate").first.tap()  # as it says: tap the SOURCE
    wait_saved(page)
    assert len(db_relations(app, "ann")) == 2
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()

    laptop = open_page(chromium, server, "ann", ids["long"])  # with a keyboard and a mouse, the keys as before
    laptop.locator("#text .tag").first.click()
    laptop.keyboard.press("l")
    assert "n / p" in laptop.locator("#hint").text_content() and "Esc cancels" in laptop.locator("#hint").text_content()
    laptop.context.close()


def test_on_a_touch_phone_the_span_buttons_tapped_too_early_say_what_to_tap(app, server, chromium):
    """The span hints said what to tap, but a span label tapped before any text was selected said "with the mouse, or
    Shift+→ ..., then press a span key", Fit tapped without text "press f", and the empty Spans panel "press a span key"."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844), touch=True)
    hint = page.locator("#hint")
    empty = page.locator("#spans-empty").text_content()
    assert says_what_to_tap(empty), empty
    page.locator("#span-tools-toggle").tap()
    page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').tap()  # nothing selected yet
    assert hint.text_content().startswith("Select some text first") and says_what_to_tap(hint.text_content()), hint.text_content()
    drag_select(page, "the harbour committee")
    page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').tap()
    page.locator('#toolbar button[data-action="fit"]').tap()  # a span selected, no text to fit it to
    assert hint.text_content() == "Select the text the span should cover, then tap Fit.", hint.text_content()
    drag_select(page, "the harbour committee met")  # as it says
    page.locator('#toolbar button[data-action="fit"]').tap()
    wait_saved(page)
    assert [(label, LONG[s:e]) for _, label, s, e in db_spans(app, "ann", ids["long"])] == [("QUOTE", "the harbour committee met")]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# The toolbar's layout on a phone: [what, left, top, width, height] of each visible control outside the span tools
# (top from the toolbar's own top: the page scrolls as sentences are labelled), and whether the toolbar or the page
# is wider than the screen.
TOOLBAR_LAYOUT = """() => {
  const t = document.getElementById('toolbar');
  const top = t.getBoundingClientRect().top;
  const boxes = [...t.querySelectorAll('button, a')].filter(e => e.offsetParent !== null && !e.closest('.span-tools'))
    .map(e => { const r = e.getBoundingClientRect(); return [e.dataset.action || e.dataset.label || e.id, r.left, r.top - top, r.width, r.height]; });
  return {boxes, overflow: t.scrollWidth > t.clientWidth, page: document.documentElement.scrollWidth, height: t.getBoundingClientRect().height};
}"""


def centre_lines(boxes, names) -> set[int]:
    return {round(top + height / 2) for name, _, top, _, height in boxes if name in names}


@pytest.mark.parametrize("width, touch", [(390, True), (360, True), (320, True), (390, False)])
def test_on_a_phone_next_article_takes_a_row_of_its_own_and_the_labels_stay_in_one(app, server, chromium, tmp_path, width, touch):
    """Found walking the app at 390 px: once every sentence was labelled, "Next article" joined the one row of tools and
    squeezed the sentence labels into a column of three (CFS over UFS over NFS, the toolbar 97 px tall instead of 56);
    at 360 px (the commonest Android width) the labels broke into two rows before that, and at 320 px the finished
    article's page scrolled sideways. Next article now has a row of its own under the tools, as wide as the screen
    and thumb-sized on a touch screen, and the row of tools stays one row down to 360 px."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"], viewport=(width, 844), touch=touch)
    tools = {"CFS", "UFS", "NFS", "span-tools-toggle", "undo", "redo", "panels-toggle"}
    before = page.evaluate(TOOLBAR_LAYOUT)
    assert not before["overflow"] and before["page"] <= width, before
    assert len(centre_lines(before["boxes"], {"CFS", "UFS", "NFS"})) == 1, before  # the labels in one row
    if width >= 360:
        assert len(centre_lines(before["boxes"], tools)) == 1, before  # ... and every tool with them
    button = page.locator('#toolbar button[data-kind="sentence"][data-label="CFS"]')
    while not page.locator("#next-article").is_visible():
        button.tap() if touch else button.click()
        wait_saved(page)
    page.screenshot(path=str(tmp_path / f"phone-{width}-finished.png"))
    after = page.evaluate(TOOLBAR_LAYOUT)
    assert not after["overflow"] and after["page"] <= width, after
    assert len(centre_lines(after["boxes"], {"CFS", "UFS", "NFS"})) == 1, after
    if width >= 360:
        (line,), (was,) = centre_lines(after["boxes"], tools), centre_lines(before["boxes"], tools)
        assert abs(line - was) <= 2, (before, after)  # one row still, where it was
    (_, left, top, wide, high), = [box for box in after["boxes"] if box[0] == "next-article"]
    row = max(t + h for name, _, t, _, h in after["boxes"] if name in tools)
    assert top >= row and left >= 0 and left + wide <= width and wide >= width * 0.6, after  # under the tools, wide
    if touch:
        assert high >= 44, after  # a thumb's target
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# Twelve sentences: the count reads "10 / 12", two digits each side, as in most articles (the demo's have 11 to 16).
TWELVE = "\n".join(f"Sentence number {i} says the harbour committee met again." for i in range(1, 13))


@pytest.mark.parametrize("width", [360, 380])
def test_in_a_narrow_mouse_window_the_tools_fit_one_row(app, server, chromium, tmp_path, width):
    """Found walking the app in a 360 px window with a mouse (a browser window at its narrowest, not a phone): the
    tools took two rows (Undo, saved and Panels under the labels), 10 px too wide with "0 / 11" and more as the count
    grew, while a touch screen's tools fitted one. The labelled count stays there (a mouse's hints do not carry it)."""
    ids = seed(app, [ArticleRecord("twelve", "Harbour", TWELVE)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["twelve"], viewport=(width, 740))
    tools = {"CFS", "UFS", "NFS", "span-tools-toggle", "undo", "panels-toggle"}
    button = page.locator('#toolbar button[data-kind="sentence"][data-label="UFS"]')
    for labelled in range(11):
        layout = page.evaluate(TOOLBAR_LAYOUT)
        shown = {box[0] for box in layout["boxes"]}
        assert tools <= shown, layout
        assert not layout["overflow"] and layout["page"] <= width, layout
        assert len(centre_lines(layout["boxes"], tools)) == 1, (labelled, layout)  # one row
        assert page.locator("#progress-text").is_visible()
        if labelled == 10:
            break
        button.click()
        wait_saved(page)
    assert page.locator("#progress-text").text_content().strip().startswith("10 ")
    page.keyboard.press("k")  # back to a labelled sentence: its label drawn in bold, a little wider
    layout = page.evaluate(TOOLBAR_LAYOUT)
    assert len(centre_lines(layout["boxes"], tools)) == 1, layout
    page.screenshot(path=str(tmp_path / f"mouse-{width}.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_span_that_takes_its_quote_marks_in_is_quoted_once(app, server, chromium):
    """Found walking the app: a quote's span that took in its own marks showed doubled ones in the hints and the
    Links panel (““Prices will fall,””)."""
    ids = seed(app, [ArticleRecord("links", "Quarterly report", LINKS_TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["links"])
    drag_select(page, "Tom Berg")
    page.keyboard.press("s")
    page.keyboard.press("Escape")
    drag_select(page, "\u201cPrices will fall,\u201d")
    page.keyboard.press("q")
    wait_saved(page)
    hint = page.locator("#hint").text_content()
    assert "\u201cPrices will fall,\u201d" in hint and "\u201c\u201c" not in hint and "\u201d\u201d" not in hint, hint
    page.keyboard.press("l")
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    wait_saved(page)
    assert page.locator("#hint").text_content().startswith("Linked \u201cPrices will fall,\u201d \u2192 SOURCE \u201cTom Berg\u201d"), page.locator("#hint").text_content()
    assert page.locator("#links .link-text").first.text_content() == "\u201cPrices will fall,\u201d"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_touch_phone_the_empty_links_panel_says_what_to_tap(app, server, chromium):
    """Found walking the app: on a touch screen the empty Links panel still said "press l"."""
    ids = seed(app, [ArticleRecord("long", "Harbour reports", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(390, 844), touch=True)
    empty = page.locator("#links-empty").text_content()
    assert says_what_to_tap(empty) and "Link" in empty, empty
    page.context.close()
    laptop = open_page(chromium, server, "ann", ids["long"])
    assert laptop.locator("#links-empty").text_content() == "Select a quote, press l, then click its source."
    laptop.context.close()


def test_a_one_line_article_whose_title_is_its_whole_text_is_drawn_as_text_not_as_a_heading(app, server, chromium):
    """Found in a newcomer's walk: a .txt file of one line takes that line as its title too, and the page drew the
    whole article as its title line, every sentence in the heading's large bold type. A title line is one with text
    after it; an article that is its title alone is drawn as text. The guard: a title line over more text stays one."""
    one = "The council said the bridge will close in May. Repairs will cost $41.5m."
    ids = seed(app, [ArticleRecord("one", one, one), ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["one"])
    assert page.locator("#text .pc").count() > 0 and page.locator("#text .pc.title-line").count() == 0
    size = page.locator("#text .pc").first.evaluate("(p) => getComputedStyle(p).fontSize")
    assert size == page.locator("#text").evaluate("(t) => getComputedStyle(t).fontSize"), size
    page.goto(page.url.replace(f"/annotate/{ids['one']}", f"/annotate/{ids['bridge']}"))
    page.wait_for_selector("#annotate[data-ready=true]", timeout=30_000)
    assert page.locator("#text .pc.title-line").count() > 0
    assert "".join(page.locator("#text .pc.title-line").all_text_contents()).strip() == TITLE
    assert page.errors == []
    page.context.close()
