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
from .test_annotate_browser import open_page, seed
from .test_annotate_long_browser import LONG, PHONE

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
