"""A reviewer links gold spans on the adjudication page in a real browser (Debian's Chromium), with the
annotation page's conventions: a span chosen, `l` (or the relation's button), then the source clicked or
chosen with n / p and Enter; Esc cancels; unchecking the link unlinks. The gold and the export carry the link."""
from __future__ import annotations

import json
import re

from sqlalchemy import delete, select

from annotator.db import db
from annotator.db.models import Span, User

from .conftest import needs_chromium
from .test_adjudication_links import LATER, LINK, QUOTE, SOURCE, TEXT, at, gold_links, key, link_later_quote_to_the_source, seed_world
from .test_annotate_browser import navigation_started, watch_navigation
from .test_review_browser import SELECT_IN_SENTENCE, reviewer_page

pytestmark = needs_chromium


def test_reviewer_links_a_quote_to_its_source_by_keyboard_and_mouse_and_the_export_has_it(app, server, chromium):
    world = seed_world(app, linked_by=())  # both annotators marked the quote and the source; nobody linked them
    pid, sentences = world["project"], world["sentences"]
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{pid}/sentences/{sentences[1]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        quote_mark = page.locator("#sentence-text mark.gold[data-label=QUOTE]")
        source_mark = page.locator("#sentence-text mark.gold[data-label=SOURCE]")
        warning = page.locator("#unlinked-warning")
        link_box = page.locator(f"#gold-links input[name=links][value='{LINK}']")
        assert warning.is_visible() and f"QUOTE “{QUOTE}”" in warning.inner_text()  # the quote kept has no source yet
        assert page.locator("#gold-marker button.link-mode").is_disabled()  # nothing selected yet

        # keyboard: click the quote, l, n chooses the nearest SOURCE, Enter links
        quote_mark.click()
        page.keyboard.press("l")
        assert page.locator("#link-targets").is_visible()
        assert "Linking: click the SOURCE" in page.inner_text("#mark-status")
        page.keyboard.press("n")
        assert page.locator("#link-targets button.link-target.target").inner_text() == f"SOURCE “{SOURCE}”"
        page.keyboard.press("Enter")
        assert link_box.count() == 1 and link_box.is_checked()
        assert "linked by you" in page.locator("#gold-links label.new-link").inner_text()
        assert warning.is_hidden() and page.locator("#link-targets").is_hidden()

        # unlink by unchecking it: the warning is back
        link_box.uncheck()
        assert warning.is_visible()
        # Esc cancels a link being made
        quote_mark.click()
        page.keyboard.press("l")
        page.keyboard.press("Escape")
        assert page.locator("#link-targets").is_hidden() and not link_box.is_checked()
        # mouse: the quote, the relation's button, then the source in the sentence
        quote_mark.click()
        page.click("#gold-marker button.link-mode[data-relation=attributed_to]")
        source_mark.click()
        assert link_box.count() == 1 and link_box.is_checked() and warning.is_hidden()

        page.check("input[name=label][value=CFS]")
        page.click("#save-gold")
        page.wait_for_url(re.compile(rf"/review/{pid}/(queue|sentences/)"))
        assert page.locator(".flash-warning").count() == 0
        assert gold_links(app) == [("attributed_to", "QUOTE", *at(QUOTE), "SOURCE", *at(SOURCE), "adjudicated")]

        # the next sentence continues the quote: a new QUOTE, linked to the gold SOURCE of the sentence before
        page.goto(f"{server}/review/{pid}/sentences/{sentences[2]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        page.evaluate(SELECT_IN_SENTENCE, [LATER, 0])
        page.keyboard.press("q")  # marked, and selected
        page.keyboard.press("l")
        page.click(f"#link-targets button.link-target[data-span='{key('SOURCE', SOURCE)}']")
        later_link = f"attributed_to|{key('QUOTE', LATER)}|{key('SOURCE', SOURCE)}"
        assert page.locator(f"#gold-links input[name=links][value='{later_link}']").is_checked()
        assert "(other sentence)" in page.locator("#gold-links label.new-link").inner_text()
        page.check("input[name=label][value=CFS]")
        page.click("#save-gold")
        page.wait_for_url(re.compile(rf"/review/{pid}/(queue|sentences/)"))

        assert sorted(gold_links(app)) == sorted([("attributed_to", "QUOTE", *at(QUOTE), "SOURCE", *at(SOURCE), "adjudicated"),
                                                  ("attributed_to", "QUOTE", *at(LATER), "SOURCE", *at(SOURCE), "adjudicated")])
        exported = page.request.get(f"{server}/projects/{pid}/export.jsonl?unit=article")
        assert exported.ok
        record = json.loads(exported.text().splitlines()[0])
        spans = {s["id"]: s for s in record["gold"]["spans"]}
        assert sorted((spans[r["from"]]["start"], spans[r["from"]]["end"], spans[r["to"]]["start"], spans[r["to"]]["end"])
                      for r in record["gold"]["relations"]) == sorted([(*at(QUOTE), *at(SOURCE)), (*at(LATER), *at(SOURCE))])
        assert {TEXT[s["start"]:s["end"]] for s in spans.values()} == {QUOTE, SOURCE, LATER}
        assert problems == []
    finally:
        context.close()


def test_keeping_an_annotators_quote_and_source_keeps_their_link_on_the_page(app, server, chromium):
    world = seed_world(app, linked_by=("ann",))
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        quote_box = page.locator(f"#gold-spans input[name=spans][value='{key('QUOTE', QUOTE)}']")
        link_box = page.locator(f"#gold-links input[name=links][value='{LINK}']")
        assert quote_box.is_checked() and link_box.is_checked()  # ann's link comes with the spans both marked
        quote_box.uncheck()  # dropping the quote drops its link
        assert not link_box.is_checked()
        quote_box.check()  # taking it back takes ann's link back
        assert link_box.is_checked() and page.locator("#unlinked-warning").is_hidden()
        # Delete on the selected span drops it, and its link, as on the annotation page
        page.locator("#sentence-text mark.gold[data-label=QUOTE]").click()
        page.keyboard.press("Delete")
        assert not quote_box.is_checked() and not link_box.is_checked()
        assert problems == []
    finally:
        context.close()


def test_marking_an_annotators_quote_and_source_in_the_sentence_keeps_their_link(app, server, chromium):
    """Before: a reviewer who selected the text of ann's quote and of her source and pressed q and s checked both
    spans (the same ones ann marked) but not ann's link, which checking the two boxes by hand keeps; the page then
    said the quote was linked to nothing, and the gold was saved without the link."""
    world = seed_world(app, linked_by=("ann",))
    with app.app_context():  # only ann marked the quote and the source: nothing is checked when the page opens
        ben = db.session.scalars(select(User).where(User.name == "ben")).one()
        db.session.execute(delete(Span).where(Span.user_id == ben.id))
        db.session.commit()
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        link_box = page.locator(f"#gold-links input[name=links][value='{LINK}']")
        assert not link_box.is_checked()
        for needle, span_key in ((QUOTE, "q"), (SOURCE, "s")):
            page.evaluate(SELECT_IN_SENTENCE, [needle, 0])
            page.keyboard.press(span_key)
        assert page.locator(f"#gold-spans input[name=spans][value='{key('QUOTE', QUOTE)}']").is_checked()
        assert page.locator(f"#gold-spans input[name=spans][value='{key('SOURCE', SOURCE)}']").is_checked()
        assert link_box.is_checked() and page.locator("#unlinked-warning").is_hidden()
        page.check("input[name=label][value=CFS]")
        page.click("#save-gold")
        page.wait_for_url(re.compile(rf"/review/{world['project']}/(queue|sentences/)"))
        assert gold_links(app) == [("attributed_to", "QUOTE", *at(QUOTE), "SOURCE", *at(SOURCE), "adjudicated")]
        assert problems == []
    finally:
        context.close()


def test_dropping_a_source_warns_of_the_other_sentences_quote_linked_to_it_before_the_save(app, server, chromium):
    """Before: the warning under the links followed only this sentence's chosen quotes, so dropping the source that
    sentence 3's gold quote is linked to said nothing of that quote until after the save."""
    world = seed_world(app, linked_by=())
    link_later_quote_to_the_source(app, world)
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        warning = page.locator("#unlinked-warning")
        source_box = page.locator(f"#gold-spans input[name=spans][value='{key('SOURCE', SOURCE)}']")
        later_link = page.locator(f"#gold-links input[name=links][value='attributed_to|{key('QUOTE', LATER)}|{key('SOURCE', SOURCE)}']")
        assert warning.is_hidden() and later_link.is_checked()
        source_box.uncheck()  # its two links go: this sentence's quote and sentence 3's lose their source
        assert not later_link.is_checked()
        assert warning.inner_text() == f"Linked to nothing: QUOTE “{QUOTE}”; QUOTE “{LATER}” (sentence 3). Saving keeps them without a source."
        later_link.check()  # the link back (and its source with it): only this sentence's quote is left without one
        assert source_box.is_checked()
        assert warning.inner_text() == f"Linked to nothing: QUOTE “{QUOTE}”. Saving keeps it without a source."
        page.locator(f"#gold-links input[name=links][value='{LINK}']").check()
        assert warning.is_hidden()
        assert problems == []
    finally:
        context.close()


def test_on_a_phone_the_adjudication_page_fits_the_screen_with_its_links(app, server, chromium):
    """A link's row (type, quote, offsets, source, who) is many pieces of text; laid out as one row of flex items
    that cannot wrap, in a fieldset as wide as its widest content, it made the page twice a phone's width."""
    world = seed_world(app, linked_by=("ann",))
    context, page, problems = reviewer_page(chromium, server, phone=True)
    try:
        page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        assert page.locator("#gold-links input[name=links]").count() == 1
        widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], widths
        for box in ("#gold-spans", "#gold-links"):  # every choice within its fieldset, the fieldsets within the screen
            inside = page.evaluate(
                """(sel) => { const f = document.querySelector(sel).getBoundingClientRect();
                     return f.right <= window.innerWidth && [...document.querySelectorAll(sel + ' label.check')]
                       .every((l) => l.getBoundingClientRect().right <= f.right + 0.5); }""",
                box,
            )
            assert inside, box
        assert problems == []
    finally:
        context.close()


def test_on_a_touch_screen_the_adjudication_page_says_what_to_tap(app, server, chromium):
    """The messages of linking named keys (l, n / p, Enter, Esc, Delete), which a phone does not have; as on the
    annotation page, a touch screen is told what to tap, and tapping the relation's button again cancels."""
    world = seed_world(app, linked_by=())
    context, page, problems = reviewer_page(chromium, server, phone=True)
    try:
        page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        status = page.locator("#mark-status")
        keys = re.compile(r"\bEsc\b|\bEnter\b|\bDelete\b|n / p|\bl links\b|press")
        link_button = page.locator("#gold-marker button.link-mode[data-relation=attributed_to]")
        assert link_button.is_disabled()  # nothing chosen yet
        assert ".:" not in link_button.get_attribute("title")  # "Links a quote to its source.: click ..." before
        page.locator("#sentence-text mark.gold[data-label=QUOTE]").tap()
        assert "tap Link to link it to a SOURCE" in status.inner_text() and not keys.search(status.inner_text())
        link_button.tap()
        assert status.inner_text().startswith("Linking: tap the SOURCE") and not keys.search(status.inner_text())
        assert page.locator("#gold-marker kbd").first.is_hidden()  # no key hints on the buttons
        link_button.tap()  # again: cancels
        assert status.inner_text() == "Linking cancelled." and page.locator("#link-targets").is_hidden()
        link_button.tap()
        page.locator(f"#link-targets button.link-target[data-span='{key('SOURCE', SOURCE)}']").tap()
        assert page.locator(f"#gold-links input[name=links][value='{LINK}']").is_checked()
        assert problems == []
    finally:
        context.close()


def test_the_keys_work_while_a_label_choice_has_the_focus(app, server, chromium):
    """Choosing the gold label with the mouse (or Tab) leaves a radio button focused; the page's keys (n / p, the
    relation's key, Enter, Esc) were ignored there, as in a text field, until the reviewer clicked the text."""
    world = seed_world(app, linked_by=())
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        page.check("input[name=label][value=CFS]")
        assert page.evaluate("() => document.activeElement.name") == "label"
        page.locator("#sentence-text mark.gold[data-label=QUOTE]").click()
        page.focus("input[name=label][value=CFS]")
        page.keyboard.press("l")
        assert "Linking: click the SOURCE" in page.inner_text("#mark-status")
        page.keyboard.press("n")
        page.keyboard.press("Enter")  # links, and does not submit the form from the focused radio
        assert page.locator(f"#gold-links input[name=links][value='{LINK}']").is_checked()
        assert f"/review/{world['project']}/sentences/{world['sentences'][1]}" in page.url
        assert page.is_checked("input[name=label][value=CFS]")  # the keys did not change the label
        assert problems == []
    finally:
        context.close()


def test_enter_while_linking_with_no_target_chosen_does_not_save_the_gold(app, server, chromium):
    """With a label radio or a span checkbox focused, Enter in the middle of a link (after `l`, before n / p chose a
    target) fell through to the browser, which submitted the gold form: the gold was saved and the page left with the
    link never made. Enter while linking is the page's: it links to the chosen target, or says to choose one."""
    world = seed_world(app, linked_by=())
    sentence_url = f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}"
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(sentence_url)
        page.wait_for_selector("#gold-marker:not([hidden])")
        page.check("input[name=label][value=CFS]")
        page.locator("#sentence-text mark.gold[data-label=QUOTE]").click()
        watch_navigation(page)
        for focused in ("input[name=label][value=CFS]", f"#gold-spans input[name=spans][value='{key('QUOTE', QUOTE)}']"):
            page.focus(focused)
            page.keyboard.press("l")
            assert "Linking: click the SOURCE" in page.inner_text("#mark-status")
            page.keyboard.press("Enter")  # no target chosen yet
            assert navigation_started(page) is None, focused  # an implicit submission's submit event comes in the key's task
            page.wait_for_timeout(300)  # a submission would have started by now
            assert page.url == sentence_url, focused
            assert "n / p" in page.inner_text("#mark-status")  # says how to choose one
            page.keyboard.press("Escape")
        assert gold_links(app) == []
        # a link target reached with Tab is a button: Enter on it still links
        page.keyboard.press("l")
        page.focus(f"#link-targets button.link-target[data-span='{key('SOURCE', SOURCE)}']")
        page.keyboard.press("Enter")
        assert page.locator(f"#gold-links input[name=links][value='{LINK}']").is_checked()
        assert page.url == sentence_url
        assert navigation_started(page) is None
        page.focus("input[name=label][value=CFS]")
        page.keyboard.press("Enter")  # not linking: the browser's own Enter submits the form, and the watch sees it
        page.wait_for_url(lambda url: url != sentence_url, wait_until="load")
        assert navigation_started(page) is not None  # kept in the tab's sessionStorage
        assert problems == []
    finally:
        context.close()


# The visible texts that say "linked to nothing", each from the element whose own text says it.
MESSAGES_LINKED_TO_NOTHING = """() => [...document.querySelectorAll("body *")]
  .filter((el) => [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && /linked to nothing/i.test(n.textContent)))
  .filter((el) => el.checkVisibility())
  .map((el) => [el.id, el.className, el.innerText.trim()])"""


def test_one_message_names_the_saved_gold_quotes_linked_to_nothing_and_follows_the_form(app, server, chromium):
    """Before: a note above the sentence ("As saved, the gold has a span linked to nothing") and the warning under the
    links ("Linked to nothing: ... Saving keeps it without a source.") showed at once, on the same quote, in two places
    and two tones. Now one message, under the links, says what a save would leave unlinked (and what is saved so), or,
    once the form links the saved gold's quote or leaves it out, that a save would change that."""
    world = seed_world(app, linked_by=())
    context, page, problems = reviewer_page(chromium, server)
    try:
        url = f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}"
        page.goto(url)
        page.wait_for_selector("#gold-marker:not([hidden])")
        page.check("input[name=label][value=CFS]")
        page.click("#save-gold")  # the quote and the source, no link
        page.wait_for_url(re.compile(rf"/review/{world['project']}/(queue|sentences/)"))
        page.goto(url)
        page.wait_for_selector("#gold-marker:not([hidden])")
        saved_so = ["unlinked-warning", "warn", f"Linked to nothing: QUOTE “{QUOTE}” (saved so). Saving keeps it without a source."]
        assert page.evaluate(MESSAGES_LINKED_TO_NOTHING) == [saved_so]

        link_box = page.locator(f"#gold-links input[name=links][value='{LINK}']")
        page.locator("#sentence-text mark.gold[data-label=QUOTE]").click()
        page.keyboard.press("l")
        page.keyboard.press("n")
        page.keyboard.press("Enter")  # linked on the page, not saved
        assert link_box.is_checked()
        fixed = ["unlinked-warning", "note", f"As saved, the gold has a span linked to nothing: QUOTE “{QUOTE}”. "
                 "The form no longer leaves it so (linked, or left out): save to keep that."]
        assert page.evaluate(MESSAGES_LINKED_TO_NOTHING) == [fixed]

        link_box.uncheck()  # unlinked again: as saved
        assert page.evaluate(MESSAGES_LINKED_TO_NOTHING) == [saved_so]
        page.locator(f"#gold-spans input[name=spans][value='{key('QUOTE', QUOTE)}']").uncheck()  # the quote left out
        assert page.evaluate(MESSAGES_LINKED_TO_NOTHING) == [fixed]
        assert problems == []
    finally:
        context.close()


def test_a_gold_span_that_cannot_be_linked_is_said_in_the_pages_words(app, server, chromium):
    """l on a gold CUE said "A CUE span cannot be linked with attributed_to": the schema's internal name for the
    link. As on the annotation page, it says which spans a link joins."""
    world = seed_world(app, linked_by=())
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        page.evaluate(SELECT_IN_SENTENCE, ["said", 0])
        page.keyboard.press("c")  # a gold CUE, chosen
        assert page.inner_text("#mark-status").startswith("CUE marked")
        page.keyboard.press("l")
        assert page.inner_text("#mark-status") == ("A CUE span cannot be linked: a link goes from a QUOTE to a SOURCE; "
                                                   "click one of those in the sentence first.")
        assert page.locator("#link-targets").is_hidden()
        assert problems == []
    finally:
        context.close()


def test_the_adjudication_page_names_a_link_by_its_spans_not_by_the_schemas_relation_name(app, server, chromium):
    """The page said the schema's name for the link to people: its button read "attributed_to", the hint "tap
    attributed_to to link it", and each link of the lists "attributed_to: QUOTE … → SOURCE …". As on the annotation
    page, the button says Link, the hints name the spans a link joins, and a link is "QUOTE “…” → SOURCE “…”"; the name
    stays in the data (the checkboxes' values, the relation's data attribute)."""
    world = seed_world(app, linked_by=("ann",))
    shown = "() => document.body.innerText"
    for phone in (False, True):
        context, page, problems = reviewer_page(chromium, server, phone=phone)
        try:
            page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][2]}")
            page.wait_for_selector("#gold-marker:not([hidden])")
            link_button = page.locator("#gold-marker button.link-mode[data-relation=attributed_to]")
            assert link_button.inner_text().split() == (["Link"] if phone else ["Link", "l"])
            assert link_button.get_attribute("title").startswith("Links a quote to its source. Link a QUOTE to a SOURCE:")
            status = page.locator("#mark-status")
            page.evaluate(SELECT_IN_SENTENCE, [LATER, 0])
            page.click("#gold-marker button.mark-span[data-label=QUOTE]")  # a gold QUOTE, chosen
            page.locator("#sentence-text mark.gold[data-label=QUOTE]").click()
            assert status.inner_text().endswith(
                "selected: tap Link to link it to a SOURCE; uncheck it below to drop it from the gold." if phone
                else "selected: l links it to a SOURCE; Delete drops it from the gold.")
            link_button.click()
            assert status.inner_text() == ("Linking: no SOURCE span yet: select its text and tap its span label (tap Link again to cancel)."
                                           if phone else "Linking: no SOURCE span yet: select its text and press its span key (Esc cancels).")
            page.evaluate(SELECT_IN_SENTENCE, ["done", 0])
            page.click("#gold-marker button.mark-span[data-label=SOURCE]")  # a new SOURCE ends the link
            row = " ".join(page.locator("#gold-links label.new-link").inner_text().split())  # a phone wraps its pieces
            done = TEXT.index("done")
            assert row == f"QUOTE “{LATER}” {at(LATER)[0]}–{at(LATER)[1]} → SOURCE “done” {done}–{done + 4} linked by you", row
            assert status.inner_text().startswith(f"Linked “{LATER}” → SOURCE “done”")
            assert "attributed_to" not in page.evaluate(shown)
            page.goto(f"{server}/review/{world['project']}/sentences/{world['sentences'][1]}")  # ann's link, in her card and the form
            page.wait_for_selector("#gold-marker:not([hidden])")
            assert "attributed_to" not in page.evaluate(shown)
            offered = " ".join(page.locator(f"#gold-links label.check:has(input[value='{LINK}'])").inner_text().split())
            assert offered.startswith(f"QUOTE “{QUOTE}” {at(QUOTE)[0]}–{at(QUOTE)[1]} → SOURCE “{SOURCE}”"), offered
            assert " ".join(page.locator(".annotator[data-annotator=ann] ul.links li").inner_text().split()).startswith(f"QUOTE “{QUOTE}”")
            assert "To link gold spans yourself: click (or tap) a gold QUOTE in the sentence above, then Link" in page.evaluate(shown)
            assert problems == []
        finally:
            context.close()
