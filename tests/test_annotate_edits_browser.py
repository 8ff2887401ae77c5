"""The annotation page's span edits and suggestion menus, in Chromium, on the long article of
test_annotate_long_browser.py: a suggestion's menu stays clear of the sticky toolbar; a span key acts on a selection
only in sight; a span edit redraws the sentences it touches, not the whole article."""
from __future__ import annotations

from sqlalchemy import select, update

from annotator.db import db
from annotator.db.models import Project
from annotator.db.transactions import transaction
from annotator.domain import suggesters
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import needs_chromium
from .test_annotate_browser import db_spans, open_page, seed, wait_saved
from .test_annotate_long_browser import LONG, PHONE, away, in_sight, settled
from .test_annotate_page_edges_browser import drag_select

pytestmark = needs_chromium


def with_suggestions(app) -> None:
    """Suggestions on, and the attribution rules' quotes, sources and cues suggested all over the article."""
    with app.app_context():
        s = db.session
        with transaction(s):
            s.execute(update(Project).values(suggestions_enabled=True))
        with transaction(s):
            suggesters.run(s, s.scalar(select(Project.id)), suggesters=[suggesters.AttributionRules()])
        s.remove()


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
