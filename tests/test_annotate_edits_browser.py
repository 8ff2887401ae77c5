"""The annotation page's span edits and suggestion menus, in Chromium, on the long article of
test_annotate_long_browser.py: a suggestion's menu stays clear of the sticky toolbar; a span key acts on a selection
only in sight; a span edit redraws the sentences it touches, not the whole article."""
from __future__ import annotations

from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import needs_chromium
from .test_annotate_browser import db_spans, open_page, seed, settled, wait_saved
from .test_annotate_long_browser import LONG, PHONE, add_quotes_with_sources, away, click_sentence, in_sight, swipe_up, with_suggestions
from .test_annotate_page_edges_browser import drag_select

pytestmark = needs_chromium


# JS: the window's rows the menu and the sticky head take, and what is drawn at the menu's Accept button and at the
# head's foot above the menu.
_MENU_PLACE = """() => {
  const menu = document.querySelector('.ghost-menu').getBoundingClientRect();
  const head = document.getElementById('sticky-head').getBoundingClientRect();
  const accept = document.querySelector('.ghost-menu button[data-decision=accept]').getBoundingClientRect();
  const at = (x, y) => document.elementFromPoint(x, y);
  const inHead = at(menu.left + 4, head.bottom - 2);
  return {menuTop: menu.top, menuBottom: menu.bottom, headBottom: head.bottom, height: innerHeight,
          acceptShown: at(accept.left + 4, accept.top + 4)?.closest('.ghost-menu') !== null,
          headShown: Boolean(inHead && inHead.closest('#sticky-head'))};
}"""


def test_a_suggestions_menu_is_never_drawn_over_or_under_the_sticky_toolbar(app, server, chromium):
    """A suggestion half under the toolbar (Tab reaches the current sentence's there), opened with Enter: its menu was
    placed under it, over the toolbar; and a menu scrolled up the window afterwards slid over the toolbar and the
    hint line (its z-index was above the head's). Now the suggestion comes into view with its menu under it, and the
    menu scrolls under the toolbar as the text does."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    with_suggestions(app)
    for viewport, touch in (((1280, 800), False), (PHONE, True)):
        page = open_page(chromium, server, "ann", ids["long"], viewport=viewport, touch=touch)
        page.evaluate("() => window.scrollTo(0, 600)")
        ghost = page.evaluate("""() => {  // a suggestion's tag 30 px under the sticky head's foot, its sentence current
          const head = () => document.getElementById('sticky-head').getBoundingClientRect().bottom;
          const tag = [...document.querySelectorAll('#text .gtag')].find((x) => x.getBoundingClientRect().top > head() + 60);
          window.scrollBy(0, tag.getBoundingClientRect().top - head() + 30);
          return tag.dataset.ghost;
        }""")
        page.evaluate("(id) => document.querySelector(`#text .gtag[data-ghost='${id}']`).focus()", ghost)
        page.keyboard.press("Enter")
        page.locator(".ghost-menu").wait_for(state="visible")
        place = page.evaluate(_MENU_PLACE)
        assert place["menuTop"] >= place["headBottom"] and place["menuBottom"] <= place["height"], (viewport, place)
        assert place["acceptShown"] and place["headShown"], (viewport, place)

        # Scrolled on with the menu open: the menu goes under the toolbar, which stays whole over it.
        page.mouse.move(200, 400)
        page.mouse.wheel(0, place["menuTop"] - place["headBottom"] + 40)
        page.wait_for_function("(y) => document.querySelector('.ghost-menu').getBoundingClientRect().top < y", arg=place["headBottom"] - 20)
        assert page.evaluate(_MENU_PLACE)["headShown"], viewport
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_a_suggestions_menu_opened_under_the_suggestion_bar_is_in_sight(app, server, chromium):
    """On a touch phone, a suggestion at the foot of the window under the bar of the current sentence's suggestions
    (Tab reaches one there; the browser's scroll to the focus knows nothing of the bar), opened with Enter: its menu was
    put above it, its buttons under the bar. Now the suggestion is brought into view first, and the menu with it."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    with_suggestions(app)
    page = open_page(chromium, server, "ann", ids["long"], viewport=PHONE, touch=True)
    page.evaluate("() => window.scrollTo(0, 600)")
    ghost = page.evaluate("""() => {  // a suggestion's tag 20 px above the window's foot, under the bar
      const tag = [...document.querySelectorAll('#text .gtag')].find((x) => x.getBoundingClientRect().top > innerHeight);
      window.scrollBy(0, tag.getBoundingClientRect().bottom - innerHeight + 20);
      return tag.dataset.ghost;
    }""")
    page.evaluate("(id) => document.querySelector(`#text .gtag[data-ghost='${id}']`).focus({preventScroll: true})", ghost)
    page.keyboard.press("Enter")
    page.locator(".ghost-menu").wait_for(state="visible")
    place = page.evaluate("""(id) => {
      const menu = document.querySelector('.ghost-menu').getBoundingClientRect();
      const bar = document.getElementById('suggest-bar').getBoundingClientRect();
      const tag = document.querySelector(`#text .gtag[data-ghost='${id}']`).getBoundingClientRect();
      const shown = (b) => document.elementFromPoint(b.left + 4, b.top + 4)?.closest('.ghost-menu') !== null;
      return {menuBottom: menu.bottom, tagBottom: tag.bottom, barTop: bar.top, barShown: bar.height > 0,
              buttonsShown: [...document.querySelectorAll('.ghost-menu button')].every((b) => shown(b.getBoundingClientRect()))};
    }""", ghost)
    assert place["barShown"] and place["menuBottom"] <= place["barTop"] and place["tagBottom"] <= place["barTop"], place
    assert place["buttonsShown"], place
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_scrolled_away_from_an_open_suggestion_menu_a_or_enter_first_brings_it_back(app, server, chromium):
    """A suggestion's menu open (Tab to it, Enter), then the wheel took it out of sight: a (or Enter on the focused
    Accept) accepted a suggestion the annotator could not see, where a on the sentence's suggestions first brings them
    back. Now the first press brings the suggestion and its menu back into view and decides nothing; the next accepts."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    with_suggestions(app)
    page = open_page(chromium, server, "ann", ids["long"], viewport=(1280, 800))
    page.mouse.move(400, 400)
    for key, said in (("a", "press a again to accept it"), ("Enter", "press Enter again to accept it")):
        while not page.evaluate("() => Boolean(document.querySelector('#text .gtag[tabindex=\"0\"]'))"):
            page.keyboard.press("j")  # on to a sentence with a suggestion of a span
        page.focus("#text")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.locator(".ghost-menu").wait_for(state="visible")
        assert page.evaluate("() => document.activeElement.dataset.decision") == "accept"
        settled(page)
        before = db_spans(app, "ann", ids["long"])
        page.mouse.wheel(0, 4000)
        away(page)
        page.keyboard.press(key)
        assert page.inner_text("#hint") == f"Back at the suggestion, which was out of sight: nothing was changed; {said}."
        assert in_sight(page, ".ghost-menu button[data-decision=accept]")
        wait_saved(page)
        assert db_spans(app, "ann", ids["long"]) == before, key
        settled(page)
        page.keyboard.press(key)  # in sight now: it accepts
        wait_saved(page)
        assert len(db_spans(app, "ann", ids["long"])) == len(before) + 1, key
        assert page.locator(".ghost-menu").is_hidden()
    page.keyboard.press("?")  # the keyboard help says so
    assert "and a or x on a suggestion whose menu is open" in page.inner_text("#help")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def phone_with_prices_selected(chromium, server: str, article_id: int):
    """ann's page on a touch phone, with 'Prices' of the sentence 'report 5' selected in the middle of the window."""
    page = open_page(chromium, server, "ann", article_id, viewport=PHONE, touch=True)
    page.evaluate("""() => { const piece = [...document.querySelectorAll('#text .pc')].find((p) => p.textContent.includes('report 5,'));
                             piece.scrollIntoView({block: 'center'});
                             const at = piece.textContent.indexOf('Prices');
                             getSelection().setBaseAndExtent(piece.firstChild, at, piece.firstChild, at + 'Prices'.length); }""")
    return page


def test_scrolled_away_from_the_selection_a_span_key_first_brings_it_back(app, server, chromium):
    """Text selected, then scrolled out of sight with the wheel: a span key marked it unseen. Now the first span key
    brings the selection back into view and changes nothing, the hint saying so; the next one marks it. The same for
    a selected span a span key would relabel."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(1280, 800))
    drag_select(page, "We will not back down in case 11")
    page.mouse.move(400, 400)
    page.mouse.wheel(0, 4000)
    away(page)
    page.keyboard.press("q")
    assert page.inner_text("#hint") == "Back at the selected text in sentence 12, which was out of sight: nothing was changed; press q again to mark it QUOTE."
    assert page.evaluate("() => getSelection().toString()") == "We will not back down in case 11"
    wait_saved(page)
    assert db_spans(app, "ann", ids["long"]) == []
    settled(page)
    page.keyboard.press("q")  # in sight now: it marks the text
    wait_saved(page)
    assert [(label, LONG[start:end]) for _, label, start, end in db_spans(app, "ann", ids["long"])] == [("QUOTE", "We will not back down in case 11")]

    # The quote selected (it is, once marked), scrolled away: s first brings it back, then relabels it.
    page.mouse.wheel(0, 4000)
    away(page)
    page.keyboard.press("s")
    assert page.inner_text("#hint") == "Back at the selected QUOTE span in sentence 12, which was out of sight: nothing was changed; press s again to relabel it SOURCE."
    assert in_sight(page, "#text .tag.sel")
    wait_saved(page)
    assert [label for _, label, _, _ in db_spans(app, "ann", ids["long"])] == ["QUOTE"]
    page.keyboard.press("s")
    wait_saved(page)
    assert [label for _, label, _, _ in db_spans(app, "ann", ids["long"])] == ["SOURCE"]
    page.keyboard.press("?")  # the keyboard help says so
    assert "so does a span key on selected text or a selected span scrolled out of sight" in page.inner_text("#help")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()

    # On a touch phone, a span label tapped after a finger scrolled the selection away: the same, in a tap's words.
    page = phone_with_prices_selected(chromium, server, ids["long"])
    cue = page.locator('#toolbar button[data-kind="span"][data-label="CUE"]')
    cue.wait_for(state="visible")  # the span tools open with the selection
    swipe_up(page)
    away(page)
    settled(page)
    cue.tap()
    assert page.inner_text("#hint") == "Back at the selected text in sentence 6, which was out of sight: nothing was changed; tap CUE again to mark it."
    wait_saved(page)
    assert [label for _, label, _, _ in db_spans(app, "ann", ids["long"])] == ["SOURCE"]
    cue.tap()
    wait_saved(page)
    assert sorted(label for _, label, _, _ in db_spans(app, "ann", ids["long"])) == ["CUE", "SOURCE"]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def quote_of(app, article_id: int) -> str:
    """The text of ann's one span."""
    [(_, _, start, end)] = db_spans(app, "ann", article_id)
    return LONG[start:end]


def test_scrolled_away_from_a_selected_span_delete_f_and_the_edge_keys_first_bring_it_back(app, server, chromium):
    """A span key on a selected span scrolled out of sight first brought it back, but Delete deleted it unseen, f fitted
    it to the selected text unseen and [ ] { } (with Ctrl or Alt too, and Shift+Alt+arrows) moved its edges unseen.
    Now each first brings it back and changes nothing, the hint saying so; the next press acts. f brings back the span,
    then the text it is to cover; and a tap on Delete on a touch phone does the same."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(1280, 800))
    drag_select(page, "We will not back down in case 11")
    page.keyboard.press("q")
    wait_saved(page)
    back = "Back at the selected QUOTE span in sentence 12, which was out of sight: nothing was changed; "
    for key, said, moved in (
        ("]", "press ] again to move its start", "e will not back down in case 11"),
        ("Control+[", "press Ctrl+[ again to move its start", "We will not back down in case 11"),
        ("Shift+Alt+ArrowLeft", "press Shift+Alt+← again to move its end", "We will not back down in case 1"),
        ("Alt+}", "press Alt+} again to move its end", "We will not back down in case 11"),
        ("{", "press { again to move its end", "We will not back down in case 1"),
    ):
        before = quote_of(app, ids["long"])
        settled(page)
        page.mouse.move(400, 400)
        page.mouse.wheel(0, 4000)
        away(page)
        page.keyboard.press(key)
        assert page.inner_text("#hint") == back + said + ".", key
        assert in_sight(page, "#text .tag.sel"), key
        wait_saved(page)
        assert quote_of(app, ids["long"]) == before, key
        page.keyboard.press(key)  # in sight now: it moves the edge
        wait_saved(page)
        assert quote_of(app, ids["long"]) == moved, key

    # f: the span scrolled away comes back first, then the selected text it is to cover, far down the article.
    drag_select(page, "We will not back down in case 301")
    page.mouse.wheel(0, -50)  # the annotator's scroll, to the quote: it is in sight, the selected text is not
    page.evaluate("() => document.querySelector('#text .tag.sel').scrollIntoView({block: 'center'})")
    away(page)
    page.keyboard.press("f")
    assert page.inner_text("#hint") == ("Back at the selected text in sentence 302, which was out of sight: nothing was changed; "
                                        "press f again to fit the selected span to it.")
    assert page.evaluate("() => getSelection().toString()") == "We will not back down in case 301"
    settled(page)
    page.mouse.wheel(0, -4000)
    away(page)
    page.keyboard.press("f")
    assert page.inner_text("#hint") == back + "press f again to fit it to the selected text."
    assert in_sight(page, "#text .tag.sel")
    wait_saved(page)
    assert quote_of(app, ids["long"]) == "We will not back down in case 1"
    page.keyboard.press("f")  # brought back once since the annotator scrolled: the next f acts, as a span key's does
    wait_saved(page)
    assert quote_of(app, ids["long"]) == "We will not back down in case 301"

    # Delete, the span selected at case 301.
    settled(page)
    page.mouse.wheel(0, -4000)
    away(page)
    page.keyboard.press("Delete")
    assert page.inner_text("#hint") == back.replace("sentence 12", "sentence 302") + "press Delete again to delete it."
    assert in_sight(page, "#text .tag.sel")
    wait_saved(page)
    assert quote_of(app, ids["long"]) == "We will not back down in case 301"
    page.keyboard.press("Delete")
    wait_saved(page)
    assert db_spans(app, "ann", ids["long"]) == []
    page.keyboard.press("?")  # the keyboard help says so
    assert "and so do Delete, f and [ ] { } on a selected span" in page.inner_text("#help")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()

    # On a touch phone, Delete tapped after a finger scrolled the selected span away: the same, in a tap's words.
    page = phone_with_prices_selected(chromium, server, ids["long"])
    page.locator('#toolbar button[data-kind="span"][data-label="CUE"]').tap()
    wait_saved(page)
    delete = page.locator('#toolbar button[data-action="delete"]')
    delete.wait_for(state="visible")  # the span tools stay open on the new span, selected
    swipe_up(page)
    away(page)
    settled(page)
    delete.tap()
    assert page.inner_text("#hint") == "Back at the selected CUE span in sentence 6, which was out of sight: nothing was changed; tap Delete again to delete it."
    wait_saved(page)
    assert [label for _, label, _, _ in db_spans(app, "ann", ids["long"])] == ["CUE"]
    delete.tap()
    wait_saved(page)
    assert db_spans(app, "ann", ids["long"]) == []
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# JS: the hint line's text, and whether it shows whole (one line, nothing cut by its ellipsis).
_HINT = """() => { const h = document.getElementById('hint');
  return {text: h.textContent, whole: h.scrollWidth <= h.clientWidth && h.scrollHeight <= h.clientHeight, sw: h.scrollWidth, cw: h.clientWidth}; }"""


LONGEST = "The ministry said 4 families had moved since March 🌉. Prices in Beirut rose by 5%"  # across two sentences


def test_the_selection_hints_name_the_word_keys(app, server, chromium):
    """The hint line after selecting text, or a span, named [ ] { } (or nothing of them) but not their word steps,
    Ctrl or Alt with them and Ctrl+Shift+arrows, which README and the keyboard help give. It names them now, and on a
    laptop's window the line still shows whole, the longest excerpt and the fit key included."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(1280, 800))
    drag_select(page, LONGEST)
    shown = page.evaluate(_HINT)
    assert shown["text"] == ("Selected “The ministry said 4 families had moved since…” (across sentences 5–6): "
                             "q QUOTE, s SOURCE, c CUE; [ ] { } resize, Ctrl/Alt or Ctrl+Shift+← → by word."), shown
    assert shown["whole"], shown
    page.keyboard.press("Control+]")  # and they do what it says: the selection's start a word on
    assert page.evaluate("() => getSelection().toString()") == LONGEST.removeprefix("The ")

    page.keyboard.press("Escape")
    drag_select(page, "We will not back down in case 11")
    page.keyboard.press("q")
    shown = page.evaluate(_HINT)
    assert shown["text"] == ("QUOTE “We will not back down in case 11” selected: a span key relabels, [ ] { } resize (with Ctrl/Alt by a word), "
                             "f fits to the selected text, Del deletes, l links."), shown
    assert shown["whole"], shown
    drag_select(page, LONGEST)  # with the quote selected: the fit key too, the longest hint
    shown = page.evaluate(_HINT)
    assert shown["text"].endswith("q QUOTE, s SOURCE, c CUE, f fits the span to it; [ ] { } resize it, Ctrl/Alt or Ctrl+Shift+← → by word."), shown
    assert shown["whole"], shown
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


_COUNT_CHANGES = """() => { window.changes = {nodes: 0, attributes: 0};
  const count = (records) => { for (const r of records) {
    if (r.type === 'childList') window.changes.nodes += r.addedNodes.length + r.removedNodes.length;
    else window.changes.attributes += 1; } };
  for (const id of ['text', 'margin']) new MutationObserver(count).observe(document.getElementById(id), {childList: true, subtree: true, attributes: true, characterData: true}); }"""


def changes(page) -> dict[str, int]:
    """The nodes added to or removed from the article text and its margin since the last call, and their attributes
    changed; counting starts again."""
    page.wait_for_timeout(50)  # the observer's records are delivered after the key's task
    return page.evaluate("() => { const c = window.changes; window.changes = {nodes: 0, attributes: 0}; return c; }")


# JS: the article text as drawn, less what marks the current sentence and the selection (which a reload changes).
_DRAWN = """() => { const text = document.getElementById('text').cloneNode(true);
  for (const node of text.querySelectorAll('*')) {
    node.classList.remove('cur', 'sel', 'hot', 'candidate', 'anchor');
    node.removeAttribute('tabindex');
    node.style.removeProperty('--t1');
  }
  return text.innerHTML; }"""


def drawn_as_after_a_reload(page) -> bool:
    """Whether the text drawn bit by bit is the text a reload draws whole."""
    wait_saved(page)
    before = page.evaluate(_DRAWN)
    page.reload()
    page.wait_for_selector("#annotate[data-ready=true]")
    return page.evaluate(_DRAWN) == before


def test_a_span_made_resized_linked_or_deleted_redraws_its_sentence_not_the_whole_article(app, server, chromium):
    """Each span made, resized or deleted, and each link made, drew the 360 sentences of the article anew, and the 72
    links in the margin: 3,900 nodes replaced per key. Now only the sentence the span lies in is drawn anew (the
    other links' numbers change in place), and the text is the same as a reload draws."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    add_quotes_with_sources(app, "ann", ids["long"])
    page = open_page(chromium, server, "ann", ids["long"])
    assert page.locator("#margin path[data-rel]").count() == 72
    page.evaluate(_COUNT_CHANGES)
    drag_select(page, "had waited weeks for the money", 20)
    changes(page)
    page.keyboard.press("q")
    made = changes(page)
    page.keyboard.press("]")
    resized = changes(page)
    page.keyboard.press("l")
    page.keyboard.press("n")
    changes(page)
    page.keyboard.press("Enter")  # linked to the nearest source: the links after it are numbered one more
    linked = changes(page)
    # Before: {'nodes': 3892, 'attributes': 1097} for each (a bar and 72 links' shapes among them).
    assert made["nodes"] <= 30 and made["attributes"] <= 40, made
    assert resized["nodes"] <= 30 and resized["attributes"] <= 40, resized
    assert linked["nodes"] <= 10, linked  # the new link's four shapes; the numbers after it change in place
    assert page.locator("#margin path[data-rel]").count() == 73
    wait_saved(page)  # the keys only queue the saves: the database has the resized span once they are answered
    spans = db_spans(app, "ann", ids["long"])
    assert sum(LONG[start:end] == "ad waited weeks for the money" for _, label, start, end in spans if label == "QUOTE") == 1
    page.keyboard.press("Escape")
    assert drawn_as_after_a_reload(page)

    page.evaluate(_COUNT_CHANGES)
    page.locator("#text .pc.hl", has_text="ad waited weeks for the money").first.click()  # the quote, selected
    changes(page)
    page.keyboard.press("Delete")  # the quote and its link: the links after it are numbered one less, in place
    deleted = changes(page)
    assert deleted["nodes"] <= 30, deleted
    assert page.locator("#margin path[data-rel]").count() == 72
    assert drawn_as_after_a_reload(page)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_accepting_or_rejecting_a_sentences_suggestions_redraws_that_sentence_not_the_whole_article(app, server, chromium):
    """a and x drew the whole article anew, and so did the server's answer to an accept (its ids for the spans): on a
    long article with suggestions all over it, 13,800 nodes replaced for one a. Now the sentence alone."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    with_suggestions(app)
    page = open_page(chromium, server, "ann", ids["long"])
    click_sentence(page, 6)  # a quote of case 6, its source and cue suggested
    page.evaluate(_COUNT_CHANGES)
    changes(page)
    page.keyboard.press("a")
    wait_saved(page)  # and the server's ids taken over
    accepted = changes(page)
    assert accepted["nodes"] <= 200, accepted  # the sentence drawn twice: accepted, then under the server's ids
    assert {label for _, label, _, _ in db_spans(app, "ann", ids["long"])} == {"QUOTE", "SOURCE", "CUE"}
    page.keyboard.press("j")
    changes(page)
    page.keyboard.press("x")
    wait_saved(page)
    rejected = changes(page)
    assert rejected["nodes"] <= 200, rejected
    assert drawn_as_after_a_reload(page)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
